//! The `sesame` binary: see `sesame --help`.
#![forbid(unsafe_code)]

/// mimalloc instead of the system allocator: a validate allocates a few dozen
/// small blocks (headers, JSON, the session copy), and glibc's malloc/free
/// were ~20 % of its instructions; mimalloc's thread-local free lists cut that
/// and scale across the runtime's worker threads (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sesame_server::cli::main()
}
