//! The transparency log with real chains: entries built from certificates, proofs written by
//! the log and checked the way a relying platform checks them.

use crate::common;

use common::Spec;
use mimi_attest::sha256;
use mimi_attest::{check_mapping_proof, LogWriter, Monitor};
use mimi_attest::{
    KeyType, LogError, LogKeys, LogOperator, MappingLogEntry, NoteSigningKey, Sii, Submission,
    TlogProof, VrfSecretKey,
};
use x509_parser::prelude::{FromDer, X509Certificate};

pub(crate) const ORIGIN: &str = "log.example/mapping";

pub(crate) fn spki(ca_der: &[u8]) -> Vec<u8> {
    let (_, ca) = X509Certificate::from_der(ca_der).unwrap();
    ca.tbs_certificate.subject_pki.raw.to_vec()
}

/// A log in a temporary directory with a fixed key, VRF key and one witness (also used by
/// the verifier's log-proof tests).
pub(crate) struct Log {
    _dir: tempfile::TempDir,
    pub(crate) writer: LogWriter,
    pub(crate) vrf: VrfSecretKey,
    pub(crate) keys: LogKeys,
    pub(crate) witness: NoteSigningKey,
}

pub(crate) fn log() -> Log {
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
pub(crate) fn log_chain(
    log: &mut Log,
    leaf: &[u8],
    ca: &[u8],
    sii: &str,
) -> (MappingLogEntry, TlogProof) {
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

const OPERATOR_SEED: [u8; 32] = [7; 32];
const OPERATOR_VRF_SEED: [u8; 32] = [8; 32];

fn operator(dir: &std::path::Path, create: bool) -> Result<LogOperator, LogError> {
    let key = NoteSigningKey::from_seed(ORIGIN, KeyType::Ed25519, &OPERATOR_SEED).unwrap();
    let vrf = VrfSecretKey::from_seed(&OPERATOR_VRF_SEED);
    if create {
        LogOperator::create(dir, key, vrf)
    } else {
        LogOperator::open(dir, key, vrf)
    }
}

fn operator_keys(op: &LogOperator) -> LogKeys {
    LogKeys::new(
        ORIGIN,
        NoteSigningKey::from_seed(ORIGIN, KeyType::Ed25519, &OPERATOR_SEED)
            .unwrap()
            .verifier_key()
            .clone(),
        op.vrf_public_key().clone(),
    )
}

/// Chains of distinct leaves: (leaf DER, issuing CA's SPKI DER).
fn chains(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n)
        .map(|_| {
            let built = Spec::good().build();
            (built.chain[0].to_vec(), spki(built.chain[1].as_ref()))
        })
        .collect()
}

fn submissions(chains: &[(Vec<u8>, Vec<u8>)]) -> Vec<Submission<'_>> {
    chains
        .iter()
        .map(|(leaf, spki)| Submission::new(leaf, spki))
        .collect()
}

#[test]
fn the_operator_logs_each_leaf_once_under_one_checkpoint_per_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut op = operator(dir.path(), true).unwrap();
    let c = chains(4);
    let logged = op.add(&submissions(&c[..3])).unwrap();
    assert_eq!(
        logged.iter().map(|l| (l.index, l.new)).collect::<Vec<_>>(),
        [(0, true), (1, true), (2, true)]
    );
    assert_eq!(op.writer().size(), 3);
    let keys = operator_keys(&op);
    for (l, (leaf, spki)) in logged.iter().zip(&c) {
        let proof = TlogProof::parse(op.proof(l).unwrap().to_text().as_bytes()).unwrap();
        let checked = check_mapping_proof(&proof, leaf, spki, &keys, &[]).unwrap();
        assert_eq!(checked.index, l.index);
        assert_eq!(checked.entry.leaf_hash().unwrap(), l.leaf_hash);
    }

    // A resubmission keeps its index, a leaf twice in one batch is one entry, and only the
    // new leaf grows the tree.
    let again = submissions(&c);
    let batch = [again[1], again[3], again[3], again[0]];
    let logged = op.add(&batch).unwrap();
    assert_eq!(
        logged.iter().map(|l| (l.index, l.new)).collect::<Vec<_>>(),
        [(1, false), (3, true), (3, false), (0, false)]
    );
    assert_eq!(op.writer().size(), 4);
    for (l, s) in logged.iter().zip(&batch) {
        check_mapping_proof(
            &op.proof(l).unwrap(),
            s.leaf_der,
            s.issuer_spki_der,
            &keys,
            &[],
        )
        .unwrap();
    }

    // Nothing new: no checkpoint is signed.
    let before = op.writer().checkpoint().as_bytes().to_vec();
    op.add(&submissions(&c)).unwrap();
    assert_eq!(op.writer().checkpoint().as_bytes(), &before[..]);
}

#[test]
fn a_lost_index_is_rebuilt_from_the_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let c = chains(3);
    {
        let mut op = operator(dir.path(), true).unwrap();
        op.add(&submissions(&c[..2])).unwrap();
    }
    // As if the run stopped after the checkpoint, before the index was written.
    for f in ["index.db", "index.db-wal", "index.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(f));
    }
    let mut op = operator(dir.path(), false).unwrap();
    let logged = op.add(&submissions(&c)).unwrap();
    assert_eq!(
        logged.iter().map(|l| (l.index, l.new)).collect::<Vec<_>>(),
        [(0, false), (1, false), (2, true)]
    );
    assert_eq!(op.writer().size(), 3);
    assert!(
        !dir.path().join("public/index.db").exists(),
        "the index is private"
    );
}

#[test]
fn a_checkpoint_older_than_the_index_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = chains(2);
    let old = {
        let mut op = operator(dir.path(), true).unwrap();
        op.add(&submissions(&c[..1])).unwrap();
        let old = std::fs::read(dir.path().join("public/checkpoint")).unwrap();
        op.add(&submissions(&c[1..])).unwrap();
        old
    };
    std::fs::write(dir.path().join("public/checkpoint"), old).unwrap();
    let err = operator(dir.path(), false).err().expect("refused");
    assert!(matches!(err, LogError::Inconsistent { .. }), "{err}");
    assert!(err.to_string().contains("older than the index"), "{err}");
}

#[test]
fn the_label_is_the_one_in_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut op = operator(dir.path(), true).unwrap();
    let c = chains(1);
    let logged = op.add(&submissions(&c)).unwrap();
    let (label, pi) = op.label("tel:+15551234567").unwrap();
    assert_eq!(pi, logged[0].vrf_proof);
    let entries = op.writer().read_entries(0, 1).unwrap();
    assert_eq!(MappingLogEntry::decode(&entries[0]).unwrap().label, label);
}

/// A chain of `provider` for tel:+15551234567, with its flags.
fn chain_of(provider: &str, new_holder: bool) -> (Vec<u8>, Vec<u8>) {
    let mut spec = Spec::good();
    let mut m = common::mapping(provider, spec.now - time::Duration::hours(1));
    m.flags.new_holder = new_holder;
    spec.set_mapping(&m);
    let built = spec.build();
    (built.chain[0].to_vec(), spki(built.chain[1].as_ref()))
}

#[test]
fn the_monitor_reports_volumes_and_a_number_two_providers_claim() {
    let log_dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut op = operator(log_dir.path(), true).unwrap();
    let keys = operator_keys(&op);
    let public = log_dir.path().join("public");
    let a = chain_of("chat-a.example", false);
    let others = chains(2);
    op.add(&submissions(&[a.clone(), others[0].clone()]))
        .unwrap();

    let mut monitor = Monitor::open(state.path()).unwrap();
    let first = monitor.update(&public, &keys, &[]).unwrap();
    assert!(!first.inconsistent(), "{:?}", first.problems);
    assert_eq!((first.previous_size, first.size), (0, 2));
    assert_eq!(first.providers.len(), 1);
    assert_eq!(first.providers[0].entries, 2);
    assert!(
        first.conflicts.is_empty(),
        "one provider holding a number twice is no conflict"
    );

    // chat-b claims the same number, as its new holder.
    let b = chain_of("chat-b.example", true);
    op.add(&submissions(&[b, others[1].clone()])).unwrap();
    let second = monitor.update(&public, &keys, &[]).unwrap();
    assert_eq!((second.previous_size, second.size), (2, 4));
    let volumes: Vec<(&str, u64, u64)> = second
        .providers
        .iter()
        .map(|v| (v.provider.as_str(), v.entries, v.new_holder))
        .collect();
    assert_eq!(
        volumes,
        [("chat-a.example", 1, 0), ("chat-b.example", 1, 1)]
    );
    assert_eq!(second.conflicts.len(), 1);
    let conflict = &second.conflicts[0];
    assert!(conflict.new_holder);
    let providers: Vec<&str> = conflict
        .entries
        .iter()
        .map(|e| e.provider.as_str())
        .collect();
    assert_eq!(
        providers,
        [
            "chat-a.example",
            "chat-a.example",
            "chat-b.example",
            "chat-a.example"
        ]
    );

    // The owner's lookup by label (from the operator) lists every entry for the number.
    let (label, _) = op.label("tel:+15551234567").unwrap();
    assert_eq!(monitor.entries_for_label(&label).unwrap().len(), 4);
    assert!(monitor.entries_for_label(&[0; 32]).unwrap().is_empty());

    // Nothing new: nothing reported again.
    let third = monitor.update(&public, &keys, &[]).unwrap();
    assert_eq!((third.previous_size, third.size), (4, 4));
    assert!(third.conflicts.is_empty() && third.providers.is_empty());
}

#[test]
fn the_monitor_catches_a_rollback_a_rewritten_history_and_bad_bundles() {
    let log_dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut op = operator(log_dir.path(), true).unwrap();
    let keys = operator_keys(&op);
    let public = log_dir.path().join("public");
    let c = chains(4);
    op.add(&submissions(&c[..2])).unwrap();
    let small = std::fs::read(public.join("checkpoint")).unwrap();
    op.add(&submissions(&c[2..3])).unwrap();
    let mut monitor = Monitor::open(state.path()).unwrap();
    assert!(!monitor.update(&public, &keys, &[]).unwrap().inconsistent());
    drop(op);

    // The log shows its older checkpoint again.
    let now = std::fs::read(public.join("checkpoint")).unwrap();
    std::fs::write(public.join("checkpoint"), &small).unwrap();
    let report = monitor.update(&public, &keys, &[]).unwrap();
    assert!(
        report.problems[0].contains("rolled back"),
        "{:?}",
        report.problems
    );
    std::fs::write(public.join("checkpoint"), &now).unwrap();

    // Another tree under the same key: same first entries, then others.
    let fork_dir = tempfile::tempdir().unwrap();
    let mut fork = operator(fork_dir.path(), true).unwrap();
    fork.add(&submissions(&[
        c[0].clone(),
        c[1].clone(),
        c[3].clone(),
        c[2].clone(),
    ]))
    .unwrap();
    let report = monitor
        .update(&fork_dir.path().join("public"), &keys, &[])
        .unwrap();
    assert!(
        report.problems[0].contains("rewrote its history"),
        "{:?}",
        report.problems
    );

    // The state was left as it was: the honest log still follows on.
    let mut op = operator(log_dir.path(), false).unwrap();
    op.add(&submissions(&c[3..])).unwrap();
    let report = monitor.update(&public, &keys, &[]).unwrap();
    assert!(!report.inconsistent(), "{:?}", report.problems);
    assert_eq!((report.previous_size, report.size), (3, 4));
    drop(op);

    // A bundle that is not the tree (one byte changed in a fresh monitor's view).
    let bundle = public.join("tile/entries/000.p/4");
    let good = std::fs::read(&bundle).unwrap();
    let mut bytes = good.clone();
    bytes[40] ^= 1;
    std::fs::write(&bundle, bytes).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let report = Monitor::open(fresh.path())
        .unwrap()
        .update(&public, &keys, &[])
        .unwrap();
    assert!(report.inconsistent(), "{:?}", report);

    // A bundle cut inside an entry, and one holding fewer entries than the checkpoint implies:
    // findings naming the bundle; a missing bundle is an error (nothing was learnt).
    let fresh_update = || {
        let fresh = tempfile::tempdir().unwrap();
        Monitor::open(fresh.path())
            .unwrap()
            .update(&public, &keys, &[])
    };
    std::fs::write(&bundle, &good[..good.len() - 3]).unwrap();
    let report = fresh_update().unwrap();
    assert!(
        report.problems[0].contains("000.p/4") && report.problems[0].contains("remain"),
        "{:?}",
        report.problems
    );
    let first_len = usize::from(u16::from_be_bytes([good[0], good[1]]));
    std::fs::write(&bundle, &good[..2 + first_len]).unwrap();
    let report = fresh_update().unwrap();
    assert!(
        report.problems[0].contains("1 entries where the checkpoint implies 4"),
        "{:?}",
        report.problems
    );
    std::fs::remove_file(&bundle).unwrap();
    assert!(fresh_update().is_err());
    std::fs::write(&bundle, &good).unwrap();

    // A checkpoint signed by another key is an error, not a report.
    let mut impostor = keys.clone();
    impostor.key = NoteSigningKey::from_seed(ORIGIN, KeyType::Ed25519, &[1; 32])
        .unwrap()
        .verifier_key()
        .clone();
    assert!(monitor.update(&public, &impostor, &[]).is_err());
}

#[test]
fn a_log_open_for_writing_in_this_process_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let first = operator(dir.path(), true).unwrap();
    let err = operator(dir.path(), false).err().expect("refused at once");
    assert!(matches!(err, LogError::InUse { .. }), "{err}");
    assert!(err.to_string().contains("already open"), "{err}");
    drop(first);
    operator(dir.path(), false).expect("opens once the first writer is closed");
}
