//! A monitor of a mapping-log-v1 log: it follows the log from a state directory, checks that
//! every checkpoint it sees is signed by the log, is the tree of the entries it saw before
//! plus the new bundles (recomputed here, never read from the log's tiles), and reports per
//! provider what was added and every label two providers hold at once.
//!
//! State (`<state>/monitor.db`, SQLite) holds the last checkpoint accepted, the stored hashes
//! of the tree (as `tlog_tiles` numbers them) and the entries' public fields by label. One run
//! is one transaction: a log found inconsistent leaves the state as it was.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

// SQLite here is this component's own local state file, not an issuance store: it stays
// outside `store::IssuanceStore`, which is the only way to an issuance store.
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use tlog_tiles::{Hash, HashReader};

use crate::log::tiles;
use crate::log::{LogError, LogKeys, MappingLogEntry, NoteVerifierKey, SignedCheckpoint};
use crate::profile;

use super::AuditError;

/// The state database's file name in a monitor's state directory.
pub const MONITOR_STATE_FILE: &str = "monitor.db";

/// One entry as the monitor keeps it (everything public in the entry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MonitoredEntry {
    /// Its index in the log.
    pub index: u64,
    /// The provider it names.
    pub provider: String,
    /// SHA-256 of the issuing CA's key, hex.
    pub issuer_spki_sha256: String,
    /// SHA-256 of the leaf, hex.
    pub leaf_sha256: String,
    /// The leaf's notBefore, RFC 3339.
    pub not_before: String,
    /// The leaf's notAfter, RFC 3339.
    pub not_after: String,
    /// The preferred flag.
    pub preferred: bool,
    /// The newHolder flag.
    pub new_holder: bool,
}

/// New entries of one provider in a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProviderVolume {
    /// The provider.
    pub provider: String,
    /// How many entries it added.
    pub entries: u64,
    /// How many of them carry the newHolder flag.
    pub new_holder: u64,
}

/// A label held by more than one provider at once (validity windows overlap), found among
/// the entries of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LabelConflict {
    /// The label, hex.
    pub label: String,
    /// The entries for it whose validity overlaps a new entry of another provider, by index.
    pub entries: Vec<MonitoredEntry>,
    /// True when a new entry among them carries newHolder: its provider announces a
    /// reassignment while the old holder's attestation is still valid.
    pub new_holder: bool,
}

/// What one monitoring run found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MonitorReport {
    /// The log's origin.
    pub origin: String,
    /// The tree size the monitor held before this run.
    pub previous_size: u64,
    /// The tree size of the log's checkpoint.
    pub size: u64,
    /// The checkpoint's root hash, base64.
    pub root_hash: String,
    /// The listed witnesses that validly cosigned the checkpoint.
    pub witnesses: Vec<String>,
    /// New entries per provider.
    pub providers: Vec<ProviderVolume>,
    /// Labels held by two providers at once.
    pub conflicts: Vec<LabelConflict>,
    /// Why the log is not consistent with what the monitor saw (empty when it is). When not
    /// empty, the monitor's state is left as it was.
    pub problems: Vec<String>,
}

impl MonitorReport {
    /// Whether the log was found inconsistent (a rewritten history, two views, bundles that
    /// are not the tree).
    pub fn inconsistent(&self) -> bool {
        !self.problems.is_empty()
    }
}

/// A monitor's state directory.
pub struct Monitor {
    db: Connection,
    path: PathBuf,
}

impl Monitor {
    /// Opens (or starts) the state in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Self, AuditError> {
        fs::create_dir_all(state_dir).map_err(|e| state(state_dir, e))?;
        let path = state_dir.join(MONITOR_STATE_FILE);
        let db = Connection::open(&path).map_err(|e| state(&path, e))?;
        db.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS log (
                 id INTEGER PRIMARY KEY CHECK (id = 1),
                 origin TEXT NOT NULL,
                 size INTEGER NOT NULL,
                 root BLOB NOT NULL,
                 checkpoint BLOB NOT NULL
             );
             CREATE TABLE IF NOT EXISTS hashes (id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS entries (
                 idx INTEGER PRIMARY KEY,
                 label BLOB NOT NULL,
                 provider TEXT NOT NULL,
                 issuer BLOB NOT NULL,
                 leaf BLOB NOT NULL,
                 not_before INTEGER NOT NULL,
                 not_after INTEGER NOT NULL,
                 flags INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS entries_by_label ON entries (label);",
        )
        .map_err(|e| state(&path, e))?;
        Ok(Monitor { db, path })
    }

    /// Reads the log's checkpoint in `public` (the directory a log serves) and the bundles
    /// of the entries added since the last run, checks them, and records them. The log's
    /// checkpoint must be signed by `keys`; cosignatures are counted for `witnesses`.
    pub fn update(
        &mut self,
        public: &Path,
        keys: &LogKeys,
        witnesses: &[NoteVerifierKey],
    ) -> Result<MonitorReport, AuditError> {
        let cp_path = public.join("checkpoint");
        let bytes = fs::read(&cp_path).map_err(|e| log_io(&cp_path, e))?;
        let checkpoint = SignedCheckpoint::parse(&bytes)?;
        checkpoint.verify(&keys.origin, &keys.key)?;
        let witnessed = checkpoint
            .cosignatures(witnesses)?
            .into_iter()
            .map(|(w, _)| w.name().to_owned())
            .collect();
        let new = checkpoint.checkpoint();
        let (size, root) = (new.size(), *new.root_hash());
        let held = self.held()?;
        let mut report = MonitorReport {
            origin: keys.origin.clone(),
            previous_size: held.as_ref().map_or(0, |h| h.1),
            size,
            root_hash: tlog_tiles::Hash(root).to_string(),
            witnesses: witnessed,
            providers: Vec::new(),
            conflicts: Vec::new(),
            problems: Vec::new(),
        };
        if let Some((origin, held_size, held_root)) = &held {
            if *origin != keys.origin {
                return Err(state(
                    &self.path,
                    format!(
                        "it follows the log {origin:?}, not {:?}: give each log its own state directory",
                        keys.origin
                    ),
                ));
            }
            if size < *held_size {
                report.problems.push(format!(
                    "the log's checkpoint has size {size}, smaller than the size {held_size} \
                     it showed before: it rolled back its history"
                ));
            } else if size == *held_size && root != *held_root {
                report.problems.push(format!(
                    "the log shows a root hash for size {size} other than the one it showed \
                     before: two views of one tree"
                ));
            }
            if report.inconsistent() {
                return Ok(report);
            }
        }

        let start = report.previous_size;
        let tx = self.db.transaction().map_err(|e| state(&self.path, e))?;
        let mut added: Vec<(u64, MappingLogEntry)> = Vec::new();
        let read = tiles::read_entries(public, size, start..size, |index, bytes| {
            let entry = MappingLogEntry::decode(bytes)
                .map_err(|e| Halt::Problem(format!("entry {index}: {e}")))?;
            let fail = |e: &dyn std::fmt::Display| Halt::Fail(state(&self.path, e));
            let stored = tlog_tiles::stored_hashes_for_record_hash(
                index,
                tlog_tiles::record_hash(bytes),
                &Stored(&tx),
            )
            .map_err(|e| fail(&e))?;
            let first = tlog_tiles::stored_hash_count(index);
            for (id, hash) in (first..).zip(stored) {
                tx.execute(
                    "INSERT OR REPLACE INTO hashes (id, hash) VALUES (?1, ?2)",
                    params![id as i64, &hash.0[..]],
                )
                .map_err(|e| fail(&e))?;
            }
            insert_entry(&tx, index, &entry).map_err(|e| fail(&e))?;
            added.push((index, entry));
            Ok(())
        });
        match read {
            Ok(()) => {}
            Err(Halt::Problem(p)) => {
                report.problems.push(p);
                return Ok(report); // the transaction is dropped: nothing recorded
            }
            Err(Halt::Fail(e)) => return Err(e),
        }
        let recomputed = if size == 0 {
            tlog_tiles::EMPTY_HASH
        } else {
            tlog_tiles::tree_hash(size, &Stored(&tx)).map_err(|e| state(&self.path, e))?
        };
        if recomputed.0 != root {
            report.problems.push(format!(
                "the checkpoint of size {size} is not the tree of the {start} entries seen before \
                 and the bundles after them: the log rewrote its history or serves bundles that \
                 are not its tree"
            ));
            return Ok(report); // the transaction is dropped: nothing recorded
        }
        tx.execute(
            "INSERT OR REPLACE INTO log (id, origin, size, root, checkpoint) VALUES (1, ?1, ?2, ?3, ?4)",
            params![keys.origin, size as i64, &root[..], checkpoint.as_bytes()],
        )
        .map_err(|e| state(&self.path, e))?;

        let mut volumes: BTreeMap<String, ProviderVolume> = BTreeMap::new();
        for (_, e) in &added {
            let v = volumes
                .entry(e.provider.clone())
                .or_insert_with(|| ProviderVolume {
                    provider: e.provider.clone(),
                    entries: 0,
                    new_holder: 0,
                });
            v.entries += 1;
            v.new_holder += u64::from(e.flags.new_holder);
        }
        report.providers = volumes.into_values().collect();
        report.conflicts = conflicts(&tx, &added).map_err(|e| state(&self.path, e))?;
        tx.commit().map_err(|e| state(&self.path, e))?;
        Ok(report)
    }

    /// Every entry the monitor has seen for `label`, by index (the owner's lookup: the label
    /// comes from the log operator's `log label`).
    pub fn entries_for_label(&self, label: &[u8; 32]) -> Result<Vec<MonitoredEntry>, AuditError> {
        entries_for_label(&self.db, label).map_err(|e| state(&self.path, e))
    }

    /// (origin, size, root) of the last checkpoint accepted.
    fn held(&self) -> Result<Option<(String, u64, [u8; 32])>, AuditError> {
        self.db
            .query_row("SELECT origin, size, root FROM log WHERE id = 1", [], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .optional()
            .map_err(|e| state(&self.path, e))?
            .map(|(o, s, r)| {
                let root = r
                    .try_into()
                    .map_err(|_| state(&self.path, "a root hash is not 32 bytes"))?;
                Ok((o, s, root))
            })
            .transpose()
    }
}

/// Why reading the new entries stopped: the log is inconsistent (a report), or the monitor
/// could not do its work (an error).
enum Halt {
    Problem(String),
    Fail(AuditError),
}

impl From<LogError> for Halt {
    fn from(e: LogError) -> Self {
        match e {
            // A bundle that cannot be read is no finding about the log.
            e @ LogError::Io { .. } => Halt::Fail(e.into()),
            e => Halt::Problem(e.to_string()),
        }
    }
}

/// Stored hashes read from the state, for `tlog_tiles`.
struct Stored<'a>(&'a Connection);

impl HashReader for Stored<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let mut stmt = self
            .0
            .prepare_cached("SELECT hash FROM hashes WHERE id = ?1")
            .map_err(|_| tlog_tiles::Error::IndexesNotInTree)?;
        indexes
            .iter()
            .map(|&i| {
                let h: Vec<u8> = stmt
                    .query_row([i as i64], |r| r.get(0))
                    .map_err(|_| tlog_tiles::Error::IndexesNotInTree)?;
                h.try_into()
                    .map(Hash)
                    .map_err(|_| tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

fn insert_entry(db: &Connection, index: u64, e: &MappingLogEntry) -> rusqlite::Result<usize> {
    let flags = u8::from(e.flags.preferred) | (u8::from(e.flags.new_holder) << 1);
    db.execute(
        "INSERT OR REPLACE INTO entries (idx, label, provider, issuer, leaf, not_before, not_after, flags)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            index as i64,
            &e.label[..],
            e.provider,
            &e.issuer_spki_sha256[..],
            &e.leaf_sha256[..],
            e.not_before as i64,
            e.not_after as i64,
            flags
        ],
    )
}

/// A stored row as the API shows it.
fn row_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<(MonitoredEntry, i64, i64)> {
    let time = |secs: i64| {
        time::OffsetDateTime::from_unix_timestamp(secs)
            .map(profile::rfc3339)
            .unwrap_or_else(|_| secs.to_string())
    };
    let (nb, na, flags): (i64, i64, u8) = (r.get(5)?, r.get(6)?, r.get(7)?);
    Ok((
        MonitoredEntry {
            index: r.get::<_, i64>(0)? as u64,
            provider: r.get(2)?,
            issuer_spki_sha256: profile::hex(&r.get::<_, Vec<u8>>(3)?),
            leaf_sha256: profile::hex(&r.get::<_, Vec<u8>>(4)?),
            not_before: time(nb),
            not_after: time(na),
            preferred: flags & 1 != 0,
            new_holder: flags & 2 != 0,
        },
        nb,
        na,
    ))
}

const ENTRY_COLUMNS: &str = "idx, label, provider, issuer, leaf, not_before, not_after, flags";

fn entries_for_label(db: &Connection, label: &[u8]) -> rusqlite::Result<Vec<MonitoredEntry>> {
    Ok(rows_for_label(db, label)?
        .into_iter()
        .map(|r| r.0)
        .collect())
}

fn rows_for_label(
    db: &Connection,
    label: &[u8],
) -> rusqlite::Result<Vec<(MonitoredEntry, i64, i64)>> {
    let mut stmt = db.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS} FROM entries WHERE label = ?1 ORDER BY idx"
    ))?;
    let rows = stmt.query_map([label], row_entry)?;
    rows.collect()
}

/// For each label of the new entries: the entries of other providers whose validity overlaps
/// a new entry's, with that entry.
fn conflicts(
    db: &Connection,
    added: &[(u64, MappingLogEntry)],
) -> rusqlite::Result<Vec<LabelConflict>> {
    let mut labels: Vec<[u8; 32]> = added.iter().map(|(_, e)| e.label).collect();
    labels.sort_unstable();
    labels.dedup();
    let mut out = Vec::new();
    for label in labels {
        let rows = rows_for_label(db, &label)?;
        let mut involved: Vec<&(MonitoredEntry, i64, i64)> = Vec::new();
        for new in rows
            .iter()
            .filter(|r| added.iter().any(|(i, _)| *i == r.0.index))
        {
            for other in &rows {
                let overlap = other.1 < new.2 && new.1 < other.2;
                if other.0.provider != new.0.provider && overlap {
                    for r in [new, other] {
                        if !involved.iter().any(|x| x.0.index == r.0.index) {
                            involved.push(r);
                        }
                    }
                }
            }
        }
        if involved.is_empty() {
            continue;
        }
        involved.sort_by_key(|r| r.0.index);
        let new_holder = involved
            .iter()
            .any(|r| r.0.new_holder && added.iter().any(|(i, _)| *i == r.0.index));
        out.push(LabelConflict {
            label: profile::hex(&label),
            new_holder,
            entries: involved.into_iter().map(|r| r.0.clone()).collect(),
        });
    }
    Ok(out)
}

fn state(path: &Path, e: impl std::fmt::Display) -> AuditError {
    AuditError::MonitorState {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

fn log_io(path: &Path, source: std::io::Error) -> AuditError {
    AuditError::Log(LogError::Io {
        path: path.to_owned(),
        source,
    })
}
