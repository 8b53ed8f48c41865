//! Verification with log proofs (docs/spec.md#verify-log): trust lists naming logs and
//! witnesses, the `log_proof` policy and `witness_quorum`, each rejection with its code, and
//! `verify` picking up `CHAIN.tlog-proof` and `--proof`, and `resolve` picking it up too.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use mimi_attest::{
    Checkpoint, Code, KeyType, LogProofPolicy, NoteSigningKey, Policy, Scope, TlogProof, TrustList,
    Verifier, VerifyOptions,
};

use crate::common::cli::{run, s, stderr, stdout_json};
use crate::common::{key, mapping, pem_of, Built, Spec};
use crate::log::{log, log_chain, Log, ORIGIN};

const SII: &str = "tel:+15551234567";

/// The trust-list keys naming `log` and its witness, with the policy given.
fn logs_yaml(log: &Log, log_proof: &str, quorum: u32) -> String {
    format!(
        "policy:\n  log_proof: {log_proof}\n  witness_quorum: {quorum}\nlogs:\n  - name: shared\n    key: {}\n    vrf_key: {}\nwitnesses:\n  - name: w1\n    key: {}\n",
        log.keys.key,
        B64.encode(log.keys.vrf.as_bytes()),
        log.witness.verifier_key()
    )
}

/// A chain, a log holding its leaf among others, its cosigned proof, and a trust list naming
/// the log and its witness under the policy given.
struct Case {
    spec: Spec,
    built: Built,
    log: Log,
    proof: TlogProof,
}

fn case(log_proof: &str, quorum: u32) -> Case {
    let mut log = log();
    let mut spec = Spec::good();
    spec.policy_yaml = logs_yaml(&log, log_proof, quorum);
    let built = spec.build();
    let (_, proof) = log_chain(
        &mut log,
        built.chain[0].as_ref(),
        built.chain[1].as_ref(),
        SII,
    );
    Case {
        spec,
        built,
        log,
        proof,
    }
}

impl Case {
    fn check(&self, options: VerifyOptions<'_>) -> Result<mimi_attest::VerifiedMapping, Code> {
        self.built
            .verifier()
            .verify_with(&self.built.chain, &options)
            .result
            .map_err(|e| e.code())
    }

    fn at(&self) -> VerifyOptions<'static> {
        VerifyOptions::at(crate::common::now())
    }

    /// The same proof without the witness's cosignature.
    fn uncosigned(&self) -> TlogProof {
        self.log
            .writer
            .tlog_proof(self.proof.index, self.proof.extra.clone())
            .unwrap()
    }
}

#[test]
fn required_and_valid_is_accepted_with_where_it_was_logged() {
    let c = case("required", 1);
    let verifier = c.built.verifier();
    for _ in 0..3 {
        let v = verifier.verify_with(&c.built.chain, &c.at().log_proof(&c.proof));
        let log = v.result.unwrap().log.expect("a proof was checked");
        assert_eq!((log.index, log.tree_size), (123, 301));
        assert_eq!((log.log.as_str(), log.origin.as_str()), ("shared", ORIGIN));
        assert_eq!(log.witnesses, ["w1"]);
    }
    // The checkpoint's signatures were verified once for the three chains.
    assert_eq!(verifier.checkpoint_cache_stats(), (1, 1));
    // The proof's text does as well.
    let text = c.proof.to_text();
    c.check(c.at().log_proof_text(text.as_bytes())).unwrap();
}

#[test]
fn required_without_a_proof_is_missing() {
    let c = case("required", 0);
    assert_eq!(c.check(c.at()), Err(Code::LogProofMissing));
    let plain = c
        .built
        .verifier()
        .verify(&c.built.chain, crate::common::now());
    assert_eq!(plain.unwrap_err().code(), Code::LogProofMissing);
}

#[test]
fn a_proof_that_does_not_fit_the_chain_is_invalid() {
    let mut c = case("required", 0);
    // A proof for another leaf of the same log.
    let other = Spec::good().build();
    let (_, for_other) = log_chain(
        &mut c.log,
        other.chain[0].as_ref(),
        other.chain[1].as_ref(),
        SII,
    );
    assert_eq!(
        c.check(c.at().log_proof(&for_other)),
        Err(Code::LogProofInvalid)
    );
    // A tampered checkpoint (size changed, signatures kept).
    let tampered = c.proof.to_text().replace("\n301\n", "\n302\n");
    assert_eq!(
        c.check(c.at().log_proof_text(tampered.as_bytes())),
        Err(Code::LogProofInvalid)
    );
    // A VRF proof of another SII.
    let mut wrong_vrf = c.proof.clone();
    wrong_vrf.extra = Some(
        c.log
            .vrf
            .prove(b"tel:+15557654321")
            .unwrap()
            .as_bytes()
            .to_vec(),
    );
    assert_eq!(
        c.check(c.at().log_proof(&wrong_vrf)),
        Err(Code::LogProofInvalid)
    );
    // Not a proof at all; a truncated one.
    for text in [&b"hello"[..], &c.proof.to_text().as_bytes()[..100]] {
        let v = c
            .built
            .verifier()
            .verify_with(&c.built.chain, &c.at().log_proof_text(text));
        let e = v.result.unwrap_err();
        assert_eq!(e.code(), Code::LogProofInvalid);
        assert!(e.message().contains("malformed"), "{e}");
    }
}

#[test]
fn a_checkpoint_of_an_unlisted_log_is_unknown() {
    let c = case("required", 0);
    let stranger =
        NoteSigningKey::from_seed("other.example/log", KeyType::Ed25519, &[3; 32]).unwrap();
    let cp = c.proof.checkpoint.checkpoint();
    let mut proof = c.proof.clone();
    proof.checkpoint = Checkpoint::new("other.example/log", cp.size(), *cp.root_hash())
        .unwrap()
        .sign(&stranger)
        .unwrap();
    assert_eq!(c.check(c.at().log_proof(&proof)), Err(Code::LogUnknown));
}

#[test]
fn the_witness_quorum_counts_listed_cosignatures() {
    let c = case("required", 1);
    assert_eq!(
        c.check(c.at().log_proof(&c.uncosigned())),
        Err(Code::WitnessQuorum)
    );
    let log = c.check(c.at().log_proof(&c.proof)).unwrap().log.unwrap();
    assert_eq!(log.witnesses, ["w1"]);
    // Quorum 0: the uncosigned proof is enough, and no witness is reported.
    let c0 = case("required", 0);
    let log = c0.check(c0.at().log_proof(&c0.uncosigned())).unwrap().log;
    assert!(log.unwrap().witnesses.is_empty());
}

#[test]
fn optional_accepts_a_chain_without_a_proof_and_off_ignores_proofs() {
    let c = case("optional", 0);
    assert_eq!(c.check(c.at()).unwrap().log, None);
    assert!(c.check(c.at().log_proof(&c.proof)).unwrap().log.is_some());
    assert_eq!(
        c.check(c.at().log_proof_text(b"garbage")),
        Err(Code::LogProofInvalid)
    );
    let off = case("off", 0);
    let v = off.check(off.at().log_proof_text(b"garbage")).unwrap();
    assert_eq!(v.log, None);
    assert_eq!(
        off.check(off.at().log_proof_unreadable("gone"))
            .unwrap()
            .log,
        None
    );
    // A trust list without the new keys (version 1 as before) asks for no proof.
    let plain = Spec::good().build();
    assert_eq!(plain.verifier().policy().log_proof, LogProofPolicy::Off);
}

#[test]
fn bad_log_and_witness_entries_are_refused_when_loaded() {
    let log = log();
    let load = |extra: &str| {
        let mut spec = Spec::good();
        spec.policy_yaml = extra.to_owned();
        let built = spec.build();
        TrustList::from_file(&built.trust_list).map(|_| ())
    };
    let good = logs_yaml(&log, "required", 1);
    load(&good).unwrap();
    for (yaml, says) in [
        (
            good.replace("witness_quorum: 1", "witness_quorum: 2"),
            "witness_quorum 2 is more than the 1 witness(es) listed",
        ),
        (
            good.replace("log_proof: required", "log_proof: yes"),
            "log_proof",
        ),
        (
            good.replace("    vrf_key:", "    colour: blue\n    vrf_key:"),
            "unknown field `colour`",
        ),
        (
            good.replace("    vrf_key:", "    origin: other.example/x\n    vrf_key:"),
            "is not the name of its key",
        ),
        (
            good.replace(&B64.encode(log.keys.vrf.as_bytes()), "not base64!"),
            "vrf_key is not base64",
        ),
        (
            // The log's key given as a witness, and the witness's as the log.
            good.replace(&log.keys.key.to_string(), "X")
                .replace(
                    &log.witness.verifier_key().to_string(),
                    &log.keys.key.to_string(),
                )
                .replace("key: X", &format!("key: {}", log.witness.verifier_key())),
            "not a checkpoint key (type 0x01",
        ),
        (
            "policy:\n  log_proof: required\n".to_owned(),
            "no log is listed",
        ),
    ] {
        let e = load(&yaml).unwrap_err().to_string();
        assert!(e.contains(says), "{yaml}\n{e}");
    }
    let twice = format!(
        "{good}  - name: w2\n    key: {}\n",
        log.witness.verifier_key()
    );
    let e = load(&twice).unwrap_err().to_string();
    assert!(e.contains("repeats witness \"w1\""), "{e}");
}

#[test]
fn the_builder_takes_logs_witnesses_and_the_policy() {
    let c = case("off", 0);
    let scope = Scope::new(&["+1"], &["chat-a.example"]).unwrap();
    let policy = Policy::default()
        .with_log_proof(LogProofPolicy::Required)
        .with_witness_quorum(1);
    let builder = || {
        TrustList::builder()
            .anchor(
                "test",
                "chat-a.example",
                c.built.root.clone(),
                scope.clone(),
            )
            .unwrap()
            .log("shared", c.log.keys.clone())
            .unwrap()
    };
    let e = builder().policy(policy).build().unwrap_err().to_string();
    assert!(e.contains("witness_quorum 1 is more than the 0"), "{e}");
    let e = builder()
        .witness("w1", c.log.keys.key.clone())
        .unwrap_err()
        .to_string();
    assert!(e.contains("cosignature/v1 key (type 0x04)"), "{e}");
    let list = builder()
        .witness("w1", c.log.witness.verifier_key().clone())
        .unwrap()
        .policy(policy)
        .build()
        .unwrap();
    assert_eq!((list.logs().len(), list.witnesses().len()), (1, 1));
    let verifier = Verifier::new(list);
    let v = verifier.verify_with(&c.built.chain, &c.at().log_proof(&c.proof));
    assert_eq!(v.result.unwrap().log.unwrap().witnesses, ["w1"]);
    let v = verifier.verify_with(&c.built.chain, &c.at().log_proof(&c.uncosigned()));
    assert_eq!(v.result.unwrap_err().code(), Code::WitnessQuorum);
}

#[test]
fn verify_picks_up_the_proof_beside_the_chain_and_takes_proof() {
    let c = case("required", 1);
    let dir = c.built.dir();
    let chain = dir.join("alice.pem");
    std::fs::write(&chain, c.built.pem()).unwrap();
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--trust-list",
            s(&c.built.trust_list),
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    // No proof beside it: rejected.
    let out = verify(&[s(&chain)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)[0]["code"], "E_LOG_PROOF_MISSING");

    // The proof beside it is picked up; the result says where the leaf was logged.
    std::fs::write(dir.join("alice.pem.tlog-proof"), c.proof.to_text()).unwrap();
    let out = verify(&[s(&chain)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = &stdout_json(&out)[0]["log"];
    assert_eq!(log["index"], 123);
    assert_eq!(log["tree_size"], 301);
    assert_eq!(log["origin"], ORIGIN);
    assert_eq!(log["witnesses"], serde_json::json!(["w1"]));
    let text = run(&["verify", "--trust-list", s(&c.built.trust_list), s(&chain)]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("at index 123 of 301, cosigned by w1"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );

    // --proof overrides it: an uncosigned proof falls short of the quorum, garbage is
    // invalid with the parser's message, a missing file is invalid with the I/O error.
    let elsewhere = dir.join("elsewhere.tlog-proof");
    std::fs::write(&elsewhere, c.uncosigned().to_text()).unwrap();
    let out = verify(&["--proof", s(&elsewhere), s(&chain)]);
    assert_eq!(stdout_json(&out)[0]["code"], "E_WITNESS_QUORUM");
    std::fs::write(&elsewhere, "garbage").unwrap();
    let out = verify(&["--proof", s(&elsewhere), s(&chain)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = &stdout_json(&out)[0];
    assert_eq!(r["code"], "E_LOG_PROOF_INVALID");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("malformed tlog-proof"),
        "{r}"
    );
    let gone = dir.join("gone.tlog-proof");
    let out = verify(&["--proof", s(&gone), s(&chain)]);
    let r = &stdout_json(&out)[0];
    assert_eq!(r["code"], "E_LOG_PROOF_INVALID");
    assert!(
        r["message"].as_str().unwrap().contains("gone.tlog-proof"),
        "{r}"
    );
    // --proof names the proof of one chain only.
    let out = verify(&["--proof", s(&elsewhere), s(&chain), s(&chain)]);
    crate::common::cli::refused(&out, "--proof is the proof of one chain");
}

#[test]
fn verify_without_log_proof_has_no_log_key() {
    let c = case("off", 0);
    let chain = c.built.dir().join("alice.pem");
    std::fs::write(&chain, c.built.pem()).unwrap();
    std::fs::write(c.built.dir().join("alice.pem.tlog-proof"), "garbage").unwrap();
    let out = run(&[
        "verify",
        "--trust-list",
        s(&c.built.trust_list),
        "--format",
        "json",
        s(&chain),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout_json(&out)[0].get("log").is_none());
}

/// `resolve` under `log_proof: required`: the chains with a proof beside them are ranked (in
/// the library, given through `resolve_with`), the one without is rejected as missing it.
#[test]
fn resolve_ranks_chains_with_proofs_and_rejects_one_without() {
    let mut c = case("required", 1);
    let dir = c.built.dir().to_path_buf();
    // Two more leaves for the SII from the same issuing CA, validated earlier.
    let ca_params = c.spec.ca.clone();
    let issuer = rcgen::Issuer::from_params(&ca_params, &c.built.ca_key);
    let mut leaf = |hours: i64| {
        let validated = c.spec.now - time::Duration::hours(hours);
        c.spec.set_mapping(&mapping("chat-a.example", validated));
        let der = c
            .spec
            .leaf
            .signed_by(&key(), &issuer)
            .unwrap()
            .der()
            .clone();
        vec![der, c.built.chain[1].clone()]
    };
    let older = leaf(5);
    let unlogged = leaf(3);
    let (_, older_proof) = log_chain(&mut c.log, older[0].as_ref(), older[1].as_ref(), SII);

    // The library: proofs per chain.
    let sii = mimi_attest::Sii::parse(SII).unwrap();
    let verifier = c.built.verifier();
    let now = crate::common::now();
    let chains = [
        (
            older.clone(),
            VerifyOptions::at(now).log_proof(&older_proof),
        ),
        (unlogged.clone(), VerifyOptions::at(now)),
        (
            c.built.chain.clone(),
            VerifyOptions::at(now).log_proof(&c.proof),
        ),
    ];
    let r = verifier.resolve_with(&sii, &chains);
    let ranked: Vec<usize> = r.mappings.iter().map(|m| m.index).collect();
    assert_eq!(ranked, [2, 0], "newest validatedAt first");
    assert!(r.mappings.iter().all(|m| m.mapping.log.is_some()));
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].index, 1);
    assert_eq!(r.rejected[0].error.code(), Code::LogProofMissing);
    // Without proofs every chain is missing one.
    let plain = verifier.resolve(&sii, &[&older, &unlogged, &c.built.chain], now);
    assert!(plain.mappings.is_empty());
    assert!(plain
        .rejected
        .iter()
        .all(|x| x.error.code() == Code::LogProofMissing));

    // The command: each chain's proof beside it.
    let files = [
        ("older.pem", pem_of(&older), Some(older_proof.to_text())),
        ("unlogged.pem", pem_of(&unlogged), None),
        ("alice.pem", c.built.pem(), Some(c.proof.to_text())),
    ];
    let mut args = vec![
        "resolve".to_owned(),
        "--trust-list".into(),
        s(&c.built.trust_list).into(),
        "--format".into(),
        "json".into(),
    ];
    for (name, pem, proof) in &files {
        std::fs::write(dir.join(name), pem).unwrap();
        if let Some(p) = proof {
            std::fs::write(dir.join(format!("{name}.tlog-proof")), p).unwrap();
        }
        args.push(s(&dir.join(name)).into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = stdout_json(&out);
    let ranked: Vec<&str> = v["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["file"].as_str().unwrap())
        .collect();
    assert_eq!(ranked.len(), 2, "{v}");
    assert!(ranked[0].ends_with("alice.pem") && ranked[1].ends_with("older.pem"));
    assert_eq!(v["mappings"][0]["log"]["index"], 123);
    let rejected = v["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{v}");
    assert!(rejected[0]["file"]
        .as_str()
        .unwrap()
        .ends_with("unlogged.pem"));
    assert_eq!(rejected[0]["code"], "E_LOG_PROOF_MISSING");
}
