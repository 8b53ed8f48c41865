//! Private key files: how they are protected on disk (encrypted PKCS#8 under a passphrase,
//! or plain PKCS#8 when the operator chose so explicitly), and reading them back. CA keys are
//! ECDSA P-256; a log's note and VRF keys and a witness's key are Ed25519 (RFC 8410), kept
//! the same way.
//!
//! Encrypted keys are PKCS#8 `ENCRYPTED PRIVATE KEY` PEM (RFC 5958, PBES2 of RFC 8018):
//! scrypt (N = 2^14, r = 8, p = 1: 16 MiB, as `openssl pkcs8 -scrypt`; 16-byte random salt)
//! and AES-256-CBC with a random IV.
//! `openssl pkey -in ca.key` reads them. When reading, the scrypt cost is capped
//! ([`MAX_SCRYPT_LOG_N`]) so a doctored key file cannot make the tool allocate gigabytes.

use std::fmt;
use std::path::Path;

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256};
use zeroize::Zeroizing;

use super::error::{io_err, IssueError, KeyProblem};

/// The environment variable a passphrase may come from (never from the command line).
pub const PASSWORD_ENV: &str = "MIMI_ATTEST_PASSWORD";

/// scrypt cost written: N = 2^14 (16 MiB; OpenSSL refuses to read above its 32 MiB default).
const SCRYPT_LOG_N: u8 = 14;
/// Largest scrypt cost accepted when reading: N = 2^20 (1 GiB with r = 8).
pub const MAX_SCRYPT_LOG_N: u8 = 20;
/// Largest key file read, in bytes (a P-256 PKCS#8 PEM is about 250).
const MAX_KEY_FILE: u64 = 64 * 1024;

/// A passphrase for CA keys, wiped from memory when dropped. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// A passphrase from text; one trailing newline (as `echo` writes it) is dropped.
    /// Empty passphrases are refused.
    pub fn new(text: impl Into<String>) -> Result<Self, IssueError> {
        let mut s = Zeroizing::new(text.into());
        if s.ends_with('\n') {
            s.pop();
            if s.ends_with('\r') {
                s.pop();
            }
        }
        if s.is_empty() {
            return Err(IssueError::EmptyPassphrase);
        }
        Ok(Passphrase(s))
    }

    /// The passphrase in the first line of `path` (which should be mode 0600).
    pub fn from_file(path: &Path) -> Result<Self, IssueError> {
        let text = read_limited(path)?;
        let text =
            Zeroizing::new(
                String::from_utf8(text.to_vec()).map_err(|_| IssueError::Key {
                    path: path.to_owned(),
                    problem: KeyProblem::PassphraseNotUtf8,
                })?,
            );
        let first = text.lines().next().unwrap_or("");
        Passphrase::new(first.to_owned()).map_err(|_| IssueError::Key {
            path: path.to_owned(),
            problem: KeyProblem::PassphraseFileEmpty,
        })
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

/// How `ca init` (and `ca rotate`) protect the CA keys they write.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum KeyProtection {
    /// Encrypted PKCS#8 under this passphrase.
    Passphrase(Passphrase),
    /// Plain PKCS#8, protected by the file mode (0600) alone. For tests and demos, or keys
    /// kept in a hardware-protected or encrypted volume.
    Insecure,
}

impl KeyProtection {
    /// The passphrase, if any.
    pub fn passphrase(&self) -> Option<&Passphrase> {
        match self {
            KeyProtection::Passphrase(p) => Some(p),
            KeyProtection::Insecure => None,
        }
    }
}

fn read_limited(path: &Path) -> Result<Zeroizing<Vec<u8>>, IssueError> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| io_err(path, "cannot read", e))?;
    let mut buf = Zeroizing::new(Vec::new());
    f.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| io_err(path, "cannot read", e))?;
    if buf.len() as u64 > MAX_KEY_FILE {
        return Err(IssueError::Key {
            path: path.to_owned(),
            problem: KeyProblem::TooLarge { max: MAX_KEY_FILE },
        });
    }
    Ok(buf)
}

/// The PEM text of `key` protected as asked.
pub(crate) fn encode_key(
    key: &KeyPair,
    protection: &KeyProtection,
) -> Result<Zeroizing<String>, IssueError> {
    encode_pkcs8(key.serialized_der(), protection)
}

/// RFC 8410 PrivateKeyInfo prefix of an Ed25519 key: version 0, id-Ed25519, and the
/// CurvePrivateKey OCTET STRING header; the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The PEM text of an Ed25519 private key (its 32-byte RFC 8032 seed) protected as asked.
pub(crate) fn encode_ed25519_seed(
    seed: &[u8; 32],
    protection: &KeyProtection,
) -> Result<Zeroizing<String>, IssueError> {
    let mut der = Zeroizing::new(ED25519_PKCS8_PREFIX.to_vec());
    der.extend_from_slice(seed);
    encode_pkcs8(&der, protection)
}

/// Read an Ed25519 key file (log, VRF or witness key) as [`load_key`] reads a CA key: refused
/// when group or others may read it, decrypted when encrypted; its 32-byte seed.
pub(crate) fn load_ed25519_seed(
    path: &Path,
    pass: Option<&Passphrase>,
) -> Result<Zeroizing<[u8; 32]>, IssueError> {
    let der = read_pkcs8(path, pass)?;
    match der.strip_prefix(&ED25519_PKCS8_PREFIX[..]) {
        Some(seed) if seed.len() == 32 => {
            let mut out = Zeroizing::new([0u8; 32]);
            out.copy_from_slice(seed);
            Ok(out)
        }
        _ => Err(IssueError::Key {
            path: path.to_owned(),
            problem: KeyProblem::NotEd25519,
        }),
    }
}

/// A fresh 32-byte secret from the system's random generator.
pub(crate) fn random_seed() -> Result<Zeroizing<[u8; 32]>, IssueError> {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut seed = Zeroizing::new([0u8; 32]);
    SystemRandom::new()
        .fill(&mut seed[..])
        .map_err(|_| IssueError::Sign("the system random generator failed".into()))?;
    Ok(seed)
}

/// PKCS#8 DER as PEM: plain, or encrypted under the passphrase.
fn encode_pkcs8(der: &[u8], protection: &KeyProtection) -> Result<Zeroizing<String>, IssueError> {
    let pass = match protection {
        KeyProtection::Insecure => {
            return Ok(Zeroizing::new(pem::encode_config(
                &pem::Pem::new("PRIVATE KEY", der.to_vec()),
                pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
            )))
        }
        KeyProtection::Passphrase(p) => p,
    };
    use ring::rand::{SecureRandom, SystemRandom};
    let rng = SystemRandom::new();
    let (mut salt, mut iv) = ([0u8; 16], [0u8; 16]);
    rng.fill(&mut salt)
        .and_then(|_| rng.fill(&mut iv))
        .map_err(|_| IssueError::Sign("the system random generator failed".into()))?;
    let enc_err = |e: String| IssueError::Sign(format!("cannot encrypt the key: {e}"));
    let params = pkcs8::pkcs5::scrypt::Params::new(SCRYPT_LOG_N, 8, 1, 32)
        .map_err(|e| enc_err(e.to_string()))?;
    let params = pkcs8::pkcs5::pbes2::Parameters::scrypt_aes256cbc(params, &salt, &iv)
        .map_err(|e| enc_err(e.to_string()))?;
    let info = pkcs8::PrivateKeyInfo::try_from(der).map_err(|e| enc_err(e.to_string()))?;
    let doc = info
        .encrypt_with_params(params, pass.bytes())
        .map_err(|e| enc_err(e.to_string()))?;
    doc.to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
        .map_err(|e| enc_err(e.to_string()))
}

/// Read a CA key file: refuse it when group or others may read it, decrypt it when it is
/// encrypted (the passphrase is then required), and require a P-256 key.
pub(crate) fn load_key(path: &Path, pass: Option<&Passphrase>) -> Result<KeyPair, IssueError> {
    let der = read_pkcs8(path, pass)?;
    let key_err = |problem: KeyProblem| IssueError::Key {
        path: path.to_owned(),
        problem,
    };
    let key = KeyPair::try_from(der.as_slice()).map_err(|e| key_err(KeyProblem::Unusable(e)))?;
    if key.algorithm() != &PKCS_ECDSA_P256_SHA256 {
        return Err(key_err(KeyProblem::NotP256));
    }
    Ok(key)
}

/// The PKCS#8 DER of a private key file, checked for its mode and decrypted if need be.
fn read_pkcs8(path: &Path, pass: Option<&Passphrase>) -> Result<Zeroizing<Vec<u8>>, IssueError> {
    let bytes = read_limited(path)?;
    check_key_permissions(path)?;
    let key_err = |problem: KeyProblem| IssueError::Key {
        path: path.to_owned(),
        problem,
    };
    let block = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|t| pem::parse(t).ok())
        .ok_or_else(|| key_err(KeyProblem::NotPem))?;
    let der: Zeroizing<Vec<u8>> = match block.tag() {
        "PRIVATE KEY" => Zeroizing::new(block.contents().to_vec()),
        "ENCRYPTED PRIVATE KEY" => {
            let pass = pass.ok_or_else(|| key_err(KeyProblem::NeedsPassphrase))?;
            let info = pkcs8::EncryptedPrivateKeyInfo::try_from(block.contents())
                .map_err(|e| key_err(KeyProblem::BadEncryptedKey(e.to_string())))?;
            if let pkcs8::pkcs5::EncryptionScheme::Pbes2(p) = &info.encryption_algorithm {
                if let pkcs8::pkcs5::pbes2::Kdf::Scrypt(s) = &p.kdf {
                    if s.cost_parameter > 1 << MAX_SCRYPT_LOG_N
                        || s.block_size > 16
                        || s.parallelization > 4
                    {
                        return Err(key_err(KeyProblem::TooCostly));
                    }
                }
            }
            let doc = info
                .decrypt(pass.bytes())
                .map_err(|_| key_err(KeyProblem::WrongPassphrase))?;
            Zeroizing::new(doc.as_bytes().to_vec())
        }
        "EC PRIVATE KEY" | "RSA PRIVATE KEY" => {
            return Err(key_err(KeyProblem::NotPkcs8 {
                label: block.tag().to_owned(),
                path: path.to_owned(),
            }))
        }
        other => {
            return Err(key_err(KeyProblem::NotAKey {
                label: other.to_owned(),
            }))
        }
    };
    Ok(der)
}

/// Reject key files that group or others can read.
fn check_key_permissions(path: &Path) -> Result<(), IssueError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| io_err(path, "cannot read", e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(IssueError::Io {
                path: path.display().to_string(),
                message: format!(
                    "private key is readable by group or others (mode {:o}): run `chmod 600 {}`",
                    mode & 0o777,
                    path.display()
                ),
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_round_trip_and_wrong_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let pass = Passphrase::new("correct horse\n").unwrap();
        let pem = encode_key(&key, &KeyProtection::Passphrase(pass.clone())).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        let p = dir.path().join("ca.key");
        super::super::files::write_atomic(
            &p,
            pem.as_bytes(),
            super::super::files::FileMode::Private,
            super::super::files::Overwrite::Refuse,
        )
        .unwrap();
        let back = load_key(&p, Some(&pass)).unwrap();
        assert_eq!(back.public_key_raw(), key.public_key_raw());
        let e = load_key(&p, None).unwrap_err().to_string();
        assert!(e.contains("encrypted") && e.contains("passphrase"), "{e}");
        let wrong = Passphrase::new("wrong").unwrap();
        let e = load_key(&p, Some(&wrong)).unwrap_err().to_string();
        assert!(e.contains("wrong passphrase"), "{e}");
        assert_eq!(format!("{pass:?}"), "Passphrase(..)");
        assert!(Passphrase::new("\n").is_err());
    }
}
