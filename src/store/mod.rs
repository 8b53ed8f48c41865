//! The issuance store: every certificate a provider CA made, its request and its status;
//! serials reserved before anything is signed, certificates committed before anything is
//! handed out, revocations and CRL numbers, and the lock that lets one issuing process at a
//! time work on a CA directory. Auditors open it read-only ([`IssuanceStore::open_read_only`])
//! and never change it; schema changes are made only by [`IssuanceStore::migrate`].
//!
//! Layer: below `issue` and `audit`, which use it; it uses only `profile` (serials, methods,
//! reasons, time formats), `sii` and its backend (SQLite, embedded, `store.db` in the CA directory).

mod lock;
mod sqlite;

pub(crate) use lock::IssueLock;
pub use sqlite::{
    CertKind, CertStatus, IssuanceStore, RevokedEntry, StoreMigration, StoredCert,
    STORE_SCHEMA_VERSION,
};

/// The store's file name inside a CA directory.
pub const STORE_FILE: &str = "store.db";

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store failed (could not be opened, read or written).
    #[error("issuance store {path}: {message}")]
    Failed {
        /// The database file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A row holds a value its column cannot hold (the store was changed by something
    /// other than this tool): nothing was changed.
    #[error("issuance store {path}: row {} has {column} {value:?}, which cannot be read ({problem}): the store was changed outside mimi-attest; nothing was changed; restore store.db from a backup, or correct that row", row.map_or_else(|| "(unknown id)".to_owned(), |id| id.to_string()))]
    BadRow {
        /// The database file.
        path: String,
        /// The row's id (`certificates.id`), when it could be read.
        row: Option<i64>,
        /// The column.
        column: &'static str,
        /// What it holds.
        value: String,
        /// Why that is not a value of the column.
        problem: String,
    },
    /// The store has an older schema than this build writes: nothing was changed, and
    /// nothing is done until `mimi-attest store migrate` upgrades it.
    #[error("issuance store {path} has schema version {found}, older than the version {current} this build writes: nothing was changed; upgrade it once with `mimi-attest store migrate --ca {ca_dir}` (with no other command running on it), then run this command again")]
    Outdated {
        /// The database file.
        path: String,
        /// Its schema version.
        found: u32,
        /// The version this build writes.
        current: u32,
        /// The CA directory, for the command to run.
        ca_dir: String,
    },
}
