//! Log and witness directories on disk: their private keys kept like CA keys (PKCS#8, 0600,
//! encrypted under the passphrase unless the operator chose otherwise) and their public
//! description beside them.
//!
//! ```text
//! <LOG_DIR>/log.yaml       origin, note verifier key (vkey), VRF public key (base64)
//! <LOG_DIR>/log.key        the checkpoint signing key (Ed25519)
//! <LOG_DIR>/vrf.key        the VRF secret key (Ed25519 seed, RFC 9381 suite 0x03)
//! <LOG_DIR>/public/        the tree (LogWriter), for any static web server
//! <LOG_DIR>/index.db       the operator's index of leaf hashes
//!
//! <W_DIR>/witness.yaml     name, cosignature verifier key (vkey)
//! <W_DIR>/witness.key      the cosigning key (Ed25519)
//! <W_DIR>/state/           the last checkpoint cosigned, per log
//!
//! <KEY>                    a trust-list signing key: a line naming its vkey, then the
//!                          Ed25519 key as (encrypted) PKCS#8 PEM
//! ```

use std::fs;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::cadir::{create_whole, write_new};
use super::error::{io_err, IssueError};
use super::files::FileMode;
use super::keys::{encode_ed25519_seed, load_ed25519_seed, random_seed, KeyProtection, Passphrase};
use crate::log::{
    KeyType, LogKeys, LogOperator, NoteSigningKey, NoteVerifierKey, VrfPublicKey, VrfSecretKey,
    Witness,
};

/// The public description of a log directory.
pub const LOG_CONFIG: &str = "log.yaml";
/// The log's checkpoint signing key.
pub const LOG_KEY: &str = "log.key";
/// The log's VRF secret key.
pub const VRF_KEY: &str = "vrf.key";
/// The public description of a witness directory.
pub const WITNESS_CONFIG: &str = "witness.yaml";
/// The witness's cosigning key.
pub const WITNESS_KEY: &str = "witness.key";
/// The witness's per-log state.
const WITNESS_STATE: &str = "state";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogYaml {
    origin: String,
    key: String,
    vrf_key: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessYaml {
    name: String,
    key: String,
}

/// Makes a log directory for `origin` (a key name: no spaces or `+`, e.g.
/// `log.example/mapping`): fresh keys, protected as asked, and an empty tree with its first
/// checkpoint. The directory appears whole or not at all.
pub fn init_log(
    dir: &Path,
    origin: &str,
    protection: &KeyProtection,
) -> Result<LogOperator, IssueError> {
    let note_seed = random_seed()?;
    let vrf_seed = random_seed()?;
    let note = NoteSigningKey::from_seed(origin, KeyType::Ed25519, &note_seed)?;
    let vrf = VrfSecretKey::from_seed(&vrf_seed);
    let yaml = LogYaml {
        origin: origin.to_owned(),
        key: note.verifier_key().to_string(),
        vrf_key: B64.encode(vrf.public_key().as_bytes()),
    };
    create_whole(dir, |s| {
        write_new(
            &s.join(LOG_CONFIG),
            to_yaml(&yaml)?.as_bytes(),
            FileMode::Public,
        )?;
        let key = encode_ed25519_seed(&note_seed, protection)?;
        write_new(&s.join(LOG_KEY), key.as_bytes(), FileMode::Private)?;
        let key = encode_ed25519_seed(&vrf_seed, protection)?;
        write_new(&s.join(VRF_KEY), key.as_bytes(), FileMode::Private)?;
        LogOperator::create(s, note, vrf)?;
        Ok(())
    })?;
    open_log(dir, passphrase_of(protection))
}

/// Opens a log directory for writing: its keys (decrypted with `passphrase` when they are
/// encrypted), its tree and its index.
pub fn open_log(dir: &Path, passphrase: Option<&Passphrase>) -> Result<LogOperator, IssueError> {
    let (note, vrf, _) = log_secret_keys(dir, passphrase)?;
    Ok(LogOperator::open(dir, note, vrf)?)
}

/// A log directory's checkpoint signing key (and its seed) and VRF key, checked against its
/// log.yaml.
fn log_secret_keys(
    dir: &Path,
    passphrase: Option<&Passphrase>,
) -> Result<(NoteSigningKey, VrfSecretKey, Zeroizing<[u8; 32]>), IssueError> {
    let public = log_keys(dir)?;
    let note_seed = load_ed25519_seed(&dir.join(LOG_KEY), passphrase)?;
    let note = NoteSigningKey::from_seed(&public.origin, KeyType::Ed25519, &note_seed)?;
    if note.verifier_key() != &public.key {
        return Err(mismatch(
            dir,
            LOG_KEY,
            "the checkpoint key named in log.yaml",
        ));
    }
    let vrf_seed = load_ed25519_seed(&dir.join(VRF_KEY), passphrase)?;
    let vrf = VrfSecretKey::from_seed(&vrf_seed);
    if vrf.public_key() != &public.vrf {
        return Err(mismatch(dir, VRF_KEY, "the VRF key named in log.yaml"));
    }
    Ok((note, vrf, note_seed))
}

/// A log directory opened to hand out the proofs of leaves it holds (the exchange service):
/// the tree is read from `public/` as the operator writes it, without the operator's lock,
/// and each proof is against the checkpoint on disk when it is asked for. It needs the VRF
/// key (a proof carries the SII's VRF proof); the checkpoint key only opens the tree (its
/// checkpoint must verify under it) and never signs here.
#[cfg(feature = "server")]
pub(crate) struct LogProver {
    dir: std::path::PathBuf,
    origin: String,
    note_seed: Zeroizing<[u8; 32]>,
    vrf: VrfSecretKey,
    writer: std::sync::Mutex<Option<crate::log::LogWriter>>,
}

#[cfg(feature = "server")]
impl LogProver {
    /// Load the log's keys (decrypted with `passphrase` when they are encrypted).
    pub(crate) fn open(dir: &Path, passphrase: Option<&Passphrase>) -> Result<Self, IssueError> {
        let (note, vrf, note_seed) = log_secret_keys(dir, passphrase)?;
        let prover = LogProver {
            dir: dir.to_owned(),
            origin: note.verifier_key().name().to_owned(),
            note_seed,
            vrf,
            writer: std::sync::Mutex::new(None),
        };
        // Open the tree once now, so a directory that is not a log fails at start.
        prover.with_writer(|_| Ok(()))?;
        Ok(prover)
    }

    /// The tlog-proof of entry `index`, the leaf of the SII `canonical_sii`, against the
    /// log's current checkpoint.
    pub(crate) fn proof(
        &self,
        index: u64,
        canonical_sii: &str,
    ) -> Result<crate::log::TlogProof, IssueError> {
        let vrf = self.vrf.prove(canonical_sii.as_bytes())?;
        self.with_writer(|w| Ok(w.tlog_proof(index, Some(vrf.as_bytes().to_vec()))?))
    }

    /// Run `f` on the tree as of the checkpoint on disk (reopened when the operator has
    /// published a new one since).
    fn with_writer<T>(
        &self,
        f: impl FnOnce(&crate::log::LogWriter) -> Result<T, IssueError>,
    ) -> Result<T, IssueError> {
        let mut held = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let path = self.dir.join("public").join("checkpoint");
        let on_disk =
            fs::read(&path).map_err(|e| io_err(&path, "cannot read the log's checkpoint", e))?;
        let writer = match held.take() {
            Some(w) if w.checkpoint().as_bytes() == on_disk => w,
            _ => {
                let note =
                    NoteSigningKey::from_seed(&self.origin, KeyType::Ed25519, &self.note_seed)?;
                crate::log::LogWriter::open(&self.dir, note)?
            }
        };
        let result = f(&writer);
        *held = Some(writer);
        result
    }
}

/// A log directory's public keys (origin, checkpoint key, VRF key), read without the
/// passphrase: what relying platforms, witnesses and monitors are given.
pub fn log_keys(dir: &Path) -> Result<LogKeys, IssueError> {
    let path = dir.join(LOG_CONFIG);
    let yaml: LogYaml = read_yaml(&path, "a log directory (made by `log init`)")?;
    let key = NoteVerifierKey::parse(&yaml.key)?;
    if key.name() != yaml.origin || key.key_type() != KeyType::Ed25519 {
        return Err(config_err(
            &path,
            "its key is not an Ed25519 key named after its origin",
        ));
    }
    let vrf = B64
        .decode(&yaml.vrf_key)
        .map_err(|e| config_err(&path, &format!("vrf_key is not base64: {e}")))
        .and_then(|b| Ok(VrfPublicKey::from_bytes(&b)?))?;
    Ok(LogKeys::new(yaml.origin, key, vrf))
}

/// Makes a witness directory for a witness named `name` (a key name): a fresh cosigning key,
/// protected as asked, and empty state.
pub fn init_witness(
    dir: &Path,
    name: &str,
    protection: &KeyProtection,
) -> Result<Witness, IssueError> {
    let seed = random_seed()?;
    let key = NoteSigningKey::from_seed(name, KeyType::Cosignature, &seed)?;
    let yaml = WitnessYaml {
        name: name.to_owned(),
        key: key.verifier_key().to_string(),
    };
    create_whole(dir, |s| {
        write_new(
            &s.join(WITNESS_CONFIG),
            to_yaml(&yaml)?.as_bytes(),
            FileMode::Public,
        )?;
        let pem = encode_ed25519_seed(&seed, protection)?;
        write_new(&s.join(WITNESS_KEY), pem.as_bytes(), FileMode::Private)?;
        fs::create_dir(s.join(WITNESS_STATE)).map_err(|e| io_err(s, "cannot create", e))
    })?;
    open_witness(dir, passphrase_of(protection))
}

/// Opens a witness directory: its key (decrypted with `passphrase` when encrypted) and state.
pub fn open_witness(dir: &Path, passphrase: Option<&Passphrase>) -> Result<Witness, IssueError> {
    let public = witness_key(dir)?;
    let seed = load_ed25519_seed(&dir.join(WITNESS_KEY), passphrase)?;
    let key = NoteSigningKey::from_seed(public.name(), KeyType::Cosignature, &seed)?;
    if key.verifier_key() != &public {
        return Err(mismatch(dir, WITNESS_KEY, "the key named in witness.yaml"));
    }
    Ok(Witness::new(&dir.join(WITNESS_STATE), key)?)
}

/// A witness directory's cosignature verifier key, read without the passphrase.
pub fn witness_key(dir: &Path) -> Result<NoteVerifierKey, IssueError> {
    let path = dir.join(WITNESS_CONFIG);
    let yaml: WitnessYaml = read_yaml(&path, "a witness directory (made by `witness init`)")?;
    let key = NoteVerifierKey::parse(&yaml.key)?;
    if key.name() != yaml.name || key.key_type() != KeyType::Cosignature {
        return Err(config_err(
            &path,
            "its key is not a cosignature key named after the witness",
        ));
    }
    Ok(key)
}

/// The line of a trust-list signing key file that names its verifier key.
const VKEY_LINE: &str = "vkey: ";

/// Writes a new trust-list signing key for signer `name` (a key name: no spaces or `+`) to
/// `path` (0600, never over an existing file), protected as asked; returns its verifier key,
/// which the publisher lists under `signers`. The file starts with a line naming the vkey,
/// and `openssl pkey` reads the PEM after it.
pub fn init_signing_key(
    path: &Path,
    name: &str,
    protection: &KeyProtection,
) -> Result<NoteVerifierKey, IssueError> {
    let seed = random_seed()?;
    let key = NoteSigningKey::from_seed(name, KeyType::Ed25519, &seed)?;
    let vkey = key.verifier_key().clone();
    let pem = encode_ed25519_seed(&seed, protection)?;
    let mut text = zeroize::Zeroizing::new(format!(
        "mimi-attest trust-list signing key (Ed25519); keep it secret. Its verifier key:\n{VKEY_LINE}{vkey}\n"
    ));
    text.push_str(&pem);
    write_new(path, text.as_bytes(), FileMode::Private)?;
    Ok(vkey)
}

/// Opens a trust-list signing key file written by [`init_signing_key`] (decrypted with
/// `passphrase` when encrypted); the key must match the vkey the file names.
pub fn open_signing_key(
    path: &Path,
    passphrase: Option<&Passphrase>,
) -> Result<NoteSigningKey, IssueError> {
    // Checks the file's size and mode before anything else is read from it.
    let seed = load_ed25519_seed(path, passphrase)?;
    let text = fs::read_to_string(path).map_err(|e| io_err(path, "cannot read", e))?;
    let vkey = text
        .lines()
        .find_map(|l| l.strip_prefix(VKEY_LINE))
        .ok_or_else(|| {
            config_err(
                path,
                "it has no `vkey:` line: give a key file made by `trust-list keygen`",
            )
        })?;
    let vkey = NoteVerifierKey::parse(vkey.trim())?;
    let key = NoteSigningKey::from_seed(vkey.name(), KeyType::Ed25519, &seed)?;
    if key.verifier_key() != &vkey {
        return Err(config_err(
            path,
            "its private key does not match the vkey it names: the file was edited; use the key file `trust-list keygen` wrote",
        ));
    }
    Ok(key)
}

fn passphrase_of(protection: &KeyProtection) -> Option<&Passphrase> {
    protection.passphrase()
}

fn to_yaml<T: Serialize>(value: &T) -> Result<String, IssueError> {
    serde_yaml::to_string(value).map_err(|e| IssueError::Config {
        path: "(new directory)".into(),
        message: e.to_string(),
    })
}

fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path, what: &str) -> Result<T, IssueError> {
    let text = fs::read_to_string(path).map_err(|e| {
        io_err(
            path,
            &format!(
                "cannot read (is {} {what}?)",
                path.parent().unwrap_or(path).display()
            ),
            e,
        )
    })?;
    serde_yaml::from_str(&text).map_err(|e| config_err(path, &e.to_string()))
}

fn config_err(path: &Path, message: &str) -> IssueError {
    IssueError::Config {
        path: path.display().to_string(),
        message: message.to_owned(),
    }
}

fn mismatch(dir: &Path, file: &str, what: &str) -> IssueError {
    config_err(
        &dir.join(file),
        &format!("this key is not {what}: restore the matching key file"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::AddCheckpoint;

    #[test]
    fn a_log_and_a_witness_made_on_disk_work_together() {
        let tmp = tempfile::tempdir().unwrap();
        let pass = Passphrase::new("correct horse").unwrap();
        let protection = KeyProtection::Passphrase(pass.clone());
        let log_dir = tmp.path().join("log");
        let op = init_log(&log_dir, "log.example/test", &protection).unwrap();
        let keys = log_keys(&log_dir).unwrap();
        assert_eq!(keys.origin, "log.example/test");
        assert_eq!(op.vrf_public_key(), &keys.vrf);
        drop(op);
        // The keys are encrypted PKCS#8, 0600; the wrong passphrase or none opens nothing.
        let pem = fs::read_to_string(log_dir.join(LOG_KEY)).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(log_dir.join(VRF_KEY))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(open_log(&log_dir, None).is_err());
        let wrong = Passphrase::new("wrong").unwrap();
        assert!(open_log(&log_dir, Some(&wrong)).is_err());
        let op = open_log(&log_dir, Some(&pass)).unwrap();
        assert!(!log_dir.join("public").join(LOG_KEY).exists());

        let w_dir = tmp.path().join("w");
        let witness = init_witness(&w_dir, "witness.example/w1", &KeyProtection::Insecure).unwrap();
        assert_eq!(witness.verifier_key(), &witness_key(&w_dir).unwrap());
        let cp = op.writer().checkpoint().clone();
        let line = witness
            .add_checkpoint(
                &AddCheckpoint::new(0, Vec::new(), cp),
                std::slice::from_ref(&keys.key),
                7,
            )
            .unwrap();
        assert!(line.starts_with("— witness.example/w1 "));

        // An existing directory is never overwritten.
        assert!(matches!(
            init_log(&log_dir, "log.example/test", &KeyProtection::Insecure),
            Err(IssueError::DirExists { .. })
        ));
    }

    #[test]
    fn a_swapped_key_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        init_log(&a, "log.example/a", &KeyProtection::Insecure).unwrap();
        init_log(&b, "log.example/b", &KeyProtection::Insecure).unwrap();
        fs::copy(b.join(VRF_KEY), a.join(VRF_KEY)).unwrap();
        let err = open_log(&a, None).err().expect("refused");
        assert!(err.to_string().contains("VRF key"), "{err}");
        // A CA key is not an Ed25519 key.
        let ca_key = rcgen::KeyPair::generate().unwrap().serialize_pem();
        fs::remove_file(a.join(LOG_KEY)).unwrap();
        write_new(&a.join(LOG_KEY), ca_key.as_bytes(), FileMode::Private).unwrap();
        let err = open_log(&a, None).err().expect("refused");
        assert!(err.to_string().contains("not an Ed25519 key"), "{err}");
    }
}
