//! Sesame: session management for web applications.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cookie;
