//! Hostile chains built directly with rcgen (bypassing the issuer's guards); each must be
//! rejected with its exact code and depth.

mod common;

use common::*;
use mimi_attest::profile::oids;
use mimi_attest::{Code, Sii, VerifyError};
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
        .verify_sii(&b.chain, s.now, &other)
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
    let e = b
        .verifier()
        .verify_pem(b"hello, I am not a certificate\n", s.now, None)
        .unwrap_err();
    assert_code(&e, Code::Malformed, 0);
    let e = b
        .verifier()
        .verify_pem(
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            s.now,
            None,
        )
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
