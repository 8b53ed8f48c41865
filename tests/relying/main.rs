//! The relying platform's side: chains verified offline against a trust list, every way a
//! chain must be rejected, the verified-intermediate cache, revocation policy and CRLs,
//! log proofs, the `verify` command, and signed trust lists (version 2).

#[path = "../common/mod.rs"]
mod common;

mod cache;
mod cli_verify;
mod log;
mod log_proofs;
mod negative;
mod revocation;
mod serve;
mod trust_list;
mod trust_list_interop;
mod trust_list_reload;
mod verify;
