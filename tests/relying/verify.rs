//! Positive verification: tel and mailto leaves, CSR-based leaves, one SII on both example
//! providers, clock skew, time travel, trust-list errors, and OpenSSL agreeing.

use crate::common;
use crate::common::cli::no_openssl;

use std::process::Command;

use common::*;
use mimi_attest::Conflict;
use mimi_attest::ScopeRule;
use mimi_attest::{
    chain_from_pem, Code, IssueRequest, MappingFlags, ProviderCa, ProviderDomain, Sii, SubjectKey,
    TrustList, TrustListError, Verifier, VerifyOptions,
};
use rcgen::{CertificateParams, DistinguishedName, KeyPair, SanType, PKCS_ECDSA_P256_SHA256};
use time::{Duration, OffsetDateTime};

const CHAT_A: &str = include_str!("../../ca-config/chat-a.yaml");
const CHAT_B: &str = include_str!("../../ca-config/chat-b.yaml");

struct Providers {
    dir: tempfile::TempDir,
    a: ProviderCa,
    b: ProviderCa,
    now: OffsetDateTime,
}

impl Providers {
    fn new() -> Providers {
        let dir = tempfile::tempdir().unwrap();
        let now = now();
        let a = ProviderCa::init(CHAT_A, "chat-a.yaml", &dir.path().join("a"), now).unwrap();
        let b = ProviderCa::init(CHAT_B, "chat-b.yaml", &dir.path().join("b"), now).unwrap();
        std::fs::write(dir.path().join("chat-a-root.pem"), a.root_pem()).unwrap();
        std::fs::write(dir.path().join("chat-b-root.pem"), b.root_pem()).unwrap();
        let yaml = format!(
            "version: 1\nanchors:\n{}{}",
            a.config()
                .trust_list_anchor_yaml("chat-a", "chat-a-root.pem"),
            b.config()
                .trust_list_anchor_yaml("chat-b", "chat-b-root.pem")
        );
        std::fs::write(dir.path().join("trust-list.yaml"), yaml).unwrap();
        Providers { dir, a, b, now }
    }

    fn verifier(&self) -> Verifier {
        Verifier::new(TrustList::from_file(&self.dir.path().join("trust-list.yaml")).unwrap())
    }
}

fn sii(s: &str) -> Sii {
    Sii::parse(s).unwrap()
}

#[test]
fn tel_leaf_verifies() {
    let mut p = Providers::new();
    let mut req = IssueRequest::new(sii("+1 (555) 123-4567"));
    req.handle = Some("mimi://chat-a.example/u/alice".into());
    let issued = p.a.issue(&req, p.now).unwrap();
    let m = p
        .verifier()
        .verify(&chain_from_pem(issued.chain_pem.as_bytes()).unwrap(), p.now)
        .unwrap();
    assert_eq!(m.sii.canonical(), "tel:+15551234567");
    assert_eq!(m.provider, "chat-a.example");
    assert_eq!(m.handle.as_deref(), Some("mimi://chat-a.example/u/alice"));
    assert_eq!(m.anchor, "chat-a");
    assert_eq!(m.not_after - m.not_before, Duration::days(7));
    assert_eq!(m.chain_sha256_hex().len(), 64);
    // --expect-sii in another spelling
    p.verifier()
        .verify_with(
            &chain_from_pem(issued.chain_pem.as_bytes()).unwrap(),
            &VerifyOptions::at(p.now).expect_sii(&sii("tel:+1-555-123-4567")),
        )
        .result
        .unwrap();
}

#[test]
fn mailto_leaf_verifies() {
    let mut p = Providers::new();
    let issued =
        p.b.issue(&IssueRequest::new(sii("Dora@EU.Chat-B.example")), p.now)
            .unwrap();
    let m = p
        .verifier()
        .verify(&chain_from_pem(issued.chain_pem.as_bytes()).unwrap(), p.now)
        .unwrap();
    assert_eq!(m.sii.canonical(), "mailto:dora@eu.chat-b.example");
    assert_eq!(m.provider, "chat-b.example");
    assert_eq!(m.anchor, "chat-b");
}

#[test]
fn csr_based_leaf_verifies() {
    let mut p = Providers::new();
    let user_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.subject_alt_names = vec![SanType::URI("tel:+447700900123".try_into().unwrap())];
    let csr = params.serialize_request(&user_key).unwrap();
    let mut req = IssueRequest::new(sii("+44 7700 900123"));
    req.key = SubjectKey::Csr(csr.der().to_vec());
    let issued = p.a.issue(&req, p.now).unwrap();
    let chain = chain_from_pem(issued.chain_pem.as_bytes()).unwrap();
    let m = p.verifier().verify(&chain, p.now).unwrap();
    assert_eq!(m.sii.canonical(), "tel:+447700900123");
    // the leaf carries the user's key
    let (_, leaf) = <x509_parser::certificate::X509Certificate as x509_parser::prelude::FromDer<
        _,
    >>::from_der(&chain[0])
    .unwrap();
    assert_eq!(
        leaf.public_key().subject_public_key.data.as_ref(),
        user_key.public_key_raw()
    );
}

/// The verified result binds the user's key: serial, SPKI and consent hash come with it, so
/// a platform does not parse the leaf again.
#[test]
fn verified_mapping_carries_serial_key_and_consent() {
    let mut p = Providers::new();
    let user_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.subject_alt_names = vec![SanType::URI("tel:+447700900123".try_into().unwrap())];
    let csr = params.serialize_request(&user_key).unwrap().der().to_vec();
    let mut req = IssueRequest::new(sii("+44 7700 900123"));
    req.key = SubjectKey::Csr(csr.clone());
    let issued = p.a.issue(&req, p.now).unwrap();
    let chain = chain_from_pem(issued.chain_pem.as_bytes()).unwrap();
    let m = p.verifier().verify(&chain, p.now).unwrap();
    let (_, leaf) = <x509_parser::certificate::X509Certificate as x509_parser::prelude::FromDer<
        _,
    >>::from_der(&chain[0])
    .unwrap();
    // The INTEGER's contents without the zero octet DER puts before a high bit.
    let raw = leaf.raw_serial();
    assert_eq!(m.serial.as_bytes(), raw.strip_prefix(&[0]).unwrap_or(raw));
    assert_eq!(m.serial.to_string(), mimi_attest::hex(m.serial.as_bytes()));
    assert_eq!(m.subject_public_key_info, leaf.public_key().raw);
    assert_eq!(
        m.subject_public_key_info,
        rcgen::PublicKeyData::subject_public_key_info(&user_key)
    );
    assert_eq!(m.consent, Some(mimi_attest::sha256(&csr)));

    // A leaf from a generated key has no consent hash; a second verification (the issuing
    // CA now cached) gives the same result.
    let issued =
        p.a.issue(&IssueRequest::new(sii("+15550000002")), p.now)
            .unwrap();
    let chain = chain_from_pem(issued.chain_pem.as_bytes()).unwrap();
    let v = p.verifier();
    let m = v.verify(&chain, p.now).unwrap();
    assert_eq!(m.consent, None);
    assert_eq!(m.subject_public_key_info.len(), 91, "a P-256 SPKI");
    assert_eq!(v.verify(&chain, p.now).unwrap(), m);
}

#[test]
fn chain_including_root_verifies() {
    let mut p = Providers::new();
    let issued =
        p.a.issue(&IssueRequest::new(sii("+15550000001")), p.now)
            .unwrap();
    let with_root = format!("{}{}", issued.chain_pem, p.a.root_pem());
    p.verifier()
        .verify(&chain_from_pem(with_root.as_bytes()).unwrap(), p.now)
        .unwrap();
}

#[test]
fn one_sii_on_both_providers_resolves() {
    let mut p = Providers::new();
    let alice = sii("+15551234567");
    let mut on_a = IssueRequest::new(alice.clone());
    on_a.handle = Some("mimi://chat-a.example/u/alice".into());
    on_a.validated_at = Some(p.now - Duration::days(3));
    let mut on_b = IssueRequest::new(alice.clone());
    on_b.handle = Some("mimi://chat-b.example/u/alice".into());
    on_b.flags = MappingFlags::default().with_preferred(true);
    on_b.validated_at = Some(p.now - Duration::days(5));
    let mut on_a_newer = on_a.clone();
    on_a_newer.validated_at = Some(p.now - Duration::hours(1));
    let chains: Vec<_> = [
        p.a.issue(&on_a, p.now).unwrap(),
        p.b.issue(&on_b, p.now).unwrap(),
        p.a.issue(&on_a_newer, p.now).unwrap(),
        p.a.issue(&IssueRequest::new(sii("+15559999999")), p.now)
            .unwrap(),
    ]
    .iter()
    .map(|i| chain_from_pem(i.chain_pem.as_bytes()).unwrap())
    .collect();
    let r = p.verifier().resolve(&alice, &chains, p.now);
    let order: Vec<usize> = r.mappings.iter().map(|m| m.index).collect();
    assert_eq!(order, [1, 2, 0], "preferred first, then newest validatedAt");
    assert_eq!(r.best().unwrap().provider, "chat-b.example");
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].index, 3);
    assert_eq!(r.rejected[0].error.code(), Code::SiiMismatch);
    assert!(r.conflicts.is_empty(), "{:?}", r.conflicts);
}

#[test]
fn resolver_reports_conflicts() {
    let mut p = Providers::new();
    let alice = sii("+15551234567");
    let preferred = MappingFlags::default().with_preferred(true);
    let mut a1 = IssueRequest::new(alice.clone());
    a1.handle = Some("mimi://chat-a.example/u/alice".into());
    a1.flags = preferred;
    let mut a2 = IssueRequest::new(alice.clone());
    a2.handle = Some("mimi://chat-a.example/u/not-alice".into());
    let mut b1 = IssueRequest::new(alice.clone());
    b1.flags = preferred;
    let chains: Vec<_> = [
        p.a.issue(&a1, p.now).unwrap(),
        p.a.issue(&a2, p.now).unwrap(),
        p.b.issue(&b1, p.now).unwrap(),
    ]
    .iter()
    .map(|i| chain_from_pem(i.chain_pem.as_bytes()).unwrap())
    .collect();
    let r = p.verifier().resolve(&alice, &chains, p.now);
    assert_eq!(r.mappings.len(), 3);
    assert!(r.conflicts.iter().any(|c| matches!(
        c,
        Conflict::SeveralPreferred { providers } if providers.len() == 2
    )));
    assert!(r.conflicts.iter().any(|c| matches!(
        c,
        Conflict::HandleMismatch { provider, handles } if provider == "chat-a.example" && handles.len() == 2
    )));
}

#[test]
fn clock_skew_is_allowed_and_bounded() {
    // A leaf whose notBefore is 3 minutes ahead of our clock: inside the 5m skew.
    let mut s = Spec::good();
    s.leaf.not_before = s.now + Duration::minutes(3);
    s.set_mapping(&mapping("chat-a.example", s.now + Duration::minutes(3)));
    let b = s.build();
    b.verifier().verify(&b.chain, s.now).unwrap();
    // 10 minutes ahead: outside it.
    let mut s = Spec::good();
    s.leaf.not_before = s.now + Duration::minutes(10);
    s.set_mapping(&mapping("chat-a.example", s.now));
    let b = s.build();
    let e = b.verifier().verify(&b.chain, s.now).unwrap_err();
    assert_eq!(e.code(), Code::NotYetValid);
    // A leaf that expired 3 minutes ago: inside the skew; with a 1m skew: expired.
    let mut s = Spec::good();
    s.leaf.not_after = s.now - Duration::minutes(3);
    let b = s.build();
    b.verifier().verify(&b.chain, s.now).unwrap();
    let mut s2 = Spec::good();
    s2.leaf.not_after = s2.now - Duration::minutes(3);
    s2.policy_yaml = "policy:\n  clock_skew: 1m\n".into();
    let b = s2.build();
    assert_eq!(
        b.verifier().verify(&b.chain, s2.now).unwrap_err().code(),
        Code::Expired
    );
}

#[test]
fn time_travel_with_at() {
    let mut p = Providers::new();
    let issued =
        p.a.issue(&IssueRequest::new(sii("+15551234567")), p.now)
            .unwrap();
    let v = p.verifier();
    let pem = &chain_from_pem(issued.chain_pem.as_bytes()).unwrap();
    v.verify(pem, p.now + Duration::days(6)).unwrap();
    assert_eq!(
        v.verify(pem, p.now + Duration::days(8)).unwrap_err().code(),
        Code::Expired
    );
    assert_eq!(
        v.verify(pem, p.now - Duration::days(1)).unwrap_err().code(),
        Code::NotYetValid
    );
}

#[test]
fn trust_list_errors_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let e = TrustList::from_yaml("version: 1\nanchors: []\ncolour: red\n", dir.path()).unwrap_err();
    match &e {
        TrustListError::Invalid { line, message, .. } => {
            assert_eq!(*line, Some(3), "{e}");
            assert!(message.contains("colour"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let bad_span = "version: 1\nanchors:\n  - name: a\n    provider: chat-a.example\n    certificate: r.pem\n    scope: {tel: [\"+1\"]}\npolicy:\n  clock_skew: soon\n";
    let e = TrustList::from_yaml(bad_span, dir.path()).unwrap_err();
    assert!(e.to_string().contains("soon"), "{e}");
    assert!(
        matches!(e, TrustListError::Invalid { line: Some(8), .. }),
        "{e}"
    );
    let missing = "version: 1\nanchors:\n  - name: a\n    provider: chat-a.example\n    certificate: nowhere.pem\n    scope: {tel: [\"+1\"]}\n";
    let e = TrustList::from_yaml(missing, dir.path()).unwrap_err();
    assert!(e.to_string().contains("nowhere.pem"), "{e}");
    assert!(
        matches!(e, TrustListError::Invalid { line: Some(5), .. }),
        "{e}"
    );
    let bad_scope = "version: 1\nanchors:\n  - name: a\n    provider: chat-a.example\n    certificate: r.pem\n    scope: {tel: [\"1\"]}\n";
    assert!(TrustList::from_yaml(bad_scope, dir.path()).is_err());
    let v2 = "version: 2\nanchors: []\n";
    assert!(TrustList::from_yaml(v2, dir.path())
        .unwrap_err()
        .to_string()
        .contains("version 2"));
}

#[test]
fn trust_list_policy_and_scope_rule() {
    let s = Spec::good();
    let b = s.build();
    let yaml = format!(
        "{}policy:\n  clock_skew: 1m\n  max_leaf_validity: 10d\n  max_validation_age: 1d\n  scope_rule: strict\n",
        s.trust_list_yaml("root.pem")
    );
    let tl = TrustList::from_yaml(&yaml, b.dir()).unwrap();
    assert_eq!(tl.policy().clock_skew.to_string(), "1m");
    assert_eq!(tl.policy().max_leaf_validity.to_string(), "10d");
    assert_eq!(tl.policy().max_validation_age.to_string(), "1d");
    assert_eq!(tl.policy().scope_rule, ScopeRule::Strict);
    assert_eq!(tl.anchors()[0].name(), "test");
    Verifier::new(tl).verify(&b.chain, s.now).unwrap();
}

#[test]
fn narrowing_trust_list_accepts_inside_its_scope() {
    // The platform accepts chat-a only for +1; the root claims +1 and +44. This is the
    // default scope rule.
    let mut s = Spec::good();
    s.anchor_scope = scope(&["+1"], &[]);
    let b = s.build();
    b.verifier().verify(&b.chain, s.now).unwrap();
}

/// OpenSSL path-checks our positive chains too (without -purpose): the only differences
/// between us and a generic verifier are the mapping checks we add.
#[test]
fn openssl_accepts_positive_chains() {
    if no_openssl("the path check") {
        return;
    }
    let mut p = Providers::new();
    let dir = p.dir.path().to_owned();
    let user_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.subject_alt_names = vec![SanType::URI("tel:+15550001111".try_into().unwrap())];
    let mut csr_req = IssueRequest::new(sii("+15550001111"));
    csr_req.key = SubjectKey::Csr(params.serialize_request(&user_key).unwrap().der().to_vec());
    let cases = [
        (
            "a",
            p.a.issue(&IssueRequest::new(sii("+15551234567")), p.now)
                .unwrap(),
            p.a.root_pem().to_owned(),
            p.a.ca_pem().to_owned(),
        ),
        (
            "b",
            p.b.issue(&IssueRequest::new(sii("carol@chat-b.example")), p.now)
                .unwrap(),
            p.b.root_pem().to_owned(),
            p.b.ca_pem().to_owned(),
        ),
        (
            "c",
            p.a.issue(&csr_req, p.now).unwrap(),
            p.a.root_pem().to_owned(),
            p.a.ca_pem().to_owned(),
        ),
    ];
    for (name, issued, root, ca) in cases {
        p.verifier()
            .verify(&chain_from_pem(issued.chain_pem.as_bytes()).unwrap(), p.now)
            .unwrap();
        let leaf =
            &issued.chain_pem[..issued.chain_pem.find("-----END CERTIFICATE-----").unwrap() + 26];
        let (rp, cp, lp) = (
            dir.join(format!("{name}-root.pem")),
            dir.join(format!("{name}-ca.pem")),
            dir.join(format!("{name}-leaf.pem")),
        );
        std::fs::write(&rp, root).unwrap();
        std::fs::write(&cp, ca).unwrap();
        std::fs::write(&lp, leaf).unwrap();
        let out = Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(&rp)
            .arg("-untrusted")
            .arg(&cp)
            .arg(&lp)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl rejected {name}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A recycled number: the previous holder's attestations (one of them preferred) are
/// superseded by the new holder's `newHolder` attestation on any provider, never ranked first,
/// and the resolution says so; the new holder's own later attestations stay current.
#[test]
fn new_holder_supersedes_every_earlier_attestation() {
    let mut p = Providers::new();
    let num = sii("+15551234567");
    let req = |handle: &str, age: Duration, preferred: bool, new_holder: bool| {
        let mut r = IssueRequest::new(num.clone());
        r.handle = Some(handle.into());
        r.validated_at = Some(p.now - age);
        r.flags = MappingFlags::default()
            .with_preferred(preferred)
            .with_new_holder(new_holder);
        r
    };
    let old_a = req(
        "mimi://chat-a.example/u/old",
        Duration::days(10),
        true,
        false,
    );
    let old_b = req(
        "mimi://chat-b.example/u/old",
        Duration::days(5),
        false,
        false,
    );
    let new_b = req(
        "mimi://chat-b.example/u/new",
        Duration::hours(2),
        false,
        true,
    );
    let new_a = req(
        "mimi://chat-a.example/u/new",
        Duration::hours(1),
        false,
        false,
    );
    let same_time = req(
        "mimi://chat-a.example/u/new",
        Duration::hours(2),
        false,
        false,
    );
    let chains: Vec<_> = [
        p.a.issue(&old_a, p.now).unwrap(),
        p.b.issue(&old_b, p.now).unwrap(),
        p.b.issue(&new_b, p.now).unwrap(),
        p.a.issue(&new_a, p.now).unwrap(),
        p.a.issue(&same_time, p.now).unwrap(),
    ]
    .iter()
    .map(|i| chain_from_pem(i.chain_pem.as_bytes()).unwrap())
    .collect();
    let r = p.verifier().resolve(&num, &chains, p.now);
    let current: Vec<usize> = r.mappings.iter().map(|m| m.index).collect();
    assert_eq!(current.len(), 3);
    assert_eq!(
        current[0], 3,
        "newest first; the old preferred one is not ranked"
    );
    assert!(
        current.contains(&2) && current.contains(&4),
        "equal validatedAt is not earlier"
    );
    let superseded: Vec<usize> = r.superseded.iter().map(|m| m.index).collect();
    assert_eq!(
        superseded,
        [0, 1],
        "preferred first among the superseded too"
    );
    assert_eq!(
        r.conflicts,
        [Conflict::Reassigned {
            index: 2,
            provider: ProviderDomain::parse("chat-b.example").unwrap(),
            validated_at: p.now - Duration::hours(2),
            superseded: vec![0, 1],
        }],
        "the previous holder's preference and handles are no conflict"
    );
    assert!(r.conflicts[0].to_string().contains("superseding 2 earlier"));

    // Only the previous holder's preferred attestation and the new holder's: the new one wins.
    let r = p.verifier().resolve(&num, &chains[..3], p.now);
    assert_eq!(
        r.best().unwrap().handle.as_deref(),
        Some("mimi://chat-b.example/u/new")
    );
    assert_eq!(r.mappings.len(), 1);
    // Without a newHolder attestation the old order stands: preferred first.
    let r = p
        .verifier()
        .resolve(&num, &[&chains[0], &chains[3]].map(|c| c.clone()), p.now);
    assert_eq!(
        r.best().unwrap().handle.as_deref(),
        Some("mimi://chat-a.example/u/old")
    );
    assert!(r.superseded.is_empty());
    assert!(!r
        .conflicts
        .iter()
        .any(|c| matches!(c, Conflict::Reassigned { .. })));
}

/// Conflicts serialize with their kind as the command's `resolve --format json` names it.
#[test]
fn conflicts_serialize_with_their_kind() {
    let v = serde_json::to_value(Conflict::SeveralPreferred {
        providers: vec![
            ProviderDomain::parse("chat-a.example").unwrap(),
            ProviderDomain::parse("chat-b.example").unwrap(),
        ],
    })
    .unwrap();
    assert_eq!(
        v,
        serde_json::json!({"kind": "several-preferred", "providers": ["chat-a.example", "chat-b.example"]})
    );
    let v = serde_json::to_value(Conflict::HandleMismatch {
        provider: ProviderDomain::parse("chat-a.example").unwrap(),
        handles: vec![Some("mimi://chat-a.example/u/a".into()), None],
    })
    .unwrap();
    assert_eq!(
        v,
        serde_json::json!({"kind": "handle-mismatch", "provider": "chat-a.example", "handles": ["mimi://chat-a.example/u/a", null]})
    );
    let v = serde_json::to_value(Conflict::Reassigned {
        index: 2,
        provider: ProviderDomain::parse("chat-b.example").unwrap(),
        validated_at: time::macros::datetime!(2026-01-05 10:00 UTC),
        superseded: vec![0, 1],
    })
    .unwrap();
    assert_eq!(
        v,
        serde_json::json!({"kind": "reassigned", "index": 2, "provider": "chat-b.example", "validated_at": "2026-01-05T10:00:00Z", "superseded": [0, 1]})
    );
}
