//! The signed form of a trust list: a C2SP signed note whose text is the list's YAML,
//! followed by a blank line and one Ed25519 signature line per signer
//! (`— <name> base64(key ID || signature)`). Signing adds a line; checking the signatures
//! against a [`super::SignerSet`] is the [`super::TrustListSource`]'s job.

use sha2::{Digest, Sha256};

use super::list::{text_problem, TrustList, TrustListError};
use super::signers::MAX_SIGNERS;
use crate::log::{KeyType, NoteSigningKey};

/// Largest signed note read, in bytes (the limit of the signed-note parser).
pub(crate) const MAX_SIGNED_LEN: usize = 1_000_000;

/// A trust list in its signed form, as a publisher passes it from signer to signer and
/// publishes it. Parsing checks the note's syntax only; nothing in it is trusted until a
/// [`super::TrustListSource`] has checked its signatures, sequence and expiry.
#[derive(Clone, Debug)]
pub struct SignedTrustList {
    text: String,
    signatures: Vec<signed_note::Signature>,
}

impl SignedTrustList {
    /// Whether `bytes` are in the signed form (text, blank line, signature lines) rather than
    /// plain YAML.
    pub fn is_signed(bytes: &[u8]) -> bool {
        Self::parse(bytes, "").is_ok()
    }

    /// Read a signed list; `origin` names it in messages.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self, TrustListError> {
        let invalid = |line: Option<usize>, message: String| TrustListError::Invalid {
            path: origin.to_owned(),
            line,
            column: None,
            message,
        };
        if bytes.len() > MAX_SIGNED_LEN {
            return Err(invalid(
                None,
                format!(
                    "the signed list is {} bytes, more than the {MAX_SIGNED_LEN} a signed note may have",
                    bytes.len()
                ),
            ));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| invalid(None, "the signed list is not UTF-8 text".into()))?;
        if let Some(((line, column), c)) = text_problem(text, false) {
            return Err(TrustListError::Invalid {
                path: origin.to_owned(),
                line: Some(line),
                column: Some(column),
                message: format!(
                    "{c:?} is not allowed in a signed list (signed notes hold printable text and line feeds only)"
                ),
            });
        }
        let Some((body, sigs)) = text.rsplit_once("\n\n") else {
            return Err(invalid(
                None,
                "no signature lines: a signed list is the list's text, a blank line and signature lines (`trust-list sign` writes them)".into(),
            ));
        };
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(invalid(
                None,
                "the last signature line does not end with a newline".into(),
            ));
        };
        let first_sig_line = body.lines().count() + 2;
        let mut signatures = Vec::new();
        for (i, line) in sigs.split('\n').enumerate() {
            let sig = signed_note::Signature::from_bytes(line.as_bytes()).map_err(|_| {
                invalid(
                    Some(first_sig_line + i),
                    "not a signature line (`— <key name> <base64 of key ID and signature>`): a signed list ends with a blank line and signature lines only".into(),
                )
            })?;
            signatures.push(sig);
        }
        if signatures.len() > MAX_SIGNERS {
            return Err(invalid(
                None,
                format!(
                    "{} signature lines, more than the {MAX_SIGNERS} a signed note may carry",
                    signatures.len()
                ),
            ));
        }
        Ok(SignedTrustList {
            text: format!("{body}\n"),
            signatures,
        })
    }

    /// A list to be signed, from its plain YAML text: checked first as the text of a signed
    /// list (version 2, every certificate inline), so that no signer signs a list that
    /// platforms would refuse.
    pub fn from_list_text(text: &str, origin: &str) -> Result<Self, TrustListError> {
        if !text.ends_with('\n') {
            return Err(TrustListError::Invalid {
                path: origin.to_owned(),
                line: None,
                column: None,
                message: "the list does not end with a newline: end its last line".into(),
            });
        }
        // Platforms read at most MAX_SIGNED_LEN bytes of the signed form: a text that
        // leaves no room for signature lines could never be accepted.
        if text.len() + 1 > MAX_SIGNED_LEN {
            return Err(TrustListError::Invalid {
                path: origin.to_owned(),
                line: None,
                column: None,
                message: format!(
                    "the list is {} bytes, too large for a signed list (at most {MAX_SIGNED_LEN} bytes with its signature lines): list fewer or smaller anchors",
                    text.len()
                ),
            });
        }
        TrustList::from_signed_text(text, origin)?;
        Ok(SignedTrustList {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    /// The list's YAML text (what the signatures cover).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// SHA-256 of the text: two signed forms with the same text are the same list, however
    /// many signatures each carries.
    pub fn text_sha256(&self) -> [u8; 32] {
        Sha256::digest(self.text.as_bytes()).into()
    }

    /// The names of the keys of the signature lines, in order (nothing checked).
    pub fn signature_names(&self) -> Vec<&str> {
        self.signatures.iter().map(|s| s.name()).collect()
    }

    /// Add `key`'s signature line (an Ed25519 note key, type 0x01). A signature of the same
    /// key already there is replaced, so signing twice leaves one line.
    pub fn sign(&mut self, key: &NoteSigningKey) -> Result<(), TrustListError> {
        let vkey = key.verifier_key();
        let fail = |message: String| TrustListError::Invalid {
            path: vkey.name().to_owned(),
            line: None,
            column: None,
            message,
        };
        if vkey.key_type() != KeyType::Ed25519 {
            return Err(fail(
                "a trust list is signed with an Ed25519 note key (type 0x01), made by `trust-list keygen`".into(),
            ));
        }
        let line = key
            .signature_line(self.text.as_bytes(), 0)
            .map_err(|e| fail(e.to_string()))?;
        let sig = signed_note::Signature::from_bytes(line.trim_end_matches('\n').as_bytes())
            .map_err(|e| fail(e.to_string()))?;
        let mut signatures = self.signatures.clone();
        signatures.retain(|s| !(s.name() == vkey.name() && s.id() == vkey.key_id()));
        if signatures.len() >= MAX_SIGNERS {
            return Err(fail(format!(
                "the list already carries {MAX_SIGNERS} signatures, the most a signed note may"
            )));
        }
        signatures.push(sig);
        let len =
            self.text.len() + 1 + signatures.iter().map(|s| s.to_bytes().len()).sum::<usize>();
        if len > MAX_SIGNED_LEN {
            return Err(fail(format!(
                "with this signature the signed list would be {len} bytes, more than the {MAX_SIGNED_LEN} platforms read: publish a smaller list"
            )));
        }
        self.signatures = signatures;
        Ok(())
    }

    /// The signed form: text, blank line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone().into_bytes();
        out.push(b'\n');
        for s in &self.signatures {
            out.extend_from_slice(&s.to_bytes());
        }
        out
    }

    /// The note for the signed-note verifier.
    pub(crate) fn note(&self) -> Result<signed_note::Note, String> {
        signed_note::Note::new(self.text.as_bytes(), &self.signatures)
            .map_err(|e| format!("not a valid signed note: {e}"))
    }
}
