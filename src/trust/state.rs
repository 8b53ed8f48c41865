//! The rollback state of a relying platform: the last signed list it accepted (sequence and
//! SHA-256 of its text) and the signer set that may sign the next one. Written atomically
//! (a synced temporary file renamed over the old one) under a lock, so that rollback
//! protection survives restarts, crashes and two processes accepting lists at once.
//!
//! ```yaml
//! format: mimi-attest-trust-state-v1
//! publisher: 3f1a…     # fingerprint of the signer set the platform bootstrapped from
//! sequence: 42
//! sha256: 9c0e…        # of the accepted list's text
//! signers: {threshold: 2, keys: [...]}
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::list::{read_bounded, TrustListError};
use super::signers::{SignerSet, SignersSpec};
use crate::profile;

const FORMAT: &str = "mimi-attest-trust-state-v1";
const MAX_STATE_LEN: u64 = 64 * 1024;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StateSpec {
    format: String,
    publisher: String,
    sequence: u64,
    sha256: String,
    signers: SignersSpec,
}

/// What a state file holds.
#[derive(Clone, Debug)]
pub(crate) struct State {
    /// Fingerprint of the bootstrap signer set.
    pub(crate) publisher: [u8; 32],
    pub(crate) sequence: u64,
    pub(crate) sha256: [u8; 32],
    /// Who may sign the next list.
    pub(crate) signers: SignerSet,
}

/// A state file opened for one acceptance: its lock is held until this is dropped.
pub(crate) struct StateFile {
    path: PathBuf,
    _lock: File,
}

impl StateFile {
    /// Lock the state file at `path` (through `<path>.lock`, which is created when missing)
    /// and read it; `None` when it does not exist yet.
    pub(crate) fn open(path: &Path) -> Result<(StateFile, Option<State>), TrustListError> {
        let err = |m: String| state_err(path, m);
        let lock_path = sidecar(path, "lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                err(format!(
                    "cannot open the lock file {}: {e}: give a state path in a directory this user may write",
                    lock_path.display()
                ))
            })?;
        lock.lock()
            .map_err(|e| err(format!("cannot lock {}: {e}", lock_path.display())))?;
        let file = StateFile {
            path: path.to_owned(),
            _lock: lock,
        };
        let state = match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            _ => Some(read_state(path)?),
        };
        Ok((file, state))
    }

    /// Replace the state atomically with `state`.
    pub(crate) fn store(&self, state: &State) -> Result<(), TrustListError> {
        let spec = StateSpec {
            format: FORMAT.to_owned(),
            publisher: profile::hex(&state.publisher),
            sequence: state.sequence,
            sha256: profile::hex(&state.sha256),
            signers: state.signers.to_spec(),
        };
        let mut text = String::from(
            "# The last signed trust list this platform accepted (mimi-attest). Lists older than\n# it are refused; do not edit.\n",
        );
        text.push_str(
            &serde_yaml::to_string(&spec)
                .map_err(|e| state_err(&self.path, format!("cannot write the state: {e}")))?,
        );
        write_replace(&self.path, text.as_bytes())
            .map_err(|e| state_err(&self.path, format!("cannot write the state file: {e}")))
    }
}

fn state_err(path: &Path, message: String) -> TrustListError {
    TrustListError::State {
        path: path.display().to_string(),
        message,
    }
}

fn read_state(path: &Path) -> Result<State, TrustListError> {
    let corrupt = |why: String| {
        state_err(
            path,
            format!(
                "the state file is unreadable or corrupt ({why}): restore it from a backup; removing it makes the platform accept any list its signers file allows, forgetting rollback protection"
            ),
        )
    };
    let bytes = read_bounded(path, MAX_STATE_LEN).map_err(corrupt)?;
    let text = String::from_utf8(bytes).map_err(|_| corrupt("not UTF-8".into()))?;
    let spec: StateSpec = serde_yaml::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    if spec.format != FORMAT {
        return Err(corrupt(format!(
            "format {:?}, expected {FORMAT:?}",
            spec.format
        )));
    }
    let hash = |field: &str, v: &str| -> Result<[u8; 32], TrustListError> {
        profile::unhex(v)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| corrupt(format!("{field} is not 64 hex digits")))
    };
    Ok(State {
        publisher: hash("publisher", &spec.publisher)?,
        sequence: spec.sequence,
        sha256: hash("sha256", &spec.sha256)?,
        signers: SignerSet::from_spec(&spec.signers)
            .map_err(|m| corrupt(format!("signers: {m}")))?,
    })
}

/// `<path>.<suffix>` beside `path`.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    path.with_file_name(name)
}

/// Write `data` to a new temporary file beside `path`, sync it, rename it over `path` and
/// sync the directory: readers see the old state or the new one, never a part.
fn write_replace(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = sidecar(path, &format!("tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
