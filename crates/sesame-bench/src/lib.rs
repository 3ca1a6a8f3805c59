//! Load tools and servers for sesame's benchmarks (not published).
//!
//! The binaries are in `src/bin/`; what they are for, and the scripts that
//! run them, is in this crate's README. The library holds what several of
//! them share.
//!
//! | where | what |
//! | --- | --- |
//! | `src/bin/counter.rs` | the counter workload's servers (bare axum, sesame-tower on memory / Redis) |
//! | `src/bin/instructions.rs` | requests in process, for callgrind |
//! | `src/bin/bare.rs` | `sesame serve`'s baseline: a bare axum endpoint on the same settings |
//! | `src/bin/rate_client.rs` | a fixed-rate validate client (latency at a given load) |
//! | `src/bin/soak.rs` | the soak run: mixed traffic for a long time, memory and latency |
//! | `src/bin/redis_bench.rs` | Redis store ops/s beside `redis-benchmark` and bare redis-rs |
//! | `wrk/validate.lua` | wrk's script for `sesame serve`'s validate (peak throughput) |
//! | [`raw_http`] | the clients' hand-written HTTP/1.1 |
//!
//! A new load tool is a file in `src/bin/` and a line here and in the README.
#![forbid(unsafe_code)]

pub mod raw_http;
