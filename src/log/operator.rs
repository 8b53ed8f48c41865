//! The log operator's side of a log directory: the public tree ([`LogWriter`]), the VRF key
//! that turns SIIs into labels, and a private index of leaf hashes that makes adding an
//! attestation idempotent.
//!
//! ```text
//! <dir>/public/    the tlog-tiles tree, for any static web server
//! <dir>/index.db   leaf hash -> index (SQLite); private, rebuilt from the bundles if behind
//! <dir>/lock       held while an operator has the log open: one writer at a time
//! ```
//!
//! Adding a batch writes its new entries and one checkpoint (last, by the writer), then
//! records them in the index. A crash before the checkpoint leaves the old tree (the batch is
//! not logged and is added again next time); a crash after it leaves the index behind the
//! tree, and the next open reads the missing leaf hashes back from the bundles. Either way a
//! leaf is never appended twice and no second checkpoint is signed for a size.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

// SQLite here is this component's own local state file, not an issuance store: it stays
// outside `store::IssuanceStore`, which is the only way to an issuance store.
use rusqlite::{params, Connection, OptionalExtension};
use x509_parser::prelude::X509Certificate;

use super::entry::{parse_leaf, MappingLogEntry};
use super::note::{NoteSigningKey, NoteVerifierKey, SignedCheckpoint};
use super::proof::TlogProof;
use super::vrf::{VrfProof, VrfPublicKey, VrfSecretKey};
use super::witness::AddCheckpoint;
use super::writer::LogWriter;
use super::{leaf_hash, LogError};
use crate::profile;

/// The private index's file name in a log directory.
pub const INDEX_FILE: &str = "index.db";
/// The lock file's name in a log directory.
const LOCK_FILE: &str = "lock";

/// An attestation to log: its leaf certificate and the SubjectPublicKeyInfo (DER) of the CA
/// that signed it.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Submission<'a> {
    /// The leaf certificate (DER).
    pub leaf_der: &'a [u8],
    /// The issuing CA's SubjectPublicKeyInfo (DER).
    pub issuer_spki_der: &'a [u8],
}

impl<'a> Submission<'a> {
    /// A submission of `leaf_der`, issued by the CA whose key is `issuer_spki_der`.
    pub fn new(leaf_der: &'a [u8], issuer_spki_der: &'a [u8]) -> Self {
        Submission {
            leaf_der,
            issuer_spki_der,
        }
    }
}

/// A logged attestation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Logged {
    /// The entry's index in the log.
    pub index: u64,
    /// The entry's leaf hash.
    pub leaf_hash: [u8; 32],
    /// The VRF proof of the leaf's SII, for the tlog-proof's `extra` line.
    pub vrf_proof: VrfProof,
    /// True when this call appended the entry; false when the log already held the leaf (a
    /// resubmission, a repaired run) or it came earlier in the same batch.
    pub new: bool,
}

/// A log directory opened by its operator, with its note key and VRF key.
pub struct LogOperator {
    writer: LogWriter,
    index: Connection,
    vrf: Labeller,
    index_path: PathBuf,
    /// Held (flock) for as long as the operator is open.
    _lock: OperatorLock,
}

impl LogOperator {
    /// Starts an empty log in `dir` (see [`LogWriter::create`]) with an empty index.
    pub fn create(dir: &Path, key: NoteSigningKey, vrf: VrfSecretKey) -> Result<Self, LogError> {
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let lock = lock(dir)?;
        let writer = LogWriter::create(dir, key)?;
        Self::with_index(dir, writer, vrf, lock)
    }

    /// Opens the log in `dir`, waiting for another process's operator to close it (up to
    /// [`LOG_LOCK_WAIT`](super::LOG_LOCK_WAIT), then [`LogError::Locked`]), and brings the index up
    /// to the tree.
    pub fn open(dir: &Path, key: NoteSigningKey, vrf: VrfSecretKey) -> Result<Self, LogError> {
        let lock = lock(dir)?;
        let writer = LogWriter::open(dir, key)?;
        Self::with_index(dir, writer, vrf, lock)
    }

    fn with_index(
        dir: &Path,
        writer: LogWriter,
        vrf: VrfSecretKey,
        lock: OperatorLock,
    ) -> Result<Self, LogError> {
        let index_path = dir.join(INDEX_FILE);
        let index = Connection::open(&index_path).map_err(|e| sql(&index_path, e))?;
        index
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 CREATE TABLE IF NOT EXISTS entries (
                     idx INTEGER PRIMARY KEY,
                     leaf_hash BLOB NOT NULL
                 );
                 CREATE INDEX IF NOT EXISTS entries_by_leaf ON entries (leaf_hash);",
            )
            .map_err(|e| sql(&index_path, e))?;
        let mut op = LogOperator {
            writer,
            index,
            vrf: Labeller(Arc::new(vrf)),
            index_path,
            _lock: lock,
        };
        op.repair_index()?;
        Ok(op)
    }

    /// Adds the leaf hashes of the entries the tree holds beyond the index.
    fn repair_index(&mut self) -> Result<(), LogError> {
        let indexed = self.indexed()?;
        let size = self.writer.size();
        if indexed > size {
            return Err(LogError::Inconsistent {
                path: self.index_path.clone(),
                reason: format!(
                    "the index holds {indexed} entries but the checkpoint only {size}: the \
                     checkpoint is older than the index (restored from a backup?)"
                ),
            });
        }
        if indexed == size {
            return Ok(());
        }
        let hashes: Vec<[u8; 32]> = self
            .writer
            .read_entries(indexed, size)?
            .iter()
            .map(|e| leaf_hash(e))
            .collect();
        self.record(indexed, &hashes)
    }

    /// How many entries the index holds (its indexes are 0 to that, less one).
    fn indexed(&self) -> Result<u64, LogError> {
        let next: Option<i64> = self
            .index
            .query_row("SELECT MAX(idx) + 1 FROM entries", [], |r| r.get(0))
            .map_err(|e| sql(&self.index_path, e))?;
        Ok(next.unwrap_or(0) as u64)
    }

    fn record(&mut self, first: u64, hashes: &[[u8; 32]]) -> Result<(), LogError> {
        let path = self.index_path.clone();
        let tx = self.index.transaction().map_err(|e| sql(&path, e))?;
        {
            let mut insert = tx
                .prepare("INSERT INTO entries (idx, leaf_hash) VALUES (?1, ?2)")
                .map_err(|e| sql(&path, e))?;
            for (i, hash) in (first..).zip(hashes) {
                insert
                    .execute(params![i as i64, &hash[..]])
                    .map_err(|e| sql(&path, e))?;
            }
        }
        tx.commit().map_err(|e| sql(&path, e))
    }

    /// The index of the entry with this leaf hash, if the log holds it.
    pub fn find(&self, leaf_hash: &[u8; 32]) -> Result<Option<u64>, LogError> {
        // Cached: a batch asks once a leaf, and preparing cost more than the lookup.
        self.index
            .prepare_cached("SELECT MIN(idx) FROM entries WHERE leaf_hash = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([&leaf_hash[..]], |r| r.get::<_, Option<i64>>(0))
                    .optional()
            })
            .map(|v| v.flatten().map(|i| i as u64))
            .map_err(|e| sql(&self.index_path, e))
    }

    /// Logs a batch of attestations: each leaf's label is computed from its SII, leaves the log
    /// already holds keep their index, and the new ones are appended under one checkpoint
    /// (none is signed when all were held). Results are in the order of `submissions`.
    ///
    /// The labels (one VRF proof each, most of the cost) and entries are computed on all of
    /// rayon's threads when it has more than one; nothing is written until all are, and the
    /// first submission refused (in their order) fails the call with nothing logged.
    pub fn add(&mut self, submissions: &[Submission<'_>]) -> Result<Vec<Logged>, LogError> {
        let vrf = &self.vrf;
        let labelled: Vec<Result<Labelled, LogError>> = if rayon::current_num_threads() > 1 {
            use rayon::prelude::*;
            submissions.par_iter().map(|s| vrf.label(s)).collect()
        } else {
            submissions.iter().map(|s| vrf.label(s)).collect()
        };
        // The first refused submission in their order, whichever thread met it first.
        let labelled = labelled.into_iter().collect::<Result<Vec<_>, _>>()?;
        self.add_labelled(labelled)
    }

    /// [`Self::add`] of submissions already labelled by this log's [`Self::labeller`] (on
    /// other threads, while this operator appended the batch before). Entries labelled with
    /// another log's VRF key are refused, and nothing is logged.
    pub(crate) fn add_labelled(&mut self, batch: Vec<Labelled>) -> Result<Vec<Logged>, LogError> {
        let key = self.vrf.0.public_key().as_bytes();
        if batch.iter().any(|l| l.vrf_key != *key) {
            return Err(LogError::VrfKey {
                reason: "an entry was labelled with another log's VRF key".into(),
            });
        }
        let mut out = Vec::with_capacity(batch.len());
        let mut fresh: Vec<Vec<u8>> = Vec::new();
        let mut fresh_hashes: Vec<[u8; 32]> = Vec::new();
        // The index in `fresh` of each new leaf hash.
        let mut fresh_at: HashMap<[u8; 32], usize> = HashMap::new();
        let first = self.writer.size();
        for Labelled {
            vrf_proof, entry, ..
        } in batch
        {
            let hash = leaf_hash(&entry);
            let held = match self.find(&hash)? {
                Some(index) => Some(index),
                // The same leaf twice in one batch is one entry.
                None => fresh_at.get(&hash).map(|&p| first + p as u64),
            };
            let (index, new) = match held {
                Some(index) => (index, false),
                None => {
                    fresh_at.insert(hash, fresh.len());
                    fresh.push(entry);
                    fresh_hashes.push(hash);
                    (first + fresh_hashes.len() as u64 - 1, true)
                }
            };
            out.push(Logged {
                index,
                leaf_hash: hash,
                vrf_proof,
                new,
            });
        }
        if !fresh.is_empty() {
            self.writer.append(&fresh)?;
            self.record(first, &fresh_hashes)?;
        }
        Ok(out)
    }

    /// The log's VRF key as a [`Labeller`], to label submissions on other threads.
    pub(crate) fn labeller(&self) -> Labeller {
        self.vrf.clone()
    }

    /// The tlog-proof of a logged attestation against the current checkpoint.
    pub fn proof(&self, logged: &Logged) -> Result<TlogProof, LogError> {
        self.writer
            .tlog_proof(logged.index, Some(logged.vrf_proof.as_bytes().to_vec()))
    }

    /// The label and VRF proof of an SII's canonical form (the `log label` answer: only for
    /// an authenticated owner of the SII, see docs/spec.md#log-privacy).
    pub fn label(&self, canonical_sii: &str) -> Result<([u8; 32], VrfProof), LogError> {
        let (proof, output) = self.vrf.0.prove_with_output(canonical_sii.as_bytes())?;
        Ok((output.label(), proof))
    }

    /// The log's VRF public key.
    pub fn vrf_public_key(&self) -> &VrfPublicKey {
        self.vrf.0.public_key()
    }

    /// The tree.
    pub fn writer(&self) -> &LogWriter {
        &self.writer
    }

    /// Adds witnesses' cosignature lines to the current checkpoint and publishes it (same
    /// size and root, more signatures).
    pub fn add_cosignatures(&mut self, lines: &str) -> Result<SignedCheckpoint, LogError> {
        self.writer.add_signature_lines(lines)
    }

    /// The tlog-witness add-checkpoint request for the current checkpoint, to a witness that
    /// holds the tree of `old_size` entries (0 for one that holds none): that size, the
    /// consistency proof from it, the checkpoint. For a witness reached some other way than
    /// [`Witness::add_checkpoint`](super::Witness::add_checkpoint) on a local directory.
    pub fn witness_request(&self, old_size: u64) -> Result<AddCheckpoint, LogError> {
        let checkpoint = self.writer.checkpoint().clone();
        let size = checkpoint.checkpoint().size();
        if old_size > size {
            return Err(LogError::ConsistencyInvalid {
                old_size,
                new_size: size,
                reason: format!(
                    "the log holds only {size} entries: a witness that holds {old_size} saw entries this log has since lost (restore public/ from a backup)"
                ),
            });
        }
        let proof = self.writer.consistency_proof(old_size, size)?;
        Ok(AddCheckpoint::new(old_size, proof, checkpoint))
    }

    /// Adds a witness's answer to the current checkpoint and publishes it, once every line is
    /// checked to be a valid cosignature of the current checkpoint by one of `witnesses`
    /// ([`SignedCheckpoint::with_cosignatures`]); returns the witnesses that cosigned.
    pub fn add_witness_answer<'a>(
        &mut self,
        lines: &str,
        witnesses: &'a [NoteVerifierKey],
    ) -> Result<Vec<&'a NoteVerifierKey>, LogError> {
        let (_, signers) = self
            .writer
            .checkpoint()
            .with_cosignatures(lines, witnesses)?;
        self.writer.add_signature_lines(lines)?;
        Ok(signers)
    }
}

/// A log's VRF secret key, shared: it labels submissions on any thread while the operator
/// appends earlier ones (issuance labels each leaf as part of signing it).
#[derive(Clone)]
pub(crate) struct Labeller(Arc<VrfSecretKey>);

impl Labeller {
    /// A submission's VRF proof and encoded entry: its SII read from the leaf, labelled.
    pub(crate) fn label(&self, s: &Submission<'_>) -> Result<Labelled, LogError> {
        self.label_parsed(&parse_leaf(s.leaf_der)?, s)
    }

    /// [`Self::label`] of a submission whose leaf is already parsed (`cert`, from
    /// `s.leaf_der`).
    pub(crate) fn label_parsed(
        &self,
        cert: &X509Certificate<'_>,
        s: &Submission<'_>,
    ) -> Result<Labelled, LogError> {
        let sii = profile::leaf_sii(cert)?;
        let (vrf_proof, output) = self.0.prove_with_output(sii.canonical().as_bytes())?;
        let entry =
            MappingLogEntry::from_parsed_leaf(cert, s.leaf_der, s.issuer_spki_der, output.label())?;
        Ok(Labelled {
            vrf_proof,
            entry: entry.encode()?,
            vrf_key: *self.0.public_key().as_bytes(),
        })
    }
}

/// A submission labelled by a [`Labeller`], for [`LogOperator::add_labelled`].
pub(crate) struct Labelled {
    vrf_proof: VrfProof,
    /// The encoded entry.
    entry: Vec<u8>,
    /// The public key of the VRF key that labelled it.
    vrf_key: [u8; 32],
}

/// Logs this process holds open, by their lock file's canonical path.
static OPEN_HERE: std::sync::Mutex<std::collections::BTreeSet<PathBuf>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// The operator's hold on a log directory: its lock file, locked (another process waits for
/// it to close), and registered in this process, where a second operator of the same log
/// would wait on itself forever and is refused instead.
struct OperatorLock {
    _file: fs::File,
    key: PathBuf,
}

impl Drop for OperatorLock {
    fn drop(&mut self) {
        let mut open = OPEN_HERE.lock().unwrap_or_else(|e| e.into_inner());
        open.remove(&self.key);
    }
}

fn lock(dir: &Path) -> Result<OperatorLock, LogError> {
    let path = dir.join(LOCK_FILE);
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io(&path, e))?;
    let key = fs::canonicalize(&path).map_err(|e| io(&path, e))?;
    if !OPEN_HERE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key.clone())
    {
        return Err(LogError::InUse {
            dir: dir.to_owned(),
        });
    }
    let registered = OperatorLock {
        _file: match super::lock_file(&path) {
            Ok(file) => file,
            Err(e) => {
                OPEN_HERE
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key);
                return Err(e);
            }
        },
        key,
    };
    Ok(registered)
}

fn io(path: &Path, source: std::io::Error) -> LogError {
    LogError::Io {
        path: path.to_owned(),
        source,
    }
}

fn sql(path: &Path, e: rusqlite::Error) -> LogError {
    LogError::Inconsistent {
        path: path.to_owned(),
        reason: format!("the log index cannot be used: {e}"),
    }
}
