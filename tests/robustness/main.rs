//! The tool under abuse: hostile input to every command, `issue-batch` killed at random
//! points, processes working on one CA at the same time, and hostile trust lists (signed and
//! plain) with platforms accepting lists at once. Each test spawns its own
//! processes on its own temporary CA, so they run side by side in one test process.

#[path = "../common/mod.rs"]
mod common;

mod concurrency;
mod crash;
mod hostile;
mod trust_list;
