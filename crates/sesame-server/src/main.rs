//! The `sesame` binary.
fn main() {}
