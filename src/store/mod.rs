//! The issuance store: every certificate a provider CA made, its request and its status;
//! serials reserved before anything is signed, certificates committed before anything is
//! handed out, revocations and CRL numbers, and the lock that lets one issuing process at a
//! time work on a CA directory. Auditors open it read-only ([`IssuanceStore::open_read_only`])
//! and never change it; schema changes are made only by [`IssuanceStore::migrate`].
//!
//! Layer: below `issue` and `audit`, which use it; it uses only `profile` (serials, methods,
//! reasons, time formats), `sii` and its backend (SQLite, embedded, `store.db` in the CA directory).
//!
//! Every reader and writer of a store goes through [`IssuanceStore`]; writes go through one
//! transaction at a time ([`IssuanceStore::write`] and its [`WriteTx`]). Nothing outside this
//! module speaks SQL to a store.

mod lock;
#[cfg(feature = "postgres")]
mod postgres;
mod records;
mod sqlite;

pub(crate) use lock::IssueLock;
#[cfg(feature = "postgres")]
pub(crate) use postgres::PgTarget;
pub use records::{CertKind, CertStatus, RevokedEntry, StoredCert};

use std::path::Path;

use time::OffsetDateTime;

use crate::profile::{RevokeReason, Serial};
use crate::sii::Sii;
use sqlite::SqliteStore;

/// The schema version this build reads and writes.
pub const STORE_SCHEMA_VERSION: u32 = 3;

/// What [`IssuanceStore::migrate`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreMigration {
    /// The schema version the store had.
    pub from: u32,
    /// The schema version it has now (equal to `from` when there was nothing to do).
    pub to: u32,
}

/// The issuance store of one CA, whatever its backend.
pub struct IssuanceStore {
    backend: Backend,
}

/// The backends a store can live in.
enum Backend {
    /// `store.db` in the CA directory.
    Sqlite(SqliteStore),
    /// A PostgreSQL database shared by the CA's instances (`store:` in the CA config).
    #[cfg(feature = "postgres")]
    Postgres(postgres::PostgresStore),
}

/// Call `$body` with `$s` bound to the backend of `$store`.
macro_rules! on_backend {
    ($store:expr, $s:ident => $body:expr) => {
        match $store {
            Backend::Sqlite($s) => $body,
            #[cfg(feature = "postgres")]
            Backend::Postgres($s) => $body,
        }
    };
}

impl IssuanceStore {
    fn sqlite(store: SqliteStore) -> Self {
        IssuanceStore {
            backend: Backend::Sqlite(store),
        }
    }

    #[cfg(feature = "postgres")]
    fn postgres(store: postgres::PostgresStore) -> Self {
        IssuanceStore {
            backend: Backend::Postgres(store),
        }
    }

    /// Create the tables of a new, empty PostgreSQL store in `target`'s database (which must
    /// hold none yet), and hold the instance's lease.
    #[cfg(feature = "postgres")]
    pub(crate) fn create_postgres(target: &PgTarget) -> Result<Self, StoreError> {
        postgres::PostgresStore::create(target).map(Self::postgres)
    }

    /// Open a PostgreSQL store for issuing and revoking as instance `target.instance`: its
    /// lease is held until the store is dropped, and refused while another process holds it.
    #[cfg(feature = "postgres")]
    pub(crate) fn open_postgres(target: &PgTarget) -> Result<Self, StoreError> {
        postgres::PostgresStore::open(target).map(Self::postgres)
    }

    /// Open a PostgreSQL store for reading only (a read-only session, no lease).
    #[cfg(feature = "postgres")]
    pub(crate) fn open_postgres_read_only(target: &PgTarget) -> Result<Self, StoreError> {
        postgres::PostgresStore::open_read_only(target).map(Self::postgres)
    }

    /// Create a new, empty SQLite store at `path` (which must not exist).
    pub fn create(path: &Path) -> Result<Self, StoreError> {
        SqliteStore::create(path).map(Self::sqlite)
    }

    /// Open an existing SQLite store for issuing and revoking. A store with an older schema
    /// is refused ([`StoreError::Outdated`]) and left as it is: schema changes are made only
    /// by [`IssuanceStore::migrate`] (`mimi-attest store migrate`), never when a command
    /// starts.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        SqliteStore::open(path).map(Self::sqlite)
    }

    /// Upgrade the SQLite store at `path` to this build's schema, in one transaction (all or
    /// nothing): rows keep their order and ids, and every certificate's DER is kept. A store
    /// already at this version is left unchanged (`from == to`).
    pub fn migrate(path: &Path) -> Result<StoreMigration, StoreError> {
        SqliteStore::migrate(path)
    }

    /// Open an existing SQLite store for reading only (auditors: `store list`, `store
    /// export`; the exchange service): neither the database nor its write-ahead log is ever
    /// written, and a store of an older schema is read as it is (not upgraded).
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        SqliteStore::open_read_only(path).map(Self::sqlite)
    }

    /// The store's schema version (older than [`STORE_SCHEMA_VERSION`] only when opened
    /// read-only).
    pub fn schema_version(&self) -> u32 {
        on_backend!(&self.backend, s => s.schema_version())
    }

    /// Where the store is, for messages (a file, or a database URL without its password).
    pub(crate) fn path(&self) -> String {
        on_backend!(&self.backend, s => s.path())
    }

    /// Run `f` in one write transaction: everything it did is committed, or nothing when it
    /// (or the commit) fails.
    pub(crate) fn write<T>(
        &mut self,
        f: impl FnOnce(&mut dyn WriteTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        on_backend!(&mut self.backend, s => s.write(f))
    }

    /// The issued (or since revoked) leaves without a recorded log index, oldest first: row
    /// id, DER and issuer serial. What the next issuance submits to the log again.
    pub(crate) fn unlogged_leaves(&self) -> Result<Vec<(i64, Vec<u8>, Serial)>, StoreError> {
        on_backend!(&self.backend, s => s.unlogged_leaves())
    }

    /// The log index recorded for certificate `serial`: `None` when it is not logged (or
    /// the store is older than schema version 3).
    pub fn log_index(&self, serial: &Serial) -> Result<Option<u64>, StoreError> {
        on_backend!(&self.backend, s => s.log_index(serial))
    }

    /// Let the backend tidy up after a long run of writes, without waiting for readers
    /// (SQLite: fold the write-ahead log into the database file).
    pub(crate) fn fold_log(&self) -> Result<(), StoreError> {
        on_backend!(&self.backend, s => s.fold_log())
    }

    /// Make every committed change part of the store proper (SQLite: fold the write-ahead
    /// log into the database file, so the file alone holds the store).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        on_backend!(&self.backend, s => s.checkpoint())
    }

    /// The row with this serial.
    pub fn get(&self, serial: &Serial) -> Result<Option<StoredCert>, StoreError> {
        on_backend!(&self.backend, s => s.get(serial))
    }

    /// The row that holds this request id.
    pub fn by_request_id(&self, id: &str) -> Result<Option<StoredCert>, StoreError> {
        on_backend!(&self.backend, s => s.by_request_id(id))
    }

    /// Issued, unexpired leaves of one SII.
    pub fn live_leaves_of(
        &self,
        sii: &Sii,
        now: OffsetDateTime,
    ) -> Result<Vec<StoredCert>, StoreError> {
        on_backend!(&self.backend, s => s.live_leaves_of(sii, now))
    }

    /// The newest (last written) issued leaf of one SII that is valid at `now` (notBefore
    /// at or before it, notAfter after it): what the exchange service answers a lookup with.
    pub fn newest_live_leaf_of(
        &self,
        sii: &Sii,
        now: OffsetDateTime,
    ) -> Result<Option<StoredCert>, StoreError> {
        on_backend!(&self.backend, s => s.newest_live_leaf_of(sii, now))
    }

    /// Issued, unexpired leaves (for renewal planning).
    pub fn live_leaves(&self, now: OffsetDateTime) -> Result<Vec<StoredCert>, StoreError> {
        on_backend!(&self.backend, s => s.live_leaves(now))
    }

    /// How many issued (not revoked), unexpired leaves one issuing CA signed.
    pub fn count_live_leaves_of_issuer(
        &self,
        issuer_serial: &Serial,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        on_backend!(&self.backend, s => s.count_live_leaves_of_issuer(issuer_serial, now))
    }

    /// Issuing CA certificates, oldest first.
    pub fn issuing_cas(&self) -> Result<Vec<StoredCert>, StoreError> {
        on_backend!(&self.backend, s => s.issuing_cas())
    }

    /// Request ids that start with `prefix` (e.g. the `renew:` ids).
    pub fn request_ids_with_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        on_backend!(&self.backend, s => s.request_ids_with_prefix(prefix))
    }

    /// Serial, revocation time and reason of the revoked, unexpired certificates one issuer
    /// signed (the leaves of an issuing CA; the issuing CAs of the root): what its CRL lists.
    /// Reads no certificate bodies.
    pub fn revoked_entries(
        &self,
        issuer_serial: &Serial,
        now: OffsetDateTime,
    ) -> Result<Vec<RevokedEntry>, StoreError> {
        on_backend!(&self.backend, s => s.revoked_entries(issuer_serial, now))
    }

    /// Every row, oldest first.
    pub fn all(&self) -> Result<Vec<StoredCert>, StoreError> {
        on_backend!(&self.backend, s => s.all())
    }

    /// How many rows have this status.
    pub fn count(&self, status: CertStatus) -> Result<u64, StoreError> {
        on_backend!(&self.backend, s => s.count(status))
    }

    /// Run SQL on the store as it is, for tests that damage or constrain a store on purpose.
    #[cfg(test)]
    pub(crate) fn execute_for_test(&self, sql: &str) -> Result<(), StoreError> {
        on_backend!(&self.backend, s => s.execute_for_test(sql))
    }
}

/// What releasing a request id held by an unfinished reservation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Release {
    /// The reservation was left by a process that died: abandoned (its serial is never
    /// reused), and the id is free to reserve again.
    Released,
    /// A live CA instance holds it and is signing it now: nothing was changed. Only a
    /// store shared by several CA instances can answer this; the SQLite store never does
    /// (one issuing process at a time); the PostgreSQL store does.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    InFlight {
        /// That instance's number.
        instance: u8,
    },
}

/// One write transaction of a store ([`IssuanceStore::write`]). A failed call leaves the
/// transaction to be rolled back: the caller returns its error.
pub(crate) trait WriteTx {
    /// Where the store is, for messages (as [`IssuanceStore::path`]).
    fn location(&self) -> &str;

    /// Insert a row as it is (CA certificates at init and rotation); the new row's id.
    fn insert(&mut self, c: &StoredCert) -> Result<i64, StoreError>;

    /// Reserve rows (leaves before signing, serial and request id taken): per row its id,
    /// or `None` when its request id is already in the store (nothing written for it).
    fn reserve(&mut self, rows: &[&StoredCert]) -> Result<Vec<Option<i64>>, StoreError>;

    /// Mark reservations (by the ids [`Self::reserve`] returned, in increasing order) issued
    /// with their signed DER, and abandon those whose signing failed (their serials are never
    /// reused). Every one to mark issued must still be reserved, or nothing is marked.
    fn complete(&mut self, issued: &[(i64, &[u8])], abandoned: &[i64]) -> Result<(), StoreError>;

    /// The row that holds this request id.
    fn row_by_request_id(&mut self, id: &str) -> Result<Option<StoredCert>, StoreError>;

    /// Release the request id of an abandoned reservation, or of one whose process died, so
    /// the request can be retried.
    fn release_request_id(&mut self, request_id: &str) -> Result<Release, StoreError>;

    /// Record the log index of each leaf (by row id) the log now holds; an index already
    /// recorded for a row is kept (the log gives a leaf one index, ever).
    fn record_log_indexes(&mut self, logged: &[(i64, u64)]) -> Result<(), StoreError>;

    /// Mark an issued certificate (a leaf, or an issuing CA) revoked.
    fn mark_revoked(
        &mut self,
        serial: &Serial,
        at: OffsetDateTime,
        reason: RevokeReason,
    ) -> Result<(), StoreError>;

    /// Take the next CRL number (strictly increasing, never reused).
    fn next_crl_number(&mut self) -> Result<u64, StoreError>;
}

/// A certificate to revoke that is no longer issued when its revocation is written.
fn not_issued(path: &str, serial: &Serial) -> StoreError {
    StoreError::Failed {
        path: path.to_owned(),
        message: format!(
            "certificate {serial} is no longer issued (another process changed it since it was read): nothing was changed; run the command again to see its state"
        ),
    }
}

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
