//! The transparency log with real chains: entries built from certificates, proofs written by
//! the log and checked the way a relying platform checks them.

mod common;

use common::Spec;
use mimi_attest::sha256;
use mimi_attest::{check_mapping_proof, LogWriter};
use mimi_attest::{
    KeyType, LogError, LogKeys, MappingLogEntry, NoteSigningKey, Sii, TlogProof, VrfSecretKey,
};
use x509_parser::prelude::{FromDer, X509Certificate};

const ORIGIN: &str = "log.example/mapping";

fn spki(ca_der: &[u8]) -> Vec<u8> {
    let (_, ca) = X509Certificate::from_der(ca_der).unwrap();
    ca.tbs_certificate.subject_pki.raw.to_vec()
}

struct Log {
    _dir: tempfile::TempDir,
    writer: LogWriter,
    vrf: VrfSecretKey,
    keys: LogKeys,
    witness: NoteSigningKey,
}

fn log() -> Log {
    let dir = tempfile::tempdir().unwrap();
    let key = NoteSigningKey::from_seed(ORIGIN, KeyType::Ed25519, &[7; 32]).unwrap();
    let vkey = key.verifier_key().clone();
    let vrf = VrfSecretKey::from_seed(&[8; 32]);
    let writer = LogWriter::create(dir.path(), key).unwrap();
    Log {
        _dir: dir,
        writer,
        keys: LogKeys::new(ORIGIN, vkey, vrf.public_key().clone()),
        vrf,
        witness: NoteSigningKey::from_seed("witness.example/w1", KeyType::Cosignature, &[9; 32])
            .unwrap(),
    }
}

/// Logs the chain's leaf among other entries and returns its proof, cosigned by the witness.
fn log_chain(log: &mut Log, leaf: &[u8], ca: &[u8], sii: &str) -> (MappingLogEntry, TlogProof) {
    let sii = Sii::parse(sii).unwrap();
    let pi = log.vrf.prove(sii.canonical().as_bytes()).unwrap();
    let label = pi.to_hash().unwrap().label();
    let entry = MappingLogEntry::from_leaf(leaf, &spki(ca), label).unwrap();
    let mut batch: Vec<Vec<u8>> = (0..300)
        .map(|i| format!("other {i}").into_bytes())
        .collect();
    batch.insert(123, entry.encode().unwrap());
    let first = log.writer.size();
    let cp = log.writer.append(&batch).unwrap();
    let line = log
        .witness
        .signature_line(cp.text(), 1_800_000_000)
        .unwrap();
    let mut proof = log
        .writer
        .tlog_proof(first + 123, Some(pi.as_bytes().to_vec()))
        .unwrap();
    proof.checkpoint = cp.with_signature_lines(&line).unwrap();
    (entry, proof)
}

#[test]
fn a_logged_chain_has_a_proof_that_checks() {
    let built = Spec::good().build();
    let (leaf, ca) = (built.chain[0].as_ref(), built.chain[1].as_ref());
    let mut log = log();
    let (entry, proof) = log_chain(&mut log, leaf, ca, "tel:+15551234567");

    // The entry carries what the chain says, and no SII.
    assert_eq!(entry.leaf_sha256, sha256(leaf));
    assert_eq!(entry.issuer_spki_sha256, sha256(&spki(ca)));
    assert_eq!(entry.provider, "chat-a.example");
    let (_, cert) = X509Certificate::from_der(leaf).unwrap();
    assert_eq!(
        entry.not_after as i64,
        cert.validity().not_after.timestamp()
    );
    let bytes = entry.encode().unwrap();
    assert!(!bytes.windows(10).any(|w| w == b"5551234567"));
    assert_eq!(MappingLogEntry::decode(&bytes).unwrap(), entry);

    // Written and read back as a file, it checks end to end.
    let text = proof.to_text();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "));
    assert!(text.contains("\nindex 123\n"));
    let proof = TlogProof::parse(text.as_bytes()).unwrap();
    let witnesses = [log.witness.verifier_key().clone()];
    let checked = check_mapping_proof(&proof, leaf, &spki(ca), &log.keys, &witnesses).unwrap();
    assert_eq!(checked.entry, entry);
    assert_eq!((checked.index, checked.tree_size), (123, 301));
    assert_eq!(checked.witnesses, ["witness.example/w1"]);
    // Without listed witnesses it still checks, with none counted.
    let checked = check_mapping_proof(&proof, leaf, &spki(ca), &log.keys, &[]).unwrap();
    assert!(checked.witnesses.is_empty());
}

#[test]
fn bad_proofs_are_rejected_with_their_reason() {
    let built = Spec::good().build();
    let other = Spec::good().build();
    let (leaf, ca) = (built.chain[0].as_ref(), built.chain[1].as_ref());
    let mut log = log();
    let (_, proof) = log_chain(&mut log, leaf, ca, "tel:+15551234567");
    let witnesses = [log.witness.verifier_key().clone()];
    let check = |p: &TlogProof, leaf: &[u8], keys: &LogKeys| {
        check_mapping_proof(p, leaf, &spki(ca), keys, &witnesses)
    };

    // A proof for another leaf (same SII, another certificate).
    let err = check(&proof, other.chain[0].as_ref(), &log.keys).unwrap_err();
    assert!(matches!(err, LogError::InclusionInvalid { .. }), "{err}");

    // A VRF proof for another SII.
    let mut wrong_pi = proof.clone();
    wrong_pi.extra = Some(
        log.vrf
            .prove(b"tel:+15557654321")
            .unwrap()
            .as_bytes()
            .to_vec(),
    );
    let err = check(&wrong_pi, leaf, &log.keys).unwrap_err();
    assert!(matches!(err, LogError::VrfProofInvalid), "{err}");

    // No VRF proof at all.
    let mut no_extra = proof.clone();
    no_extra.extra = None;
    assert!(matches!(
        check(&no_extra, leaf, &log.keys),
        Err(LogError::ProofMalformed { .. })
    ));

    // Another index.
    let mut moved = proof.clone();
    moved.index += 1;
    assert!(matches!(
        check(&moved, leaf, &log.keys),
        Err(LogError::InclusionInvalid { .. })
    ));

    // A log key the platform does not know, and another log's origin.
    let mut unknown = log.keys.clone();
    unknown.key = NoteSigningKey::from_seed(ORIGIN, KeyType::Ed25519, &[1; 32])
        .unwrap()
        .verifier_key()
        .clone();
    assert!(matches!(
        check(&proof, leaf, &unknown),
        Err(LogError::CheckpointSignature { .. })
    ));
    let mut elsewhere = log.keys.clone();
    elsewhere.origin = "other.example/log".into();
    assert!(matches!(
        check(&proof, leaf, &elsewhere),
        Err(LogError::OriginMismatch { .. })
    ));

    // A tampered checkpoint (size changed, signatures kept).
    let text = proof.to_text().replace("\n301\n", "\n302\n");
    let tampered = TlogProof::parse(text.as_bytes()).unwrap();
    assert!(check(&tampered, leaf, &log.keys).is_err());

    // A truncated file.
    let text = proof.to_text();
    for cut in [10, text.len() / 2, text.len() - 5] {
        assert!(
            TlogProof::parse(&text.as_bytes()[..cut]).is_err(),
            "cut {cut}"
        );
    }
}

#[test]
fn consistency_between_checkpoints_of_a_growing_log() {
    let built = Spec::good().build();
    let (leaf, ca) = (built.chain[0].as_ref(), built.chain[1].as_ref());
    let mut log = log();
    let (_, first) = log_chain(&mut log, leaf, ca, "tel:+15551234567");
    let (_, second) = log_chain(&mut log, leaf, ca, "tel:+15551234567");
    let (a, b) = (
        first.checkpoint.checkpoint(),
        second.checkpoint.checkpoint(),
    );
    let proof = log.writer.consistency_proof(a.size(), b.size()).unwrap();
    mimi_attest::verify_consistency(&proof, a.size(), a.root_hash(), b.size(), b.root_hash())
        .unwrap();
    // A fork: the same size with another root is not consistent.
    assert!(
        mimi_attest::verify_consistency(&proof, a.size(), &[0; 32], b.size(), b.root_hash())
            .is_err()
    );
    // The first proof still checks: the entry stays where it was.
    check_mapping_proof(&first, leaf, &spki(ca), &log.keys, &[]).unwrap();
}
