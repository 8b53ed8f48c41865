//! The verifier-only build on the committed example chains (certs/, issued at
//! 2026-01-01T00:00:00Z by `mimi-attest demo --write-certs`).

use std::path::{Path, PathBuf};

use mimi_attest::{Code, Sii};
use time::macros::datetime;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("certs").join(name)).unwrap()
}

fn sii(s: &str) -> Sii {
    Sii::parse(s).unwrap()
}

#[test]
fn verifies_the_example_chains() {
    let verifier = mimi_attest_light::load(&repo().join("certs/trust-list.yaml")).unwrap();
    let at = datetime!(2026-01-02 00:00 UTC);
    let alice = sii("+15551234567");

    let m = mimi_attest_light::check(&verifier, &pem("alice-chat-a.pem"), &alice, at).unwrap();
    assert_eq!(m.provider, "chat-a.example");
    assert_eq!(m.anchor, "chat-a");
    assert_eq!(m.handle.as_deref(), Some("mimi://chat-a.example/u/alice"));
    assert!(m.flags.preferred);
    assert_eq!(m.serial.to_string().len(), 32);
    assert!(!m.subject_public_key_info.is_empty());

    let m = mimi_attest_light::check(
        &verifier,
        &pem("carol-csr-chat-b.pem"),
        &sii("+4915112345678"),
        at,
    )
    .unwrap();
    assert_eq!(m.provider, "chat-b.example");
    assert!(m.consent.is_some(), "issued on Carol's CSR");

    // Evidence for one number is not evidence for another.
    let e = mimi_attest_light::check(
        &verifier,
        &pem("alice-chat-a.pem"),
        &sii("+15559999999"),
        at,
    )
    .unwrap_err();
    assert_eq!(e.code(), Code::SiiMismatch);
    // After it expired.
    let e = mimi_attest_light::check(
        &verifier,
        &pem("alice-chat-a.pem"),
        &alice,
        datetime!(2027-01-01 00:00 UTC),
    )
    .unwrap_err();
    assert_eq!(e.code(), Code::Expired);
}

#[test]
fn rejects_the_example_forgeries() {
    let verifier = mimi_attest_light::load(&repo().join("certs/trust-list.yaml")).unwrap();
    let at = datetime!(2026-01-02 00:00 UTC);
    let e = mimi_attest_light::check(
        &verifier,
        &pem("forged-out-of-scope.pem"),
        &sii("+33612345678"),
        at,
    )
    .unwrap_err();
    assert_eq!(e.code(), Code::OutOfScope);
    let e = mimi_attest_light::check(
        &verifier,
        &pem("forged-claims-chat-a.pem"),
        &sii("+15551234567"),
        at,
    )
    .unwrap_err();
    assert_eq!(e.code(), Code::ProviderMismatch);
}

#[test]
fn resolves_one_number_on_two_providers() {
    let verifier = mimi_attest_light::load(&repo().join("certs/trust-list.yaml")).unwrap();
    let at = datetime!(2026-01-02 00:00 UTC);
    let chains = [
        pem("alice-chat-b.pem"),
        pem("forged-claims-chat-a.pem"),
        pem("alice-chat-a.pem"),
    ];
    let chains: Vec<&[u8]> = chains.iter().map(Vec::as_slice).collect();
    let r = mimi_attest_light::resolve(&verifier, &chains, &sii("tel:+15551234567"), at).unwrap();
    let providers: Vec<&str> = r
        .mappings
        .iter()
        .map(|m| m.mapping.provider.as_str())
        .collect();
    assert_eq!(
        providers,
        ["chat-a.example", "chat-b.example"],
        "preferred first"
    );
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].error.code(), Code::ProviderMismatch);
}

/// The first certificate of a PEM file in certs/, as DER.
fn der(name: &str) -> mimi_attest::pki_types::CertificateDer<'static> {
    mimi_attest::chain_from_pem(&pem(name)).unwrap().remove(0)
}

#[test]
fn a_trust_list_built_in_memory_verifies_like_the_yaml_one() {
    use mimi_attest::{Scope, TrustList, Verifier};
    let list = TrustList::builder()
        .anchor(
            "chat-a",
            "chat-a.example",
            der("chat-a-root.pem"),
            Scope::new(&["+1", "+44"], &["chat-a.example"]).unwrap(),
        )
        .unwrap()
        .anchor(
            "chat-b",
            "chat-b.example",
            der("chat-b-root.pem"),
            Scope::new(&["+49", "+1"], &["chat-b.example", ".chat-b.example"]).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
    let in_memory = Verifier::new(list);
    let from_yaml = mimi_attest_light::load(&repo().join("certs/trust-list.yaml")).unwrap();
    let at = datetime!(2026-01-02 00:00 UTC);
    for (file, number) in [
        ("alice-chat-a.pem", "+15551234567"),
        ("alice-chat-b.pem", "+15551234567"),
        ("carol-csr-chat-b.pem", "+4915112345678"),
        ("forged-out-of-scope.pem", "+33612345678"),
        ("forged-claims-chat-a.pem", "+15551234567"),
    ] {
        let a = mimi_attest_light::check(&in_memory, &pem(file), &sii(number), at);
        let b = mimi_attest_light::check(&from_yaml, &pem(file), &sii(number), at);
        assert_eq!(a, b, "{file}");
    }
}

#[test]
fn a_trust_list_built_in_memory_gets_the_checks_of_a_yaml_one() {
    use mimi_attest::{Scope, TrustList};
    let scope = || Scope::new(&["+1"], &[] as &[&str]).unwrap();
    let refused = |r: Result<mimi_attest::TrustListBuilder, mimi_attest::TrustListError>| match r {
        Ok(_) => panic!("the anchor was accepted"),
        Err(e) => e.to_string(),
    };
    let one = || {
        TrustList::builder()
            .anchor("chat-a", "chat-a.example", der("chat-a-root.pem"), scope())
            .unwrap()
    };
    let e = refused(one().anchor("chat-a", "chat-b.example", der("chat-b-root.pem"), scope()));
    assert!(e.contains("appears twice"), "{e}");
    let e = refused(one().anchor("b", "chat-b.example", der("chat-a-root.pem"), scope()));
    assert!(e.contains("listed twice"), "{e}");
    // The provider as the trust list wants it, or what to write instead.
    for (provider, says) in [
        (
            "Chat-B.example",
            "anchor \"b\": provider \"Chat-B.example\" must be written in lower-case ASCII form: \"chat-b.example\"",
        ),
        (
            "chat_b.example",
            "anchor \"b\": provider \"chat_b.example\" is not a domain name (",
        ),
    ] {
        let e = refused(TrustList::builder().anchor("b", provider, der("chat-b-root.pem"), scope()));
        assert!(e.contains(says), "{e}");
    }
    let nothing = Scope::new(&[] as &[&str], &[] as &[&str]).unwrap();
    let e = refused(TrustList::builder().anchor(
        "b",
        "chat-b.example",
        der("chat-b-root.pem"),
        nothing,
    ));
    assert!(e.contains("permits nothing"), "{e}");
    // A leaf is not a root.
    let e = refused(TrustList::builder().anchor(
        "b",
        "chat-b.example",
        der("alice-chat-b.pem"),
        scope(),
    ));
    assert!(e.contains("not a CA certificate"), "{e}");
    let e = match TrustList::builder().build() {
        Ok(_) => panic!("a list without anchors was built"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("no anchors"), "{e}");
}
