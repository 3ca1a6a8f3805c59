//! `sesame serve`: session management as an HTTP service, and the `sesame`
//! command line.
//!
//! The binary is thin (`main.rs` parses flags and calls into here), so the
//! tests start the real server in-process on `127.0.0.1:0` and drive it over
//! HTTP. See the crate README for the API, the configuration and the CLI.
//!
//! | module | job |
//! | --- | --- |
//! | [`config`] | TOML file < `SESAME_*` env < flags; every error names its setting |
//! | [`bootstrap`] | first start without keys: admin key printed once, cookie key made |
//! | [`stores`] | the store factory: one table row per URL scheme (open, migrate, networked) |
//! | [`private_fs`] | the data folder 0700, database and key files 0600 |
//! | [`redact`] | passwords and secret query parameters out of printed URLs |
//! | [`pending`] | a networked store unreachable at start-up: serve 503, connect in the background |
//! | [`api`] | the `/v1` routes, extractors for API keys, credentials and bodies |
//! | [`fields`] | path segments, `device` and integers read as the OpenAPI document says |
//! | [`error`] | every failure to one status and stable code, in one place |
//! | [`auth`] | API keys: hashed in the config, compared in constant time, scoped |
//! | [`cookies`] | cookie values: the token sealed with Fernet, and their inspection |
//! | [`metrics`] | Prometheus metrics and the event sink feeding them |
//! | [`cleanup`] | the cleanup scheduler |
//! | [`probing`] | too many invalid session credentials from one caller (API key, end-user address): 429 |
//! | [`webhook`] | signed lifecycle events, retried, never blocking a request |
//! | [`middleware`] | the layers every request passes, one job each, in request order |
//! | [`server`] | the state, routes with middleware, binding, graceful shutdown |
//! | [`serving`] | worker threads; accepting and serving connections, the connection cap |
//! | [`cli`] | the subcommands |
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod cleanup;
pub mod cli;
pub mod config;
pub mod cookies;
pub mod error;
pub mod fields;
pub mod histogram;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pending;
pub mod private_fs;
pub mod probing;
pub mod redact;
pub mod server;
pub mod serving;
pub mod stores;
pub mod webhook;
