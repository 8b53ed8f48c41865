//! The `mimi-attest` command: a thin layer over the `mimi_attest` library.
#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
