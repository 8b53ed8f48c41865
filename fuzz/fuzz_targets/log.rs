//! The transparency log's parsers on hostile bytes: entries, entry bundles, tlog-proofs,
//! signed checkpoints (with their signature and cosignature lines), witness requests,
//! verifier keys and VRF proofs either fail with an error or give a value that encodes back to
//! what was read (entries, bundles) or parses again the same (texts). What they parse is then
//! checked as a verifier, a witness and a monitor would check it: inclusion and consistency
//! proofs with the sizes read, signatures under fixed keys. Nothing may panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mimi_attest::{
    decode_bundle, encode_bundle, leaf_hash, verify_consistency, verify_inclusion, AddCheckpoint,
    KeyType, MappingLogEntry, NoteSigningKey, NoteVerifierKey, SignedCheckpoint, TlogProof,
    VrfProof, VrfSecretKey,
};

/// The vector log key of docs/spec.md section 13.5 (so seeds from it verify) and a witness key.
fn keys() -> &'static [NoteVerifierKey; 2] {
    static K: OnceLock<[NoteVerifierKey; 2]> = OnceLock::new();
    K.get_or_init(|| {
        let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
        let log = NoteSigningKey::from_seed("log.example/mapping", KeyType::Ed25519, &seed)
            .expect("a valid key name");
        let witness =
            NoteSigningKey::from_seed("witness.example/w1", KeyType::Cosignature, &[9; 32])
                .expect("a valid key name");
        [log.verifier_key().clone(), witness.verifier_key().clone()]
    })
}

/// Signatures and cosignatures are checked, never trusted: the answers may be anything but a
/// panic.
fn check_signatures(checkpoint: &SignedCheckpoint) {
    let [log, witness] = keys();
    let _ = checkpoint.verify(checkpoint.checkpoint().origin(), log);
    let _ = checkpoint.cosignatures(std::slice::from_ref(witness));
}

/// Up to 64 hashes of 32 bytes from `data`.
fn hashes(data: &[u8]) -> Vec<[u8; 32]> {
    data.chunks_exact(32)
        .take(64)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = MappingLogEntry::decode(data) {
        assert_eq!(entry.encode().expect("a decoded entry encodes"), data);
    }
    if let Ok(entries) = decode_bundle(data) {
        let again = encode_bundle(entries.iter().copied()).expect("decoded entries encode");
        assert_eq!(again, data, "a decoded bundle encodes back to its bytes");
    }
    if let Ok(proof) = TlogProof::parse(data) {
        let text = proof.to_text();
        let again = TlogProof::parse(text.as_bytes()).expect("a parsed proof parses again");
        assert_eq!(again.to_text(), text);
        let cp = proof.checkpoint.checkpoint();
        let _ = verify_inclusion(
            &proof.inclusion,
            proof.index,
            cp.size(),
            &leaf_hash(data),
            cp.root_hash(),
        );
        check_signatures(&proof.checkpoint);
    }
    if let Ok(checkpoint) = SignedCheckpoint::parse(data) {
        let again = SignedCheckpoint::parse(checkpoint.as_bytes()).expect("parses again");
        assert_eq!(again.checkpoint(), checkpoint.checkpoint());
        check_signatures(&checkpoint);
    }
    if let Ok(request) = AddCheckpoint::parse(data) {
        let again = AddCheckpoint::parse(&request.to_text()).expect("a request parses again");
        assert_eq!(again.old_size, request.old_size);
        assert_eq!(again.proof, request.proof);
        let cp = request.checkpoint.checkpoint();
        let _ = verify_consistency(
            &request.proof,
            request.old_size,
            &leaf_hash(data),
            cp.size(),
            cp.root_hash(),
        );
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
    // Proof arithmetic on any sizes: two u64s, then hashes.
    if let Some((sizes, rest)) = data.split_first_chunk::<16>() {
        let a = u64::from_be_bytes(sizes[..8].try_into().expect("8 bytes"));
        let b = u64::from_be_bytes(sizes[8..].try_into().expect("8 bytes"));
        let proof = hashes(rest);
        let (x, y) = (leaf_hash(&sizes[..8]), leaf_hash(&sizes[8..]));
        let _ = verify_inclusion(&proof, a, b, &x, &y);
        let _ = verify_consistency(&proof, a, &x, b, &y);
    }
});
