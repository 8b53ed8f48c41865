//! The real `mimi-attest verify` and `demo` commands: exit codes 0 / 1 / 2 and the JSON.

use std::process::Output;

use serde_json::Value;

use crate::common::cli::{run, stdout_json, verify_args, AT, ROOT};

/// The JSON array `verify --format json` printed.
fn json(out: &Output) -> Vec<Value> {
    stdout_json(out).as_array().unwrap().clone()
}

#[test]
fn valid_chains_exit_0_with_json() {
    let out = run(&verify_args(
        "json",
        &[
            "certs/alice-chat-a.pem",
            "certs/bob-email-chat-a.pem",
            "certs/carol-csr-chat-b.pem",
        ],
    ));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = json(&out);
    assert_eq!(results.len(), 3);
    let r = &results[0];
    assert_eq!(r["file"], "certs/alice-chat-a.pem");
    assert_eq!(r["valid"], true);
    assert_eq!(r["sii"], "tel:+15551234567");
    assert_eq!(r["provider"], "chat-a.example");
    assert_eq!(r["handle"], "mimi://chat-a.example/u/alice");
    assert_eq!(r["method"], "sms-otp");
    assert_eq!(r["anchor"], "chat-a");
    assert_eq!(r["validated_at"], "2026-01-01T00:00:00Z");
    assert_eq!(r["not_before"], "2026-01-01T00:00:00Z");
    assert_eq!(r["not_after"], "2026-01-08T00:00:00Z");
    assert_eq!(r["chain_sha256"].as_str().unwrap().len(), 64);
    // The user's key comes with the result: serial, SPKI (base64 DER), consent hash.
    for (r, file) in results.iter().zip([
        "certs/alice-chat-a.pem",
        "certs/bob-email-chat-a.pem",
        "certs/carol-csr-chat-b.pem",
    ]) {
        let pem = std::fs::read(file).unwrap();
        let chain = mimi_attest::chain_from_pem(&pem).unwrap();
        let (_, leaf) = x509_parser::parse_x509_certificate(&chain[0]).unwrap();
        use base64::Engine;
        assert_eq!(
            r["serial"],
            mimi_attest::Serial::from_contents(leaf.raw_serial()).to_string(),
            "{file}"
        );
        assert_eq!(
            r["subject_public_key_info"],
            base64::engine::general_purpose::STANDARD.encode(leaf.public_key().raw),
            "{file}"
        );
        let consent = mimi_attest::leaf_mapping(&leaf).unwrap().consent;
        assert_eq!(
            r["consent"],
            consent.map_or(serde_json::Value::Null, |c| mimi_attest::hex(&c).into()),
            "{file}"
        );
    }
    assert!(
        results[2]["consent"].is_string(),
        "carol's leaf is from a CSR"
    );
    assert_eq!(results[1]["sii"], "mailto:bob@chat-a.example");
    assert_eq!(results[2]["provider"], "chat-b.example");
}

#[test]
fn rejected_chain_exits_1_with_code_message_depth() {
    let out = run(&verify_args(
        "json",
        &[
            "certs/alice-chat-a.pem",
            "certs/forged-claims-chat-a.pem",
            "certs/forged-out-of-scope.pem",
        ],
    ));
    assert_eq!(out.status.code(), Some(1));
    let results = json(&out);
    assert_eq!(results[0]["valid"], true);
    assert_eq!(results[1]["valid"], false);
    assert_eq!(results[1]["code"], "E_PROVIDER_MISMATCH");
    assert_eq!(results[1]["depth"], 0);
    assert!(results[1]["message"]
        .as_str()
        .unwrap()
        .contains("chat-a.example"));
    assert_eq!(results[2]["code"], "E_OUT_OF_SCOPE");
}

#[test]
fn time_travel_and_expect_sii() {
    let late = run(&[
        "verify",
        "--trust-list",
        "ca-config/trust-list.yaml",
        "--at",
        "2026-02-01T00:00:00Z",
        "certs/alice-chat-a.pem",
    ]);
    assert_eq!(late.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&late.stdout).contains("E_EXPIRED"));
    let other = run(&[
        "verify",
        "--trust-list",
        "ca-config/trust-list.yaml",
        "--at",
        AT,
        "--expect-sii",
        "+1 555 000 0000",
        "certs/alice-chat-a.pem",
    ]);
    assert_eq!(other.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&other.stdout).contains("E_SII_MISMATCH"));
    let same = run(&[
        "verify",
        "--trust-list",
        "ca-config/trust-list.yaml",
        "--at",
        AT,
        "--expect-sii",
        "+1 (555) 123-4567",
        "certs/alice-chat-a.pem",
    ]);
    assert_eq!(same.status.code(), Some(0));
}

#[test]
fn a_file_that_is_not_a_chain_is_malformed_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "this is not a certificate\n").unwrap();
    let out = run(&[
        "verify",
        "--trust-list",
        "ca-config/trust-list.yaml",
        "--format",
        "json",
        junk.to_str().unwrap(),
        "ca-config/chat-a.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let results = json(&out);
    assert!(results.iter().all(|r| r["code"] == "E_MALFORMED"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn unusable_trust_list_exits_2() {
    let missing = run(&[
        "verify",
        "--trust-list",
        "nowhere.yaml",
        "certs/alice-chat-a.pem",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nowhere.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("tl.yaml");
    std::fs::write(&bad, "version: 1\nanchors: []\nextra: 1\n").unwrap();
    let invalid = run(&[
        "verify",
        "--trust-list",
        bad.to_str().unwrap(),
        "certs/alice-chat-a.pem",
    ]);
    assert_eq!(invalid.status.code(), Some(2));
    let err = String::from_utf8_lossy(&invalid.stderr);
    assert!(err.contains("extra") && err.contains(":3"), "{err}");
    let usage = run(&["verify", "certs/alice-chat-a.pem"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn demo_runs_and_shows_forgeries_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("demo");
    let out = run(&["demo", "--dir", work.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("E_OUT_OF_SCOPE"), "{text}");
    assert!(text.contains("E_PROVIDER_MISMATCH"), "{text}");
    assert!(work.join("trust-list.yaml").exists());
    // The exchange service round trip: chat-a's server in the demo's process, chat-b's lookup
    // over mutual TLS with the dev certificates, the chain verified.
    assert!(
        text.contains("8. The exchange service: chat-a serves its store on 127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains("   ok   tel:+15551234567           found, valid: -> chat-a.example as mimi://chat-a.example/u/alice\n"),
        "{text}"
    );
    assert!(
        text.contains("   ok   tel:+15550000001           not found\n"),
        "{text}"
    );
    assert!(work.join("tls/chat-b-client.pem").exists());
    // The trust list the demo wrote works with the CLI.
    let v = run(&[
        "verify",
        "--trust-list",
        work.join("trust-list.yaml").to_str().unwrap(),
        work.join("chains/alice-chat-b.pem").to_str().unwrap(),
    ]);
    assert_eq!(v.status.code(), Some(0));

    // The shared log: a logged chain verified with its proof where proofs are required, an
    // unlogged one rejected, and the monitor naming the numbers both providers claim.
    assert!(
        text.contains(
            "5. One transparency log for both providers, one witness: log.example/mapping"
        ),
        "{text}"
    );
    assert!(
        text.contains("logged in log.example/mapping at index ")
            && text.contains("cosigned by witness.example/w1"),
        "{text}"
    );
    assert!(
        text.contains("unlogged-chat-b.pem        rejected E_LOG_PROOF_MISSING"),
        "{text}"
    );
    assert!(
        text.contains("(tel:+15557654321) claimed by two providers at once, one as its new holder"),
        "{text}"
    );
    assert!(
        text.contains("(tel:+15551234567) claimed by two providers at once:"),
        "{text}"
    );
    // The CLI picks up the proof beside the chain under the trust list requiring proofs.
    let logged = work.join("trust-list-logged.yaml");
    let v = run(&[
        "verify",
        "--trust-list",
        logged.to_str().unwrap(),
        work.join("chains/dave-chat-b.pem").to_str().unwrap(),
    ]);
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
    let v = run(&[
        "verify",
        "--trust-list",
        logged.to_str().unwrap(),
        work.join("chains/alice-chat-b.pem").to_str().unwrap(),
    ]);
    assert_eq!(v.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&v.stdout).contains("E_LOG_PROOF_MISSING"));
}

/// The command's JSON is the library's serialization of what it verified: the same keys in
/// the same order and the same values, after `file` and `valid`.
#[test]
fn verify_json_is_the_library_serialization() {
    use mimi_attest::{chain_from_pem, TrustList, Verifier};
    let at =
        time::OffsetDateTime::parse(AT, &time::format_description::well_known::Rfc3339).unwrap();
    let verifier = Verifier::new(
        TrustList::from_file(&std::path::Path::new(ROOT).join("ca-config/trust-list.yaml"))
            .unwrap(),
    );
    for file in [
        "certs/alice-chat-a.pem",
        "certs/carol-csr-chat-b.pem",
        "certs/forged-out-of-scope.pem",
    ] {
        let out = run(&[
            "verify",
            "--trust-list",
            "ca-config/trust-list.yaml",
            "--at",
            AT,
            "--format",
            "json",
            file,
        ]);
        let cli = json(&out).remove(0);
        let chain =
            chain_from_pem(&std::fs::read(std::path::Path::new(ROOT).join(file)).unwrap()).unwrap();
        let lib = match verifier.verify(&chain, at) {
            Ok(m) => serde_json::to_value(&m).unwrap(),
            Err(e) => serde_json::to_value(&e).unwrap(),
        };
        let mut expected = serde_json::Map::new();
        expected.insert("file".into(), file.into());
        expected.insert("valid".into(), (cli["code"].is_null()).into());
        expected.extend(lib.as_object().unwrap().clone());
        let keys = |v: &serde_json::Map<String, Value>| v.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(cli.as_object().unwrap()), keys(&expected), "{file}");
        assert_eq!(cli, Value::Object(expected), "{file}");
    }
}

/// The keys of a verified mapping's serialization, in order: the contract of `verify --format
/// json`.
#[test]
fn verified_mapping_serializes_with_the_cli_keys() {
    use mimi_attest::{chain_from_pem, TrustList, Verifier};
    let at =
        time::OffsetDateTime::parse(AT, &time::format_description::well_known::Rfc3339).unwrap();
    let verifier = Verifier::new(
        TrustList::from_file(&std::path::Path::new(ROOT).join("ca-config/trust-list.yaml"))
            .unwrap(),
    );
    let pem = std::fs::read(std::path::Path::new(ROOT).join("certs/carol-csr-chat-b.pem")).unwrap();
    let m = verifier.verify(&chain_from_pem(&pem).unwrap(), at).unwrap();
    let v = serde_json::to_value(&m).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "sii",
            "provider",
            "handle",
            "method",
            "validated_at",
            "preferred",
            "new_holder",
            "anchor",
            "not_before",
            "not_after",
            "chain_sha256",
            "serial",
            "subject_public_key_info",
            "consent"
        ]
    );
    assert_eq!(v["sii"], "tel:+4915112345678");
    assert_eq!(v["validated_at"], "2026-01-01T00:00:00Z");
    assert_eq!(v["serial"], m.serial.to_string());
    assert_eq!(v["chain_sha256"], m.chain_sha256_hex());
    assert_eq!(v["consent"].as_str().unwrap().len(), 64);
    let e = verifier
        .verify(
            &chain_from_pem(
                &std::fs::read(std::path::Path::new(ROOT).join("certs/forged-out-of-scope.pem"))
                    .unwrap(),
            )
            .unwrap(),
            at,
        )
        .unwrap_err();
    let v = serde_json::to_value(&e).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["code", "message", "depth"]);
    assert_eq!(v["code"], "E_OUT_OF_SCOPE");
}
