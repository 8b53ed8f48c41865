//! The provider's side: CA configuration, creating a provider CA, issuing mapping leaves
//! (one at a time or in batches), revoking, CRLs, renewal and rotation. Layer: uses `store`,
//! `profile` (and its lint catalogue) and `sii`; used by the CLI.
//!
//! Inside, each file uses only those listed before it: `error`, `files`, `config`,
//! `numbers` ← `keys`, `template` ← `cadir` (the CA directory: its files, keys and store) ←
//! `request`, `leaf`, `rules` (the issuance rules, pure) ← `revoke`, `lifecycle`, `pipeline` ← `ca` ([`ProviderCa`]) ← `batch`.

mod error;

pub mod files;

pub mod config;
mod numbers;

pub mod keys;
mod template;

mod cadir;

mod leaf;
mod request;
mod rules;

mod lifecycle;
mod pipeline;
pub mod revoke;
mod tlog;

mod ca;
mod logdir;

pub mod batch;

pub use batch::{run_batch, BatchSummary};
pub use ca::ProviderCa;
pub use cadir::RootKey;
#[cfg(any(feature = "postgres", feature = "server"))]
pub(crate) use cadir::CONFIG as CONFIG_FILE;
pub use config::{CaConfig, CrlConfig, LogConfig, StoreConfig, ValidityConfig, STORE_PASSWORD_ENV};
pub use error::{IssueError, KeyProblem, RevokeRefusal};
pub use keys::{KeyProtection, Passphrase, PASSWORD_ENV};
pub use lifecycle::{needs_renewal, RenewalWindow};
#[cfg(feature = "server")]
pub(crate) use logdir::LogProver;
pub use logdir::{
    init_log, init_signing_key, init_witness, log_keys, open_log, open_signing_key, open_witness,
    witness_key, LOG_CONFIG, LOG_KEY, VRF_KEY, WITNESS_CONFIG, WITNESS_KEY,
};
pub use numbers::NumberCheck;
pub use request::{IssueRequest, Issued, SubjectKey};
pub use revoke::{
    CaRecords, IssuingCaRevocation, RevocationTarget, RevokeOutcome, RevokeReason, SignedCrl,
};
pub use template::leaf_params;
