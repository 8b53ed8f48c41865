//! The transparency log's costs against signature baselines, in one run, on real leaves from a
//! `ProviderCa`:
//!
//! - baselines: one ring ECDSA P-256 sign and one verify (what issuing and verifying a leaf
//!   cost at the least);
//! - VRF prove (the log labelling an SII) and VRF verify (a relying platform checking the
//!   label of a proof);
//! - `LogOperator::add` per entry, batches of 256 (label, entry, index lookup, tiles and
//!   bundles fsynced, one checkpoint signed per batch);
//! - `check_mapping_proof` on a tlog-proof (VRF verify, entry rebuilt from the leaf, inclusion
//!   proof, checkpoint signature).
//!
//! `cargo bench --bench log` (one core; ratios are throughput against the baselines of the
//! same run). `MIMI_BENCH_LOG_ENTRIES=1000000 cargo bench --bench log` instead appends that
//! many entries in batches of 4,096 and prints the time, the bytes on disk per entry and the
//! peak memory.

use std::time::Instant;

use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use mimi_attest::{check_mapping_proof, LogWriter};
use mimi_attest::{
    KeyType, LogKeys, LogOperator, NoteSigningKey, Submission, VrfProof, VrfSecretKey,
};
use ring::signature::{KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

#[path = "common/mod.rs"]
mod common;
const ORIGIN: &str = "log.example/bench";
const LEAVES: usize = 256;

fn note_key() -> NoteSigningKey {
    NoteSigningKey::from_seed(ORIGIN, KeyType::Ed25519, &[3; 32]).unwrap()
}

/// (leaf DER, issuing CA SPKI DER, canonical SII) of distinct leaves.
fn leaves(n: usize) -> Vec<(Vec<u8>, Vec<u8>, String)> {
    let tmp = tempfile::tempdir().unwrap();
    let (_, chains) = common::issued_chains(tmp.path(), n, OffsetDateTime::now_utc());
    chains
        .into_iter()
        .map(|(sii, chain)| {
            let (_, issuer) = X509Certificate::from_der(chain[1].as_ref()).unwrap();
            (
                chain[0].to_vec(),
                issuer.tbs_certificate.subject_pki.raw.to_vec(),
                sii.canonical().to_owned(),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let leaves = leaves(LEAVES);
    let (rng, ecdsa) = common::ring_key();
    let message = leaves[0].0.clone();
    let signature = ecdsa.sign(&rng, &message).unwrap();
    let ecdsa_public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, ecdsa.public_key().as_ref());
    let vrf = VrfSecretKey::from_seed(&[4; 32]);
    let proofs: Vec<VrfProof> = leaves
        .iter()
        .map(|(_, _, sii)| vrf.prove(sii.as_bytes()).unwrap())
        .collect();

    let mut g = c.benchmark_group("log");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    let mut next = move || {
        i = (i + 1) % LEAVES;
        i
    };
    g.bench_function("baseline: ring ECDSA P-256 sign", |b| {
        b.iter(|| ecdsa.sign(&rng, &message).unwrap())
    });
    g.bench_function("baseline: ring ECDSA P-256 verify", |b| {
        b.iter(|| ecdsa_public.verify(&message, signature.as_ref()).unwrap())
    });
    g.bench_function("VRF prove (ECVRF-EDWARDS25519-SHA512-TAI)", |b| {
        b.iter(|| vrf.prove(leaves[next()].2.as_bytes()).unwrap())
    });
    g.bench_function("VRF verify", |b| {
        b.iter(|| {
            let n = next();
            vrf.public_key()
                .verify(leaves[n].2.as_bytes(), &proofs[n])
                .unwrap()
        })
    });

    // Appending: each iteration a batch of 256 fresh leaves (distinct per log) to a log of
    // the same size, so every batch does the same work.
    let subs: Vec<Submission<'_>> = leaves
        .iter()
        .map(|(leaf, spki, _)| Submission::new(leaf, spki))
        .collect();
    g.throughput(Throughput::Elements(LEAVES as u64));
    g.sample_size(10);
    g.bench_function("LogOperator::add, batch of 256, per entry", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let op =
                    LogOperator::create(dir.path(), note_key(), VrfSecretKey::from_seed(&[4; 32]))
                        .unwrap();
                (dir, op)
            },
            |(dir, mut op)| {
                op.add(&subs).unwrap();
                (dir, op)
            },
            BatchSize::PerIteration,
        )
    });
    g.sample_size(100);
    g.throughput(Throughput::Elements(1));

    // Checking proofs: one log holding all leaves; proofs against its checkpoint.
    let dir = tempfile::tempdir().unwrap();
    let mut op =
        LogOperator::create(dir.path(), note_key(), VrfSecretKey::from_seed(&[4; 32])).unwrap();
    let logged = op.add(&subs).unwrap();
    let tlog_proofs: Vec<_> = logged.iter().map(|l| op.proof(l).unwrap()).collect();
    let keys = LogKeys::new(
        ORIGIN,
        note_key().verifier_key().clone(),
        op.vrf_public_key().clone(),
    );
    g.bench_function(
        "check_mapping_proof (VRF, entry, inclusion, checkpoint)",
        |b| {
            b.iter(|| {
                let n = next();
                check_mapping_proof(&tlog_proofs[n], &leaves[n].0, &leaves[n].1, &keys, &[])
                    .unwrap()
            })
        },
    );
    g.finish();
}

/// Appends `n` entries (real entry sizes, distinct contents) in batches of 4,096 and reports
/// time, bytes on disk per entry and peak memory.
fn append_many(n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogWriter::create(dir.path(), note_key()).unwrap();
    let entry_len = 115 + "chat-a.example".len();
    let start = Instant::now();
    let mut done = 0u64;
    while done < n {
        let batch: Vec<Vec<u8>> = (done..(done + 4096).min(n))
            .map(|i| {
                let mut e = vec![0u8; entry_len];
                e[..8].copy_from_slice(&i.to_be_bytes());
                e
            })
            .collect();
        done += batch.len() as u64;
        log.append(&batch).unwrap();
    }
    let elapsed = start.elapsed();
    let bytes = disk_usage(dir.path());
    println!(
        "appended {n} entries in {:.1} s ({:.1} µs per entry); {} bytes on disk, {:.1} per entry; peak RSS {} kB",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / n as f64,
        bytes,
        bytes as f64 / n as f64,
        peak_rss_kb()
    );
}

fn disk_usage(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                disk_usage(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

criterion_group!(benches, bench);

fn main() {
    match std::env::var("MIMI_BENCH_LOG_ENTRIES") {
        Ok(n) => append_many(n.parse().expect("MIMI_BENCH_LOG_ENTRIES is a number")),
        Err(_) => {
            benches();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}
