//! The `mimi-attest` command: a thin layer over the `mimi_attest` library.
#![forbid(unsafe_code)]

mod cli;

/// mimalloc instead of the system allocator: in `issue-batch` most frees happen on another
/// thread than the allocation, which glibc's malloc serialises on the owning arena's lock
/// (BENCHMARKS.md, "Constants and their measurements").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
