//! The relying platform's side: chains verified offline against a trust list, every way a
//! chain must be rejected, the verified-intermediate cache, revocation policy and CRLs,
//! log proofs, and the `verify` command.

#[path = "../common/mod.rs"]
mod common;

mod cache;
mod cli_verify;
mod log;
mod log_proofs;
mod negative;
mod revocation;
mod serve;
mod verify;
