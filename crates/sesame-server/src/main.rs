//! The `sesame` binary: see `sesame --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    sesame_server::cli::main()
}
