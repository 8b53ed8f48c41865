//! The auditor's side: `inspect`, `lint` and the store reports, through the library and the
//! real binary.

#[path = "../common/mod.rs"]
mod common;

mod audit;
mod cli_audit;
