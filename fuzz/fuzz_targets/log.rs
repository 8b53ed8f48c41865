//! The transparency log's parsers on hostile bytes: entries, tlog-proofs, signed checkpoints,
//! witness requests, verifier keys and VRF proofs either fail with an error or give a value
//! that encodes back to what was read (entries) or parses again the same (texts).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimi_attest::{
    AddCheckpoint, MappingLogEntry, NoteVerifierKey, SignedCheckpoint, TlogProof, VrfProof,
    VrfSecretKey,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = MappingLogEntry::decode(data) {
        assert_eq!(entry.encode().expect("a decoded entry encodes"), data);
    }
    if let Ok(proof) = TlogProof::parse(data) {
        let text = proof.to_text();
        let again = TlogProof::parse(text.as_bytes()).expect("a parsed proof parses again");
        assert_eq!(again.to_text(), text);
    }
    if let Ok(checkpoint) = SignedCheckpoint::parse(data) {
        let again = SignedCheckpoint::parse(checkpoint.as_bytes()).expect("parses again");
        assert_eq!(again.checkpoint(), checkpoint.checkpoint());
    }
    if let Ok(request) = AddCheckpoint::parse(data) {
        let again = AddCheckpoint::parse(&request.to_text()).expect("a request parses again");
        assert_eq!(again.old_size, request.old_size);
        assert_eq!(again.proof, request.proof);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(key) = NoteVerifierKey::parse(text) {
            assert_eq!(NoteVerifierKey::parse(&key.to_string()).ok(), Some(key));
        }
    }
    if let Ok(pi) = VrfProof::from_bytes(data) {
        // A random proof never verifies; it must fail cleanly, not panic.
        let key = VrfSecretKey::from_seed(&[1; 32]);
        assert!(key.public_key().verify(b"tel:+15551234567", &pi).is_err());
    }
});
