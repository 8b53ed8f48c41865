//! Transparency log "mapping-log-v1": every attestation is appended to a public, append-only
//! log that never publishes an SII.
//!
//! This module holds the pure primitives, in the C2SP formats:
//! - [`MappingLogEntry`]: the entry codec (a VRF label instead of the SII, hashes of the leaf
//!   and of the issuer's key, validity, flags, provider);
//! - [`vrf`]: RFC 9381 ECVRF-EDWARDS25519-SHA512-TAI, which turns an SII into its label;
//! - [`tiles`]: tlog-tiles paths (`tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>`) and entry bundles;
//! - [`note`]: signed notes, checkpoints (Ed25519, type 0x01) and `cosignature/v1`
//!   cosignatures (type 0x04);
//! - [`proof`]: RFC 6962 inclusion and consistency proofs and tlog-proof@v1 files, and the
//!   end-to-end check of a chain's proof;
//! - [`writer`]: a log over a directory (`public/` for any static web server);
//! - [`operator`]: the log operator's side of a log directory (VRF labels, an idempotent
//!   index of leaf hashes, repaired after a crash);
//! - [`witness`]: a witness that cosigns only consistent checkpoints (C2SP tlog-witness).
//!
//! It uses only the standard library, [`crate::sii`] and [`crate::profile`]; never the
//! issuer, the verifier, the auditor or the CLI, which all build on it.

pub mod entry;
pub mod note;
#[cfg(feature = "ca")]
pub mod operator;
pub mod proof;
#[cfg(feature = "ca")]
pub mod tiles;
pub mod vrf;
#[cfg(feature = "ca")]
pub mod witness;
#[cfg(feature = "ca")]
pub mod writer;

#[cfg(feature = "ca")]
pub(crate) use entry::parse_leaf;
pub use entry::MappingLogEntry;
pub use note::{Checkpoint, KeyType, NoteSigningKey, NoteVerifierKey, SignedCheckpoint};
#[cfg(feature = "ca")]
pub use operator::{LogOperator, Logged, Submission};
pub use proof::{
    check_mapping_proof, verify_consistency, verify_inclusion, CheckedProof, LogKeys, TlogProof,
};
pub use vrf::{VrfOutput, VrfProof, VrfPublicKey, VrfSecretKey};
#[cfg(feature = "ca")]
pub use witness::{AddCheckpoint, Witness, WitnessError};
#[cfg(feature = "ca")]
pub use writer::LogWriter;

use crate::profile::ProfileError;

/// The RFC 6962 leaf hash of an entry's bytes: SHA-256(0x00 || entry).
pub fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    tlog_tiles::record_hash(entry).0
}

/// What went wrong in the log layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// An entry shorter than its fields.
    #[error("log entry is truncated ({len} bytes)")]
    EntryTruncated {
        /// Its length.
        len: usize,
    },
    /// An entry of a version other than 1.
    #[error("log entry version {version} is not supported (this implementation reads version 1)")]
    EntryVersion {
        /// The version byte found.
        version: u8,
    },
    /// An entry with flag bits other than preferred (0x01) and newHolder (0x02).
    #[error("log entry flags {flags:#04x} set unknown bits (only 0x01 and 0x02 are defined)")]
    EntryFlags {
        /// The flags byte found.
        flags: u8,
    },
    /// Bytes after the entry's provider.
    #[error("log entry has {extra} bytes after its end")]
    EntryTrailing {
        /// How many.
        extra: usize,
    },
    /// A provider that cannot be encoded or was decoded invalid.
    #[error("log entry provider {reason}")]
    EntryProvider {
        /// Why.
        reason: String,
    },
    /// A leaf certificate that cannot be read.
    #[error("the leaf certificate cannot be read: {reason}")]
    Certificate {
        /// Why.
        reason: String,
    },
    /// The leaf's profile content (SII, MimiMapping) is invalid.
    #[error("the leaf does not follow the mapping-v1 profile: {0}")]
    Profile(#[from] ProfileError),
    /// A time before 1970 or past what the format holds.
    #[error("a time is out of the range the log encodes")]
    TimeOutOfRange,
    /// A VRF public key that is not a valid edwards25519 point.
    #[error("invalid VRF public key: {reason}")]
    VrfKey {
        /// Why.
        reason: String,
    },
    /// A VRF proof that cannot be decoded.
    #[error("malformed VRF proof: {reason}")]
    VrfProofMalformed {
        /// Why.
        reason: String,
    },
    /// A VRF proof that does not verify for this input and key.
    #[error("the VRF proof does not verify for this SII under the log's VRF key")]
    VrfProofInvalid,
    /// Try-and-increment found no point (probability about 2^-256).
    #[error("the VRF input maps to no curve point")]
    VrfEncodeToCurve,
    /// A note key (vkey, key name or seed) that cannot be used.
    #[error("note key {key:?} is invalid: {reason}")]
    KeyMalformed {
        /// The key text or name.
        key: String,
        /// Why.
        reason: String,
    },
    /// A signed note that does not follow the signed-note syntax.
    #[error("malformed signed note: {reason}")]
    NoteMalformed {
        /// Why.
        reason: String,
    },
    /// A note text that is not a mapping-log-v1 checkpoint.
    #[error("malformed checkpoint: {reason}")]
    CheckpointMalformed {
        /// Why.
        reason: String,
    },
    /// A checkpoint of another log.
    #[error("the checkpoint is for origin {found:?}, expected {expected:?}")]
    OriginMismatch {
        /// The origin expected.
        expected: String,
        /// The origin found.
        found: String,
    },
    /// A checkpoint without a valid signature by the log's key.
    #[error("the checkpoint of {origin:?} is not validly signed by the log: {reason}")]
    CheckpointSignature {
        /// The log's origin.
        origin: String,
        /// Why.
        reason: String,
    },
    /// A cosignature line of a known witness that does not verify.
    #[error("the cosignature of witness {witness:?} does not verify")]
    CosignatureInvalid {
        /// The witness's key name.
        witness: String,
    },
    /// A signature line offered as a cosignature whose key is not among the witnesses given.
    #[error("the signature line of {name:?} is by none of the witness keys given: give that witness's cosignature key (vkey, type 0x04) to check it")]
    CosignatureUnknown {
        /// The key name on the line.
        name: String,
    },
    /// A tlog-proof text that cannot be read.
    #[error("malformed tlog-proof at line {line}: {reason}")]
    ProofMalformed {
        /// The line (1-based; 0 for the whole text).
        line: usize,
        /// Why.
        reason: String,
    },
    /// An inclusion proof that does not lead to the root.
    #[error("inclusion proof of entry {index} in the tree of {size} fails: {reason}")]
    InclusionInvalid {
        /// The entry's index.
        index: u64,
        /// The tree size.
        size: u64,
        /// Why.
        reason: String,
    },
    /// A consistency proof that does not join the two trees.
    #[error("consistency proof from size {old_size} to {new_size} fails: {reason}")]
    ConsistencyInvalid {
        /// The older tree's size.
        old_size: u64,
        /// The newer tree's size.
        new_size: u64,
        /// Why.
        reason: String,
    },
    /// An entry bundle that does not decode.
    #[error("malformed entry bundle: {reason}")]
    BundleMalformed {
        /// Why.
        reason: String,
    },
    /// A tile or bundle on disk that does not fit the checkpoint.
    #[error("log directory {path} is inconsistent: {reason}")]
    Inconsistent {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The log directory is already open for writing in this process (two CAs, or a CA and
    /// `log add`, writing one log at once from one process would wait on each other).
    #[error("the log {} is already open for writing in this process: close the other writer of this log first (one writer at a time)", dir.display())]
    InUse {
        /// The log directory.
        dir: std::path::PathBuf,
    },
    /// Another process held the lock file of a log (or a witness's state) for longer than
    /// the writer waits.
    #[error("{} is locked by another process{} and was not released within {seconds} s: another writer of this log or witness (`log add`, `log cosign`, `issue`, `issue-batch`, `witness cosign`) is running; wait for it to finish, then run this again (the lock goes when its holder exits)", path.display(), holder.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Locked {
        /// The lock file.
        path: std::path::PathBuf,
        /// How long the writer waited.
        seconds: f64,
        /// What the holder wrote into the lock file (`pid <id> <program>`), if anything.
        holder: Option<String>,
    },
    /// Reading or writing the log directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// How long a writer of a log (or a witness) waits for another process that holds its lock
/// file before giving up with [`LogError::Locked`].
#[cfg(feature = "ca")]
pub const LOG_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Opens (creating it if need be) and exclusively locks `path` (flock), waiting up to
/// [`LOG_LOCK_WAIT`] for another process that holds it: the lock is held until the file is
/// dropped. The log operator and the witness serialize their writers with it.
#[cfg(feature = "ca")]
pub(crate) fn lock_file(path: &std::path::Path) -> Result<std::fs::File, LogError> {
    lock_file_within(path, LOG_LOCK_WAIT)
}

/// [`lock_file`], waiting at most `wait`. The holder writes its process id into the file, so
/// that whoever times out can say which process holds it.
#[cfg(feature = "ca")]
fn lock_file_within(
    path: &std::path::Path,
    wait: std::time::Duration,
) -> Result<std::fs::File, LogError> {
    use std::io::{Read, Seek, Write};
    use std::time::{Duration, Instant};

    let io = |source| LogError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    let deadline = Instant::now() + wait;
    // Short pauses first (a writer holds the lock for one batch), then at most 0.2 s.
    let mut pause = Duration::from_millis(2);
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                let now = Instant::now();
                if now >= deadline {
                    let mut holder = String::new();
                    // What the holder wrote; empty when it has not yet.
                    let _ = (&file).take(200).read_to_string(&mut holder);
                    let holder = holder.trim();
                    return Err(LogError::Locked {
                        path: path.to_owned(),
                        seconds: wait.as_secs_f64(),
                        holder: (!holder.is_empty()).then(|| holder.to_owned()),
                    });
                }
                std::thread::sleep(pause.min(deadline - now));
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
    }
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "pid {} {exe}", std::process::id()))
        .map_err(io)?;
    Ok(file)
}

#[cfg(all(test, feature = "ca"))]
mod lock_tests {
    use super::*;

    #[test]
    fn a_lock_held_elsewhere_is_waited_for_a_bounded_time_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        // flock belongs to the open file: a second open conflicts, as another process would.
        let held = lock_file(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(&format!("pid {} ", std::process::id())),
            "{text}"
        );
        let start = std::time::Instant::now();
        let wait = std::time::Duration::from_millis(300);
        let err = lock_file_within(&path, wait).unwrap_err();
        assert!(start.elapsed() >= wait, "{:?}", start.elapsed());
        assert!(start.elapsed() < wait * 4, "{:?}", start.elapsed());
        let LogError::Locked { holder, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(holder.as_deref(), Some(text.trim()));
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("not released within 0.3 s"), "{msg}");
        assert!(msg.contains("wait for it to finish"), "{msg}");
        // Released while waited for: taken.
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            drop(held);
        });
        lock_file_within(&path, std::time::Duration::from_secs(10)).unwrap();
        release.join().unwrap();
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    /// Bytes of a hex string (test vectors).
    pub fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
