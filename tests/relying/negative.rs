//! Hostile chains built directly with rcgen (bypassing the issuer's guards); each must be
//! rejected with its exact code and depth.

use crate::common;

use common::*;
use mimi_attest::oids;
use mimi_attest::{chain_from_pem, Code, Sii, VerifyError, VerifyOptions};
use rcgen::{
    BasicConstraints, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyUsagePurpose, SanType,
};
use rustls_pki_types::CertificateDer;
use time::Duration;

#[track_caller]
fn rejected(spec: &Spec) -> VerifyError {
    let b = spec.build();
    b.verifier().verify(&b.chain, spec.now).unwrap_err()
}

#[track_caller]
fn assert_code(e: &VerifyError, code: Code, depth: usize) {
    assert_eq!((e.code(), e.depth()), (code, depth), "{e}");
    assert!(!e.message().is_empty());
}

#[test]
fn control_the_good_chain_verifies() {
    let spec = Spec::good();
    let b = spec.build();
    b.verifier().verify(&b.chain, spec.now).unwrap();
}

#[test]
fn expired_leaf() {
    let mut s = Spec::good();
    s.leaf.not_before = s.now - Duration::days(10);
    s.leaf.not_after = s.now - Duration::days(1);
    s.set_mapping(&mapping("chat-a.example", s.now - Duration::days(10)));
    assert_code(&rejected(&s), Code::Expired, 0);
}

#[test]
fn expired_issuing_ca() {
    let mut s = Spec::good();
    s.ca.not_after = s.now - Duration::hours(1);
    assert_code(&rejected(&s), Code::Expired, 1);
}

#[test]
fn not_yet_valid_leaf() {
    let mut s = Spec::good();
    s.leaf.not_before = s.now + Duration::hours(1);
    assert_code(&rejected(&s), Code::NotYetValid, 0);
}

#[test]
fn leaf_with_server_auth_eku_only() {
    let mut s = Spec::good();
    s.leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    assert_code(&rejected(&s), Code::Eku, 0);
}

#[test]
fn leaf_without_eku() {
    let mut s = Spec::good();
    s.leaf.extended_key_usages = vec![];
    assert_code(&rejected(&s), Code::Eku, 0);
}

#[test]
fn leaf_with_mimi_and_server_auth_eku() {
    let mut s = Spec::good();
    s.leaf.extended_key_usages = vec![mimi_eku(), ExtendedKeyUsagePurpose::ServerAuth];
    assert_code(&rejected(&s), Code::Eku, 0);
}

#[test]
fn ca_with_wrong_eku() {
    let mut s = Spec::good();
    s.ca.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    assert_code(&rejected(&s), Code::Eku, 1);
}

#[test]
fn ca_without_eku() {
    let mut s = Spec::good();
    s.ca.extended_key_usages = vec![];
    assert_code(&rejected(&s), Code::Eku, 1);
}

#[test]
fn root_without_eku() {
    let mut s = Spec::good();
    s.root.extended_key_usages = vec![];
    assert_code(&rejected(&s), Code::Eku, 2);
}

#[test]
fn ca_without_ca_true() {
    let mut s = Spec::good();
    s.ca.is_ca = IsCa::ExplicitNoCa;
    assert_code(&rejected(&s), Code::NotCa, 1);
}

#[test]
fn leaf_with_ca_true() {
    let mut s = Spec::good();
    s.leaf.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    s.leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    assert_code(&rejected(&s), Code::NotCa, 0);
}

#[test]
fn path_len_of_intermediate_exceeded() {
    // root (pathLen 2) → ca1 (pathLen 0) → ca2 → leaf: ca1 may not have a CA below it.
    let s = Spec::good();
    let sc = scope(&["+1", "+44"], &["chat-a.example"]);
    let mut root_p = ca_params("Root", 2, Some(&sc), s.now);
    root_p.use_authority_key_identifier_extension = false;
    let ca1_p = ca_params("CA 1", 0, Some(&sc), s.now);
    let ca2_p = ca_params("CA 2", 0, Some(&sc), s.now);
    let (rk, k1, k2, lk) = (key(), key(), key(), key());
    let root = root_p.self_signed(&rk).unwrap();
    let ca1 = ca1_p
        .signed_by(&k1, &Issuer::from_params(&root_p, &rk))
        .unwrap();
    let ca2 = ca2_p
        .signed_by(&k2, &Issuer::from_params(&ca1_p, &k1))
        .unwrap();
    let leaf = s
        .leaf
        .signed_by(&lk, &Issuer::from_params(&ca2_p, &k2))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("root.pem"), root.pem()).unwrap();
    let tl = mimi_attest::TrustList::from_yaml(&s.trust_list_yaml("root.pem"), dir.path()).unwrap();
    let chain = vec![leaf.der().clone(), ca2.der().clone(), ca1.der().clone()];
    let e = mimi_attest::Verifier::new(tl)
        .verify(&chain, s.now)
        .unwrap_err();
    assert_code(&e, Code::PathLen, 2);
}

#[test]
fn path_len_of_root_exceeded() {
    // webpki does not check the anchor's own pathLen: root (pathLen 0) → ca → leaf.
    let mut s = Spec::good();
    s.root.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    assert_code(&rejected(&s), Code::PathLen, 2);
}

#[test]
fn leaf_signed_by_key_not_in_trust_list() {
    let s = Spec::good();
    let b = s.build();
    // Another provider's PKI, unknown to the trust list.
    let mut other = Spec::good();
    other.root.distinguished_name = {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "Mallory Root");
        dn
    };
    other.ca.distinguished_name = {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "Mallory CA");
        dn
    };
    let o = other.build();
    let e = b.verifier().verify(&o.chain, s.now).unwrap_err();
    assert_code(&e, Code::UnknownIssuer, 1);
}

#[test]
fn leaf_alone_without_its_ca() {
    let s = Spec::good();
    let b = s.build();
    let e = b.verifier().verify(&b.chain[..1], s.now).unwrap_err();
    assert_code(&e, Code::UnknownIssuer, 0);
}

#[test]
fn issuing_ca_from_look_alike_root() {
    // Same root name as the trusted one, different key.
    let s = Spec::good();
    let b = s.build();
    let fake = s.build();
    let e = b.verifier().verify(&fake.chain, s.now).unwrap_err();
    assert_code(&e, Code::BadSignature, 1);
}

#[test]
fn tampered_leaf_signature() {
    let s = Spec::good();
    let b = s.build();
    let mut leaf = b.chain[0].as_ref().to_vec();
    let n = leaf.len();
    leaf[n - 3] ^= 0x55;
    let chain = vec![CertificateDer::from(leaf), b.chain[1].clone()];
    let e = b.verifier().verify(&chain, s.now).unwrap_err();
    assert_code(&e, Code::BadSignature, 0);
}

#[test]
fn tampered_leaf_content() {
    let s = Spec::good();
    let b = s.build();
    let mut leaf = b.chain[0].as_ref().to_vec();
    let at = leaf.windows(5).position(|w| w == b"alice").unwrap();
    leaf[at] = b'm';
    let chain = vec![CertificateDer::from(leaf), b.chain[1].clone()];
    let e = b.verifier().verify(&chain, s.now).unwrap_err();
    assert_code(&e, Code::BadSignature, 0);
}

#[test]
fn sii_outside_anchor_scope() {
    // The platform narrows chat-a to +44; the +1 number is outside.
    let mut s = Spec::good();
    s.anchor_scope = scope(&["+44"], &[]);
    s.policy_yaml = "policy:\n  scope_rule: trust-list-narrows\n".into();
    assert_code(&rejected(&s), Code::OutOfScope, 2);
}

#[test]
fn root_scope_wider_than_trust_list_under_strict_rule() {
    let mut s = Spec::good();
    s.anchor_scope = scope(&["+1"], &["chat-a.example"]);
    s.policy_yaml = "policy:\n  scope_rule: strict\n".into();
    assert_code(&rejected(&s), Code::ScopeWidened, 2);
}

#[test]
fn sii_outside_ca_mimi_scope() {
    let mut s = Spec::good();
    s.ca = ca_params("Narrow CA", 0, Some(&scope(&["+1212"], &[])), s.now);
    assert_code(&rejected(&s), Code::OutOfScope, 1);
}

#[test]
fn sii_outside_root_mimi_scope() {
    let mut s = Spec::good();
    s.anchor_scope = scope(&["+1", "+44"], &["chat-a.example"]);
    let narrow = scope(&["+44"], &["chat-a.example"]);
    s.root = ca_params("Test Root", 1, Some(&narrow), s.now);
    s.ca = ca_params("Test Issuing CA", 0, Some(&narrow), s.now);
    assert_code(&rejected(&s), Code::OutOfScope, 2);
}

#[test]
fn ca_scope_wider_than_roots() {
    let mut s = Spec::good();
    s.ca = ca_params(
        "Wide CA",
        0,
        Some(&scope(&["+"], &["chat-a.example"])),
        s.now,
    );
    assert_code(&rejected(&s), Code::ScopeWidened, 1);
}

#[test]
fn provider_naming_another_provider() {
    let mut s = Spec::good();
    s.set_mapping(&mapping("chat-b.example", s.now - Duration::hours(1)));
    assert_code(&rejected(&s), Code::ProviderMismatch, 0);
}

/// "Served by chat-a.example as mimi://chat-b.example/u/x": the provider is right, but the
/// handle names another provider's user (or is no URI at all).
#[test]
fn handle_on_another_providers_domain_or_not_a_uri() {
    for (handle, says) in [
        ("mimi://chat-b.example/u/x", "chat-b.example"),
        ("xmpp:x@chat-b.example", "chat-b.example"),
        ("mimi://chat-a.example.evil/u/x", "chat-a.example.evil"),
        ("alice", "not an absolute URI"),
    ] {
        let mut s = Spec::good();
        let mut m = mapping("chat-a.example", s.now - Duration::hours(1));
        m.handle = Some(handle.into());
        s.set_mapping(&m);
        let e = rejected(&s);
        assert_code(&e, Code::ProviderMismatch, 0);
        assert!(e.message().contains(says), "{handle}: {e}");
    }
    // A subdomain of the provider is its own.
    let mut s = Spec::good();
    let mut m = mapping("chat-a.example", s.now - Duration::hours(1));
    m.handle = Some("https://eu.chat-a.example/@alice".into());
    s.set_mapping(&m);
    let b = s.build();
    b.verifier().verify(&b.chain, s.now).unwrap();
}

#[test]
fn two_siis_in_one_leaf() {
    let mut s = Spec::good();
    s.leaf.subject_alt_names = vec![
        tel_san("tel:+15551234567"),
        email_san("alice@chat-a.example"),
    ];
    assert_code(&rejected(&s), Code::SiiCount, 0);
}

#[test]
fn leaf_without_san() {
    let mut s = Spec::good();
    s.leaf.subject_alt_names = vec![];
    assert_code(&rejected(&s), Code::SiiCount, 0);
}

#[test]
fn sii_in_subject_too() {
    let mut s = Spec::good();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "+15551234567");
    s.leaf.distinguished_name = dn;
    assert_code(&rejected(&s), Code::SiiCount, 0);
}

#[test]
fn non_canonical_sii() {
    let mut s = Spec::good();
    s.leaf.subject_alt_names = vec![tel_san("tel:+1-555-123-4567")];
    assert_code(&rejected(&s), Code::BadSii, 0);
}

#[test]
fn upper_case_email_sii() {
    let mut s = Spec::good();
    s.leaf.subject_alt_names = vec![email_san("Alice@chat-a.example")];
    assert_code(&rejected(&s), Code::BadSii, 0);
}

#[test]
fn dns_name_instead_of_sii() {
    let mut s = Spec::good();
    s.leaf.subject_alt_names = vec![SanType::DnsName("chat-a.example".try_into().unwrap())];
    assert_code(&rejected(&s), Code::BadSii, 0);
}

#[test]
fn missing_mapping_extension() {
    let mut s = Spec::good();
    s.leaf
        .custom_extensions
        .retain(|e| e.oid_components().collect::<Vec<_>>() != oids::ID_PE_MIMI_MAPPING.arcs());
    assert_code(&rejected(&s), Code::MappingMissing, 0);
}

#[test]
fn malformed_mapping_extension() {
    let mut s = Spec::good();
    s.leaf
        .custom_extensions
        .retain(|e| e.oid_components().collect::<Vec<_>>() != oids::ID_PE_MIMI_MAPPING.arcs());
    s.leaf
        .custom_extensions
        .push(CustomExtension::from_oid_content(
            oids::ID_PE_MIMI_MAPPING.arcs(),
            vec![0x30, 0x03, 0x02, 0x01],
        ));
    assert_code(&rejected(&s), Code::Malformed, 0);
}

#[test]
fn mapping_extension_of_version_2() {
    let mut s = Spec::good();
    let mut der = mapping("chat-a.example", s.now - Duration::hours(1))
        .to_der()
        .unwrap();
    der[4] = 2; // SEQUENCE(2 bytes) INTEGER(2 bytes) -> version value
    s.leaf
        .custom_extensions
        .retain(|e| e.oid_components().collect::<Vec<_>>() != oids::ID_PE_MIMI_MAPPING.arcs());
    s.leaf
        .custom_extensions
        .push(CustomExtension::from_oid_content(
            oids::ID_PE_MIMI_MAPPING.arcs(),
            der,
        ));
    assert_code(&rejected(&s), Code::Malformed, 0);
}

fn critical_ext() -> CustomExtension {
    let mut e = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 1], vec![0x05, 0x00]);
    e.set_criticality(true);
    e
}

#[test]
fn unknown_critical_extension_on_leaf() {
    let mut s = Spec::good();
    s.leaf.custom_extensions.push(critical_ext());
    assert_code(&rejected(&s), Code::UnknownCriticalExtension, 0);
}

#[test]
fn unknown_critical_extension_on_ca() {
    let mut s = Spec::good();
    s.ca.custom_extensions.push(critical_ext());
    assert_code(&rejected(&s), Code::UnknownCriticalExtension, 1);
}

#[test]
fn stale_validated_at() {
    let mut s = Spec::good();
    s.set_mapping(&mapping("chat-a.example", s.now - Duration::days(31)));
    assert_code(&rejected(&s), Code::StaleValidation, 0);
}

#[test]
fn validated_at_after_not_before() {
    let mut s = Spec::good();
    // notBefore is now - 1h; validated 30 minutes later (beyond the 5m skew).
    s.set_mapping(&mapping("chat-a.example", s.now - Duration::minutes(30)));
    assert_code(&rejected(&s), Code::StaleValidation, 0);
}

#[test]
fn validity_longer_than_policy() {
    let mut s = Spec::good();
    s.leaf.not_after = s.now + Duration::days(100);
    assert_code(&rejected(&s), Code::ValidityTooLong, 0);
}

#[test]
fn validity_longer_than_stricter_policy() {
    let mut s = Spec::good();
    s.policy_yaml = "policy:\n  max_leaf_validity: 3d\n".into();
    assert_code(&rejected(&s), Code::ValidityTooLong, 0);
}

#[test]
fn expect_sii_mismatch() {
    let s = Spec::good();
    let b = s.build();
    let other = Sii::parse("+1 555 000 0000").unwrap();
    let e = b
        .verifier()
        .verify_with(&b.chain, &VerifyOptions::at(s.now).expect_sii(&other))
        .result
        .unwrap_err();
    assert_code(&e, Code::SiiMismatch, 0);
}

#[test]
fn truncated_der() {
    let s = Spec::good();
    let b = s.build();
    let leaf = &b.chain[0].as_ref()[..b.chain[0].as_ref().len() - 10];
    let chain = vec![CertificateDer::from(leaf.to_vec()), b.chain[1].clone()];
    let e = b.verifier().verify(&chain, s.now).unwrap_err();
    assert_code(&e, Code::Malformed, 0);
}

#[test]
fn trailing_bytes_after_der() {
    let s = Spec::good();
    let b = s.build();
    let mut ca = b.chain[1].as_ref().to_vec();
    ca.extend_from_slice(&[0, 0]);
    let chain = vec![b.chain[0].clone(), CertificateDer::from(ca)];
    let e = b.verifier().verify(&chain, s.now).unwrap_err();
    assert_code(&e, Code::Malformed, 1);
}

#[test]
fn nine_certificate_chain() {
    let s = Spec::good();
    let b = s.build();
    let mut chain = b.chain.clone();
    while chain.len() < 9 {
        chain.push(b.chain[1].clone());
    }
    let e = b.verifier().verify(&chain, s.now).unwrap_err();
    assert_code(&e, Code::Malformed, 8);
}

#[test]
fn oversized_certificate() {
    let mut s = Spec::good();
    s.leaf
        .custom_extensions
        .push(CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 99999, 2],
            {
                let mut v = vec![0x04, 0x82, 0x40, 0x00];
                v.extend(std::iter::repeat_n(0u8, 0x4000));
                v
            },
        ));
    assert_code(&rejected(&s), Code::Malformed, 0);
}

#[test]
fn empty_chain() {
    let s = Spec::good();
    let b = s.build();
    let e = b.verifier().verify(&[], s.now).unwrap_err();
    assert_code(&e, Code::Malformed, 0);
}

#[test]
fn not_a_chain_at_all() {
    let s = Spec::good();
    let b = s.build();
    let e = chain_from_pem(b"hello, I am not a certificate\n")
        .and_then(|c| b.verifier().verify(&c, s.now))
        .unwrap_err();
    assert_code(&e, Code::Malformed, 0);
    let e = chain_from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        .and_then(|c| b.verifier().verify(&c, s.now))
        .unwrap_err();
    assert_code(&e, Code::Malformed, 0);
}

#[test]
fn leaf_key_usage_key_cert_sign() {
    let mut s = Spec::good();
    s.leaf.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    assert_code(&rejected(&s), Code::KeyUsage, 0);
}

#[test]
fn leaf_without_key_usage() {
    let mut s = Spec::good();
    s.leaf.key_usages = vec![];
    assert_code(&rejected(&s), Code::KeyUsage, 0);
}

#[test]
fn ca_without_key_cert_sign() {
    let mut s = Spec::good();
    s.ca.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    assert_code(&rejected(&s), Code::KeyUsage, 1);
}

#[test]
fn expired_root_in_trust_list() {
    let mut s = Spec::good();
    s.root.not_before = s.now - Duration::days(30);
    s.root.not_after = s.now - Duration::days(2);
    s.ca.not_before = s.now - Duration::days(3);
    assert_code(&rejected(&s), Code::Expired, 2);
}

// ---------------------------------------------------------------------------------------
// Limbo-style cases: certificates rcgen cannot make, built by taking a genuinely signed
// certificate apart (common::Tbs) and signing the changed one with the issuer's real key.

/// The good chain with its leaf changed by `edit` and signed again by the issuing CA.
fn with_leaf(edit: impl FnOnce(&mut Tbs)) -> (Spec, Built) {
    let s = Spec::good();
    let mut b = s.build();
    let mut tbs = Tbs::of(&b.chain[0]);
    edit(&mut tbs);
    b.chain[0] = tbs.sign(&b.ca_key);
    (s, b)
}

/// The lint's error findings for one certificate (DER), by id.
fn lint_errors(der: &[u8]) -> Vec<&'static str> {
    let (_, findings) = mimi_attest::lint_certificate(der, None).unwrap();
    findings
        .iter()
        .filter(|f| f.severity == mimi_attest::Severity::Error)
        .map(|f| f.id)
        .collect()
}

const SKI: [u8; 3] = [0x55, 0x1d, 0x0e];
const KU: [u8; 3] = [0x55, 0x1d, 0x0f];
const POLICIES: [u8; 3] = [0x55, 0x1d, 0x20];
const AKI: [u8; 3] = [0x55, 0x1d, 0x23];

#[test]
fn control_a_leaf_taken_apart_and_signed_again_verifies() {
    let (s, b) = with_leaf(|_| {});
    b.verifier().verify(&b.chain, s.now).unwrap();
    assert_eq!(lint_errors(&b.chain[0]), Vec::<&str>::new());
}

#[test]
fn leaf_with_a_key_other_than_p256() {
    for name in [
        "dsa-2048", "p192", "rsa-1024", "rsa-2052", "p384", "ed25519",
    ] {
        let (s, b) = with_leaf(|t| t.set_spki(&weak_spki(name)));
        let e = b.verifier().verify(&b.chain, s.now).unwrap_err();
        assert_code(&e, Code::KeyAlgorithm, 0);
        assert!(e.message().contains("P-256"), "{name}: {e}");
        assert_eq!(e.code().as_str(), "E_KEY_ALGORITHM");
        assert!(
            lint_errors(&b.chain[0]).contains(&"e_key_not_p256"),
            "{name}"
        );
    }
    let (s, b) = with_leaf(|t| t.set_spki(&weak_spki("rsa-2052")));
    let e = b.verifier().verify(&b.chain, s.now).unwrap_err();
    assert!(e.message().contains("RSA-2052"), "{e}");
}

#[test]
fn leaf_with_a_p256_key_that_is_not_a_point() {
    let (s, b) = with_leaf(|t| {
        let mut spki = t.fields[6].clone();
        let n = spki.len();
        spki[n - 1] ^= 0x01; // off the curve
        t.set_spki(&spki);
    });
    assert_code(
        &b.verifier().verify(&b.chain, s.now).unwrap_err(),
        Code::KeyAlgorithm,
        0,
    );
    assert!(lint_errors(&b.chain[0]).contains(&"e_key_not_p256"));
}

#[test]
fn issuing_ca_with_a_key_other_than_p256() {
    // The CA's key is RSA: its signature on the leaf cannot be checked with the profile's
    // one algorithm; the code says what is wrong (the key), not "bad signature".
    let s = Spec::good();
    let mut b = s.build();
    let mut ca = Tbs::of(&b.chain[1]);
    ca.set_spki(&weak_spki("rsa-1024"));
    b.chain[1] = ca.sign(&b.root_key);
    let e = b.verifier().verify(&b.chain, s.now).unwrap_err();
    assert_code(&e, Code::KeyAlgorithm, 1);
}

/// `value` with one byte appended, and with its outer length written in the long form.
fn damaged(value: &[u8]) -> [Vec<u8>; 2] {
    let mut trailing = value.to_vec();
    trailing.push(0x00);
    let mut long = vec![value[0], 0x81];
    long.extend_from_slice(&value[1..]);
    assert!(value[1] < 0x80);
    [trailing, long]
}

#[test]
fn non_der_inside_key_usage_ski_aki_policies() {
    for (name, oid) in [
        ("keyUsage", KU),
        ("subjectKeyIdentifier", SKI),
        ("authorityKeyIdentifier", AKI),
        ("certificatePolicies", POLICIES),
    ] {
        let original = Tbs::of(&Spec::good().build().chain[0]);
        let value = original
            .extensions
            .iter()
            .find(|e| e.oid == oid)
            .unwrap()
            .value
            .clone();
        for (how, bad) in ["trailing byte", "over-long length"]
            .into_iter()
            .zip(damaged(&value))
        {
            let (s, b) = with_leaf(|t| t.ext(&oid).value = bad.clone());
            let e = b.verifier().verify(&b.chain, s.now).unwrap_err();
            assert_code(&e, Code::Malformed, 0);
            assert!(e.message().contains(name), "{name}, {how}: {e}");
            let lint = lint_errors(&b.chain[0]);
            assert!(
                lint.contains(&"e_extension_not_der"),
                "{name}, {how}: {lint:?}"
            );
        }
    }
}

#[test]
fn non_der_inside_the_issuing_cas_ski() {
    let s = Spec::good();
    let mut b = s.build();
    let mut ca = Tbs::of(&b.chain[1]);
    ca.ext(&SKI).value.push(0x00);
    b.chain[1] = ca.sign(&b.root_key);
    assert_code(
        &b.verifier().verify(&b.chain, s.now).unwrap_err(),
        Code::Malformed,
        1,
    );
    assert!(lint_errors(&b.chain[1]).contains(&"e_extension_not_der"));
}

/// The lint and the verifier read criticality from one table: marking any extension of a
/// good leaf critical is a lint error exactly when the verifier rejects the leaf.
#[test]
fn critical_extensions_lint_and_verify_agree() {
    let oids: Vec<Vec<u8>> = Tbs::of(&Spec::good().build().chain[0])
        .extensions
        .iter()
        .map(|e| e.oid.clone())
        .collect();
    let mut rejected = Vec::new();
    for oid in oids {
        let (s, b) = with_leaf(|t| t.ext(&oid).critical = true);
        let verdict = b.verifier().verify(&b.chain, s.now);
        let lint = lint_errors(&b.chain[0]);
        let name = oids::dotted(&oid);
        assert_eq!(
            verdict.is_err(),
            !lint.is_empty(),
            "{name}: {verdict:?} / {lint:?}"
        );
        if let Err(e) = verdict {
            assert_code(&e, Code::UnknownCriticalExtension, 0);
            rejected.push(name);
        }
    }
    // certificatePolicies, SKI, AKI and id-pe-mimiMapping must not be critical.
    for must_not in ["2.5.29.32", "2.5.29.14", "2.5.29.35", "2.999.6464.2.1"] {
        assert!(
            rejected.iter().any(|r| r == must_not),
            "{must_not}: {rejected:?}"
        );
    }
}

#[test]
fn critical_policies_ski_aki_are_lint_errors() {
    for oid in [POLICIES, SKI, AKI] {
        let (s, b) = with_leaf(|t| t.ext(&oid).critical = true);
        assert_code(
            &b.verifier().verify(&b.chain, s.now).unwrap_err(),
            Code::UnknownCriticalExtension,
            0,
        );
        assert!(
            lint_errors(&b.chain[0]).contains(&"e_extension_must_not_be_critical"),
            "{}",
            oids::dotted(&oid)
        );
    }
}

/// Another issuing CA under the same root, as the test's Spec builds one.
fn other_ca(
    b: &Built,
    s: &Spec,
    edit: impl FnOnce(&mut rcgen::CertificateParams),
) -> CertificateDer<'static> {
    let mut p = ca_params("Old Issuing CA", 0, None, s.now);
    edit(&mut p);
    p.signed_by(&key(), &Issuer::from_params(&s.root, &b.root_key))
        .unwrap()
        .der()
        .clone()
}

#[test]
fn extra_unused_certificates_in_the_bundle_are_ignored_with_a_note() {
    let s = Spec::good();
    let b = s.build();
    let expired = other_ca(&b, &s, |p| {
        p.not_before = s.now - Duration::days(400);
        p.not_after = s.now - Duration::days(35);
    });
    let odd = other_ca(&b, &s, |p| p.custom_extensions.push(critical_ext()));
    let garbage = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
    let mut chain = b.chain.clone();
    chain.extend([expired, odd, garbage, b.root.clone()]);
    let v = b.verifier();
    let checked = v.verify_with(&chain, &VerifyOptions::at(s.now));
    let m = checked.result.unwrap();
    assert_eq!(m.sii.canonical(), "tel:+15551234567");
    // The copy of the anchor's root is not noted; the three others are.
    let noted: Vec<usize> = checked.cert_notes.iter().map(|n| n.index).collect();
    assert_eq!(noted, [2, 3, 4], "{:?}", checked.cert_notes);
    assert!(
        checked.cert_notes[0].message.contains("expired"),
        "{}",
        checked.cert_notes[0]
    );
    assert!(checked.cert_notes[0]
        .to_string()
        .starts_with("certificate 2 (\""));
    // The same bundle in another order.
    let mut shuffled = vec![chain[0].clone()];
    shuffled.extend(chain[2..].iter().cloned());
    shuffled.push(chain[1].clone());
    v.verify(&shuffled, s.now).unwrap();
}

#[test]
fn self_signed_intermediate_under_the_roots_name() {
    // An intermediate with the root's name, signed by its own key: the leaf under it has no
    // path to the anchor. Not a bad signature (every signature is what it claims): an unknown
    // issuer, at the depth of the self-signed certificate.
    let s = Spec::good();
    let b = s.build();
    let mut fake_p = s.ca.clone();
    fake_p.distinguished_name = s.root.distinguished_name.clone();
    let fake_key = key();
    let fake = fake_p.self_signed(&fake_key).unwrap();
    let leaf = s
        .leaf
        .signed_by(&key(), &Issuer::from_params(&fake_p, &fake_key))
        .unwrap();
    let chain = vec![leaf.der().clone(), fake.der().clone()];
    let e = b.verifier().verify(&chain, s.now).unwrap_err();
    assert_code(&e, Code::UnknownIssuer, 1);
    assert!(e.message().contains("self-signed"), "{e}");
}

#[test]
fn self_signed_intermediate_of_its_own_name() {
    let s = Spec::good();
    let b = s.build();
    let ca_key = key();
    let ca = s.ca.self_signed(&ca_key).unwrap();
    let leaf = s
        .leaf
        .signed_by(&key(), &Issuer::from_params(&s.ca, &ca_key))
        .unwrap();
    let chain = vec![leaf.der().clone(), ca.der().clone()];
    let e = b.verifier().verify(&chain, s.now).unwrap_err();
    assert_code(&e, Code::UnknownIssuer, 1);
    assert!(e.message().contains("self-issued"), "{e}");
}

// CRLs (docs/spec.md#crl-acceptance): used only when their issuer has keyUsage cRLSign and they carry
// a non-critical CRL number; others are ignored with a note, so a required check fails closed.

/// A CRL of the issuing CA (revoking nothing), signed with its real key; `edit` may change
/// its extensions (the CRL is signed again).
fn ca_crl(s: &Spec, b: &Built, edit: impl FnOnce(&mut Tbs)) -> Vec<u8> {
    let mut signer = s.ca.clone();
    // rcgen refuses to sign a CRL for an issuer without cRLSign; the certificate on the path
    // is what the verifier judges.
    signer.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let crl = rcgen::CertificateRevocationListParams {
        this_update: s.now - Duration::hours(1),
        next_update: s.now + Duration::days(1),
        crl_number: rcgen::SerialNumber::from(7u64),
        issuing_distribution_point: None,
        revoked_certs: vec![],
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(&Issuer::from_params(&signer, &b.ca_key))
    .unwrap();
    let mut tbs = Tbs::of_crl(crl.der());
    edit(&mut tbs);
    tbs.sign(&b.ca_key).as_ref().to_vec()
}

/// Verification of the spec's chain under `revocation: leaf` with one CRL.
fn with_crl(s: &mut Spec, edit: impl FnOnce(&mut Tbs)) -> mimi_attest::Verification {
    s.policy_yaml = "policy:\n  revocation: leaf\n".into();
    let b = s.build();
    let crl = ca_crl(s, &b, edit);
    let v = b
        .verifier()
        .with_crls([rustls_pki_types::CertificateRevocationListDer::from(crl)])
        .unwrap();
    v.verify_with(&b.chain, &VerifyOptions::at(s.now))
}

const CRL_NUMBER: [u8; 3] = [0x55, 0x1d, 0x14];

#[test]
fn control_a_crl_taken_apart_and_signed_again_is_used() {
    let r = with_crl(&mut Spec::good(), |_| {});
    r.result.unwrap();
    assert!(r.crl_notes.is_empty(), "{:?}", r.crl_notes);
}

#[test]
fn crl_from_an_issuer_without_crl_sign_is_ignored() {
    let mut s = Spec::good();
    s.ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let r = with_crl(&mut s, |_| {});
    assert_code(r.result.as_ref().unwrap_err(), Code::RevocationUnknown, 0);
    assert_eq!(r.crl_notes.len(), 1);
    assert!(
        r.crl_notes[0].message.contains("cRLSign"),
        "{}",
        r.crl_notes[0]
    );
}

#[test]
fn crl_without_a_crl_number_is_ignored() {
    let r = with_crl(&mut Spec::good(), |t| {
        t.extensions.retain(|e| e.oid != CRL_NUMBER)
    });
    assert_code(r.result.as_ref().unwrap_err(), Code::RevocationUnknown, 0);
    assert_eq!(r.crl_notes.len(), 1);
    assert!(
        r.crl_notes[0].message.contains("no cRLNumber"),
        "{}",
        r.crl_notes[0]
    );
}

#[test]
fn crl_with_a_critical_crl_number_is_ignored() {
    let r = with_crl(&mut Spec::good(), |t| t.ext(&CRL_NUMBER).critical = true);
    assert_code(r.result.as_ref().unwrap_err(), Code::RevocationUnknown, 0);
    assert_eq!(r.crl_notes.len(), 1);
    assert!(
        r.crl_notes[0].message.contains("critical"),
        "{}",
        r.crl_notes[0]
    );
}

// The same cases through the real command: `verify` and `lint` agree with the library.

/// `mimi-attest args` run in `dir`, where the case's files are.
fn cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    common::cli::cmd(args).current_dir(dir).output().unwrap()
}

#[test]
fn cli_verify_and_lint_on_the_limbo_style_cases() {
    let at = mimi_attest::rfc3339(Spec::good().now);
    let json = common::cli::stdout_json;
    let verify = |b: &Built, chain: &[CertificateDer<'_>]| {
        std::fs::write(b.dir().join("chain.pem"), pem_of(chain)).unwrap();
        let o = cli(
            b.dir(),
            &[
                "verify",
                "--trust-list",
                "trust-list.yaml",
                "--at",
                &at,
                "--format",
                "json",
                "chain.pem",
            ],
        );
        (o.status.code(), json(&o)[0].clone())
    };

    // A weak leaf key: rejected, exit 1, and the lint reports it (exit 1).
    let (_, b) = with_leaf(|t| t.set_spki(&weak_spki("rsa-1024")));
    let (status, r) = verify(&b, &b.chain);
    assert_eq!(
        (status, r["code"].as_str()),
        (Some(1), Some("E_KEY_ALGORITHM")),
        "{r}"
    );
    let o = cli(b.dir(), &["lint", "--format", "json", "chain.pem"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("e_key_not_p256"));

    // A trailing byte inside the leaf's SKI: E_MALFORMED, and e_extension_not_der.
    let (_, b) = with_leaf(|t| t.ext(&SKI).value.push(0));
    let (status, r) = verify(&b, &b.chain);
    assert_eq!(
        (status, r["code"].as_str()),
        (Some(1), Some("E_MALFORMED")),
        "{r}"
    );
    let o = cli(b.dir(), &["lint", "--format", "json", "chain.pem"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("e_extension_not_der"));

    // An expired, unused CA in the bundle: the chain is valid, exit 0.
    let s = Spec::good();
    let b = s.build();
    let expired = other_ca(&b, &s, |p| {
        p.not_before = s.now - Duration::days(400);
        p.not_after = s.now - Duration::days(35);
    });
    let mut chain = b.chain.clone();
    chain.push(expired);
    let (status, r) = verify(&b, &chain);
    assert_eq!(
        (status, &r["valid"]),
        (Some(0), &serde_json::Value::Bool(true)),
        "{r}"
    );
    let notes = r["cert_notes"].as_array().expect("the unused CA is noted");
    assert_eq!(notes.len(), 1, "{r}");
    assert_eq!(notes[0]["index"], 2);
    assert!(
        notes[0]["message"]
            .as_str()
            .unwrap()
            .contains("not on the verified path"),
        "{r}"
    );
}
