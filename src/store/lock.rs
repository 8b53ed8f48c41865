//! One issuing process at a time per CA directory, for one turn of issuance (an `issue`, or
//! 16 sub-batches of a batch, 56,832 requests: a long batch gives the lock up between
//! turns, with no reservation in flight, so other issuers wait seconds, not the whole batch).
//!
//! A reservation (a `reserved` row) is made and completed inside one such turn, so whoever
//! holds the lock knows that any `reserved` row it finds was left by a process that died:
//! it may release it and retry the request id. Without the lock, two batches carrying the
//! same request id could release each other's live reservations.
//!
//! The lock is an IMMEDIATE transaction on a small SQLite file (`issue.lock`) beside the
//! store: the operating system drops it when its holder dies, even by SIGKILL, and waiting
//! for it uses SQLite's bounded busy wait.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

/// The lock file's name inside a CA directory.
const LOCK_FILE: &str = "issue.lock";
/// How long to wait for another issuing process before giving up with a clear message.
const WAIT: Duration = Duration::from_secs(120);

/// Held while issuing; released on drop (or by the OS when the process dies).
pub(crate) struct IssueLock {
    conn: Connection,
}

impl IssueLock {
    /// Wait (up to two minutes) until no other process issues from `dir`, then hold it.
    pub(crate) fn acquire(dir: &Path) -> Result<IssueLock, StoreError> {
        let path = dir.join(LOCK_FILE);
        let err = |e: rusqlite::Error| StoreError::Failed {
            path: path.display().to_string(),
            message: format!("cannot take the issuance lock: {e}"),
        };
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(WAIT).map_err(err)?;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy) => StoreError::Failed {
                path: path.display().to_string(),
                message: format!(
                    "another process has been issuing from this CA for more than {} s: try again when it has finished",
                    WAIT.as_secs()
                ),
            },
            _ => err(e),
        })?;
        Ok(IssueLock { conn })
    }
}

impl Drop for IssueLock {
    fn drop(&mut self) {
        let _ = self.conn.execute_batch("ROLLBACK");
    }
}
