//! The provider's side: a CA made from `ca-config/`, issuance one by one and in batches,
//! key protection, revocation and CRLs, renewal and rotation, the issuance store and its
//! migration, through the library and the real binary.

#[path = "../common/mod.rs"]
mod common;

mod cli_commands;
mod issue;
mod issue_log;
mod keys;
mod lifecycle;
mod log_cli;
mod revoke;
mod root_crl;
mod store_migration;
mod store_postgres;
