//! The `mimi-attest` command: a thin layer over the `mimi_attest` library.
#![forbid(unsafe_code)]

mod cli;

/// mimalloc instead of the system allocator. `issue-batch` prepares requests on one thread,
/// signs them on the rayon workers, stores them on a third and hands the results back on the
/// first: most frees happen on another thread than the allocation, and glibc's malloc makes
/// those wait for the owning arena's lock. BENCHMARKS.md (second round) has
/// the measurements.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
