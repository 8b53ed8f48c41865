//! Provider CA end to end through the real binary: `ca init` from `ca-config/`, `issue`
//! (tel:, mailto:, CSR, public key), the refusals, `issue-batch` and its idempotency. Every
//! issued certificate is parsed back with x509-parser and checked field by field against
//! profile mapping-v1; OpenSSL path-checks a chain where it is installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ::time::format_description::well_known::Rfc3339;
use ::time::{Duration, OffsetDateTime};
use mimi_attest::{oids, MimiMapping, Scope};
use mimi_attest::{CertKind, CertStatus, IssuanceStore};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::*;

use crate::common::cli::{
    batch_cmd, ca_init, no_openssl, refused, repo, run, stderr, stdout_json, succeeded,
};

struct Ca {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Ca {
    fn new(config: &str) -> Ca {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ca");
        ca_init(config, &dir);
        Ca { _tmp: tmp, dir }
    }
    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
    fn tmp(&self, name: &str) -> String {
        self.dir.parent().unwrap().join(name).display().to_string()
    }
    fn issue(&self, extra: &[&str]) -> Output {
        let mut args = vec!["issue", "--ca", self.dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        run(&args)
    }
    fn leaves(&self, status: CertStatus) -> u64 {
        let store = IssuanceStore::open(&self.dir.join("store.db")).unwrap();
        store
            .all()
            .unwrap()
            .iter()
            .filter(|r| r.kind == CertKind::Leaf && r.status == status)
            .count() as u64
    }
}

fn pems(text: &str) -> Vec<Vec<u8>> {
    ::pem::parse_many(text)
        .unwrap()
        .into_iter()
        .map(|p| {
            assert_eq!(p.tag(), "CERTIFICATE");
            p.into_contents()
        })
        .collect()
}

fn ext<'a>(c: &'a X509Certificate<'_>, oid: &[u8]) -> &'a X509Extension<'a> {
    let found: Vec<_> = c
        .extensions()
        .iter()
        .filter(|e| e.oid.as_bytes() == oid)
        .collect();
    assert_eq!(found.len(), 1, "extension {} once", oids::dotted(oid));
    found[0]
}

const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const EKU: &[u8] = &[0x55, 0x1d, 0x25];
const CP: &[u8] = &[0x55, 0x1d, 0x20];
const SKI: &[u8] = &[0x55, 0x1d, 0x0e];
const AKI: &[u8] = &[0x55, 0x1d, 0x23];
const CRLDP: &[u8] = &[0x55, 0x1d, 0x1f];

fn ski(c: &X509Certificate<'_>) -> Vec<u8> {
    match ext(c, SKI).parsed_extension() {
        ParsedExtension::SubjectKeyIdentifier(k) => k.0.to_vec(),
        other => panic!("SKI: {other:?}"),
    }
}

fn aki(c: &X509Certificate<'_>) -> Vec<u8> {
    match ext(c, AKI).parsed_extension() {
        ParsedExtension::AuthorityKeyIdentifier(k) => k.key_identifier.as_ref().unwrap().0.to_vec(),
        other => panic!("AKI: {other:?}"),
    }
}

fn eku_only_mimi(c: &X509Certificate<'_>) {
    let e = ext(c, EKU);
    assert!(!e.critical);
    match e.parsed_extension() {
        ParsedExtension::ExtendedKeyUsage(k) => {
            assert!(!k.any && !k.server_auth && !k.client_auth && !k.email_protection);
            assert_eq!(k.other.len(), 1);
            assert_eq!(k.other[0].as_bytes(), oids::ID_KP_MIMI_MAPPING.der_value());
        }
        other => panic!("EKU: {other:?}"),
    }
}

fn policies_only_mimi(c: &X509Certificate<'_>) {
    let e = ext(c, CP);
    assert_eq!(e.value, mimi_attest::certificate_policies_der().as_slice());
}

fn serial_is_128_random_bits(c: &X509Certificate<'_>) {
    let raw = c.raw_serial();
    let digits = if raw[0] == 0 { &raw[1..] } else { raw };
    assert_eq!(digits.len(), 16, "serial {}", mimi_attest::hex(raw));
    assert!(c.serial.bits() > 120, "positive, 128-bit serial");
}

/// Every field of an issuing CA and root per docs/spec.md#root and docs/spec.md#issuing-ca.
fn check_ca_pair(ca_dir: &Path, config_scope: &Scope) -> (Vec<u8>, Vec<u8>) {
    let root_der = pems(&std::fs::read_to_string(ca_dir.join("root.pem")).unwrap()).remove(0);
    let ca_der = pems(&std::fs::read_to_string(ca_dir.join("ca.pem")).unwrap()).remove(0);
    let (_, root) = X509Certificate::from_der(&root_der).unwrap();
    let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
    for (c, path_len) in [(&root, 1u32), (&ca, 0)] {
        assert_eq!(c.version(), X509Version::V3);
        assert_eq!(c.signature_algorithm.algorithm.to_id_string(), ECDSA_SHA256);
        serial_is_128_random_bits(c);
        let bc = c.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && bc.value.ca);
        assert_eq!(bc.value.path_len_constraint, Some(path_len));
        let ku = c.key_usage().unwrap().unwrap();
        assert!(ku.critical && ku.value.key_cert_sign() && ku.value.crl_sign());
        assert!(!ku.value.digital_signature());
        eku_only_mimi(c);
        policies_only_mimi(c);
        assert_eq!(
            mimi_attest::ca_scope(c).unwrap().as_ref(),
            Some(config_scope)
        );
        assert!(!ext(c, oids::ID_PE_MIMI_SCOPE.der_value()).critical);
        assert_eq!(ski(c).len(), 20);
    }
    assert!(
        root.extensions().iter().all(|e| e.oid.as_bytes() != AKI),
        "root has no AKI"
    );
    assert_eq!(root.subject(), root.issuer());
    assert_eq!(ca.issuer(), root.subject());
    assert_eq!(aki(&ca), ski(&root));
    ca.verify_signature(Some(root.public_key())).unwrap();
    root.verify_signature(None).unwrap();
    let years = (root.validity().not_after.to_datetime()
        - root.validity().not_before.to_datetime())
    .whole_days();
    assert_eq!(years, 3650);
    (root_der, ca_der)
}

/// Every field of a mapping leaf per docs/spec.md#leaf; returns the decoded mapping.
fn check_leaf(chain_pem: &str, ca_der: &[u8], expected_san: GeneralName<'_>) -> MimiMapping {
    let certs = pems(chain_pem);
    assert_eq!(certs.len(), 2, "chain = leaf, issuing CA");
    assert_eq!(certs[1], ca_der);
    let (rest, leaf) = X509Certificate::from_der(&certs[0]).unwrap();
    assert!(rest.is_empty());
    let (_, ca) = X509Certificate::from_der(ca_der).unwrap();
    assert_eq!(leaf.version(), X509Version::V3);
    assert_eq!(
        leaf.signature_algorithm.algorithm.to_id_string(),
        ECDSA_SHA256
    );
    leaf.verify_signature(Some(ca.public_key())).unwrap();
    serial_is_128_random_bits(&leaf);
    assert_eq!(leaf.subject().iter().count(), 0, "empty subject");
    assert_eq!(leaf.issuer(), ca.subject());
    // SAN: critical, exactly one SII.
    let san = leaf.subject_alternative_name().unwrap().unwrap();
    assert!(san.critical);
    assert_eq!(san.value.general_names, vec![expected_san]);
    // basicConstraints cA=FALSE critical; KU digitalSignature critical; EKU mimi only.
    let bc = leaf.basic_constraints().unwrap().unwrap();
    assert!(bc.critical && !bc.value.ca);
    let ku = leaf.key_usage().unwrap().unwrap();
    assert!(ku.critical);
    assert_eq!(ku.value.flags, 1, "digitalSignature only");
    eku_only_mimi(&leaf);
    policies_only_mimi(&leaf);
    assert_eq!(ski(&leaf).len(), 20);
    assert_eq!(aki(&leaf), ski(&ca));
    // CRL distribution point from the config.
    match ext(&leaf, CRLDP).parsed_extension() {
        ParsedExtension::CRLDistributionPoints(dps) => {
            let s = format!("{dps:?}");
            assert!(s.contains("http://crl.chat-a.example/mapping.crl"), "{s}");
        }
        other => panic!("CRL DP: {other:?}"),
    }
    // No SII anywhere else; only the expected extensions.
    let mut found: Vec<String> = leaf
        .extensions()
        .iter()
        .map(|e| oids::dotted(e.oid.as_bytes()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "2.5.29.14",
            "2.5.29.15",
            "2.5.29.17",
            "2.5.29.19",
            "2.5.29.31",
            "2.5.29.32",
            "2.5.29.35",
            "2.5.29.37",
            "2.999.6464.2.1"
        ]
    );
    let m = ext(&leaf, oids::ID_PE_MIMI_MAPPING.der_value());
    assert!(!m.critical);
    let mapping = MimiMapping::from_der(m.value).unwrap();
    assert_eq!(mimi_attest::leaf_mapping(&leaf).unwrap(), mapping);
    // Validity inside the issuer's.
    assert!(leaf.validity().not_after <= ca.validity().not_after);
    assert!(leaf.validity().not_before >= ca.validity().not_before);
    assert!(mapping.validated_at <= leaf.validity().not_before.to_datetime());
    mapping
}

fn scope_a() -> Scope {
    Scope::new(&["+1", "+44"], &["chat-a.example"]).unwrap()
}

#[test]
fn ca_init_writes_a_complete_ca_directory() {
    let ca = Ca::new("ca-config/chat-a.yaml");
    check_ca_pair(&ca.dir, &scope_a());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for key in ["root.key", "ca.key"] {
            let mode = std::fs::metadata(ca.dir.join(key))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
    }
    let store = IssuanceStore::open(&ca.dir.join("store.db")).unwrap();
    let rows = store.all().unwrap();
    assert_eq!(
        rows.iter().map(|r| r.kind).collect::<Vec<_>>(),
        [CertKind::Root, CertKind::Ca]
    );
    assert_eq!(rows[1].issuer_serial.as_ref(), Some(&rows[0].serial));
    // The copied config is the operator's file, comments and all.
    assert_eq!(
        std::fs::read_to_string(ca.dir.join("config.yaml")).unwrap(),
        std::fs::read_to_string(repo("ca-config/chat-a.yaml")).unwrap()
    );
}

#[test]
fn ca_init_never_overwrites() {
    let ca = Ca::new("ca-config/chat-a.yaml");
    let before = std::fs::read(ca.dir.join("ca.key")).unwrap();
    let o = run(&[
        "ca",
        "init",
        "--insecure-no-password",
        "--config",
        &repo("ca-config/chat-b.yaml"),
        "--dir",
        ca.dir.to_str().unwrap(),
    ]);
    refused(&o, "already exists");
    assert_eq!(std::fs::read(ca.dir.join("ca.key")).unwrap(), before);
    // A bad config leaves nothing behind.
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "provider: x.example\norganization: X\nscope: {tel: [\"+1\"]}\nextra: 1\n",
    )
    .unwrap();
    let target = tmp.path().join("new-ca");
    let o = run(&[
        "ca",
        "init",
        "--insecure-no-password",
        "--config",
        bad.to_str().unwrap(),
        "--dir",
        target.to_str().unwrap(),
    ]);
    refused(&o, "extra");
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "only bad.yaml remains"
    );
}

#[test]
fn tel_leaf_has_every_profile_field() {
    let ca = Ca::new("ca-config/chat-a.yaml");
    let (_, ca_der) = check_ca_pair(&ca.dir, &scope_a());
    let validated = (OffsetDateTime::now_utc() - Duration::hours(2))
        .replace_nanosecond(0)
        .unwrap();
    let o = succeeded(ca.issue(&[
        "--sii",
        "+1 (555) 123-4567",
        "--handle",
        "mimi://chat-a.example/u/alice",
        "--method",
        "voice-otp",
        "--validated-at",
        &validated.format(&Rfc3339).unwrap(),
        "--preferred",
        "--key-out",
        &ca.tmp("alice.key"),
    ]));
    let chain = String::from_utf8(o.stdout).unwrap();
    let m = check_leaf(&chain, &ca_der, GeneralName::URI("tel:+15551234567"));
    assert_eq!(m.provider, "chat-a.example");
    assert_eq!(m.handle.as_deref(), Some("mimi://chat-a.example/u/alice"));
    assert_eq!(m.method, mimi_attest::Method::VoiceOtp);
    assert_eq!(m.validated_at, validated);
    assert!(m.flags.preferred && !m.flags.new_holder);
    assert_eq!(m.consent, None);
    // 7 days by default; the generated key is the certified one and is private.
    let leaf_der = pems(&chain).remove(0);
    let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
    assert_eq!(
        (leaf.validity().not_after.to_datetime() - leaf.validity().not_before.to_datetime())
            .whole_days(),
        7
    );
    let key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(ca.tmp("alice.key")).unwrap()).unwrap();
    assert_eq!(
        leaf.public_key().subject_public_key.data.as_ref(),
        key.public_key_raw()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ca.tmp("alice.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The store has it, issued, with the same DER.
    let store = IssuanceStore::open(&ca.dir.join("store.db")).unwrap();
    let row = store
        .get(&mimi_attest::Serial::from_contents(leaf.raw_serial()))
        .unwrap()
        .unwrap();
    assert_eq!(row.status, CertStatus::Issued);
    assert_eq!(row.der.as_deref(), Some(leaf_der.as_slice()));
    assert_eq!(
        row.sii.as_ref().map(|s| s.canonical()).as_deref(),
        Some("tel:+15551234567")
    );
    assert_eq!(row.handle.as_deref(), Some("mimi://chat-a.example/u/alice"));
}

#[test]
fn mailto_leaf_from_a_public_key() {
    let ca = Ca::new("ca-config/chat-a.yaml");
    let (_, ca_der) = check_ca_pair(&ca.dir, &scope_a());
    let key = rcgen::KeyPair::generate().unwrap();
    std::fs::write(ca.tmp("pub.pem"), key.public_key_pem()).unwrap();
    let out = ca.tmp("chain.pem");
    succeeded(ca.issue(&[
        "--sii",
        "mailto:Alice@Chat-A.example",
        "--public-key",
        &ca.tmp("pub.pem"),
        "--validity",
        "2d",
        "--out",
        &out,
    ]));
    let chain = std::fs::read_to_string(&out).unwrap();
    let m = check_leaf(
        &chain,
        &ca_der,
        GeneralName::RFC822Name("alice@chat-a.example"),
    );
    assert_eq!(m.method, mimi_attest::Method::EmailOtp, "default for email");
    assert!(!m.flags.preferred);
    let leaf_der = pems(&chain).remove(0);
    let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
    assert_eq!(
        leaf.public_key().subject_public_key.data.as_ref(),
        key.public_key_raw()
    );
    assert_eq!(
        (leaf.validity().not_after.to_datetime() - leaf.validity().not_before.to_datetime())
            .whole_days(),
        2
    );
}

fn csr_for(san_uri: &str, key: &rcgen::KeyPair) -> Vec<u8> {
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.subject_alt_names = vec![rcgen::SanType::URI(san_uri.try_into().unwrap())];
    params.serialize_request(key).unwrap().der().to_vec()
}

#[test]
fn csr_leaf_binds_consent_and_refuses_mismatch_and_tampering() {
    let ca = Ca::new("ca-config/chat-a.yaml");
    let (_, ca_der) = check_ca_pair(&ca.dir, &scope_a());
    let key = rcgen::KeyPair::generate().unwrap();
    let csr = csr_for("tel:+447700900123", &key);
    let csr_pem = ::pem::encode(&::pem::Pem::new("CERTIFICATE REQUEST", csr.clone()));
    std::fs::write(ca.tmp("req.csr"), &csr_pem).unwrap();
    let o = succeeded(ca.issue(&["--sii", "+44 7700 900123", "--csr", &ca.tmp("req.csr")]));
    let m = check_leaf(
        &String::from_utf8(o.stdout).unwrap(),
        &ca_der,
        GeneralName::URI("tel:+447700900123"),
    );
    assert_eq!(m.consent, Some(mimi_attest::sha256(&csr)));

    // The CSR names another number than --sii.
    let o = ca.issue(&["--sii", "+447700900999", "--csr", &ca.tmp("req.csr")]);
    refused(&o, "the CSR asks for tel:+447700900123");
    // A CSR altered after signing (one byte of the public key flipped... in the SAN).
    let mut bad = csr.clone();
    let pos = bad.windows(3).position(|w| w == b"123").unwrap();
    bad[pos] = b'9';
    std::fs::write(ca.tmp("bad.csr"), &bad).unwrap();
    let o = ca.issue(&["--sii", "+447700900923", "--csr", &ca.tmp("bad.csr")]);
    refused(&o, "signature does not verify");
    // A certificate given where a CSR belongs.
    let o = ca.issue(&["--sii", "+447700900123", "--csr", &ca.path("ca.pem")]);
    refused(&o, "CERTIFICATE");
    assert_eq!(
        ca.leaves(CertStatus::Issued),
        1,
        "only the good CSR was issued"
    );
}

#[test]
fn refusals_say_what_to_change_and_issue_nothing() {
    let ca = Ca::new("ca-config/chat-a.yaml");
    let future = (OffsetDateTime::now_utc() + Duration::hours(1))
        .format(&Rfc3339)
        .unwrap();
    let key_out = ca.tmp("k.pem");
    for (args, needle) in [
        (vec!["--sii", "+33612345678"], "outside this CA's scope"),
        (
            vec!["--sii", "bob@chat-b.example"],
            "outside this CA's scope",
        ),
        (
            vec!["--sii", "+15551234567", "--validity", "91d"],
            "maximum leaf validity 90d",
        ),
        (
            vec!["--sii", "+15551234567", "--validated-at", future.as_str()],
            "in the future",
        ),
        (vec!["--sii", "5551234567"], "country code"),
        (
            vec!["--sii", "+1555"],
            "have 10 digits after the country code",
        ),
        (vec!["--sii", "+999 123 4567"], "no country code in use"),
        (vec!["--sii", "0044 7700 900123"], "e.g. +447700900123"),
        (vec!["--sii", "011 44 7700 900123"], "e.g. +447700900123"),
        (
            vec!["--sii", "+15551234567", "--method", "carrier-pigeon"],
            "sms-otp",
        ),
        (
            vec!["--sii", "+15551234567", "--validity", "7 days"],
            "duration",
        ),
        (
            vec!["--sii", "+15551234567", "--validity", "1001y"],
            "the longest accepted is 1000y",
        ),
    ] {
        let mut a = args.clone();
        a.extend_from_slice(&["--key-out", &key_out]);
        let o = ca.issue(&a);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = stderr(&o);
        assert!(e.contains(needle), "{args:?}: {e}");
        assert!(!e.contains("panicked") && !e.contains("backtrace"), "{e}");
        assert!(!Path::new(&key_out).exists(), "no key left behind");
    }
    // No key source at all.
    let o = ca.issue(&["--sii", "+15551234567"]);
    refused(&o, "--csr");
    // Not a CA directory.
    let o = run(&[
        "issue",
        "--ca",
        &ca.tmp("nowhere"),
        "--sii",
        "+15551234567",
        "--key-out",
        &key_out,
    ]);
    refused(&o, "ca init");
    assert_eq!(ca.leaves(CertStatus::Issued), 0);
    assert_eq!(ca.leaves(CertStatus::Reserved), 0);
}

/// mapping-v1 handle rule: a handle is a URI on the provider's own domain (or a subdomain),
/// through `issue` and `issue-batch` alike.
#[test]
fn handles_on_other_domains_or_not_uris_are_refused() {
    let ca = Ca::new("ca-config/chat-a.yaml");
    let key_out = ca.tmp("k.pem");
    for (handle, needle) in [
        ("mimi://chat-b.example/u/x", "may name only its own users"),
        ("xmpp:x@chat-b.example", "\"chat-b.example\""),
        ("alice", "not an absolute URI"),
        ("urn:alice", "names no domain"),
    ] {
        let o = ca.issue(&[
            "--sii",
            "+15551234567",
            "--handle",
            handle,
            "--key-out",
            &key_out,
        ]);
        assert_eq!(o.status.code(), Some(2), "{handle}");
        let e = stderr(&o);
        assert!(
            e.contains(needle) && e.contains("chat-a.example"),
            "{handle}: {e}"
        );
        assert!(!Path::new(&key_out).exists(), "no key left behind");
    }
    assert_eq!(ca.leaves(CertStatus::Issued), 0);
    assert_eq!(ca.leaves(CertStatus::Reserved), 0);
    for handle in [
        "xmpp:alice@chat-a.example",
        "https://eu.chat-a.example/@alice",
    ] {
        succeeded(ca.issue(&[
            "--sii",
            "+15551234567",
            "--handle",
            handle,
            "--key-out",
            &ca.tmp(handle.replace([':', '/', '@'], "_").as_str()),
        ]));
    }
    let input = ca.tmp("handles.jsonl");
    let lines = [
        serde_json::json!({"id": "b", "sii": "+15550000001", "handle": "mimi://chat-b.example/u/x"}).to_string(),
        serde_json::json!({"id": "n", "sii": "+15550000002", "handle": "x"}).to_string(),
        serde_json::json!({"id": "a", "sii": "+15550000003", "handle": "mimi://chat-a.example/u/a"}).to_string(),
    ];
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let output = ca.tmp("handles.out.jsonl");
    assert_eq!(batch(&ca, &input, &output).status.code(), Some(1));
    let out = read_jsonl(&output);
    assert!(
        out[0]["error"]
            .as_str()
            .unwrap()
            .contains("may name only its own users"),
        "{}",
        out[0]
    );
    assert!(
        out[1]["error"]
            .as_str()
            .unwrap()
            .contains("not an absolute URI"),
        "{}",
        out[1]
    );
    assert!(out[2]["serial"].is_string(), "{}", out[2]);
    assert_eq!(ca.leaves(CertStatus::Issued), 3);
}

/// `resolve` on chains issued by the real commands: the previous holder's attestations (one
/// `--preferred`) are superseded by the new holder's `--new-holder` one on another provider.
#[test]
fn resolve_ranks_real_chains_and_supersedes_the_previous_holder() {
    let a = Ca::new("ca-config/chat-a.yaml");
    let b = Ca::new("ca-config/chat-b.yaml");
    let ago = |d: Duration| (OffsetDateTime::now_utc() - d).format(&Rfc3339).unwrap();
    let issue = |ca: &Ca, name: &str, handle: &str, age: Duration, flags: &[&str]| {
        let out = a.tmp(&format!("{name}.pem"));
        let mut args = vec![
            "--sii".to_string(),
            "+1 555 123 4567".into(),
            "--handle".into(),
            handle.into(),
            "--validated-at".into(),
            ago(age),
            "--key-out".into(),
            a.tmp(&format!("{name}.key")),
            "--out".into(),
            out.clone(),
        ];
        args.extend(flags.iter().map(|f| f.to_string()));
        succeeded(ca.issue(&args.iter().map(String::as_str).collect::<Vec<_>>()));
        out
    };
    let old_a = issue(
        &a,
        "old-a",
        "mimi://chat-a.example/u/old",
        Duration::days(10),
        &["--preferred"],
    );
    let old_b = issue(
        &b,
        "old-b",
        "mimi://chat-b.example/u/old",
        Duration::days(5),
        &[],
    );
    let new_b = issue(
        &b,
        "new-b",
        "mimi://chat-b.example/u/new",
        Duration::hours(2),
        &["--new-holder"],
    );
    let trust_list = a.tmp("trust-list.yaml");
    std::fs::write(
        &trust_list,
        format!(
            "version: 1\nanchors:\n  - name: chat-a\n    provider: chat-a.example\n    certificate: {}\n    scope: {{tel: [\"+1\"]}}\n  - name: chat-b\n    provider: chat-b.example\n    certificate: {}\n    scope: {{tel: [\"+1\"]}}\n",
            a.path("root.pem"),
            b.path("root.pem")
        ),
    )
    .unwrap();
    let resolve = |extra: &[&str], chains: &[&str]| {
        let mut args = vec!["resolve", "--trust-list", &trust_list];
        args.extend_from_slice(extra);
        args.extend_from_slice(chains);
        run(&args)
    };

    // Before the new holder: the preferred attestation ranks first.
    let o = succeeded(resolve(&["--sii", "tel:+15551234567"], &[&old_b, &old_a]));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.starts_with("tel:+15551234567: resolved to 2 attestation(s)"),
        "{text}"
    );
    assert!(
        text.contains("  1. chat-a.example as mimi://chat-a.example/u/old"),
        "{text}"
    );

    // After it: the new holder's attestation alone is current.
    let o = succeeded(resolve(&["--format", "json"], &[&old_a, &new_b, &old_b]));
    let v: serde_json::Value = stdout_json(&o);
    assert_eq!(v["sii"], "tel:+15551234567");
    assert_eq!(v["resolved"], true);
    let mappings = v["mappings"].as_array().unwrap();
    assert_eq!(mappings.len(), 1, "{v}");
    assert_eq!(mappings[0]["file"], new_b.as_str());
    assert_eq!(mappings[0]["rank"], 1);
    assert_eq!(mappings[0]["new_holder"], true);
    assert_eq!(mappings[0]["handle"], "mimi://chat-b.example/u/new");
    let superseded: Vec<&str> = v["superseded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["file"].as_str().unwrap())
        .collect();
    assert_eq!(superseded, [old_a.as_str(), old_b.as_str()]);
    let conflicts = v["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{v}");
    assert_eq!(conflicts[0]["kind"], "reassigned");
    assert_eq!(conflicts[0]["file"], new_b.as_str());
    assert_eq!(conflicts[0]["provider"], "chat-b.example");
    assert_eq!(
        conflicts[0]["superseded"],
        serde_json::json!([old_a, old_b])
    );
    assert!(v["rejected"].as_array().unwrap().is_empty());
    // A file that is not a chain is rejected in its place; the others keep their files.
    let garbage = a.tmp("not-a-chain.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let o = succeeded(resolve(
        &["--sii", "tel:+15551234567", "--format", "json"],
        &[&old_a, &garbage, &new_b, &old_b],
    ));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["mappings"][0]["file"], new_b.as_str());
    assert_eq!(v["superseded"][1]["file"], old_b.as_str());
    assert_eq!(v["rejected"][0]["file"], garbage.as_str());
    assert_eq!(v["rejected"][0]["code"], "E_MALFORMED");
    assert_eq!(v["conflicts"][0]["file"], new_b.as_str());
    assert_eq!(
        v["conflicts"][0]["superseded"],
        serde_json::json!([old_a, old_b])
    );
    let o = succeeded(resolve(&[], &[&old_a, &new_b, &old_b]));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("  1. chat-b.example as mimi://chat-b.example/u/new"),
        "{text}"
    );
    assert!(text.contains("new holder"), "{text}");
    assert!(text.contains("superseded"), "{text}");
    assert!(text.contains("conflict: reassigned"), "{text}");

    // Nothing valid for the SII asked for: exit 1, each chain rejected with its code.
    let o = resolve(
        &["--sii", "+15550000000", "--format", "json"],
        &[&old_a, &new_b],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = stdout_json(&o);
    assert_eq!(v["resolved"], false);
    assert_eq!(v["rejected"][0]["code"], "E_SII_MISMATCH");
    // Expired by --at: exit 1 too.
    let later = (OffsetDateTime::now_utc() + Duration::days(60))
        .format(&Rfc3339)
        .unwrap();
    let o = resolve(&["--at", &later], &[&old_a]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no valid attestation"));

    // Could not run: exit 2 with a message.
    for (extra, chains, needle) in [
        (
            vec!["--sii", "5551234567"],
            vec![old_a.as_str()],
            "country code",
        ),
        (vec![], vec!["/nonexistent/chain.pem"], "cannot read"),
        (vec!["--at", "yesterday"], vec![old_a.as_str()], "RFC 3339"),
    ] {
        let o = resolve(&extra, &chains);
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
    }
    let o = run(&["resolve", "--trust-list", &a.tmp("none.yaml"), &old_a]);
    refused(&o, "trust list");
}

/// The numbering-plan check through `issue-batch`, and `numbers: valid` in the CA config.
#[test]
fn numbering_plan_checks_in_batches_and_numbers_valid() {
    let ca = Ca::new("ca-config/chat-a.yaml");
    let input = ca.tmp("numbers.jsonl");
    let lines = [
        serde_json::json!({"id": "short", "sii": "+1555"}).to_string(),
        serde_json::json!({"id": "fiction", "sii": "+1 555 555 0100"}).to_string(),
        serde_json::json!({"id": "uk", "sii": "+44 7700 900123"}).to_string(),
        serde_json::json!({"id": "exit", "sii": "0044 7700 900123"}).to_string(),
    ];
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let output = ca.tmp("numbers.out.jsonl");
    assert_eq!(batch(&ca, &input, &output).status.code(), Some(1));
    let out = read_jsonl(&output);
    assert!(
        out[0]["error"].as_str().unwrap().contains("this one has 3"),
        "{}",
        out[0]
    );
    assert!(out[1]["serial"].is_string(), "{}", out[1]);
    assert!(out[2]["serial"].is_string(), "{}", out[2]);
    assert!(
        out[3]["error"].as_str().unwrap().contains("+447700900123"),
        "{}",
        out[3]
    );

    // numbers: valid also refuses the fictional 555 exchange, but not a real range.
    let cfg = ca.tmp("valid.yaml");
    let text = std::fs::read_to_string(repo("ca-config/chat-a.yaml")).unwrap();
    std::fs::write(&cfg, format!("{text}\nnumbers: valid\n")).unwrap();
    let strict = Ca::new(&cfg);
    let o = strict.issue(&[
        "--sii",
        "+1 555 555 0100",
        "--key-out",
        &strict.tmp("a.key"),
    ]);
    refused(&o, "numbers: valid");
    succeeded(strict.issue(&[
        "--sii",
        "+44 20 7946 0958",
        "--key-out",
        &strict.tmp("b.key"),
    ]));
    // An unknown value is refused with the accepted ones.
    std::fs::write(&cfg, format!("{text}\nnumbers: strict\n")).unwrap();
    let o = run(&[
        "ca",
        "init",
        "--insecure-no-password",
        "--config",
        &cfg,
        "--dir",
        &ca.tmp("x"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("possible") && stderr(&o).contains("valid"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn request_ids_are_idempotent() {
    let ca = Ca::new("ca-config/chat-a.yaml");
    let key = rcgen::KeyPair::generate().unwrap();
    std::fs::write(ca.tmp("pub.pem"), key.public_key_pem()).unwrap();
    let args = [
        "--sii",
        "+15551230000",
        "--public-key",
        &ca.tmp("pub.pem"),
        "--request-id",
        "r-1",
    ];
    let first = succeeded(ca.issue(&args)).stdout;
    let second = succeeded(ca.issue(&args));
    assert_eq!(first, second.stdout, "same certificate again");
    assert!(stderr(&second).contains("already issued"));
    let o = ca.issue(&[
        "--sii",
        "+15551239999",
        "--public-key",
        &ca.tmp("pub.pem"),
        "--request-id",
        "r-1",
    ]);
    refused(&o, "already used for a different request");
    assert_eq!(ca.leaves(CertStatus::Issued), 1);
}

#[test]
fn openssl_path_checks_our_chain_and_refuses_tls_use() {
    if no_openssl("the path check") {
        return;
    }
    let ca = Ca::new("ca-config/chat-a.yaml");
    let out = ca.tmp("chain.pem");
    succeeded(ca.issue(&[
        "--sii",
        "+15551234567",
        "--key-out",
        &ca.tmp("k.pem"),
        "--out",
        &out,
    ]));
    let chain = std::fs::read_to_string(&out).unwrap();
    let leaf = ::pem::encode(&::pem::Pem::new("CERTIFICATE", pems(&chain).remove(0)));
    std::fs::write(ca.tmp("leaf.pem"), leaf).unwrap();
    let (root_pem, ca_pem, leaf_pem) = (ca.path("root.pem"), ca.path("ca.pem"), ca.tmp("leaf.pem"));
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "-CAfile", &root_pem, "-untrusted", &ca_pem];
        args.extend_from_slice(extra);
        args.push(&leaf_pem);
        Command::new("openssl").args(&args).output().unwrap()
    };
    let o = verify(&[]);
    assert!(
        o.status.success(),
        "openssl verify: {}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("OK"));
    let o = verify(&["-purpose", "sslserver"]);
    assert!(
        !o.status.success(),
        "a mapping chain must not pass as a TLS server chain"
    );
    let o = verify(&["-purpose", "smimesign"]);
    assert!(!o.status.success(), "nor as S/MIME");
}

fn batch(ca: &Ca, input: &str, output: &str) -> Output {
    batch_cmd(&ca.dir, Path::new(input), Path::new(output))
        .output()
        .unwrap()
}

fn read_jsonl(path: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn batch_reports_bad_lines_in_place_and_keeps_going() {
    let ca = Ca::new("ca-config/chat-a.yaml");
    let key = rcgen::KeyPair::generate().unwrap();
    let csr = csr_for("tel:+15550001111", &key);
    let csr_pem = ::pem::encode(&::pem::Pem::new("CERTIFICATE REQUEST", csr));
    let lines = [
        serde_json::json!({"id": "a", "sii": "+15550000001", "handle": "mimi://chat-a.example/u/a", "preferred": true}).to_string(),
        "this is not json".to_string(),
        serde_json::json!({"id": "c", "sii": "+33612345678"}).to_string(),
        String::new(),
        serde_json::json!({"id": "e", "sii": "+15550001111", "csr": csr_pem, "method": "sms-otp"}).to_string(),
        serde_json::json!({"sii": "+15550000002"}).to_string(),
        serde_json::json!({"id": "g", "sii": "x@chat-a.example", "public_key": key.public_key_pem(), "validity": "1d"}).to_string(),
        serde_json::json!({"id": "a", "sii": "+15550000001"}).to_string(),
        serde_json::json!({"id": "i", "sii": "+15550000003", "colour": "red"}).to_string(),
    ];
    let input = ca.tmp("in.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let output = ca.tmp("out.jsonl");
    let o = batch(&ca, &input, &output);
    assert_eq!(
        o.status.code(),
        Some(1),
        "some lines failed: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("8 requests: 3 issued, 0 already issued, 5 failed"),
        "{}",
        stderr(&o)
    );
    let out = read_jsonl(&output);
    let line_nos: Vec<u64> = out.iter().map(|v| v["line"].as_u64().unwrap()).collect();
    assert_eq!(
        line_nos,
        [1, 2, 3, 5, 6, 7, 8, 9],
        "input order, blank line skipped"
    );
    assert!(out[0]["serial"].as_str().unwrap().len() == 32);
    assert!(out[0]["private_key_pem"]
        .as_str()
        .unwrap()
        .contains("PRIVATE KEY"));
    assert!(
        out[0]["chain_pem"]
            .as_str()
            .unwrap()
            .matches("BEGIN CERTIFICATE")
            .count()
            == 2
    );
    assert_eq!(out[0]["sii"], "tel:+15550000001");
    assert!(out[1]["error"]
        .as_str()
        .unwrap()
        .contains("not a valid request"));
    assert!(out[2]["error"]
        .as_str()
        .unwrap()
        .contains("outside this CA's scope"));
    assert_eq!(out[2]["id"], "c");
    assert!(out[3]["serial"].is_string() && out[3].get("private_key_pem").is_none());
    assert!(out[4]["error"].as_str().unwrap().contains("missing \"id\""));
    assert!(out[5]["serial"].is_string());
    assert!(out[6]["error"]
        .as_str()
        .unwrap()
        .contains("appears twice in this batch"));
    assert!(out[7]["error"].as_str().unwrap().contains("colour"));
    assert_eq!(ca.leaves(CertStatus::Issued), 3);
}

/// 10,000 requests, then the same input again: nothing is issued twice, every serial and
/// certificate comes back identical, the store holds exactly 10,000 leaves.
#[test]
fn batch_of_ten_thousand_is_idempotent() {
    let ca = Ca::new("ca-config/chat-a.yaml");
    let input = ca.tmp("in.jsonl");
    let mut text = String::new();
    for i in 0..10_000 {
        text.push_str(&format!(
            "{{\"id\":\"req-{i}\",\"sii\":\"+1555{i:07}\",\"handle\":\"mimi://chat-a.example/u/{i}\"}}\n"
        ));
    }
    std::fs::write(&input, text).unwrap();
    let (out1, out2) = (ca.tmp("out1.jsonl"), ca.tmp("out2.jsonl"));
    let o = succeeded(batch(&ca, &input, &out1));
    assert!(
        stderr(&o).contains("10000 requests: 10000 issued, 0 already issued, 0 failed"),
        "{}",
        stderr(&o)
    );
    let o = succeeded(batch(&ca, &input, &out2));
    assert!(
        stderr(&o).contains("10000 requests: 0 issued, 10000 already issued, 0 failed"),
        "{}",
        stderr(&o)
    );
    let (a, b) = (read_jsonl(&out1), read_jsonl(&out2));
    assert_eq!(a.len(), 10_000);
    let mut serials = std::collections::HashSet::new();
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x["line"], i as u64 + 1);
        assert_eq!(x["id"], format!("req-{i}"));
        assert_eq!(x["serial"], y["serial"]);
        assert_eq!(x["chain_pem"], y["chain_pem"]);
        assert_eq!(y["replayed"], true);
        assert!(
            serials.insert(x["serial"].as_str().unwrap().to_owned()),
            "serial unique"
        );
    }
    assert_eq!(ca.leaves(CertStatus::Issued), 10_000);
    assert_eq!(ca.leaves(CertStatus::Reserved), 0);
}
