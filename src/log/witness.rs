//! A witness (C2SP tlog-witness): it cosigns a log's checkpoint only when the checkpoint is
//! consistent with the last one it cosigned for that log, so a log that shows two views of its
//! tree, or rolls it back, cannot gather cosignatures for both.
//!
//! The witness keeps, per log origin, the last checkpoint it cosigned, in one file under its
//! state directory, replaced whole (fsynced temporary file, then rename) under a per-origin
//! file lock: two `add-checkpoint` calls for one log never both succeed from the same state.
//! The rules and their HTTP statuses are tlog-witness's (`400`, `403`, `404`, `409` with the
//! size held, `422`); the exchange service serves them over HTTP, the CLI on files.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::note::{KeyType, NoteSigningKey, NoteVerifierKey, SignedCheckpoint};
use super::proof::verify_consistency;
use super::LogError;
use crate::profile;

/// The most consistency-proof lines a request may carry (tlog-witness: a proof between two
/// 64-bit sizes needs fewer).
pub const MAX_PROOF_LINES: usize = 63;

/// An `add-checkpoint` request (tlog-witness): the size the log believes the witness holds,
/// the consistency proof from that size to the checkpoint's, and the checkpoint.
///
/// ```text
/// old <size>
/// <base64 consistency-proof hash>...
///
/// <the checkpoint, signed by the log>
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AddCheckpoint {
    /// The tree size of the last checkpoint the witness cosigned for this log (0 if none).
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<[u8; 32]>,
    /// The checkpoint to cosign.
    pub checkpoint: SignedCheckpoint,
}

impl AddCheckpoint {
    /// A request for `checkpoint`, from `old_size` with its consistency `proof`.
    pub fn new(old_size: u64, proof: Vec<[u8; 32]>, checkpoint: SignedCheckpoint) -> Self {
        AddCheckpoint {
            old_size,
            proof,
            checkpoint,
        }
    }

    /// The request's text.
    pub fn to_text(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old_size).into_bytes();
        for hash in &self.proof {
            out.extend_from_slice(B64.encode(hash).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(self.checkpoint.as_bytes());
        out
    }

    /// Reads a request; strict about the `old` line (decimal, no leading zeros), the hashes
    /// (32 bytes of canonical base64, at most 63 of them) and the checkpoint note.
    pub fn parse(bytes: &[u8]) -> Result<Self, WitnessError> {
        let bad = |reason: String| WitnessError::Malformed { reason };
        let text =
            std::str::from_utf8(bytes).map_err(|_| bad("the request is not UTF-8".into()))?;
        let (head, note) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no blank line before the checkpoint".into()))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .ok_or_else(|| bad("the first line must be `old <size>`".into()))?;
        let old_size =
            parse_decimal(old).ok_or_else(|| bad(format!("`old {old}` is not a decimal size")))?;
        let mut proof = Vec::new();
        for (n, line) in lines.enumerate() {
            if n == MAX_PROOF_LINES {
                return Err(bad(format!(
                    "more than {MAX_PROOF_LINES} consistency-proof lines"
                )));
            }
            proof.push(decode_hash(line).ok_or_else(|| {
                bad(format!(
                    "proof line {} is not a base64 SHA-256 hash: {line:?}",
                    n + 2
                ))
            })?);
        }
        let checkpoint =
            SignedCheckpoint::parse(note.as_bytes()).map_err(|e| bad(e.to_string()))?;
        Ok(AddCheckpoint {
            old_size,
            proof,
            checkpoint,
        })
    }
}

/// Why a witness refused to cosign. [`WitnessError::http_status`] gives the tlog-witness status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The request cannot be read, or its old size is above the checkpoint's (400).
    #[error("malformed add-checkpoint request: {reason}")]
    Malformed {
        /// Why.
        reason: String,
    },
    /// No key for the checkpoint's origin was given to the witness (404).
    #[error("the witness does not know the log {origin:?}: give it the log's verifier key")]
    UnknownLog {
        /// The checkpoint's origin.
        origin: String,
    },
    /// The checkpoint is not validly signed by the log's key (403).
    #[error("{0}")]
    NotSignedByLog(LogError),
    /// The request's old size is not the size the witness holds (409). The log should send a
    /// consistency proof from `held`; a checkpoint smaller than `held` is a rollback.
    #[error(
        "the witness holds size {held} for {origin:?}, not {old_size}: send the checkpoint with a consistency proof from size {held}{rollback}",
        rollback = if *size < *held { " (the checkpoint is older than what the witness cosigned: a rollback)" } else { "" }
    )]
    Conflict {
        /// The log.
        origin: String,
        /// The size the request claimed.
        old_size: u64,
        /// The size of the request's checkpoint.
        size: u64,
        /// The size of the last checkpoint the witness cosigned for this log.
        held: u64,
    },
    /// A checkpoint of the size the witness holds with another root hash: a fork (409).
    #[error("the witness cosigned another root hash for size {held} of {origin:?}: the log shows two views of its tree")]
    Fork {
        /// The log.
        origin: String,
        /// The size held.
        held: u64,
    },
    /// The consistency proof does not join the held tree and the checkpoint's (422).
    #[error("{0}")]
    Inconsistent(LogError),
    /// The witness's own state or key cannot be used (500).
    #[error("witness state {path}: {reason}")]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl WitnessError {
    /// The HTTP status tlog-witness gives this refusal.
    pub fn http_status(&self) -> u16 {
        match self {
            WitnessError::Malformed { .. } => 400,
            WitnessError::NotSignedByLog(_) => 403,
            WitnessError::UnknownLog { .. } => 404,
            WitnessError::Conflict { .. } | WitnessError::Fork { .. } => 409,
            WitnessError::Inconsistent(_) => 422,
            WitnessError::State { .. } => 500,
        }
    }

    /// For a `409`, the size the witness holds (the body of tlog-witness's `text/x.tlog.size`
    /// answer).
    pub fn held_size(&self) -> Option<u64> {
        match self {
            WitnessError::Conflict { held, .. } | WitnessError::Fork { held, .. } => Some(*held),
            _ => None,
        }
    }
}

/// A witness over a state directory, cosigning with its key (type 0x04, `cosignature/v1`).
pub struct Witness {
    state: PathBuf,
    key: NoteSigningKey,
}

impl Witness {
    /// A witness keeping its per-log state in `state_dir` (created if missing).
    pub fn new(state_dir: &Path, key: NoteSigningKey) -> Result<Self, WitnessError> {
        if key.verifier_key().key_type() != KeyType::Cosignature {
            return Err(WitnessError::State {
                path: state_dir.to_owned(),
                reason: "a witness key must be of type 0x04 (cosignature/v1)".into(),
            });
        }
        fs::create_dir_all(state_dir).map_err(|e| state_io(state_dir, e))?;
        Ok(Witness {
            state: state_dir.to_owned(),
            key,
        })
    }

    /// The witness's verifier key, which relying platforms list.
    pub fn verifier_key(&self) -> &NoteVerifierKey {
        self.key.verifier_key()
    }

    /// The last checkpoint this witness cosigned for `origin`, with its cosignature.
    pub fn latest(&self, origin: &str) -> Result<Option<SignedCheckpoint>, WitnessError> {
        let path = self.state_file(origin);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(state_io(&path, e)),
        };
        let checkpoint = SignedCheckpoint::parse(&bytes).map_err(|e| WitnessError::State {
            path: path.clone(),
            reason: format!("{e}; the file is not one this witness wrote"),
        })?;
        if checkpoint.checkpoint().origin() != origin {
            return Err(WitnessError::State {
                path,
                reason: format!(
                    "it holds a checkpoint of {:?}, not {origin:?}",
                    checkpoint.checkpoint().origin()
                ),
            });
        }
        Ok(Some(checkpoint))
    }

    /// Handles an `add-checkpoint` request by tlog-witness's rules, with the log keys it
    /// knows: the checkpoint must be signed by the key named for its origin, the old size must
    /// be the size held (0 if none), and the proof must join the held tree to the new one.
    /// Records the checkpoint, then returns the cosignature line (timestamped `now`, seconds
    /// since 1970) to append to it.
    pub fn add_checkpoint(
        &self,
        request: &AddCheckpoint,
        log_keys: &[NoteVerifierKey],
        now: u64,
    ) -> Result<String, WitnessError> {
        let new = request.checkpoint.checkpoint();
        let origin = new.origin();
        let log_key = log_keys
            .iter()
            .find(|k| k.name() == origin && k.key_type() == KeyType::Ed25519)
            .ok_or_else(|| WitnessError::UnknownLog {
                origin: origin.to_owned(),
            })?;
        request
            .checkpoint
            .verify(origin, log_key)
            .map_err(WitnessError::NotSignedByLog)?;
        if request.old_size > new.size() {
            return Err(WitnessError::Malformed {
                reason: format!(
                    "old size {} is above the checkpoint's size {}",
                    request.old_size,
                    new.size()
                ),
            });
        }

        let lock_path = self.state_file(origin).with_extension("lock");
        let _lock = super::lock_file(&lock_path).map_err(|e| WitnessError::State {
            path: lock_path.clone(),
            reason: e.to_string(),
        })?;

        let held = self.latest(origin)?;
        let (held_size, held_root) = held.as_ref().map_or((0, tlog_tiles::EMPTY_HASH.0), |c| {
            (c.checkpoint().size(), *c.checkpoint().root_hash())
        });
        if request.old_size != held_size {
            return Err(WitnessError::Conflict {
                origin: origin.to_owned(),
                old_size: request.old_size,
                size: new.size(),
                held: held_size,
            });
        }
        if new.size() == held_size && *new.root_hash() != held_root {
            return Err(WitnessError::Fork {
                origin: origin.to_owned(),
                held: held_size,
            });
        }
        verify_consistency(
            &request.proof,
            held_size,
            &held_root,
            new.size(),
            new.root_hash(),
        )
        .map_err(WitnessError::Inconsistent)?;

        let line = self
            .key
            .signature_line(request.checkpoint.text(), now)
            .map_err(|e| WitnessError::State {
                path: self.state.clone(),
                reason: e.to_string(),
            })?;
        let cosigned = request
            .checkpoint
            .with_signature_lines(&line)
            .map_err(|e| WitnessError::State {
                path: self.state.clone(),
                reason: e.to_string(),
            })?;
        // Recorded before the cosignature is handed out: a crash in between leaves a state
        // that refuses the older tree, never one that would cosign a fork of what it signed.
        self.write_state(origin, cosigned.as_bytes())?;
        Ok(line)
    }

    fn state_file(&self, origin: &str) -> PathBuf {
        // Origins are URLs and may hold '/': the file is named by a hash of the origin.
        self.state.join(format!(
            "{}.checkpoint",
            profile::hex(&profile::sha256(origin.as_bytes()))
        ))
    }

    fn write_state(&self, origin: &str, bytes: &[u8]) -> Result<(), WitnessError> {
        let path = self.state_file(origin);
        let tmp = path.with_extension("tmp");
        let mut file = fs::File::create(&tmp).map_err(|e| state_io(&tmp, e))?;
        file.write_all(bytes).map_err(|e| state_io(&tmp, e))?;
        file.sync_all().map_err(|e| state_io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| state_io(&path, e))?;
        fs::File::open(&self.state)
            .and_then(|d| d.sync_all())
            .map_err(|e| state_io(&self.state, e))
    }
}

fn state_io(path: &Path, e: std::io::Error) -> WitnessError {
    WitnessError::State {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// A decimal number without sign or leading zeros ("0" itself allowed).
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

/// A SHA-256 hash in canonical standard base64.
fn decode_hash(line: &str) -> Option<[u8; 32]> {
    let bytes = B64.decode(line).ok()?;
    let hash: [u8; 32] = bytes.try_into().ok()?;
    (B64.encode(hash) == line).then_some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::LogWriter;

    const ORIGIN: &str = "log.example/witnessed";

    fn log_key() -> NoteSigningKey {
        NoteSigningKey::from_seed(ORIGIN, KeyType::Ed25519, &[7; 32]).unwrap()
    }

    fn witness(dir: &Path) -> Witness {
        let key = NoteSigningKey::from_seed("witness.example/w1", KeyType::Cosignature, &[9; 32])
            .unwrap();
        Witness::new(&dir.join("state"), key).unwrap()
    }

    /// A log in `dir` grown by `n` entries per step, and its checkpoint after each step.
    fn grow(log: &mut LogWriter, n: u64) -> SignedCheckpoint {
        let start = log.size();
        let entries: Vec<Vec<u8>> = (start..start + n)
            .map(|i| format!("entry {i}").into_bytes())
            .collect();
        log.append(&entries).unwrap()
    }

    fn request(log: &LogWriter, old: u64, checkpoint: &SignedCheckpoint) -> AddCheckpoint {
        let proof = log
            .consistency_proof(old, checkpoint.checkpoint().size())
            .unwrap();
        AddCheckpoint::new(old, proof, checkpoint.clone())
    }

    #[test]
    fn cosigns_a_growing_log_and_remembers_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogWriter::create(&dir.path().join("log"), log_key()).unwrap();
        let keys = [log_key().verifier_key().clone()];
        let w = witness(dir.path());
        assert!(w.latest(ORIGIN).unwrap().is_none());

        let first = grow(&mut log, 3);
        let line = w
            .add_checkpoint(&request(&log, 0, &first), &keys, 1000)
            .unwrap();
        let cosigned = first.with_signature_lines(&line).unwrap();
        let witnesses = [w.verifier_key().clone()];
        let valid = cosigned.cosignatures(&witnesses).unwrap();
        assert_eq!(valid.len(), 1);
        assert_eq!(valid[0].1, 1000);

        let second = grow(&mut log, 5);
        let req = request(&log, 3, &second);
        // The request survives its text form.
        let req = AddCheckpoint::parse(&req.to_text()).unwrap();
        w.add_checkpoint(&req, &keys, 1001).unwrap();
        let held = w.latest(ORIGIN).unwrap().unwrap();
        assert_eq!(held.checkpoint().size(), 8);
        assert_eq!(
            held.cosignatures(&[w.verifier_key().clone()]).unwrap()[0].1,
            1001
        );

        // The same checkpoint again is cosigned again (a retry), from the size held.
        w.add_checkpoint(&request(&log, 8, &second), &keys, 1002)
            .unwrap();
    }

    #[test]
    fn a_stale_old_size_gets_409_with_the_size_held() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogWriter::create(&dir.path().join("log"), log_key()).unwrap();
        let keys = [log_key().verifier_key().clone()];
        let w = witness(dir.path());
        let first = grow(&mut log, 4);
        w.add_checkpoint(&request(&log, 0, &first), &keys, 1)
            .unwrap();
        let second = grow(&mut log, 4);
        let err = w
            .add_checkpoint(&request(&log, 0, &second), &keys, 2)
            .unwrap_err();
        assert_eq!(err.http_status(), 409);
        assert_eq!(err.held_size(), Some(4));
        // The log retries from the size the witness holds, and succeeds.
        w.add_checkpoint(&request(&log, 4, &second), &keys, 3)
            .unwrap();
    }

    #[test]
    fn concurrent_requests_from_one_state_cosign_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogWriter::create(&dir.path().join("log"), log_key()).unwrap();
        let keys = [log_key().verifier_key().clone()];
        let cp = grow(&mut log, 5);
        let req = request(&log, 0, &cp);
        let ok = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (req, keys, dir) = (&req, &keys, dir.path());
                    s.spawn(move || witness(dir).add_checkpoint(req, keys, i).is_ok())
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().unwrap().then_some(()))
                .count()
        });
        assert_eq!(ok, 1, "only the first request from size 0 may succeed");
    }

    #[test]
    fn a_rollback_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogWriter::create(&dir.path().join("log"), log_key()).unwrap();
        let keys = [log_key().verifier_key().clone()];
        let w = witness(dir.path());
        let small = grow(&mut log, 2);
        let big = grow(&mut log, 6);
        w.add_checkpoint(&request(&log, 0, &big), &keys, 1).unwrap();
        // The older, smaller checkpoint, however the request is phrased.
        for old in [0, 2] {
            let err = w
                .add_checkpoint(&request(&log, old, &small), &keys, 2)
                .unwrap_err();
            assert_eq!(err.http_status(), 409, "{err}");
            assert!(err.to_string().contains("rollback"), "{err}");
        }
        assert_eq!(w.latest(ORIGIN).unwrap().unwrap().checkpoint().size(), 8);
    }

    #[test]
    fn a_fork_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogWriter::create(&dir.path().join("log"), log_key()).unwrap();
        let mut other = LogWriter::create(&dir.path().join("fork"), log_key()).unwrap();
        let keys = [log_key().verifier_key().clone()];
        let w = witness(dir.path());
        let cp = grow(&mut log, 3);
        w.add_checkpoint(&request(&log, 0, &cp), &keys, 1).unwrap();
        // Same key and origin, same size, other entries.
        let forked = other
            .append(&[b"x".to_vec(), b"y".to_vec(), b"z".to_vec()])
            .unwrap();
        let err = w
            .add_checkpoint(&AddCheckpoint::new(3, Vec::new(), forked.clone()), &keys, 2)
            .unwrap_err();
        assert!(matches!(err, WitnessError::Fork { held: 3, .. }), "{err}");
        // A larger fork fails its consistency proof.
        let bigger = other.append(&[b"w".to_vec()]).unwrap();
        let proof = other.consistency_proof(3, 4).unwrap();
        let err = w
            .add_checkpoint(&AddCheckpoint::new(3, proof, bigger), &keys, 3)
            .unwrap_err();
        assert_eq!(err.http_status(), 422, "{err}");
    }

    #[test]
    fn unknown_logs_bad_signatures_and_bad_requests() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogWriter::create(&dir.path().join("log"), log_key()).unwrap();
        let w = witness(dir.path());
        let cp = grow(&mut log, 2);
        let req = request(&log, 0, &cp);

        let err = w.add_checkpoint(&req, &[], 1).unwrap_err();
        assert_eq!(err.http_status(), 404);
        let impostor = NoteSigningKey::from_seed(ORIGIN, KeyType::Ed25519, &[8; 32]).unwrap();
        let err = w
            .add_checkpoint(&req, &[impostor.verifier_key().clone()], 1)
            .unwrap_err();
        assert_eq!(err.http_status(), 403, "{err}");

        let keys = [log_key().verifier_key().clone()];
        let err = w
            .add_checkpoint(&AddCheckpoint::new(3, Vec::new(), cp.clone()), &keys, 1)
            .unwrap_err();
        assert_eq!(err.http_status(), 400, "{err}");
        // From the empty tree a proof has no hashes.
        let err = w
            .add_checkpoint(&AddCheckpoint::new(0, vec![[0; 32]], cp.clone()), &keys, 1)
            .unwrap_err();
        assert_eq!(err.http_status(), 422, "{err}");
        assert!(w.latest(ORIGIN).unwrap().is_none(), "nothing was recorded");

        let text = String::from_utf8(req.to_text()).unwrap();
        for bad in [
            text.replacen("old 0", "old 00", 1),
            text.replacen("old 0", "old -1", 1),
            text.replacen("old 0", "new 0", 1),
            text.replacen("old 0\n", "old 0\nAAAA\n", 1),
            text.replacen("\n\n", "\n", 1),
            format!(
                "old 0\n{}\n",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".repeat(64)
            ) + &text[6..],
        ] {
            let err = AddCheckpoint::parse(bad.as_bytes()).unwrap_err();
            assert_eq!(err.http_status(), 400, "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_damaged_state_file_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogWriter::create(&dir.path().join("log"), log_key()).unwrap();
        let keys = [log_key().verifier_key().clone()];
        let w = witness(dir.path());
        let cp = grow(&mut log, 2);
        w.add_checkpoint(&request(&log, 0, &cp), &keys, 1).unwrap();
        fs::write(w.state_file(ORIGIN), b"garbage").unwrap();
        let err = w
            .add_checkpoint(&request(&log, 0, &cp), &keys, 2)
            .unwrap_err();
        assert_eq!(err.http_status(), 500, "{err}");
    }
}
