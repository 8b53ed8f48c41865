//! Issuance cost against its floor, in one run: a raw ECDSA P-256 signature with ring versus
//! issuing leaves through `ProviderCa::issue_many` (checks, serial reservation, signing and
//! the durable store write, WAL + synchronous=FULL), for a small batch and for one
//! `issue-batch` chunk. Run on one core for the ratio and on two for the scaling (the store
//! commits run on their own thread, so pin the process, not only rayon):
//! `RAYON_NUM_THREADS=1 taskset -c 0 cargo bench --bench issue` and
//! `RAYON_NUM_THREADS=2 taskset -c 0,1 cargo bench --bench issue`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mimi_attest::{IssueRequest, ProviderCa, Sii, SubjectKey};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use time::OffsetDateTime;

const CONFIG: &str =
    "provider: chat-a.example\norganization: Chat A Inc.\nscope:\n  tel: [\"+1\"]\n";

fn bench(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    // About the size of a mapping leaf's TBSCertificate.
    let tbs = vec![0x5a_u8; 520];

    let mut g = c.benchmark_group("issue");
    g.throughput(Throughput::Elements(1));
    g.bench_function("baseline: ring ECDSA P-256 sign", |b| {
        b.iter(|| key.sign(&rng, &tbs).unwrap())
    });

    let tmp = tempfile::tempdir().unwrap();
    let mut ca = ProviderCa::init(
        CONFIG,
        "bench",
        &tmp.path().join("ca"),
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    // Public keys made once, outside the measurement: a real batch brings its clients' keys.
    let spki = rcgen::PublicKeyData::subject_public_key_info(&rcgen::KeyPair::generate().unwrap());
    let mut counter: u64 = 0;
    // 64: a small batch (one sub-batch: its reservation and completion commits cannot
    // overlap any signing); 4096: one `issue-batch` chunk, with a request id per leaf as
    // `issue-batch` gives (the unique index), eight sub-batches whose commits overlap signing.
    for (n, with_ids) in [(64u64, false), (4096, true)] {
        g.throughput(Throughput::Elements(n));
        g.sample_size(if n > 1000 { 10 } else { 100 });
        let name = if with_ids {
            format!("issue_many: {n} leaves with request ids, stored durably")
        } else {
            format!("issue_many: {n} leaves, stored durably")
        };
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    (0..n)
                        .map(|_| {
                            counter += 1;
                            let mut r = IssueRequest::new(
                                Sii::parse(&format!("+1555{:07}", counter % 10_000_000)).unwrap(),
                            );
                            r.key = SubjectKey::PublicKey(spki.clone());
                            if with_ids {
                                r.request_id = Some(format!("bench-{counter}"));
                            }
                            r
                        })
                        .collect::<Vec<_>>()
                },
                |reqs| {
                    let out = ca.issue_many(&reqs, OffsetDateTime::now_utc()).unwrap();
                    assert!(out.iter().all(Result::is_ok));
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
    // The cost per leaf grows with the store (random serial, request-id and SII index
    // inserts touch more distinct pages): say how large it got.
    eprintln!(
        "issuance store at the end: {} rows",
        ca.store().all().map(|rows| rows.len()).unwrap_or(0)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
