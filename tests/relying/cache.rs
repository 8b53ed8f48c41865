//! The verified-intermediate cache (issue 6 item 2): later leaves under an issuing CA that
//! verified once are checked with one signature, and the cache never lets through what a
//! fresh verification rejects — expiry, a newer CRL, a CRL going stale or taking effect with
//! time, a trust-list change, a same-name CA with another key, hostile leaves naming a cached
//! CA. Every verdict of a warm verifier is compared with a fresh verifier's.

use crate::common;

use common::*;
use mimi_attest::oids;
use mimi_attest::{Code, TrustList, VerifiedMapping, Verifier, VerifyError, VerifyOptions};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

type Verdict = Result<VerifiedMapping, VerifyError>;

/// A leaf made from `params`, signed by the issuing CA of `b` (`spec.ca` with `b.ca_key`).
fn leaf_under(spec: &Spec, b: &Built, params: &CertificateParams) -> CertificateDer<'static> {
    let issuer = Issuer::from_params(&spec.ca, &b.ca_key);
    params.signed_by(&key(), &issuer).unwrap().der().clone()
}

/// A good leaf for `tel` under `b`'s issuing CA, as a chain with that very CA DER.
fn chain_for(spec: &Spec, b: &Built, tel: &str) -> Vec<CertificateDer<'static>> {
    let mut p = spec.leaf.clone();
    p.subject_alt_names = vec![tel_san(tel)];
    vec![leaf_under(spec, b, &p), b.chain[1].clone()]
}

fn fresh(b: &Built, chain: &[CertificateDer<'_>], at: OffsetDateTime) -> Verdict {
    b.verifier().verify(chain, at)
}

#[track_caller]
fn assert_code(v: &Verdict, code: Code, depth: usize) {
    let e = v.as_ref().expect_err("expected a rejection");
    assert_eq!((e.code(), e.depth()), (code, depth), "{e}");
}

fn serial(der: &CertificateDer<'_>) -> Vec<u8> {
    let (_, c) = X509Certificate::from_der(der.as_ref()).unwrap();
    c.raw_serial().to_vec()
}

/// A CRL signed by `issuer_params`/`key`, listing `revoked` serials.
fn crl(
    issuer_params: &CertificateParams,
    key: &KeyPair,
    number: u64,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    revoked: &[Vec<u8>],
) -> CertificateRevocationListDer<'static> {
    let issuer = Issuer::from_params(issuer_params, key);
    let der = rcgen::CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: rcgen::SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|s| rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from_slice(s),
                revocation_time: this_update,
                reason_code: Some(rcgen::RevocationReason::CaCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(&issuer)
    .unwrap()
    .der()
    .to_vec();
    CertificateRevocationListDer::from(der)
}

fn chain_policy() -> Spec {
    let mut s = Spec::good();
    s.policy_yaml = "policy:\n  revocation: chain\n".into();
    s
}

#[test]
fn later_leaves_under_a_verified_ca_hit_the_cache() {
    let s = Spec::good();
    let b = s.build();
    let v = b.verifier();
    assert_eq!(v.intermediate_cache_stats(), (0, 0));
    v.verify(&b.chain, s.now).unwrap();
    assert_eq!(v.intermediate_cache_stats(), (1, 1));
    for i in 0..8 {
        let chain = chain_for(&s, &b, &format!("tel:+1555000000{i}"));
        let warm = v.verify(&chain, s.now);
        assert_eq!(warm, fresh(&b, &chain, s.now));
        assert_eq!(warm.unwrap().sii.canonical(), format!("tel:+1555000000{i}"));
    }
    // Eight more chains, not one more full path verification.
    assert_eq!(v.intermediate_cache_stats(), (1, 1));
}

#[test]
fn clones_share_the_cache_and_with_crls_starts_a_new_one() {
    let s = Spec::good();
    let b = s.build();
    let v = b.verifier();
    v.verify(&b.chain, s.now).unwrap();
    let c = v.clone();
    c.verify(&b.chain, s.now).unwrap();
    assert_eq!(c.intermediate_cache_stats(), (1, 1));
    let ca_crl = crl(&s.ca, &b.ca_key, 1, s.now, s.now + Duration::days(1), &[]);
    let w = v.with_crls([ca_crl]).unwrap();
    assert_eq!(w.intermediate_cache_stats(), (0, 0));
}

#[test]
fn expired_intermediate_is_rejected_after_a_cached_success() {
    let mut s = Spec::good();
    s.ca.not_after = s.now + Duration::days(1);
    let b = s.build();
    let v = b.verifier();
    v.verify(&b.chain, s.now).unwrap();
    let chain = chain_for(&s, &b, "tel:+15550000001");
    v.verify(&chain, s.now).unwrap();
    assert_eq!(v.intermediate_cache_stats(), (1, 1));
    // Travel past the CA's notAfter (+ clock skew); the leaf is still valid.
    let later = s.now + Duration::days(2);
    let warm = v.verify(&chain, later);
    assert_code(&warm, Code::Expired, 1);
    assert_eq!(warm, fresh(&b, &chain, later));
    // Inside the skew the verdict still holds; just past it, it does not.
    let edge = s.now + Duration::days(1) + Duration::minutes(5);
    assert!(v.verify(&chain, edge).is_ok());
    assert_code(
        &v.verify(&chain, edge + Duration::seconds(1)),
        Code::Expired,
        1,
    );
}

#[test]
fn expired_root_is_rejected_after_a_cached_success() {
    let mut s = Spec::good();
    s.root.not_after = s.now + Duration::days(1);
    let b = s.build();
    let v = b.verifier();
    v.verify(&b.chain, s.now).unwrap();
    let chain = chain_for(&s, &b, "tel:+15550000001");
    let later = s.now + Duration::days(2);
    let warm = v.verify(&chain, later);
    assert_code(&warm, Code::Expired, 2);
    assert_eq!(warm, fresh(&b, &chain, later));
}

#[test]
fn newer_crl_revoking_the_intermediate_is_e_revoked_at_depth_1() {
    let s = chain_policy();
    let b = s.build();
    let t = s.now - Duration::hours(1);
    let ca_crl = crl(&s.ca, &b.ca_key, 1, t, t + Duration::days(1), &[]);
    let root_crl = crl(&s.root, &b.root_key, 1, t, t + Duration::days(1), &[]);
    let v = b.verifier().with_crls([ca_crl, root_crl]).unwrap();
    v.verify(&b.chain, s.now).unwrap();
    let chain = chain_for(&s, &b, "tel:+15550000001");
    v.verify(&chain, s.now).unwrap();
    assert_eq!(v.intermediate_cache_stats(), (1, 1));

    let revoking = crl(
        &s.root,
        &b.root_key,
        2,
        s.now - Duration::minutes(1),
        s.now + Duration::days(1),
        &[serial(&b.chain[1])],
    );
    let newer = v.clone().with_crls([revoking]).unwrap();
    assert_code(&newer.verify(&chain, s.now), Code::Revoked, 1);
    assert_code(&newer.verify(&b.chain, s.now), Code::Revoked, 1);
    // The verifier without the new CRL is unchanged (its CRLs say the CA is good).
    assert!(v.verify(&chain, s.now).is_ok());
}

#[test]
fn root_crl_going_stale_ends_the_cached_verdict() {
    let s = chain_policy();
    let b = s.build();
    let t = s.now - Duration::hours(1);
    // The leaf's CRL stays fresh for the whole test; the root's passes its nextUpdate in a day.
    let ca_crl = crl(&s.ca, &b.ca_key, 1, t, t + Duration::days(30), &[]);
    let root_crl = crl(&s.root, &b.root_key, 1, t, s.now + Duration::days(1), &[]);
    let v = b.verifier().with_crls([ca_crl, root_crl]).unwrap();
    v.verify(&b.chain, s.now).unwrap();
    let chain = chain_for(&s, &b, "tel:+15550000001");
    v.verify(&chain, s.now).unwrap();
    assert_eq!(v.intermediate_cache_stats(), (1, 1));
    let later = s.now + Duration::days(1) + Duration::minutes(10);
    let warm = v.verify(&chain, later);
    assert_code(&warm, Code::RevocationUnknown, 1);
    assert_eq!(
        warm,
        b.verifier()
            .with_crls(v_crls(&s, &b, t))
            .unwrap()
            .verify(&chain, later)
    );
}

fn v_crls(s: &Spec, b: &Built, t: OffsetDateTime) -> Vec<CertificateRevocationListDer<'static>> {
    vec![
        crl(&s.ca, &b.ca_key, 1, t, t + Duration::days(30), &[]),
        crl(&s.root, &b.root_key, 1, t, s.now + Duration::days(1), &[]),
    ]
}

#[test]
fn root_crl_too_old_for_max_crl_age_ends_the_cached_verdict() {
    let s = chain_policy();
    let b = s.build();
    let t = s.now - Duration::hours(1);
    // Leaf CRLs: one fresh now, one dated two days ahead (ignored now, fresh then).
    let ca_crl = crl(&s.ca, &b.ca_key, 1, t, t + Duration::days(30), &[]);
    let ca_crl_2 = crl(
        &s.ca,
        &b.ca_key,
        2,
        s.now + Duration::days(2),
        s.now + Duration::days(30),
        &[],
    );
    // The root's CRL: nextUpdate far off, but older than max_crl_age (2d) after two days.
    let root_crl = crl(&s.root, &b.root_key, 1, t, t + Duration::days(30), &[]);
    let v = b
        .verifier()
        .with_crls([ca_crl, ca_crl_2, root_crl])
        .unwrap();
    let chain = chain_for(&s, &b, "tel:+15550000001");
    v.verify(&b.chain, s.now).unwrap();
    v.verify(&chain, s.now).unwrap();
    assert_eq!(v.intermediate_cache_stats(), (1, 1));
    let later = s.now + Duration::days(2) + Duration::minutes(10);
    assert_code(&v.verify(&chain, later), Code::RevocationUnknown, 1);
}

#[test]
fn root_crl_dated_ahead_revokes_the_cached_intermediate_when_it_takes_effect() {
    let s = chain_policy();
    let b = s.build();
    let t = s.now - Duration::hours(1);
    let ca_crl = crl(&s.ca, &b.ca_key, 1, t, t + Duration::days(30), &[]);
    let root_crl = crl(&s.root, &b.root_key, 1, t, t + Duration::days(30), &[]);
    // A newer root CRL revoking the CA, dated a day ahead: ignored now (with a note).
    let ahead = crl(
        &s.root,
        &b.root_key,
        2,
        s.now + Duration::days(1),
        s.now + Duration::days(30),
        &[serial(&b.chain[1])],
    );
    let crls = [ca_crl, root_crl, ahead];
    let v = b.verifier().with_crls(crls.clone()).unwrap();
    let chain = chain_for(&s, &b, "tel:+15550000001");
    v.verify(&b.chain, s.now).unwrap();
    let warm = v.verify_with(&chain, &VerifyOptions::at(s.now));
    assert!(warm.result.is_ok());
    assert_eq!(v.intermediate_cache_stats(), (1, 1));
    // Same notes (the future-dated root CRL) on a hit as on a fresh verification.
    let cold = b.verifier().with_crls(crls.clone()).unwrap();
    assert_eq!(warm, cold.verify_with(&chain, &VerifyOptions::at(s.now)));
    assert_eq!(warm.crl_notes.len(), 1, "{:?}", warm.crl_notes);
    let later = s.now + Duration::days(1) + Duration::hours(1);
    let warm = v.verify(&chain, later);
    assert_code(&warm, Code::Revoked, 1);
    assert_eq!(
        warm,
        b.verifier().with_crls(crls).unwrap().verify(&chain, later)
    );
}

#[test]
fn trust_list_change_rejects_a_chain_whose_ca_was_cached() {
    let s = Spec::good();
    let b = s.build();
    let v = b.verifier();
    v.verify(&b.chain, s.now).unwrap();
    let chain = chain_for(&s, &b, "tel:+15550000001");
    v.verify(&chain, s.now).unwrap();

    // Anchor removed: the trust list now holds another provider's root only.
    let mut other = Spec::good();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Mallory Root");
    other.root.distinguished_name = dn;
    let other = other.build();
    let without = Verifier::new(TrustList::from_file(&other.trust_list).unwrap());
    assert_code(&without.verify(&chain, s.now), Code::UnknownIssuer, 1);

    // Scope narrowed to +44: the cached CA's chains for +1 are out of scope.
    let narrow = trust_list_with(&b, "chat-a.example", &["+44"]);
    assert_code(&narrow.verify(&chain, s.now), Code::OutOfScope, 2);

    // Provider renamed in the trust list: the leaves' provider no longer matches.
    let renamed = trust_list_with(&b, "chat-b.example", &["+1", "+44"]);
    assert_code(&renamed.verify(&chain, s.now), Code::ProviderMismatch, 0);

    // The old verifier, with its old trust list, still accepts.
    assert!(v.verify(&chain, s.now).is_ok());
}

/// A verifier for `b`'s root under another provider name or tel scope.
fn trust_list_with(b: &Built, provider: &str, tel: &[&str]) -> Verifier {
    let mut spec = Spec::good();
    spec.provider = provider.into();
    spec.anchor_scope = scope(tel, &["chat-a.example"]);
    let path = b.dir().join("changed.yaml");
    std::fs::write(&path, spec.trust_list_yaml("root.pem")).unwrap();
    Verifier::new(TrustList::from_file(&path).unwrap())
}

#[test]
fn same_name_ca_with_another_key_does_not_hit_the_cache() {
    let s = Spec::good();
    let b = s.build();
    let v = b.verifier();
    v.verify(&b.chain, s.now).unwrap();
    assert_eq!(v.intermediate_cache_stats(), (1, 1));

    // A second issuing CA with the same name, another key, signed by the same root: valid,
    // but verified in full and cached on its own.
    let ca2_key = key();
    let root_issuer = Issuer::from_params(&s.root, &b.root_key);
    let ca2 = s.ca.signed_by(&ca2_key, &root_issuer).unwrap();
    let leaf2 = s
        .leaf
        .signed_by(&key(), &Issuer::from_params(&s.ca, &ca2_key))
        .unwrap();
    let chain2 = vec![leaf2.der().clone(), ca2.der().clone()];
    assert!(v.verify(&chain2, s.now).is_ok());
    assert_eq!(v.intermediate_cache_stats(), (2, 2));

    // A same-name CA from a look-alike root (same names, other keys).
    let fake = s.build();
    let warm = v.verify(&fake.chain, s.now);
    assert_code(&warm, Code::BadSignature, 1);
    assert_eq!(warm, fresh(&b, &fake.chain, s.now));

    // A leaf from the look-alike CA presented with the cached CA's exact DER: the leaf's
    // signature does not verify with the cached CA's key.
    let forged = vec![fake.chain[0].clone(), b.chain[1].clone()];
    let warm = v.verify(&forged, s.now);
    assert_code(&warm, Code::BadSignature, 0);
    assert_eq!(warm, fresh(&b, &forged, s.now));
    // Another provider's leaf (unknown issuer name) next to the cached CA.
    let mut other = Spec::good();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Mallory CA");
    other.ca.distinguished_name = dn;
    let o = other.build();
    let mixed = vec![o.chain[0].clone(), b.chain[1].clone()];
    let warm = v.verify(&mixed, s.now);
    assert_code(&warm, Code::UnknownIssuer, 0);
    assert_eq!(warm, fresh(&b, &mixed, s.now));
}

fn critical_ext() -> CustomExtension {
    let mut e = CustomExtension::from_oid_content(&[1, 2, 3, 4, 5], vec![0x05, 0x00]);
    e.set_criticality(true);
    e
}

/// Leaf-level hostile variants of the negative corpus, all signed by (or naming) one cached
/// issuing CA, checked twice against one warm verifier and compared with a fresh one.
#[test]
fn hostile_leaves_under_a_cached_ca_get_the_fresh_verdict_twice() {
    let s = Spec::good();
    let b = s.build();
    let v = b.verifier();
    v.verify(&b.chain, s.now).unwrap();
    let now = s.now;
    let good = s.leaf.clone();
    let with = |f: &dyn Fn(&mut CertificateParams)| {
        let mut p = good.clone();
        f(&mut p);
        p
    };
    let set_mapping = |p: &mut CertificateParams, m: &mimi_attest::MimiMapping| {
        p.custom_extensions
            .retain(|e| e.oid_components().collect::<Vec<_>>() != oids::ID_PE_MIMI_MAPPING.arcs());
        p.custom_extensions.push(mapping_ext(m));
    };
    let cases: Vec<(&str, CertificateParams, Code)> = vec![
        (
            "expired leaf",
            with(&|p| {
                p.not_before = now - Duration::days(10);
                p.not_after = now - Duration::days(1);
                set_mapping(p, &mapping("chat-a.example", now - Duration::days(10)));
            }),
            Code::Expired,
        ),
        (
            "not yet valid leaf",
            with(&|p| p.not_before = now + Duration::hours(1)),
            Code::NotYetValid,
        ),
        (
            "server-auth EKU",
            with(&|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]),
            Code::Eku,
        ),
        (
            "no EKU",
            with(&|p| p.extended_key_usages = vec![]),
            Code::Eku,
        ),
        (
            "mimi + server-auth EKU",
            with(&|p| {
                p.extended_key_usages = vec![mimi_eku(), ExtendedKeyUsagePurpose::ServerAuth]
            }),
            Code::Eku,
        ),
        (
            "leaf cA=TRUE",
            with(&|p| p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained)),
            Code::NotCa,
        ),
        (
            "SII outside anchor scope",
            with(&|p| p.subject_alt_names = vec![tel_san("tel:+33123456789")]),
            Code::OutOfScope,
        ),
        (
            "provider mismatch",
            with(&|p| set_mapping(p, &mapping("chat-b.example", now - Duration::hours(2)))),
            Code::ProviderMismatch,
        ),
        (
            "two SIIs",
            with(&|p| {
                p.subject_alt_names = vec![
                    tel_san("tel:+15551234567"),
                    email_san("alice@chat-a.example"),
                ]
            }),
            Code::SiiCount,
        ),
        (
            "non-canonical SII",
            with(&|p| p.subject_alt_names = vec![tel_san("tel:+1-555-123-4567")]),
            Code::BadSii,
        ),
        (
            "no mapping",
            with(&|p| {
                p.custom_extensions.retain(|e| {
                    e.oid_components().collect::<Vec<_>>() != oids::ID_PE_MIMI_MAPPING.arcs()
                })
            }),
            Code::MappingMissing,
        ),
        (
            "unknown critical extension",
            with(&|p| p.custom_extensions.push(critical_ext())),
            Code::UnknownCriticalExtension,
        ),
        (
            "stale validatedAt",
            with(&|p| set_mapping(p, &mapping("chat-a.example", now - Duration::days(31)))),
            Code::StaleValidation,
        ),
        (
            "validity too long",
            with(&|p| p.not_after = now + Duration::days(100)),
            Code::ValidityTooLong,
        ),
    ];
    let mut chains: Vec<(String, Vec<CertificateDer<'static>>, Code)> = cases
        .iter()
        .map(|(name, p, code)| {
            (
                name.to_string(),
                vec![leaf_under(&s, &b, p), b.chain[1].clone()],
                *code,
            )
        })
        .collect();
    let good_leaf = chain_for(&s, &b, "tel:+15550000001");
    let mut tampered_sig = good_leaf[0].as_ref().to_vec();
    let n = tampered_sig.len();
    tampered_sig[n - 3] ^= 0x55;
    chains.push((
        "tampered signature".into(),
        vec![CertificateDer::from(tampered_sig), b.chain[1].clone()],
        Code::BadSignature,
    ));
    let mut tampered_tbs = good_leaf[0].as_ref().to_vec();
    let pos = tampered_tbs
        .windows(4)
        .position(|w| w == b"+155")
        .expect("the SII in the leaf");
    tampered_tbs[pos + 4] ^= 0x01;
    chains.push((
        "tampered content".into(),
        vec![CertificateDer::from(tampered_tbs), b.chain[1].clone()],
        Code::BadSignature,
    ));

    for round in 0..2 {
        for (name, chain, code) in &chains {
            let warm = v.verify(chain, now);
            let e = warm.as_ref().expect_err(name);
            assert_eq!(e.code(), *code, "{name} (round {round}): {e}");
            assert_eq!(warm, fresh(&b, chain, now), "{name} (round {round})");
        }
    }
    // The good chain is still good, and nothing hostile was cached.
    assert!(v.verify(&good_leaf, now).is_ok());
    assert_eq!(v.intermediate_cache_stats().0, 1);
}

#[test]
fn one_verifier_shared_by_threads_verifies_and_caches_once_per_ca() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Verifier>();
    let s = Spec::good();
    let b = s.build();
    let v = b.verifier();
    let chains: Vec<_> = (0..16)
        .map(|i| chain_for(&s, &b, &format!("tel:+155500000{i:02}")))
        .collect();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (v, chains) = (&v, &chains);
            scope.spawn(move || {
                for (i, chain) in chains.iter().enumerate().cycle().skip(t).take(64) {
                    let m = v.verify(chain, s.now).unwrap();
                    assert_eq!(m.sii.canonical(), format!("tel:+155500000{i:02}"));
                }
            });
        }
    });
    let (entries, misses) = v.intermediate_cache_stats();
    assert_eq!(entries, 1);
    // Threads that started before the first insert verified in full; no more than one each.
    assert!((1..=4).contains(&misses), "{misses}");
}
