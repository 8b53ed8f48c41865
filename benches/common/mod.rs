//! What the benchmarks share: the provider's CA config, a ring signing key for the baselines,
//! and real chains issued by a `ProviderCa`.
#![allow(dead_code)] // each bench uses part of it

use mimi_attest::pki_types::CertificateDer;
use mimi_attest::{chain_from_pem, IssueRequest, ProviderCa, Sii, SubjectKey};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use time::OffsetDateTime;

/// The benchmarks' provider: chat-a.example, every +1 number.
pub const CONFIG: &str =
    "provider: chat-a.example\norganization: Chat A Inc.\nscope:\n  tel: [\"+1\"]\n";

/// A fresh ring ECDSA P-256 key (the signing baseline) and its random source.
pub fn ring_key() -> (SystemRandom, EcdsaKeyPair) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    (rng, key)
}

/// `n` chains (leaf, issuing CA) for +1555 0000000, +1555 0000001, …, all for one user key,
/// from a new CA in `dir`; the CA is returned for its root.
pub fn issued_chains(
    dir: &std::path::Path,
    n: usize,
    now: OffsetDateTime,
) -> (ProviderCa, Vec<(Sii, Vec<CertificateDer<'static>>)>) {
    let mut ca = ProviderCa::init(CONFIG, "bench", &dir.join("ca"), now).unwrap();
    let spki = rcgen::PublicKeyData::subject_public_key_info(&rcgen::KeyPair::generate().unwrap());
    let reqs: Vec<IssueRequest> = (0..n)
        .map(|i| {
            IssueRequest::new(Sii::parse(&format!("+1555{i:07}")).unwrap())
                .with_key(SubjectKey::PublicKey(spki.clone()))
        })
        .collect();
    let chains = ca
        .issue_many(&reqs, now)
        .unwrap()
        .into_iter()
        .zip(reqs)
        .map(|(r, req)| {
            (
                req.sii,
                chain_from_pem(r.unwrap().chain_pem.as_bytes()).unwrap(),
            )
        })
        .collect();
    (ca, chains)
}
