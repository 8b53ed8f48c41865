//! Verification cost against its floor, in one run, on real chains from a `ProviderCa`
//! (root anchor, issuing CA, leaf):
//!
//! - baseline: one ECDSA P-256 verification with ring (the leaf's own signature, checked
//!   with the issuing CA's key) — the one check per leaf that cannot be avoided;
//! - bare rustls-webpki: `EndEntityCert::verify_for_usage` on the chain with our EKU (two
//!   signature checks: leaf and issuing CA);
//! - ours: `Verifier::verify`, cold (a new `Verifier` from the trust list each time) and
//!   steady state (one `Verifier`, many leaves);
//! - ours with a required log proof: steady state, every leaf with its own tlog-proof (one VRF
//!   verification and one inclusion proof per leaf) into one checkpoint of 256 entries
//!   cosigned by one witness, whose signatures the verifier checks once.
//!
//! `cargo bench --bench verify` (single-threaded; the ratios are throughput against the
//! baseline in the same run). With `BENCH_CPU_TIME=1` (Linux) criterion measures the
//! thread's CPU time instead of wall time: on a machine shared with other work, time spent
//! waiting for a core is then not counted, which keeps the ratios steady under load.

use base64::Engine;
use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput};
use mimi_attest::oids::ID_KP_MIMI_MAPPING;
use mimi_attest::{
    chain_from_pem, KeyType, LogWriter, MappingLogEntry, NoteSigningKey, Sii, TlogProof, TrustList,
    Verifier, VerifyOptions, VrfSecretKey,
};
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

#[path = "common/mod.rs"]
mod common;
const TRUST_LIST: &str = "version: 1\nanchors:\n  - name: chat-a\n    provider: chat-a.example\n    certificate: root.pem\n    scope: {tel: [\"+1\"]}\n";
/// Distinct leaves the steady-state benchmarks cycle through.
const LEAVES: usize = 256;

fn bench<M: Measurement + 'static>(c: &mut Criterion<M>) {
    let tmp = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    let (ca, issued) = common::issued_chains(tmp.path(), LEAVES, now);
    let chains: Vec<Vec<CertificateDer<'static>>> = issued.iter().map(|(_, c)| c.clone()).collect();
    std::fs::write(tmp.path().join("root.pem"), ca.root_pem()).unwrap();
    let trust_list = TrustList::from_yaml(TRUST_LIST, tmp.path()).unwrap();
    let verifier = Verifier::new(trust_list.clone());
    let (logged_verifier, proofs) = logged(tmp.path(), &issued);

    // The floor: the leaf's signature over its TBSCertificate, with the issuing CA's key.
    let (_, ca_cert) = X509Certificate::from_der(chains[0][1].as_ref()).unwrap();
    let ca_key = ca_cert.public_key().subject_public_key.data.to_vec();
    let signed: Vec<(Vec<u8>, Vec<u8>)> = chains
        .iter()
        .map(|chain| {
            let (_, leaf) = X509Certificate::from_der(chain[0].as_ref()).unwrap();
            (
                leaf.tbs_certificate.as_ref().to_vec(),
                leaf.signature_value.data.to_vec(),
            )
        })
        .collect();

    // Bare webpki: the same anchor and EKU our verifier uses.
    let root_der = CertificateDer::from(
        pem::parse(ca.root_pem().as_bytes())
            .unwrap()
            .into_contents(),
    );
    let anchors = [webpki::anchor_from_trusted_cert(&root_der)
        .unwrap()
        .to_owned()];
    let anchors: &[TrustAnchor<'_>] = &anchors;
    let unix_now = UnixTime::now();
    let eku = webpki::KeyUsage::required(ID_KP_MIMI_MAPPING.der_value());

    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    let mut next = move || {
        i = (i + 1) % LEAVES;
        i
    };
    g.bench_function("baseline: ring ECDSA P-256 verify", |b| {
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &ca_key);
        b.iter(|| {
            let (tbs, sig) = &signed[next()];
            key.verify(tbs, sig).unwrap()
        })
    });
    g.bench_function("bare webpki verify_for_usage (3-cert chain)", |b| {
        b.iter(|| {
            let chain = &chains[next()];
            let ee = webpki::EndEntityCert::try_from(&chain[0]).unwrap();
            ee.verify_for_usage(
                &[webpki::ring::ECDSA_P256_SHA256],
                anchors,
                &chain[1..],
                unix_now,
                eku,
                None,
                None,
            )
            .map(|_| ())
            .unwrap()
        })
    });
    g.bench_function("Verifier::verify, steady state", |b| {
        b.iter(|| verifier.verify(&chains[next()], now).unwrap())
    });
    g.bench_function("Verifier::verify, cold (new Verifier)", |b| {
        b.iter(|| {
            let v = Verifier::new(trust_list.clone());
            v.verify(&chains[next()], now).unwrap()
        })
    });
    g.bench_function(
        "Verifier::verify_with, steady state, required log proof (quorum 1)",
        |b| {
            b.iter(|| {
                let i = next();
                let options = VerifyOptions::at(now).log_proof(&proofs[i]);
                let m = logged_verifier.verify_with(&chains[i], &options).result;
                assert!(m.unwrap().log.is_some());
            })
        },
    );
    let pems: Vec<String> = chains
        .iter()
        .map(|chain| {
            chain
                .iter()
                .map(|c| {
                    pem::encode_config(
                        &pem::Pem::new("CERTIFICATE", c.to_vec()),
                        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
                    )
                })
                .collect()
        })
        .collect();
    g.bench_function(
        "Verifier::verify, steady state (chain_from_pem included)",
        |b| {
            b.iter(|| {
                let chain = chain_from_pem(pems[next()].as_bytes()).unwrap();
                verifier.verify(&chain, now).unwrap()
            })
        },
    );
    g.finish();
}

/// A log holding every leaf of `issued` (one batch, one checkpoint cosigned by one witness),
/// a verifier whose trust list requires its proofs with a witness quorum of 1, and each
/// leaf's proof (parsed from its text, as a platform reads it).
fn logged(
    dir: &std::path::Path,
    issued: &[(Sii, Vec<CertificateDer<'static>>)],
) -> (Verifier, Vec<TlogProof>) {
    const ORIGIN: &str = "log.example/bench";
    let key = NoteSigningKey::from_seed(ORIGIN, KeyType::Ed25519, &[1; 32]).unwrap();
    let vkey = key.verifier_key().clone();
    let witness =
        NoteSigningKey::from_seed("witness.example/w1", KeyType::Cosignature, &[2; 32]).unwrap();
    let vrf = VrfSecretKey::from_seed(&[3; 32]);
    let mut writer = LogWriter::create(&dir.join("log"), key).unwrap();
    let (_, ca) = X509Certificate::from_der(issued[0].1[1].as_ref()).unwrap();
    let ca_spki = ca.public_key().raw.to_vec();
    let pis: Vec<_> = issued
        .iter()
        .map(|(sii, _)| vrf.prove(sii.canonical().as_bytes()).unwrap())
        .collect();
    let entries: Vec<Vec<u8>> = issued
        .iter()
        .zip(&pis)
        .map(|((_, chain), pi)| {
            let label = pi.to_hash().unwrap().label();
            MappingLogEntry::from_leaf(chain[0].as_ref(), &ca_spki, label)
                .unwrap()
                .encode()
                .unwrap()
        })
        .collect();
    let cp = writer.append(&entries).unwrap();
    let cosigned = cp
        .with_signature_lines(&witness.signature_line(cp.text(), 1_800_000_000).unwrap())
        .unwrap();
    let proofs = pis
        .iter()
        .enumerate()
        .map(|(i, pi)| {
            let mut proof = writer
                .tlog_proof(i as u64, Some(pi.as_bytes().to_vec()))
                .unwrap();
            proof.checkpoint = cosigned.clone();
            TlogProof::parse(proof.to_text().as_bytes()).unwrap()
        })
        .collect();
    let yaml = format!(
        "{TRUST_LIST}policy:\n  log_proof: required\n  witness_quorum: 1\nlogs:\n  - name: bench\n    key: {vkey}\n    vrf_key: {}\nwitnesses:\n  - name: w1\n    key: {}\n",
        base64::engine::general_purpose::STANDARD.encode(vrf.public_key().as_bytes()),
        witness.verifier_key()
    );
    let verifier = Verifier::new(TrustList::from_yaml(&yaml, dir).unwrap());
    (verifier, proofs)
}

common::bench_main!(bench, common::CpuTime::thread());
