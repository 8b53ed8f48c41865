//! The tool under abuse: hostile input to every command, `issue-batch` killed at random
//! points, and processes working on one CA at the same time. Each test spawns its own
//! processes on its own temporary CA, so they run side by side in one test process.

#[path = "../common/mod.rs"]
mod common;

mod concurrency;
mod crash;
mod hostile;
