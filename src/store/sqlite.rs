//! The issuance store: every certificate a CA made, its request and its status, in SQLite
//! (WAL, synchronous=FULL). A serial is reserved in the store before anything is signed, and
//! a certificate is handed out only after its DER is committed here.

use std::fmt;
use std::path::Path;
use std::time::Duration as StdDuration;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::records::{CertKind, CertStatus, RevokedEntry, StoredCert};
use super::{Release, StoreError, StoreMigration, WriteTx, STORE_SCHEMA_VERSION};
use crate::profile::{Method, RevokeReason, Serial};
use crate::sii::Sii;

/// The tables of schema version 2. A certificate's DER is kept apart from its row, in
/// `certificate_der`, written once when it is signed: reserving a serial writes the row, and
/// completing it appends the DER and flips the status in place (no row grows, no index
/// holding the status is rewritten). Indexes serve the store's own queries: by serial (the
/// primary key), request id (unique), SII (revocation by number), expiry (renewal planning),
/// the revoked rows of an issuer (CRLs; a partial index, so issuing never touches it) and
/// the issuing CAs. The CHECKs list their values with OR, not IN: SQLite evaluates an IN
/// list of constants through a temporary b-tree, once per row written.
const TABLES: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS certificates (
    id                INTEGER PRIMARY KEY,
    serial            TEXT NOT NULL UNIQUE,
    kind              TEXT NOT NULL CHECK (kind = 'root' OR kind = 'ca' OR kind = 'leaf'),
    request_id        TEXT UNIQUE,
    request_sha256    TEXT,
    sii               TEXT,
    handle            TEXT,
    method            TEXT,
    validated_at      TEXT,
    not_before        TEXT NOT NULL,
    not_after         TEXT NOT NULL,
    issuer_serial     TEXT,
    csr_sha256        TEXT,
    status            TEXT NOT NULL
                      CHECK (status = 'reserved' OR status = 'issued' OR status = 'revoked'
                             OR status = 'abandoned'),
    created_at        TEXT NOT NULL,
    revoked_at        TEXT,
    revocation_reason TEXT
);
CREATE TABLE IF NOT EXISTS certificate_der (
    id  INTEGER PRIMARY KEY REFERENCES certificates (id),
    der BLOB NOT NULL
);
";

/// What schema version 3 adds: the index in the CA's transparency log of each logged leaf
/// (a leaf without a row here is not logged, or not known to be: the next issuance submits
/// it again). A table of its own, as for the DER: recording an index appends a row and never
/// rewrites the leaf's.
const LOG_TABLE: &str = "
CREATE TABLE IF NOT EXISTS log_entries (
    id        INTEGER PRIMARY KEY REFERENCES certificates (id),
    log_index INTEGER NOT NULL
);
";

const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS certificates_sii ON certificates (sii);
CREATE INDEX IF NOT EXISTS certificates_expiry ON certificates (not_after);
CREATE INDEX IF NOT EXISTS certificates_revoked ON certificates (issuer_serial, not_after) WHERE status = 'revoked';
CREATE INDEX IF NOT EXISTS certificates_cas ON certificates (created_at) WHERE kind = 'ca';
";

const SCHEMA_VERSION: &str = "3";

/// [`SqliteStore::unlogged_leaves`]: the leaves after the last one with a log index.
const UNLOGGED_LEAVES: &str = "SELECT c.id, d.der, c.issuer_serial FROM certificates c \
     JOIN certificate_der d ON d.id = c.id \
     WHERE c.id > (SELECT COALESCE(MAX(id), 0) FROM log_entries) \
     AND c.kind = 'leaf' AND (c.status = 'issued' OR c.status = 'revoked') \
     ORDER BY c.id";

/// Schema version 1 seen through the names of version 2, for reading a version 1 store
/// without changing it: temporary views (in the connection's own temp schema, never in the
/// file) shadow the tables, and the row's rowid stands in for the id.
const V1_AS_V2_VIEWS: &str = "
CREATE TEMP VIEW certificates AS
    SELECT rowid AS id, serial, kind, request_id, request_sha256, sii, handle, method,
           validated_at, not_before, not_after, issuer_serial, csr_sha256, status, created_at,
           revoked_at, revocation_reason
    FROM main.certificates;
CREATE TEMP VIEW certificate_der AS
    SELECT rowid AS id, der FROM main.certificates WHERE der IS NOT NULL;
";

/// The SQLite issuance store of one CA directory.
pub(crate) struct SqliteStore {
    conn: Connection,
    schema_version: u32,
    /// The private copy a read-only store is read from, when it could not be read in place
    /// (declared after `conn`, so the connection closes before the copy is removed).
    _copy: Option<tempfile::TempDir>,
}

/// Whole seconds, UTC: the stored strings then sort in time order.
fn fmt_time(t: OffsetDateTime) -> String {
    crate::profile::rfc3339(t.replace_nanosecond(0).unwrap_or(t))
}

/// A column whose stored text does not read as what the column holds: carried out of
/// rusqlite's row mapping and turned into [`StoreError::BadRow`].
#[derive(Debug)]
struct BadColumn {
    column: &'static str,
    value: String,
    problem: String,
}

impl fmt::Display for BadColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "column {} holds {:?}: {}",
            self.column, self.value, self.problem
        )
    }
}

impl std::error::Error for BadColumn {}

/// Read the text of `column` (at `idx`) as a `T`, or fail naming the column and the value.
fn parse_col<T, E: fmt::Display>(
    idx: usize,
    column: &'static str,
    s: String,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> rusqlite::Result<T> {
    parse(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            Box::new(BadColumn {
                column,
                problem: e.to_string(),
                value: s,
            }),
        )
    })
}

fn opt_col<T, E: fmt::Display>(
    idx: usize,
    column: &'static str,
    s: Option<String>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> rusqlite::Result<Option<T>> {
    s.map(|s| parse_col(idx, column, s, parse)).transpose()
}

fn parse_time(idx: usize, column: &'static str, s: String) -> rusqlite::Result<OffsetDateTime> {
    parse_col(idx, column, s, |s| OffsetDateTime::parse(s, &Rfc3339))
}

fn opt_time(
    idx: usize,
    column: &'static str,
    s: Option<String>,
) -> rusqlite::Result<Option<OffsetDateTime>> {
    opt_col(idx, column, s, |s| OffsetDateTime::parse(s, &Rfc3339))
}

const COLUMNS: &str =
    "c.serial, c.kind, c.request_id, c.request_sha256, c.sii, c.handle, c.method, \
     c.validated_at, c.not_before, c.not_after, c.issuer_serial, d.der, c.csr_sha256, c.status, \
     c.created_at, c.revoked_at, c.revocation_reason, c.id";

/// [`IssuanceStore::newest_live_leaf_of`]'s query. Last written is the highest id, the
/// order in which `certificates_sii` keeps an SII's rows: read backwards, it needs no sort
/// (a temporary b-tree for each lookup otherwise).
fn newest_live_leaf_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM {ROWS} WHERE c.kind = 'leaf' AND c.status = 'issued' \
         AND c.sii = ?1 AND c.not_before <= ?2 AND c.not_after > ?2 \
         ORDER BY c.id DESC LIMIT 1"
    )
}

/// The rows with their DER (`c` and `d` in [`COLUMNS`]).
const ROWS: &str = "certificates c LEFT JOIN certificate_der d ON d.id = c.id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<StoredCert> {
    let row = (|| {
        Ok(StoredCert {
            serial: parse_col(0, "serial", r.get(0)?, str::parse::<Serial>)?,
            kind: parse_col(1, "kind", r.get(1)?, str::parse::<CertKind>)?,
            request_id: r.get(2)?,
            request_sha256: r.get(3)?,
            sii: opt_col(4, "sii", r.get(4)?, Sii::parse_canonical)?,
            handle: r.get(5)?,
            method: opt_col(6, "method", r.get(6)?, str::parse::<Method>)?,
            validated_at: opt_time(7, "validated_at", r.get(7)?)?,
            not_before: parse_time(8, "not_before", r.get(8)?)?,
            not_after: parse_time(9, "not_after", r.get(9)?)?,
            issuer_serial: opt_col(10, "issuer_serial", r.get(10)?, str::parse::<Serial>)?,
            der: r.get(11)?,
            csr_sha256: r.get(12)?,
            status: parse_col(13, "status", r.get(13)?, str::parse::<CertStatus>)?,
            created_at: parse_time(14, "created_at", r.get(14)?)?,
            revoked_at: opt_time(15, "revoked_at", r.get(15)?)?,
            revocation_reason: opt_col(
                16,
                "revocation_reason",
                r.get(16)?,
                str::parse::<RevokeReason>,
            )?,
        })
    })();
    row.map_err(|e| at_row(e, r.get(17).ok()))
}

/// A row that could not be read, as [`StoreError::BadRow`] when one of its columns did not
/// parse; any other failure is passed on as it is.
#[derive(Debug)]
struct RowError {
    id: Option<i64>,
    column: BadColumn,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {:?}: {}", self.id, self.column)
    }
}

impl std::error::Error for RowError {}

/// Attach the row id to a column that did not parse.
fn at_row(e: rusqlite::Error, id: Option<i64>) -> rusqlite::Error {
    match e {
        rusqlite::Error::FromSqlConversionFailure(idx, ty, inner) => {
            match inner.downcast::<BadColumn>() {
                Ok(column) => rusqlite::Error::FromSqlConversionFailure(
                    idx,
                    ty,
                    Box::new(RowError {
                        id,
                        column: *column,
                    }),
                ),
                Err(inner) => rusqlite::Error::FromSqlConversionFailure(idx, ty, inner),
            }
        }
        other => other,
    }
}

/// The store error for a failed SQLite call on the store at `path`: a row whose column
/// does not parse is [`StoreError::BadRow`], anything else [`StoreError::Failed`].
fn db_err(path: String, e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::FromSqlConversionFailure(_, _, inner) = &e {
        if let Some(bad) = inner.downcast_ref::<RowError>() {
            return StoreError::BadRow {
                path,
                row: bad.id,
                column: bad.column.column,
                value: bad.column.value.clone(),
                problem: bad.column.problem.clone(),
            };
        }
    }
    StoreError::Failed {
        path,
        message: e.to_string(),
    }
}

/// Page size of a new store, in bytes (SQLite's default is 4,096). Every leaf inserts into
/// indexes keyed by random values (serial, request id, SII), so each transaction touches
/// pages all over them, and every page it touches goes to the write-ahead log and again to
/// the database file at the checkpoint. Larger pages mean fewer pages, fewer levels and
/// fewer writes for the same entries; larger still would make every small transaction (one
/// `issue`, one `revoke`) write that much more (BENCHMARKS.md, "Constants and their
/// measurements"). An existing store keeps the page size it was made with (see the README
/// for converting one).
const PAGE_SIZE: u32 = 16_384;

/// How much the write-ahead log holds before a commit folds it into the database file.
const WAL_CHECKPOINT_BYTES: u32 = 4 << 20;

/// Stores a certificate's DER beside its row (same id).
const INSERT_DER: &str = "INSERT INTO certificate_der (id, der) VALUES (?1, ?2)";

/// How long a writer waits for another process holding the database before giving up.
const BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(30);

impl SqliteStore {
    fn configure(conn: &Connection, path: &Path) -> Result<(), StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| store_err(path, e))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| store_err(path, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Failed {
                path: path.display().to_string(),
                message: format!("could not switch the store to WAL mode (got {mode})"),
            });
        }
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-32768;",
        )
        .map_err(|e| store_err(path, e))?;
        // Checkpoint once the log holds 4 MiB, whatever the page size (SQLite counts pages:
        // its default of 1,000 is 4 MiB of 4 KiB pages, but 16 MiB of a new store's).
        let page_size: u32 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(|e| store_err(path, e))?;
        conn.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint={};",
            (WAL_CHECKPOINT_BYTES / page_size.max(512)).max(1)
        ))
        .map_err(|e| store_err(path, e))
    }

    /// Create a new, empty store at `path` (which must not exist).
    pub fn create(path: &Path) -> Result<Self, StoreError> {
        if path.exists() {
            return Err(StoreError::Failed {
                path: path.display().to_string(),
                message: "a store already exists here; open it instead of creating one".into(),
            });
        }
        let conn = Connection::open(path).map_err(|e| store_err(path, e))?;
        // Before the first table and the switch to WAL: a WAL database keeps its page size.
        conn.execute_batch(&format!("PRAGMA page_size={PAGE_SIZE};"))
            .map_err(|e| store_err(path, e))?;
        Self::configure(&conn, path)?;
        conn.execute_batch(TABLES)
            .and_then(|()| conn.execute_batch(LOG_TABLE))
            .and_then(|()| conn.execute_batch(INDEXES))
            .map_err(|e| store_err(path, e))?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1), ('crl_number', '0')",
            [SCHEMA_VERSION],
        )
        .map_err(|e| store_err(path, e))?;
        Ok(SqliteStore {
            conn,
            schema_version: STORE_SCHEMA_VERSION,
            _copy: None,
        })
    }

    fn must_exist(path: &Path) -> Result<(), StoreError> {
        if path.is_file() {
            return Ok(());
        }
        Err(StoreError::Failed {
            path: path.display().to_string(),
            message:
                "no issuance store here: is this a CA directory made by `mimi-attest ca init`?"
                    .into(),
        })
    }

    fn open_read_write(path: &Path) -> Result<(Connection, u32), StoreError> {
        Self::must_exist(path)?;
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| store_err(path, e))?;
        Self::configure(&conn, path)?;
        let version = read_schema_version(&conn, path)?;
        Ok((conn, version))
    }

    /// Open an existing store for issuing and revoking. A store with an older schema is
    /// refused ([`StoreError::Outdated`]) and left as it is: schema changes are made only
    /// by [`SqliteStore::migrate`] (`mimi-attest store migrate`), never when a command
    /// starts.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let (conn, version) = Self::open_read_write(path)?;
        if version < STORE_SCHEMA_VERSION {
            return Err(StoreError::Outdated {
                path: path.display().to_string(),
                found: version,
                current: STORE_SCHEMA_VERSION,
                ca_dir: ca_dir_of(path),
            });
        }
        Ok(SqliteStore {
            conn,
            schema_version: version,
            _copy: None,
        })
    }

    /// Upgrade the store at `path` to this build's schema, in one transaction (all or
    /// nothing): rows keep their order and ids, and every certificate's DER is kept. A store
    /// already at this version is left unchanged (`from == to`).
    pub fn migrate(path: &Path) -> Result<StoreMigration, StoreError> {
        let (conn, from) = Self::open_read_write(path)?;
        if from < STORE_SCHEMA_VERSION {
            migrate_from(&conn, from).map_err(|e| StoreError::Failed {
                path: path.display().to_string(),
                message: format!(
                    "could not upgrade the store from schema version {from} to {SCHEMA_VERSION} \
                     (nothing was changed): {e}"
                ),
            })?;
        }
        Ok(StoreMigration {
            from,
            to: STORE_SCHEMA_VERSION,
        })
    }

    /// Open an existing store for reading only (auditors: `store list`, `store export`):
    /// SQLite's read-only mode, so neither the database nor its write-ahead log is ever
    /// written, a store of schema version 1 is read as it is (not upgraded), and a store on
    /// a read-only file or in a read-only directory can be read. Changes still in the
    /// write-ahead log (`store.db-wal`) are read too: where SQLite cannot read the log in
    /// place (it needs write access beside it for `store.db-shm`), the database and its log
    /// are copied to a private temporary directory and the copy is read.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        Self::must_exist(path)?;
        let (conn, copy) = match open_ro(path, "mode=ro") {
            Ok(conn) => (conn, None),
            // No -wal file (or an empty one) means every change is in the database file:
            // opened as immutable, SQLite needs no -shm file, so a read-only directory works.
            Err(_) if !has_log(path) => (
                open_ro(path, "immutable=1").map_err(|e| store_err(path, e))?,
                None,
            ),
            Err(first) => {
                let (conn, dir) = open_copy(path).map_err(|e| StoreError::Failed {
                    path: path.display().to_string(),
                    message: format!(
                        "cannot read the store read-only ({first}), and copying it with its log {} to read the copy failed too ({e}): read it where its directory is writable",
                        sidecar(path, "-wal").display()
                    ),
                })?;
                (conn, Some(dir))
            }
        };
        let version = read_schema_version(&conn, path)?;
        if version == 1 {
            conn.execute_batch(V1_AS_V2_VIEWS)
                .map_err(|e| store_err(path, e))?;
        }
        Ok(SqliteStore {
            conn,
            schema_version: version,
            _copy: copy,
        })
    }

    /// The store's schema version (older than [`STORE_SCHEMA_VERSION`] only when opened
    /// read-only).
    pub fn schema_version(&self) -> u32 {
        self.schema_version
    }

    pub(crate) fn path(&self) -> String {
        self.conn.path().unwrap_or("store.db").to_owned()
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        db_err(self.path(), e)
    }

    /// Run `f` in one IMMEDIATE transaction (the write lock taken up front, so concurrent
    /// writers queue on the busy timeout instead of failing half-way).
    pub(crate) fn write<T>(
        &mut self,
        f: impl FnOnce(&mut dyn WriteTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let path = self.path();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| StoreError::Failed {
                path: path.clone(),
                message: format!("{e} (another process holds the store; try again)"),
            })?;
        let out = f(&mut SqliteTx {
            tx: &tx,
            path: &path,
        })?;
        tx.commit().map_err(|e| StoreError::Failed {
            path,
            message: e.to_string(),
        })?;
        Ok(out)
    }

    /// The issued (or since revoked) leaves without a recorded log index, oldest first: row
    /// id, DER and issuer serial. What the next issuance submits to the log again.
    ///
    /// Only rows after the highest one with a recorded index are read (a range of the
    /// primary key: the cost is that of the rows issued since, not of the store). That is
    /// all of them because indexes are recorded in row order: leaves are logged in the
    /// order they were stored, the indexes of one issuing turn in one transaction after
    /// them, and the leaves an earlier turn left unlogged (every row after its last
    /// recorded one) are logged, oldest first, before anything new; a reservation is never
    /// completed after its turn.
    pub(crate) fn unlogged_leaves(&self) -> Result<Vec<(i64, Vec<u8>, Serial)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(UNLOGGED_LEAVES)
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let id: i64 = r.get(0)?;
                let issuer: Option<String> = r.get(2)?;
                let issuer = issuer.unwrap_or_default();
                let serial = issuer.parse::<Serial>().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        2,
                        rusqlite::types::Type::Text,
                        format!("issuer_serial {issuer:?}: {e}").into(),
                    )
                })?;
                Ok((id, r.get(1)?, serial))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// The log index recorded for certificate `serial`: `None` when it is not logged (or
    /// the store is older than schema version 3).
    pub fn log_index(&self, serial: &Serial) -> Result<Option<u64>, StoreError> {
        if self.schema_version < 3 {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT l.log_index FROM log_entries l JOIN certificates c ON c.id = l.id \
                 WHERE c.serial = ?1",
                [serial.to_string()],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|v| v.map(|i| i as u64))
            .map_err(|e| self.err(e))
    }

    /// Fold the write-ahead log into the database file and empty it, without waiting: with
    /// readers still in the log, what they may need is left there, for a later checkpoint
    /// or for closing the store.
    pub(crate) fn fold_log(&self) -> Result<(), StoreError> {
        self.conn
            .busy_timeout(StdDuration::ZERO)
            .map_err(|e| self.err(e))?;
        let folded = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| self.err(e))?;
        folded.map_err(|e| self.err(e))
    }

    /// Run SQL on the store as it is (tests only).
    #[cfg(test)]
    pub(crate) fn execute_for_test(&self, sql: &str) -> Result<(), StoreError> {
        self.conn.execute_batch(sql).map_err(|e| self.err(e))
    }

    /// Fold the write-ahead log into the database file.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| self.err(e))
    }

    /// The row with this serial.
    pub fn get(&self, serial: &Serial) -> Result<Option<StoredCert>, StoreError> {
        self.one("serial = ?1", &serial.to_string())
    }

    /// The row that holds this request id.
    pub fn by_request_id(&self, id: &str) -> Result<Option<StoredCert>, StoreError> {
        self.one("request_id = ?1", id)
    }

    fn one(&self, sql_where: &str, key: &str) -> Result<Option<StoredCert>, StoreError> {
        Self::row_where(&self.conn, sql_where, key).map_err(|e| self.err(e))
    }

    fn row_where(
        conn: &Connection,
        sql_where: &str,
        key: &str,
    ) -> rusqlite::Result<Option<StoredCert>> {
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM {ROWS} WHERE {sql_where}"))
            .and_then(|mut stmt| stmt.query_row([key], from_row).optional())
    }

    fn query(
        &self,
        sql_where: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<StoredCert>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM {ROWS} WHERE {sql_where} ORDER BY c.created_at, c.id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(args, from_row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e));
        rows
    }

    /// Issued, unexpired leaves of one SII.
    pub fn live_leaves_of(
        &self,
        sii: &Sii,
        now: OffsetDateTime,
    ) -> Result<Vec<StoredCert>, StoreError> {
        self.query(
            "kind = 'leaf' AND status = 'issued' AND sii = ?1 AND not_after > ?2",
            &[&sii.canonical(), &fmt_time(now)],
        )
    }

    /// The newest (last written) issued leaf of one SII that is valid at `now` (notBefore
    /// at or before it, notAfter after it): what the exchange service answers a lookup with.
    /// One probe of the `certificates_sii` index; no schema change.
    pub fn newest_live_leaf_of(
        &self,
        sii: &Sii,
        now: OffsetDateTime,
    ) -> Result<Option<StoredCert>, StoreError> {
        let now = fmt_time(now);
        self.conn
            .prepare_cached(&newest_live_leaf_sql())
            .and_then(|mut stmt| {
                stmt.query_row(params![sii.canonical(), now], from_row)
                    .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// Issued, unexpired leaves (for renewal planning).
    pub fn live_leaves(&self, now: OffsetDateTime) -> Result<Vec<StoredCert>, StoreError> {
        self.query(
            "kind = 'leaf' AND status = 'issued' AND not_after > ?1",
            &[&fmt_time(now)],
        )
    }

    /// How many issued (not revoked), unexpired leaves one issuing CA signed.
    pub fn count_live_leaves_of_issuer(
        &self,
        issuer_serial: &Serial,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM certificates WHERE kind = 'leaf' AND status = 'issued' AND issuer_serial = ?1 AND not_after > ?2",
                params![issuer_serial.to_string(), fmt_time(now)],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Issuing CA certificates, oldest first.
    pub fn issuing_cas(&self) -> Result<Vec<StoredCert>, StoreError> {
        self.query("kind = 'ca'", &[])
    }

    /// Request ids that start with `prefix` (e.g. the `renew:` ids).
    pub fn request_ids_with_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT request_id FROM certificates WHERE substr(request_id, 1, length(?1)) = ?1",
            )
            .map_err(|e| self.err(e))?;
        let ids = stmt
            .query_map([prefix], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e));
        ids
    }

    /// Serial, revocation time and reason of the revoked, unexpired certificates one issuer
    /// signed (the leaves of an issuing CA; the issuing CAs of the root): what its CRL lists.
    /// Reads no certificate bodies.
    pub fn revoked_entries(
        &self,
        issuer_serial: &Serial,
        now: OffsetDateTime,
    ) -> Result<Vec<RevokedEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT serial, revoked_at, revocation_reason, id FROM certificates \
                 WHERE status = 'revoked' AND issuer_serial = ?1 AND not_after > ?2 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![issuer_serial.to_string(), fmt_time(now)], |r| {
                let entry = (|| {
                    Ok(RevokedEntry {
                        serial: parse_col(0, "serial", r.get(0)?, str::parse::<Serial>)?,
                        revoked_at: opt_time(1, "revoked_at", r.get(1)?)?,
                        reason: opt_col(
                            2,
                            "revocation_reason",
                            r.get(2)?,
                            str::parse::<RevokeReason>,
                        )?,
                    })
                })();
                entry.map_err(|e| at_row(e, r.get(3).ok()))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e));
        rows
    }

    /// Every row, oldest first.
    pub fn all(&self) -> Result<Vec<StoredCert>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM {ROWS} ORDER BY c.created_at, c.id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], from_row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e));
        rows
    }

    /// How many rows have this status.
    pub fn count(&self, status: CertStatus) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM certificates WHERE status = ?1",
                [status.as_str()],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }
}

/// One write transaction on an SQLite store.
struct SqliteTx<'a> {
    tx: &'a Transaction<'a>,
    path: &'a str,
}

impl SqliteTx<'_> {
    fn err(&self, e: rusqlite::Error) -> StoreError {
        db_err(self.path.to_owned(), e)
    }

    fn insert_row(&self, c: &StoredCert) -> rusqlite::Result<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO certificates (serial, kind, request_id, request_sha256, sii, handle, \
                 method, validated_at, not_before, not_after, issuer_serial, csr_sha256, status, \
                 created_at, revoked_at, revocation_reason) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?
            .execute(params![
                c.serial.to_string(),
                c.kind.as_str(),
                c.request_id,
                c.request_sha256,
                c.sii.as_ref().map(Sii::canonical),
                c.handle,
                c.method.map(Method::as_str),
                c.validated_at.map(fmt_time),
                fmt_time(c.not_before),
                fmt_time(c.not_after),
                c.issuer_serial.as_ref().map(Serial::to_string),
                c.csr_sha256,
                c.status.as_str(),
                fmt_time(c.created_at),
                c.revoked_at.map(fmt_time),
                c.revocation_reason.map(RevokeReason::as_str),
            ])?;
        let id = self.tx.last_insert_rowid();
        if let Some(der) = &c.der {
            self.tx
                .prepare_cached(INSERT_DER)?
                .execute(params![id, der])?;
        }
        Ok(id)
    }

    fn complete_runs(&self, leaves: &[(i64, &[u8])]) -> rusqlite::Result<()> {
        let mut flip = self.tx.prepare_cached(
            "UPDATE certificates SET status = 'issued' \
             WHERE id BETWEEN ?1 AND ?2 AND status = 'reserved'",
        )?;
        for run in leaves.chunk_by(|a, b| b.0 == a.0.wrapping_add(1)) {
            let (first, last) = (run[0].0, run[run.len() - 1].0);
            if flip.execute([first, last])? != run.len() {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
        }
        // One statement held for the whole run, not a cache lookup a leaf.
        let mut der = self.tx.prepare_cached(INSERT_DER)?;
        for (id, bytes) in leaves {
            der.execute(params![id, bytes])?;
        }
        Ok(())
    }
}

impl WriteTx for SqliteTx<'_> {
    fn location(&self) -> &str {
        self.path
    }

    fn insert(&mut self, c: &StoredCert) -> Result<i64, StoreError> {
        self.insert_row(c).map_err(|e| self.err(e))
    }

    fn reserve(&mut self, rows: &[&StoredCert]) -> Result<Vec<Option<i64>>, StoreError> {
        rows.iter()
            .map(|c| match self.insert_row(c) {
                Ok(id) => Ok(Some(id)),
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        && c.request_id.is_some() =>
                {
                    Ok(None)
                }
                Err(e) => Err(self.err(e)),
            })
            .collect()
    }

    /// Each run of consecutive ids is flipped by one UPDATE over the range (a sub-batch
    /// reserves its rows in one transaction, and one process at a time reserves, so their
    /// ids follow each other); every row of the range must be a reservation, or nothing is
    /// marked.
    fn complete(&mut self, issued: &[(i64, &[u8])], abandoned: &[i64]) -> Result<(), StoreError> {
        (|| {
            let mut abandon = self.tx.prepare_cached(
                "UPDATE certificates SET status = 'abandoned' WHERE id = ?1 AND status = 'reserved'",
            )?;
            for id in abandoned {
                abandon.execute([id])?;
            }
            self.complete_runs(issued)
        })()
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::Failed {
                path: self.path.to_owned(),
                message: "a reservation to complete is no longer reserved (changed by another process): nothing of this sub-batch was stored".into(),
            },
            e => self.err(e),
        })
    }

    fn row_by_request_id(&mut self, id: &str) -> Result<Option<StoredCert>, StoreError> {
        SqliteStore::row_where(self.tx, "request_id = ?1", id).map_err(|e| self.err(e))
    }

    /// A reservation in this store is always a dead one: one process at a time issues
    /// (`IssueLock`), and its reservations never outlive its turn.
    fn release_request_id(&mut self, request_id: &str) -> Result<Release, StoreError> {
        self.tx
            .prepare_cached(
                "UPDATE certificates SET status = 'abandoned', request_id = NULL WHERE request_id = ?1 AND status IN ('reserved','abandoned')",
            )
            .and_then(|mut s| s.execute([request_id]))
            .map_err(|e| self.err(e))?;
        Ok(Release::Released)
    }

    fn record_log_indexes(&mut self, logged: &[(i64, u64)]) -> Result<(), StoreError> {
        (|| {
            let mut insert = self.tx.prepare_cached(
                "INSERT OR IGNORE INTO log_entries (id, log_index) VALUES (?1, ?2)",
            )?;
            for (id, index) in logged {
                insert.execute(params![id, *index as i64])?;
            }
            Ok(())
        })()
        .map_err(|e| self.err(e))
    }

    fn mark_revoked(
        &mut self,
        serial: &Serial,
        at: OffsetDateTime,
        reason: RevokeReason,
    ) -> Result<(), StoreError> {
        let n = self
            .tx
            .prepare_cached(
                "UPDATE certificates SET status = 'revoked', revoked_at = ?2, revocation_reason = ?3 WHERE serial = ?1 AND status = 'issued'",
            )
            .and_then(|mut s| s.execute(params![serial.to_string(), fmt_time(at), reason.as_str()]))
            .map_err(|e| self.err(e))?;
        if n != 1 {
            return Err(super::not_issued(self.path, serial));
        }
        Ok(())
    }

    fn next_crl_number(&mut self) -> Result<u64, StoreError> {
        (|| {
            let current: String =
                self.tx
                    .query_row("SELECT value FROM meta WHERE key = 'crl_number'", [], |r| {
                        r.get(0)
                    })?;
            let next = current.parse::<u64>().unwrap_or(0) + 1;
            self.tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'crl_number'",
                [next.to_string()],
            )?;
            Ok(next)
        })()
        .map_err(|e| self.err(e))
    }
}

/// Upgrade a store of schema version `from` in place, in one transaction (all or nothing).
fn migrate_from(conn: &Connection, from: u32) -> rusqlite::Result<()> {
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    if from == 1 {
        migrate_v1(&tx)?;
    }
    // Version 2 to 3: the log indexes, none yet.
    tx.execute_batch(LOG_TABLE)?;
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
        [SCHEMA_VERSION],
    )?;
    tx.commit()
}

/// Upgrade a schema version 1 store to version 2 inside `tx`: rows keep their order and
/// ids, DER moves to `certificate_der`, the indexes of version 2 replace those of version 1.
fn migrate_v1(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "DROP INDEX IF EXISTS certificates_sii;
         DROP INDEX IF EXISTS certificates_status;
         DROP INDEX IF EXISTS certificates_issuer;
         ALTER TABLE certificates RENAME TO certificates_v1;",
    )?;
    tx.execute_batch(TABLES)?;
    tx.execute_batch(
        "INSERT INTO certificates (id, serial, kind, request_id, request_sha256, sii, handle,
             method, validated_at, not_before, not_after, issuer_serial, csr_sha256, status,
             created_at, revoked_at, revocation_reason)
         SELECT rowid, serial, kind, request_id, request_sha256, sii, handle, method,
             validated_at, not_before, not_after, issuer_serial, csr_sha256, status,
             created_at, revoked_at, revocation_reason
         FROM certificates_v1 ORDER BY rowid;
         INSERT INTO certificate_der (id, der)
         SELECT rowid, der FROM certificates_v1 WHERE der IS NOT NULL ORDER BY rowid;
         DROP TABLE certificates_v1;",
    )?;
    tx.execute_batch(INDEXES)
}

/// The schema version recorded in the store's `meta` table.
fn read_schema_version(conn: &Connection, path: &Path) -> Result<u32, StoreError> {
    let version: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| store_err(path, e))?;
    match version.as_deref().map(str::parse::<u32>) {
        Some(Ok(v)) if (1..=STORE_SCHEMA_VERSION).contains(&v) => Ok(v),
        _ => Err(StoreError::Failed {
            path: path.display().to_string(),
            message: format!(
                "store schema version {} is not one this build reads (1 to {SCHEMA_VERSION}): use the release that made this store, or a newer one",
                version.as_deref().unwrap_or("(none)")
            ),
        }),
    }
}

/// The CA directory a store file lives in, for messages.
fn ca_dir_of(path: &Path) -> String {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.display().to_string(),
        _ => ".".into(),
    }
}

/// `store.db-wal`, `store.db-shm`.
fn sidecar(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// Whether a non-empty write-ahead log sits beside the database.
fn has_log(path: &Path) -> bool {
    std::fs::metadata(sidecar(path, "-wal")).is_ok_and(|m| m.len() > 0)
}

/// Copy the database and its write-ahead log into a new private directory and open the
/// copy read-only (the log is read there, with a -shm file of the copy's own).
fn open_copy(path: &Path) -> Result<(Connection, tempfile::TempDir), String> {
    let dir = tempfile::Builder::new()
        .prefix("mimi-attest-store-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let db = dir.path().join("store.db");
    for (from, to) in [
        (path.to_owned(), db.clone()),
        (sidecar(path, "-wal"), sidecar(&db, "-wal")),
    ] {
        std::fs::copy(&from, &to).map_err(|e| format!("{}: {e}", from.display()))?;
        // Copies keep the source's mode; the copy's reader needs to open its log.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", to.display()))?;
    }
    let conn = open_ro(&db, "mode=ro").map_err(|e| e.to_string())?;
    Ok((conn, dir))
}

/// Open `path` read-only through an SQLite URI with `query` (`mode=ro`, `immutable=1`) and
/// read the schema once, so that failing to open the log shows here, not at the first query.
/// How much of a store a read-only connection maps (address space, not memory): SQLite's
/// default ceiling.
const READ_MMAP_SIZE: i64 = 0x7fff_0000;

fn open_ro(path: &Path, query: &str) -> rusqlite::Result<Connection> {
    let path = std::path::absolute(path)
        .map_err(|e| rusqlite::Error::InvalidPath(format!("{}: {e}", path.display()).into()))?;
    let uri = format!("file:{}?{query}", uri_path(&path));
    let conn = Connection::open_with_flags(
        &uri,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
            | rusqlite::OpenFlags::SQLITE_OPEN_URI
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Readers (the exchange service above all) read pages where the OS caches them, shared by
    // every connection, instead of copying each into a per-connection cache with a read(2).
    conn.pragma_update(None, "mmap_size", READ_MMAP_SIZE)?;
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(conn)
}

/// A path as the path of a `file:` URI: every byte but unreserved ones and `/` escaped.
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn store_err(path: &Path, e: rusqlite::Error) -> StoreError {
    db_err(path.display().to_string(), e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn reservation(n: u8) -> StoredCert {
        let t = datetime!(2026-11-26 09:00:00 UTC);
        StoredCert {
            serial: format!("{n:02x}{}", "11".repeat(15)).parse().unwrap(),
            kind: CertKind::Leaf,
            request_id: Some(format!("req-{n}")),
            request_sha256: None,
            sii: Some(Sii::parse(&format!("tel:+1555555010{n}")).unwrap()),
            handle: None,
            method: Some(Method::SmsOtp),
            validated_at: Some(t),
            not_before: t,
            not_after: t + time::Duration::days(7),
            issuer_serial: None,
            der: None,
            csr_sha256: None,
            status: CertStatus::Reserved,
            created_at: t,
            revoked_at: None,
            revocation_reason: None,
        }
    }

    #[test]
    fn a_lookup_probes_the_sii_index_and_sorts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::create(&dir.path().join("store.db")).unwrap();
        let mut stmt = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", newest_live_leaf_sql()))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map(params!["tel:+15555550100", "2026-11-26T09:00:00Z"], |r| {
                r.get(3)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter().any(|d| d.contains("INDEX certificates_sii")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|d| d.contains("TEMP B-TREE")), "{plan:?}");
    }

    #[test]
    fn a_new_store_has_16_kib_pages() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::create(&dir.path().join("store.db")).unwrap();
        let size: u32 = store
            .conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(size, PAGE_SIZE);
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let pages: u32 = store
            .conn
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap();
        assert_eq!(pages * PAGE_SIZE, WAL_CHECKPOINT_BYTES);
    }

    #[test]
    fn completion_flips_runs_of_ids_and_refuses_a_range_with_a_foreign_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::create(&dir.path().join("store.db")).unwrap();
        let ids: Vec<i64> = store
            .write(|tx| (1..=6).map(|n| tx.insert(&reservation(n))).collect())
            .unwrap();
        // 1, 2, 4, 5 signed (two runs); 3 abandoned; 6 left for the refusal below.
        store
            .write(|tx| {
                tx.complete(
                    &[
                        (ids[0], b"der-1".as_slice()),
                        (ids[1], b"der-2"),
                        (ids[3], b"der-4"),
                        (ids[4], b"der-5"),
                    ],
                    &[ids[2]],
                )
            })
            .unwrap();
        let row = |store: &SqliteStore, n: u8| store.get(&reservation(n).serial).unwrap().unwrap();
        for (n, status, der) in [
            (1, CertStatus::Issued, Some(b"der-1".to_vec())),
            (2, CertStatus::Issued, Some(b"der-2".to_vec())),
            (3, CertStatus::Abandoned, None),
            (4, CertStatus::Issued, Some(b"der-4".to_vec())),
            (5, CertStatus::Issued, Some(b"der-5".to_vec())),
            (6, CertStatus::Reserved, None),
        ] {
            let r = row(&store, n);
            assert_eq!((r.status, r.der), (status, der), "row {n}");
        }
        // A range that takes in a row no longer reserved (5 is issued) changes nothing.
        let err = store
            .write(|tx| tx.complete(&[(ids[4], b"again"), (ids[5], b"der-6")], &[]))
            .unwrap_err();
        assert!(matches!(err, StoreError::Failed { .. }), "{err}");
        assert_eq!(row(&store, 6).status, CertStatus::Reserved);
        assert_eq!(row(&store, 5).der, Some(b"der-5".to_vec()));
        // An abandoned reservation is never completed (its serial stays unused).
        let err = store
            .write(|tx| tx.complete(&[(ids[2], b"late")], &[]))
            .unwrap_err();
        assert!(matches!(err, StoreError::Failed { .. }), "{err}");
        let r = row(&store, 3);
        assert_eq!((r.status, r.der), (CertStatus::Abandoned, None));
    }

    #[test]
    fn unlogged_leaves_are_those_after_the_last_logged_row_read_as_a_range() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::create(&dir.path().join("store.db")).unwrap();
        let issuer: Serial = "77".repeat(16).parse().unwrap();
        let ids: Vec<i64> = store
            .write(|tx| {
                (1..=7)
                    .map(|n| {
                        let mut r = reservation(n);
                        r.issuer_serial = Some(issuer.clone());
                        tx.insert(&r)
                    })
                    .collect()
            })
            .unwrap();
        let der = |i: usize| format!("der-{i}").into_bytes();
        // 1, 2, 4, 5, 6 issued; 3 abandoned; 7 still reserved.
        store
            .write(|tx| {
                let signed: Vec<(i64, Vec<u8>)> =
                    [0, 1, 3, 4, 5].iter().map(|&i| (ids[i], der(i))).collect();
                let signed: Vec<(i64, &[u8])> =
                    signed.iter().map(|(id, d)| (*id, d.as_slice())).collect();
                tx.complete(&signed, &[ids[2]])
            })
            .unwrap();
        let unlogged = |store: &SqliteStore| -> Vec<i64> {
            let rows = store.unlogged_leaves().unwrap();
            assert!(rows.iter().all(|(_, _, s)| *s == issuer));
            rows.into_iter().map(|(id, _, _)| id).collect()
        };
        assert_eq!(unlogged(&store), [ids[0], ids[1], ids[3], ids[4], ids[5]]);
        // A turn logged the first two: the rest, after them, is what is left.
        store
            .write(|tx| tx.record_log_indexes(&[(ids[0], 0), (ids[1], 1)]))
            .unwrap();
        assert_eq!(unlogged(&store), [ids[3], ids[4], ids[5]]);
        let rows = store.unlogged_leaves().unwrap();
        assert_eq!(rows[0].1, der(3));
        // A revoked leaf is still logged; once the last is recorded nothing is left.
        store
            .conn
            .execute(
                "UPDATE certificates SET status = 'revoked' WHERE id = ?1",
                [ids[5]],
            )
            .unwrap();
        assert_eq!(unlogged(&store), [ids[3], ids[4], ids[5]]);
        store
            .write(|tx| tx.record_log_indexes(&[(ids[3], 2), (ids[4], 3), (ids[5], 4)]))
            .unwrap();
        assert!(unlogged(&store).is_empty());
        // The query reads a range of the primary key after the last logged row, never the
        // whole table.
        let plan: Vec<String> = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {UNLOGGED_LEAVES}"))
            .unwrap()
            .query_map([], |r| r.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|p| p == "SEARCH c USING INTEGER PRIMARY KEY (rowid>?)"),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|p| p.starts_with("SCAN")), "{plan:?}");
    }

    #[test]
    fn a_row_that_does_not_parse_is_a_clear_error_naming_row_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::create(&dir.path().join("store.db")).unwrap();
        store
            .write(|tx| {
                tx.insert(&reservation(1))?;
                tx.insert(&reservation(2))
            })
            .unwrap();
        let good = reservation(1);
        assert_eq!(store.get(&good.serial).unwrap().unwrap(), good);
        for (column, value) in [
            ("sii", "tel:+1 555"),
            ("method", "carrier-pigeon"),
            ("revocation_reason", "lost"),
            ("serial", "not-hex"),
            ("issuer_serial", "zz"),
        ] {
            let store = SqliteStore::open(&dir.path().join("store.db")).unwrap();
            store
                .conn
                .execute(
                    &format!("UPDATE certificates SET {column} = ?1 WHERE id = 2"),
                    [value],
                )
                .unwrap();
            let err = store.all().unwrap_err();
            let StoreError::BadRow {
                row, column: col, ..
            } = &err
            else {
                panic!("{column}: {err}");
            };
            assert_eq!((*row, *col), (Some(2), column));
            let text = err.to_string();
            for want in ["row 2", column, value, "restore store.db from a backup"] {
                assert!(text.contains(want), "{column}: {want:?} not in {text}");
            }
            // Put the row back for the next column.
            store
                .conn
                .execute("DELETE FROM certificates WHERE id = 2", [])
                .unwrap();
            let mut store = store;
            store.write(|tx| tx.insert(&reservation(2))).unwrap();
        }
    }
}
