//! Signer sets: who may sign a trust list. A relying platform bootstraps from a signers file;
//! every version 2 list names, under `signers:`, the set that may sign the next version.
//!
//! ```yaml
//! threshold: 2
//! keys:
//!   - fed-1+1a2b3c4d+AU...   # signed-note verifier keys (Ed25519, type 0x01)
//!   - fed-2+5e6f7a8b+AX...
//!   - fed-3+90abcdef+Ac...
//! ```

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::list::{read_bounded, TrustListError};
use crate::log::{KeyType, NoteVerifierKey};

/// Largest signers file read, in bytes.
const MAX_SIGNERS_LEN: u64 = 64 * 1024;
/// Most keys in one signer set (signed notes carry at most 100 signatures).
pub(crate) const MAX_SIGNERS: usize = 100;

/// The YAML shape of a signer set, in a signers file and under a list's `signers:`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignersSpec {
    pub(crate) threshold: Decimal,
    pub(crate) keys: Vec<String>,
}

/// A whole number written as plain decimal digits (`42`), as the numbers that decide whether
/// a list is accepted (its `sequence`, a `threshold`) must be. YAML's other spellings
/// (`0x2a`, `0o52`, `+42`, `042`) are refused: readers disagree on some of them (YAML 1.1
/// reads `052` as octal), and every implementation must read the same number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(crate) struct Decimal(pub(crate) u64);

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Digits;
        impl serde::de::Visitor<'_> for Digits {
            type Value = Decimal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number in decimal digits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Decimal, E> {
                let plain = v == "0"
                    || (!v.starts_with('0')
                        && !v.is_empty()
                        && v.bytes().all(|b| b.is_ascii_digit()));
                if !plain {
                    return Err(E::custom(format!(
                        "{v:?} is not a whole number in plain decimal digits: write it as e.g. 42 (no sign, leading zero, 0x or 0o)"
                    )));
                }
                v.parse()
                    .map(Decimal)
                    .map_err(|_| E::custom(format!("{v} is larger than {}", u64::MAX)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Decimal, E> {
                Ok(Decimal(v))
            }
        }
        // The scalar's text, not YAML's reading of it, so that its spelling can be checked.
        d.deserialize_str(Digits)
    }
}

/// A set of signed-note keys (Ed25519, type 0x01) and how many of them must sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerSet {
    threshold: usize,
    keys: Vec<NoteVerifierKey>,
}

impl SignerSet {
    /// `threshold` signatures of distinct `keys` are required. Refused: a threshold of 0 or
    /// above the number of keys, a key listed twice (same name and key ID), a key that is not
    /// an Ed25519 note key (type 0x01), more than 100 keys.
    pub fn new(threshold: usize, keys: Vec<NoteVerifierKey>) -> Result<Self, String> {
        if keys.is_empty() {
            return Err("the signer set has no keys: list the signers' vkeys under keys".into());
        }
        if keys.len() > MAX_SIGNERS {
            return Err(format!(
                "the signer set has {} keys, more than the {MAX_SIGNERS} a signed note can carry signatures of",
                keys.len()
            ));
        }
        if threshold == 0 || threshold > keys.len() {
            return Err(format!(
                "threshold {threshold} is not between 1 and the {} key(s) listed: choose how many signers must sign",
                keys.len()
            ));
        }
        for (i, k) in keys.iter().enumerate() {
            if k.key_type() != KeyType::Ed25519 {
                return Err(format!(
                    "key {k} is not a trust-list signing key (type 0x01, Ed25519): give the vkey `trust-list keygen` printed"
                ));
            }
            if keys[..i]
                .iter()
                .any(|o| o.name() == k.name() && o.key_id() == k.key_id())
            {
                return Err(format!(
                    "key {}+{:08x} is listed twice: list each signer once, so that it counts once",
                    k.name(),
                    k.key_id()
                ));
            }
        }
        Ok(SignerSet { threshold, keys })
    }

    /// Read a signers file (YAML `{threshold: N, keys: [<vkey>, ...]}`).
    pub fn from_file(path: &Path) -> Result<Self, TrustListError> {
        let err = |message: String| TrustListError::Signers {
            path: path.display().to_string(),
            message,
        };
        let bytes = read_bounded(path, MAX_SIGNERS_LEN)
            .map_err(|m| err(format!("cannot read the signers file: {m}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| err("the signers file is not UTF-8 text".into()))?;
        Self::from_yaml(&text).map_err(err)
    }

    /// Parse a signer set from YAML text.
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let spec: SignersSpec = serde_yaml::from_str(text).map_err(|e| {
            format!(
                "{e}: a signers file is YAML {{threshold: N, keys: [<vkey>, ...]}} (see docs/spec.md#trust-list-v2)"
            )
        })?;
        Self::from_spec(&spec)
    }

    pub(crate) fn from_spec(spec: &SignersSpec) -> Result<Self, String> {
        let keys = spec
            .keys
            .iter()
            .map(|k| NoteVerifierKey::parse(k.trim()).map_err(|e| format!("signer key {k:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        SignerSet::new(
            usize::try_from(spec.threshold.0).unwrap_or(usize::MAX),
            keys,
        )
    }

    pub(crate) fn to_spec(&self) -> SignersSpec {
        SignersSpec {
            threshold: Decimal(self.threshold as u64),
            keys: self.keys.iter().map(|k| k.to_string()).collect(),
        }
    }

    /// How many distinct keys must sign.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The keys, in the order given.
    pub fn keys(&self) -> &[NoteVerifierKey] {
        &self.keys
    }

    /// Whether `other` is the same set: the same threshold and the same keys, in any order.
    pub fn same_as(&self, other: &SignerSet) -> bool {
        self.fingerprint() == other.fingerprint()
    }

    /// SHA-256 over the threshold and the sorted vkeys (`threshold N\n` then one vkey a
    /// line): the same for the same set however it is written down. A state file names its
    /// publisher by the fingerprint of the signer set it was bootstrapped from.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut vkeys: Vec<String> = self.keys.iter().map(|k| k.to_string()).collect();
        vkeys.sort();
        let mut h = Sha256::new();
        h.update(format!("threshold {}\n", self.threshold));
        for k in vkeys {
            h.update(k.as_bytes());
            h.update(b"\n");
        }
        h.finalize().into()
    }

    /// The keys of this set that signed `note`'s text (each once). A signature line of a key
    /// in the set that does not verify refuses the whole note: the text was changed after
    /// signing, or the line was damaged. Lines of other keys are ignored.
    pub(crate) fn signed(&self, note: &signed_note::Note) -> Result<Vec<&NoteVerifierKey>, String> {
        let list = signed_note::VerifierList::new(
            self.keys
                .iter()
                .map(|k| Box::new(k.clone()) as Box<dyn signed_note::Verifier>)
                .collect(),
        );
        match note.verify(&list) {
            Ok((good, _)) => Ok(good
                .iter()
                .filter_map(|s| {
                    self.keys
                        .iter()
                        .find(|k| k.name() == s.name() && k.key_id() == s.id())
                })
                .collect()),
            Err(signed_note::NoteError::UnverifiedNote) => Ok(Vec::new()),
            Err(signed_note::NoteError::InvalidSignature { name, id }) => Err(format!(
                "the signature of {name}+{id:08x} does not verify over this list's text: the list was changed after it was signed, or the signature line is damaged; have the signers sign the list as published"
            )),
            Err(e) => Err(format!("the signatures cannot be checked: {e}")),
        }
    }
}

impl fmt::Display for SignerSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of [", self.threshold)?;
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", k.name())?;
        }
        f.write_str("]")
    }
}
