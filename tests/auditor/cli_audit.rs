//! The real binary: `inspect`, `lint`, `store list`, `store export`, with exit codes.

use std::path::Path;

use crate::common::ca::chat_a_config;
use crate::common::cli::{
    ca_init, code, no_openssl, openssl, run, run_stdin, s, stderr, stdout, stdout_json,
};

/// A CA directory from the example config, one issued chain (leaf + CA + root).
fn setup(dir: &Path, leaf_max: &str) -> (String, String) {
    let config = chat_a_config().replace(
        "leaf_max: 90d",
        &format!("leaf_max: {leaf_max}\n  max_validation_age: {leaf_max}"),
    );
    let cfg = dir.join("chat-a.yaml");
    std::fs::write(&cfg, config).unwrap();
    let ca = dir.join("ca");
    ca_init(s(&cfg), &ca);
    let chain = dir.join("chain.pem");
    let o = run(&[
        "issue",
        "--ca",
        ca.to_str().unwrap(),
        "--sii",
        "+1 555 123 4567",
        "--handle",
        "mimi://chat-a.example/u/alice",
        "--key-out",
        dir.join("k.pem").to_str().unwrap(),
        "--out",
        chain.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut text = std::fs::read_to_string(&chain).unwrap();
    text.push_str(&std::fs::read_to_string(ca.join("root.pem")).unwrap());
    std::fs::write(&chain, text).unwrap();
    (
        ca.to_str().unwrap().to_owned(),
        chain.to_str().unwrap().to_owned(),
    )
}

#[test]
fn inspect_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let (_, chain) = setup(dir.path(), "90d");
    let o = run(&["inspect", &chain]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with("path (3 certificates, leaf first):\n  [0] leaf tel:+15551234567\n"),
        "{text}"
    );
    assert!(text.contains("mimi://chat-a.example/u/alice"));
    let o = run(&["inspect", "--format", "json", &chain]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = stdout_json(&o);
    assert_eq!(v["files"][0]["file"], chain.as_str());
    assert_eq!(v["files"][0]["certificates"].as_array().unwrap().len(), 3);
    assert_eq!(
        v["files"][0]["certificates"][0]["mimi_mapping"]["provider"],
        "chat-a.example"
    );
    // stdin
    let o = run_stdin(
        &["inspect", "--format", "json", "-"],
        &std::fs::read(&chain).unwrap(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout_json(&o)["files"][0]["file"], "-");
}

#[test]
fn unreadable_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.txt");
    std::fs::write(&junk, "not a certificate").unwrap();
    for cmd in ["inspect", "lint"] {
        let o = run(&[cmd, junk.to_str().unwrap()]);
        assert_eq!(code(&o), 2, "{cmd}");
        assert!(stderr(&o).contains("neither PEM nor"), "{}", stderr(&o));
        let o = run(&[cmd, dir.path().join("missing.pem").to_str().unwrap()]);
        assert_eq!(code(&o), 2);
        assert!(stderr(&o).contains("cannot read"));
    }
    let key = dir.path().join("key.pem");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let o = run(&["inspect", key.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("PRIVATE KEY"));
}

#[test]
fn lint_exit_codes_and_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, chain) = setup(dir.path(), "180d");
    let o = run(&["lint", &chain]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains("0 error(s), 0 warning(s), 0 notice(s); threshold error: PASS"));
    // A 30-day leaf: a warning only. Passes at the default threshold, fails at warning.
    let long = dir.path().join("long.pem");
    let o = run(&[
        "issue",
        "--ca",
        &ca,
        "--sii",
        "+15550001111",
        "--validity",
        "30d",
        "--key-out",
        dir.path().join("k2.pem").to_str().unwrap(),
        "--out",
        long.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&["lint", long.to_str().unwrap()]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("w_leaf_validity_over_7d"));
    let o = run(&["lint", "--severity", "warning", long.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let o = run(&[
        "lint",
        "--format",
        "json",
        "--severity",
        "warning",
        long.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = stdout_json(&o);
    assert_eq!(v["passed"], false);
    assert_eq!(v["threshold"], "warning");
    assert_eq!(v["summary"]["warning"], 1);
    assert_eq!(
        v["files"][0]["objects"][0]["findings"][0]["id"],
        "w_leaf_validity_over_7d"
    );
    // Pre-issuance lint: a 100-day leaf is refused (exit 2, nothing written).
    let refused = dir.path().join("refused.pem");
    let o = run(&[
        "issue",
        "--ca",
        &ca,
        "--sii",
        "+15550002222",
        "--validity",
        "100d",
        "--key-out",
        dir.path().join("k3.pem").to_str().unwrap(),
        "--out",
        refused.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("e_leaf_validity_over_90d"),
        "{}",
        stderr(&o)
    );
    assert!(!refused.exists());
}

#[test]
fn lint_list() {
    let o = run(&["lint", "--list"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("e_leaf_sii_count"));
    let o = run(&["lint", "--list", "--format", "json"]);
    let v: serde_json::Value = stdout_json(&o);
    let list = v.as_array().unwrap();
    assert!(list.len() >= 25);
    let first = list[0].as_object().unwrap();
    let mut keys: Vec<&String> = first.keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["applies_to", "citation", "id", "message", "severity"]
    );
    // no files and no --list: usage error
    assert_eq!(code(&run(&["lint"])), 2);
}

#[test]
fn store_list_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, chain) = setup(dir.path(), "90d");
    let o = run(&["store", "list", "--ca", &ca]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.contains("tel:+15551234567"));
    let o = run(&[
        "store",
        "list",
        "--ca",
        &ca,
        "--sii",
        "tel:+1-555-123-4567",
        "--status",
        "valid",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = stdout_json(&o);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["state"], "valid");
    assert_eq!(v[0]["kind"], "leaf");
    let o = run(&[
        "store", "list", "--ca", &ca, "--status", "revoked", "--format", "json",
    ]);
    assert_eq!(stdout_json(&o).as_array().unwrap().len(), 0);
    // Export: the issued leaf's fingerprint matches what inspect shows for the chain.
    let o = run(&["store", "export", "--ca", &ca]);
    assert_eq!(code(&o), 0);
    let export = stdout(&o);
    assert_eq!(export.matches("-----BEGIN CERTIFICATE-----").count(), 3);
    let inspected: serde_json::Value = stdout_json(&run(&["inspect", "--format", "json", &chain]));
    let fp = inspected["files"][0]["certificates"][0]["sha256_fingerprint"]
        .as_str()
        .unwrap();
    assert!(export.contains(&format!("# sha256_fingerprint: {fp}\n")));
    // The export is itself lintable.
    let o = run_stdin(&["lint", "-"], export.as_bytes());
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    // Not a CA directory: exit 2.
    let o = run(&[
        "store",
        "list",
        "--ca",
        dir.path().join("nope").to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no issuance store"), "{}", stderr(&o));
}

/// RSA certificates and an RSA CSR made by OpenSSL: `inspect` names the algorithms and
/// the key size and decodes nameConstraints and authorityInfoAccess; `lint` says first
/// that they are not mapping-v1, then what they lack.
#[test]
fn openssl_rsa_certificates_and_csr() {
    if no_openssl("the RSA inspect/lint cases") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let o = |a: &[&str]| assert!(openssl(a), "openssl {a:?}");
    o(&[
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &p("tls.key"),
        "-subj", "/CN=www.example.com", "-days", "30",
        "-addext", "subjectAltName=DNS:www.example.com",
        "-addext", "extendedKeyUsage=serverAuth",
        "-addext", "authorityInfoAccess=OCSP;URI:http://ocsp.example.com,caIssuers;URI:http://ca.example.com/ca.der",
        "-addext", "nameConstraints=critical,permitted;DNS:example.com,excluded;IP:10.0.0.0/255.0.0.0",
        "-out", &p("tls.pem"),
    ]);
    o(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:3072",
        "-nodes",
        "-keyout",
        &p("pss.key"),
        "-subj",
        "/CN=pss",
        "-days",
        "3",
        "-sigopt",
        "rsa_padding_mode:pss",
        "-out",
        &p("pss.pem"),
    ]);
    o(&[
        "req",
        "-new",
        "-key",
        &p("tls.key"),
        "-subj",
        "/",
        "-addext",
        "subjectAltName=URI:tel:+15551234567",
        "-out",
        &p("rsa.csr"),
    ]);

    let r = run(&["inspect", &p("tls.pem"), &p("pss.pem")]);
    assert_eq!(code(&r), 0, "{}", stderr(&r));
    let text = stdout(&r);
    for needle in [
        "signature                 sha256WithRSAEncryption (1.2.840.113549.1.1.11)\n",
        "public key                rsaEncryption (1.2.840.113549.1.1.1), RSA 2048 bits\n",
        "signature                 RSASSA-PSS (1.2.840.113549.1.1.10)\n",
        "RSA 3072 bits\n",
        "nameConstraints [critical] permitted dNSName: example.com\n",
        "excluded iPAddress: 10.0.0.0/8\n",
        "authorityInfoAccess       ocsp (1.3.6.1.5.5.7.48.1) uniformResourceIdentifier: http://ocsp.example.com\n",
        "caIssuers (1.3.6.1.5.5.7.48.2) uniformResourceIdentifier: http://ca.example.com/ca.der\n",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    assert!(!text.contains("extension  "), "nothing left raw:\n{text}");
    let r = run(&["inspect", "--format", "json", &p("tls.pem")]);
    let v: serde_json::Value = stdout_json(&r);
    let c = &v["files"][0]["certificates"][0];
    assert_eq!(c["public_key"]["bits"], 2048);
    assert_eq!(c["public_key"]["description"], "RSA 2048 bits");
    assert_eq!(c["signature_algorithm"]["name"], "sha256WithRSAEncryption");
    assert_eq!(
        c["name_constraints"]["permitted"][0]["value"],
        "example.com"
    );
    assert_eq!(
        c["authority_info_access"]["descriptions"][0]["value"],
        "http://ocsp.example.com"
    );
    assert_eq!(c["other_extensions"], serde_json::json!([]));

    let r = run(&["lint", &p("tls.pem")]);
    assert_eq!(code(&r), 1);
    let text = stdout(&r);
    let first = text.lines().nth(1).unwrap();
    assert!(first.starts_with("  notice  n_not_mapping_v1: "), "{text}");
    assert!(
        text.contains("TLS server certificate (extKeyUsage serverAuth)"),
        "{text}"
    );
    assert_eq!(text.matches("n_not_mapping_v1").count(), 1, "{text}");
    assert!(text.contains("e_key_not_p256") && text.contains("e_signature_not_ecdsa_sha256"));

    let r = run(&["lint", "--format", "json", &p("rsa.csr")]);
    assert_eq!(code(&r), 1);
    let v: serde_json::Value = stdout_json(&r);
    let obj = &v["files"][0]["objects"][0];
    assert_eq!(obj["kind"], "csr");
    let ids: Vec<&str> = obj["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["e_csr_key_not_p256"]);
}

/// CSRs through the binary: a mapping client's CSR is clean (exit 0), one naming two
/// identifiers fails (exit 1).
#[test]
fn lint_csrs() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let csr = |names: Vec<rcgen::SanType>| {
        let mut p = rcgen::CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.subject_alt_names = names;
        p.serialize_request(&key).unwrap().pem().unwrap()
    };
    let good = dir.path().join("good.csr");
    std::fs::write(
        &good,
        csr(vec![rcgen::SanType::URI(
            "tel:+15551234567".try_into().unwrap(),
        )]),
    )
    .unwrap();
    let two = dir.path().join("two.csr");
    std::fs::write(
        &two,
        csr(vec![
            rcgen::SanType::URI("tel:+15551234567".try_into().unwrap()),
            rcgen::SanType::URI("tel:+15557654321".try_into().unwrap()),
        ]),
    )
    .unwrap();
    let r = run(&["lint", good.to_str().unwrap()]);
    assert_eq!(code(&r), 0, "{}", stdout(&r));
    assert!(stdout(&r).contains("[0] csr\n  clean\n"), "{}", stdout(&r));
    let r = run(&["lint", two.to_str().unwrap()]);
    assert_eq!(code(&r), 1);
    assert!(
        stdout(&r).contains("e_csr_sii_count: ")
            && stdout(&r).contains("subjectAltName holds 2 names"),
        "{}",
        stdout(&r)
    );
}
