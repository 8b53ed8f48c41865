//! Signed notes (C2SP signed-note), checkpoints (tlog-checkpoint) and cosignatures
//! (tlog-cosignature `cosignature/v1`), all Ed25519.
//!
//! The note syntax and key IDs come from `signed_note`; the Ed25519 arithmetic is `ring`'s,
//! which the crate already uses for every other signature.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

use super::LogError;

/// The signature types this log uses (signed-note "Signature types").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// 0x01: Ed25519 over the note text (the log's checkpoint signature).
    Ed25519,
    /// 0x04: timestamped Ed25519 checkpoint cosignature (`cosignature/v1`).
    Cosignature,
}

impl KeyType {
    /// The signature type byte.
    pub fn byte(self) -> u8 {
        match self {
            KeyType::Ed25519 => 0x01,
            KeyType::Cosignature => 0x04,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            0x01 => Some(KeyType::Ed25519),
            0x04 => Some(KeyType::Cosignature),
            _ => None,
        }
    }
}

/// A note verifier key: name, key ID, type and Ed25519 public key. Its text form (a "vkey") is
/// `<name>+<8 hex digits of the key ID>+<base64(type || public key)>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NoteVerifierKey {
    name: String,
    id: u32,
    kind: KeyType,
    public: [u8; 32],
}

impl NoteVerifierKey {
    /// The key of `kind` named `name` for an Ed25519 public key; its ID is the one signed-note
    /// recommends, `SHA-256(name || 0x0A || type || key)[:4]`.
    pub fn new(name: &str, kind: KeyType, public: [u8; 32]) -> Result<Self, LogError> {
        check_key_name(name)?;
        let mut typed = vec![kind.byte()];
        typed.extend_from_slice(&public);
        Ok(NoteVerifierKey {
            name: name.to_owned(),
            id: signed_note::key_id(name, &typed),
            kind,
            public,
        })
    }

    /// Reads a vkey; the key ID must be the one derived from name, type and key.
    pub fn parse(vkey: &str) -> Result<Self, LogError> {
        let bad = |reason: &str| LogError::KeyMalformed {
            key: vkey.to_owned(),
            reason: reason.to_owned(),
        };
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("a vkey is <name>+<key id>+<base64 key>"));
        };
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the key ID must be 8 hex digits"));
        }
        let id =
            u32::from_str_radix(id_hex, 16).map_err(|_| bad("the key ID must be 8 hex digits"))?;
        let typed = B64
            .decode(key_b64)
            .map_err(|_| bad("the key is not base64"))?;
        let (kind, public) = match typed.split_first() {
            Some((t, rest)) => (
                KeyType::from_byte(*t).ok_or_else(|| {
                    bad("the signature type is neither 0x01 (Ed25519) nor 0x04 (cosignature/v1)")
                })?,
                <[u8; 32]>::try_from(rest).map_err(|_| bad("an Ed25519 key is 32 bytes"))?,
            ),
            None => return Err(bad("the key is empty")),
        };
        let key = NoteVerifierKey::new(name, kind, public)
            .map_err(|_| bad("the name must be non-empty, without spaces or '+'"))?;
        if key.id != id {
            return Err(bad("the key ID does not match the name and key"));
        }
        Ok(key)
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The signature type.
    pub fn key_type(&self) -> KeyType {
        self.kind
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public
    }

    /// Checks a cosignature's bytes (timestamp || signature) over a checkpoint's note text;
    /// returns the timestamp.
    fn verify_cosignature(&self, text: &[u8], sig: &[u8]) -> Option<u64> {
        let (ts, sig) = sig.split_at_checked(8)?;
        let ts = u64::from_be_bytes(ts.try_into().ok()?);
        if ts > i64::MAX as u64 || sig.len() != 64 {
            return None;
        }
        let message = cosigned_message(ts, text);
        UnparsedPublicKey::new(&ED25519, self.public)
            .verify(&message, sig)
            .ok()
            .map(|()| ts)
    }
}

impl std::fmt::Display for NoteVerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut typed = vec![self.kind.byte()];
        typed.extend_from_slice(&self.public);
        write!(f, "{}+{:08x}+{}", self.name, self.id, B64.encode(typed))
    }
}

impl signed_note::Verifier for NoteVerifierKey {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self.kind {
            KeyType::Ed25519 => UnparsedPublicKey::new(&ED25519, self.public)
                .verify(msg, sig)
                .is_ok(),
            KeyType::Cosignature => self.verify_cosignature(msg, sig).is_some(),
        }
    }
}

/// An Ed25519 signing key for notes: the log's checkpoint key (type 0x01) or a witness's
/// cosigning key (type 0x04).
pub struct NoteSigningKey {
    pair: Ed25519KeyPair,
    verifier: NoteVerifierKey,
}

impl NoteSigningKey {
    /// The key of `kind` named `name` from a 32-byte Ed25519 seed (RFC 8032 private key).
    pub fn from_seed(name: &str, kind: KeyType, seed: &[u8; 32]) -> Result<Self, LogError> {
        let pair =
            Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| LogError::KeyMalformed {
                key: name.to_owned(),
                reason: "not an Ed25519 seed".into(),
            })?;
        let public: [u8; 32] = pair.public_key().as_ref().try_into().expect("32-byte key");
        Ok(NoteSigningKey {
            verifier: NoteVerifierKey::new(name, kind, public)?,
            pair,
        })
    }

    /// The matching verifier key.
    pub fn verifier_key(&self) -> &NoteVerifierKey {
        &self.verifier
    }

    /// A signature line (`— <name> base64(key ID || signature)\n`) over `text`: for a type 0x01
    /// key the Ed25519 signature of the text; for a type 0x04 key the `cosignature/v1`
    /// timestamped signature at `timestamp` (seconds since 1970; ignored for 0x01).
    pub fn signature_line(&self, text: &[u8], timestamp: u64) -> Result<String, LogError> {
        let sig = match self.verifier.kind {
            KeyType::Ed25519 => self.pair.sign(text).as_ref().to_vec(),
            KeyType::Cosignature => {
                if timestamp > i64::MAX as u64 {
                    return Err(LogError::TimeOutOfRange);
                }
                let mut sig = timestamp.to_be_bytes().to_vec();
                sig.extend_from_slice(self.pair.sign(&cosigned_message(timestamp, text)).as_ref());
                sig
            }
        };
        let line = signed_note::Signature::new(self.verifier.name.clone(), self.verifier.id, sig)
            .map_err(|_| LogError::KeyMalformed {
            key: self.verifier.name.clone(),
            reason: "not a valid key name".into(),
        })?;
        Ok(String::from_utf8(line.to_bytes()).expect("names are UTF-8"))
    }
}

/// The `cosignature/v1` signed message: header line, time line, then the checkpoint text.
fn cosigned_message(timestamp: u64, text: &[u8]) -> Vec<u8> {
    let mut message = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    message.extend_from_slice(text);
    message
}

fn check_key_name(name: &str) -> Result<(), LogError> {
    if signed_note::is_key_name_valid(name) {
        Ok(())
    } else {
        Err(LogError::KeyMalformed {
            key: name.to_owned(),
            reason: "a key name must be non-empty, without spaces or '+'".into(),
        })
    }
}

/// A checkpoint (tlog-checkpoint): origin, tree size and root hash; no extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: [u8; 32],
}

impl Checkpoint {
    /// The checkpoint of a tree. The origin must be a valid first line (non-empty, no newline).
    pub fn new(origin: &str, size: u64, root: [u8; 32]) -> Result<Self, LogError> {
        if origin.contains('\n') {
            return Err(LogError::CheckpointMalformed {
                reason: "the origin must be one line".into(),
            });
        }
        tlog_tiles::Checkpoint::new(origin, size, tlog_tiles::Hash(root), "").map_err(|_| {
            LogError::CheckpointMalformed {
                reason: "the origin must be non-empty".into(),
            }
        })?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root_hash(&self) -> &[u8; 32] {
        &self.root
    }

    /// The note text: three lines, each ending in a newline.
    pub fn text(&self) -> Vec<u8> {
        tlog_tiles::Checkpoint::new(&self.origin, self.size, tlog_tiles::Hash(self.root), "")
            .expect("checked in new")
            .to_bytes()
    }

    /// The signed note of this checkpoint, signed by the log's key.
    pub fn sign(&self, log_key: &NoteSigningKey) -> Result<SignedCheckpoint, LogError> {
        let text = self.text();
        let mut note = text.clone();
        note.push(b'\n');
        note.extend_from_slice(log_key.signature_line(&text, 0)?.as_bytes());
        SignedCheckpoint::parse(&note)
    }
}

/// A checkpoint as a signed note, with every signature line it carries. Parsing checks the
/// syntax only; [`SignedCheckpoint::verify`] checks the log's signature.
#[derive(Clone, Debug)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    text: Vec<u8>,
    signatures: Vec<signed_note::Signature>,
    bytes: Vec<u8>,
}

impl SignedCheckpoint {
    /// Reads a signed checkpoint note.
    pub fn parse(bytes: &[u8]) -> Result<Self, LogError> {
        let note = signed_note::Note::from_bytes(bytes).map_err(|e| LogError::NoteMalformed {
            reason: e.to_string(),
        })?;
        let text = note.text().to_vec();
        let body = tlog_tiles::Checkpoint::from_bytes(&text).map_err(|_| {
            LogError::CheckpointMalformed {
                reason: "the note text is not origin, size and base64 root hash lines".into(),
            }
        })?;
        if !body.extension().is_empty() {
            return Err(LogError::CheckpointMalformed {
                reason: "extension lines are not used by mapping-log-v1".into(),
            });
        }
        // signed_note has validated the block; split it again to keep the signatures.
        let block = &bytes[text.len() + 1..];
        let signatures = block
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(signed_note::Signature::from_bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| LogError::NoteMalformed {
                reason: e.to_string(),
            })?;
        Ok(SignedCheckpoint {
            checkpoint: Checkpoint::new(body.origin(), body.size(), body.hash().0)?,
            text,
            signatures,
            bytes: bytes.to_vec(),
        })
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The note text (what the log signed).
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// The whole signed note.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Checks that the log's key signed this checkpoint: a signature with the key's name and ID
    /// must be present and valid (signed-note: unknown keys are ignored; a bad signature from
    /// the known key rejects the note), and the origin must be the one expected.
    pub fn verify(&self, origin: &str, log_key: &NoteVerifierKey) -> Result<(), LogError> {
        if self.checkpoint.origin != origin {
            return Err(LogError::OriginMismatch {
                expected: origin.to_owned(),
                found: self.checkpoint.origin.clone(),
            });
        }
        if log_key.kind != KeyType::Ed25519 {
            return Err(LogError::CheckpointSignature {
                origin: origin.to_owned(),
                reason: "a log key must be of type 0x01 (Ed25519)".into(),
            });
        }
        let note =
            signed_note::Note::from_bytes(&self.bytes).map_err(|e| LogError::NoteMalformed {
                reason: e.to_string(),
            })?;
        let known = signed_note::VerifierList::new(vec![Box::new(log_key.clone())]);
        note.verify(&known)
            .map(|_| ())
            .map_err(|e| LogError::CheckpointSignature {
                origin: origin.to_owned(),
                reason: format!("{e} (key {})", log_key.name),
            })
    }

    /// The witnesses among `witnesses` (type 0x04 keys) with a valid cosignature on this
    /// checkpoint, each once, with the timestamp it signed. A signature line that names a
    /// listed witness but does not verify rejects the checkpoint (signed-note's rule).
    pub fn cosignatures<'a>(
        &self,
        witnesses: &'a [NoteVerifierKey],
    ) -> Result<Vec<(&'a NoteVerifierKey, u64)>, LogError> {
        let mut valid: Vec<(&NoteVerifierKey, u64)> = Vec::new();
        for witness in witnesses.iter().filter(|w| w.kind == KeyType::Cosignature) {
            for sig in self
                .signatures
                .iter()
                .filter(|s| s.name() == witness.name && s.id() == witness.id)
            {
                let ts = witness
                    .verify_cosignature(&self.text, sig.signature())
                    .ok_or_else(|| LogError::CosignatureInvalid {
                        witness: witness.name.clone(),
                    })?;
                if !valid.iter().any(|(w, _)| *w == witness) {
                    valid.push((witness, ts));
                }
            }
        }
        Ok(valid)
    }

    /// This checkpoint with more signature lines appended (e.g. witnesses' cosignatures).
    /// Lines already present are not repeated.
    pub fn with_signature_lines(&self, lines: &str) -> Result<Self, LogError> {
        let mut bytes = self.bytes.clone();
        for line in lines.lines().filter(|l| !l.is_empty()) {
            let line = format!("{line}\n");
            signed_note::Signature::from_bytes(line.trim_end().as_bytes()).map_err(|e| {
                LogError::NoteMalformed {
                    reason: format!("{e}: {line:?}"),
                }
            })?;
            let present = self.bytes[self.text.len() + 1..]
                .split(|b| *b == b'\n')
                .any(|l| l == line.trim_end().as_bytes());
            if !present {
                bytes.extend_from_slice(line.as_bytes());
            }
        }
        SignedCheckpoint::parse(&bytes)
    }

    /// This checkpoint with a witness's answer appended (the cosignature lines it returned for
    /// an add-checkpoint request), each line checked first: it must be a valid
    /// `cosignature/v1` over this checkpoint by one of `witnesses`. A line of another key, or
    /// one that does not verify (a cosignature of an older checkpoint of the log), is an
    /// error and nothing is added. Returns the checkpoint and the witnesses whose lines these
    /// were.
    pub fn with_cosignatures<'a>(
        &self,
        lines: &str,
        witnesses: &'a [NoteVerifierKey],
    ) -> Result<(Self, Vec<&'a NoteVerifierKey>), LogError> {
        let mut signers: Vec<&NoteVerifierKey> = Vec::new();
        for line in lines.lines().filter(|l| !l.is_empty()) {
            let sig = signed_note::Signature::from_bytes(line.as_bytes()).map_err(|e| {
                LogError::NoteMalformed {
                    reason: format!("{e}: {line:?}"),
                }
            })?;
            let witness = witnesses
                .iter()
                .filter(|w| w.kind == KeyType::Cosignature)
                .find(|w| sig.name() == w.name && sig.id() == w.id)
                .ok_or_else(|| LogError::CosignatureUnknown {
                    name: sig.name().to_owned(),
                })?;
            witness
                .verify_cosignature(&self.text, sig.signature())
                .ok_or_else(|| LogError::CosignatureInvalid {
                    witness: witness.name.clone(),
                })?;
            if !signers.contains(&witness) {
                signers.push(witness);
            }
        }
        if signers.is_empty() {
            return Err(LogError::NoteMalformed {
                reason: "no cosignature line was given".into(),
            });
        }
        Ok((self.with_signature_lines(lines)?, signers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// golang.org/x/mod/sumdb/note's example key and note (note.go, note_test.go).
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    fn peter() -> NoteSigningKey {
        let typed = B64
            .decode(PETER_SKEY.splitn(5, '+').nth(4).unwrap())
            .unwrap();
        assert_eq!(typed[0], 0x01);
        NoteSigningKey::from_seed(
            "PeterNeumann",
            KeyType::Ed25519,
            &typed[1..].try_into().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn go_sumdb_note_vector() {
        let key = peter();
        assert_eq!(key.verifier_key().to_string(), PETER_VKEY);
        assert_eq!(
            NoteVerifierKey::parse(PETER_VKEY).unwrap(),
            *key.verifier_key()
        );
        assert_eq!(
            key.signature_line(PETER_TEXT.as_bytes(), 0).unwrap(),
            PETER_SIG
        );
    }

    #[test]
    fn c2sp_signed_note_example_verifies() {
        // signed-note, "Verifier keys", Example.
        let vkey = NoteVerifierKey::parse(
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        )
        .unwrap();
        let note = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
        let parsed = signed_note::Note::from_bytes(note.as_bytes()).unwrap();
        let known = signed_note::VerifierList::new(vec![Box::new(vkey.clone())]);
        assert_eq!(parsed.verify(&known).unwrap().0.len(), 1);
        let tampered = note.replace("example message", "example massage");
        assert!(signed_note::Note::from_bytes(tampered.as_bytes())
            .unwrap()
            .verify(&known)
            .is_err());
    }

    /// A checkpoint of a public CT log with an Ed25519 log signature and a `cosignature/v1`
    /// from the remora.n621.de witness.
    const ARCHE: &str = "arche2025h1.staging.ct.transparency.dev\n1432088532\nU7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n\n\
— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=\n\
— arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n\
— transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==\n\
— witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==\n\
— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n\
— witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==\n";

    #[test]
    fn real_checkpoint_and_cosignature_verify() {
        let log = NoteVerifierKey::parse("arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f").unwrap();
        let remora = NoteVerifierKey::parse(
            "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
        )
        .unwrap();
        assert_eq!(remora.key_type(), KeyType::Cosignature);
        let cp = SignedCheckpoint::parse(ARCHE.as_bytes()).unwrap();
        assert_eq!(cp.checkpoint().size(), 1_432_088_532);
        cp.verify("arche2025h1.staging.ct.transparency.dev", &log)
            .unwrap();
        let witnesses = [remora.clone()];
        let cosigs = cp.cosignatures(&witnesses).unwrap();
        assert_eq!(cosigs.len(), 1);
        // The timestamp is the first 8 bytes of the signature: 0x6a122120.
        assert_eq!(cosigs[0].1, 0x6a12_2120);
        // The same cosignature over another size fails and rejects the note.
        let clobbered = ARCHE.replace("1432088532", "42");
        let cp2 = SignedCheckpoint::parse(clobbered.as_bytes()).unwrap();
        assert!(matches!(
            cp2.cosignatures(&witnesses),
            Err(LogError::CosignatureInvalid { .. })
        ));
        assert!(matches!(
            cp2.verify("arche2025h1.staging.ct.transparency.dev", &log),
            Err(LogError::CheckpointSignature { .. })
        ));
        assert!(matches!(
            cp.verify("other.example/log", &log),
            Err(LogError::OriginMismatch { .. })
        ));
    }

    #[test]
    fn checkpoints_and_cosignatures_round_trip() {
        let log = NoteSigningKey::from_seed("log.example/a", KeyType::Ed25519, &[1; 32]).unwrap();
        let w1 = NoteSigningKey::from_seed("w1.example", KeyType::Cosignature, &[2; 32]).unwrap();
        let w2 = NoteSigningKey::from_seed("w2.example", KeyType::Cosignature, &[3; 32]).unwrap();
        let cp = Checkpoint::new("log.example/a", 5, [9; 32]).unwrap();
        assert_eq!(
            cp.text(),
            format!("log.example/a\n5\n{}\n", B64.encode([9u8; 32])).into_bytes()
        );
        let signed = cp.sign(&log).unwrap();
        signed.verify("log.example/a", log.verifier_key()).unwrap();
        let line = w1.signature_line(signed.text(), 1_700_000_000).unwrap();
        let cosigned = signed
            .with_signature_lines(&line)
            .unwrap()
            .with_signature_lines(&line)
            .unwrap();
        assert_eq!(
            cosigned.as_bytes().len(),
            signed.as_bytes().len() + line.len()
        );
        let witnesses = [w1.verifier_key().clone(), w2.verifier_key().clone()];
        let cosigs = cosigned.cosignatures(&witnesses).unwrap();
        assert_eq!(cosigs.len(), 1);
        assert_eq!(cosigs[0].1, 1_700_000_000);
        cosigned
            .verify("log.example/a", log.verifier_key())
            .unwrap();
        // A witness's answer is checked before it is attached: by a listed witness, over
        // this checkpoint.
        let (attached, by) = signed.with_cosignatures(&line, &witnesses).unwrap();
        assert_eq!(attached.as_bytes(), cosigned.as_bytes());
        assert_eq!(by, [&witnesses[0]]);
        assert!(matches!(
            signed.with_cosignatures(&line, &witnesses[1..]),
            Err(LogError::CosignatureUnknown { .. })
        ));
        let older = Checkpoint::new("log.example/a", 4, [8; 32])
            .unwrap()
            .sign(&log)
            .unwrap();
        let stale = w1.signature_line(older.text(), 1_700_000_000).unwrap();
        assert!(matches!(
            signed.with_cosignatures(&stale, &witnesses),
            Err(LogError::CosignatureInvalid { .. })
        ));
        for bad in ["", "\n", "not a signature line\n"] {
            assert!(matches!(
                signed.with_cosignatures(bad, &witnesses),
                Err(LogError::NoteMalformed { .. })
            ));
        }
        // The log's own signature line is no cosignature.
        let own = log.signature_line(signed.text(), 0).unwrap();
        assert!(signed.with_cosignatures(&own, &witnesses).is_err());
        // A key of the wrong type is neither a log key nor a witness.
        assert!(cosigned.verify("log.example/a", w1.verifier_key()).is_err());
        assert!(cosigned
            .cosignatures(&[log.verifier_key().clone()])
            .unwrap()
            .is_empty());
        // A vkey whose ID does not match is refused.
        let mut vkey = log.verifier_key().to_string();
        vkey.replace_range(14..15, if &vkey[14..15] == "0" { "1" } else { "0" });
        assert!(matches!(
            NoteVerifierKey::parse(&vkey),
            Err(LogError::KeyMalformed { .. })
        ));
    }
}
