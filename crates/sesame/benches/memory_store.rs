//! Placeholder, replaced by the memory store benchmark.
fn main() {}
