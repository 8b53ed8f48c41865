//! What the pre-issuance lint costs against the signature it guards, in one run: a raw
//! ECDSA P-256 signature with ring versus parsing and linting one real mapping leaf as
//! `ProviderCa` does before it stores a leaf. Run single-core for the ratio:
//! `RAYON_NUM_THREADS=1 cargo bench --bench lint`.

use criterion::{criterion_group, criterion_main, Criterion};
use mimi_attest::{lint_certificate, lint_certificate_min, Role, Severity};
use mimi_attest::{IssueRequest, ProviderCa, Sii, SubjectKey};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

#[path = "common/mod.rs"]
mod common;
use common::CONFIG;

fn bench(c: &mut Criterion) {
    let (rng, key) = common::ring_key();
    // About the size of a mapping leaf's TBSCertificate.
    let tbs = vec![0x5a_u8; 520];

    // One real leaf, as the CA issues it.
    let tmp = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    let mut ca = ProviderCa::init(CONFIG, "bench", &tmp.path().join("ca"), now).unwrap();
    let mut req = IssueRequest::new(Sii::parse("+15551234567").unwrap());
    let spki = rcgen::PublicKeyData::subject_public_key_info(&rcgen::KeyPair::generate().unwrap());
    req.key = SubjectKey::PublicKey(spki);
    let der = ca.issue(&req, now).unwrap().leaf_der;
    assert!(lint_certificate(&der, Some(Role::Leaf))
        .unwrap()
        .1
        .is_empty());

    let mut g = c.benchmark_group("lint");
    g.bench_function("baseline: ring ECDSA P-256 sign", |b| {
        b.iter(|| key.sign(&rng, &tbs).unwrap())
    });
    g.bench_function("parse: x509-parser of one leaf", |b| {
        b.iter(|| X509Certificate::from_der(std::hint::black_box(&der)).is_ok())
    });
    g.bench_function(
        "parse: x509-parser of one leaf, extensions not deep-parsed",
        |b| {
            let p = x509_parser::certificate::X509CertificateParser::new()
                .with_deep_parse_extensions(false);
            b.iter(|| {
                use x509_parser::nom::Parser;
                let mut p = p;
                p.parse(std::hint::black_box(&der)).is_ok()
            })
        },
    );
    g.bench_function("lint: every lint on one leaf (lint_certificate)", |b| {
        b.iter(|| lint_certificate(std::hint::black_box(&der), Some(Role::Leaf)).unwrap())
    });
    g.bench_function(
        "lint: pre-issuance check of one leaf (Error lints only)",
        |b| {
            b.iter(|| {
                lint_certificate_min(
                    std::hint::black_box(&der),
                    Some(Role::Leaf),
                    Severity::Error,
                )
                .unwrap()
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
