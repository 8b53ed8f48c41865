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
    /// Reading or writing the log directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Opens (creating it if need be) and exclusively locks `path` (flock): the lock is held until
/// the file is dropped. The log operator and the witness serialize their writers with it.
#[cfg(feature = "ca")]
pub(crate) fn lock_file(path: &std::path::Path) -> Result<std::fs::File, LogError> {
    let io = |source| LogError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io)?;
    file.lock().map_err(io)?;
    Ok(file)
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
