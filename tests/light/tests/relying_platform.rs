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
    assert_eq!(m.serial_hex().len(), 32);
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
    let r = mimi_attest_light::resolve(&verifier, &chains, &sii("tel:+15551234567"), at);
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
