//! Issuance cost against its floor, in one run: a raw ECDSA P-256 signature with ring versus
//! issuing leaves (checks, serial reservation, signing, pre-issuance lint and the durable
//! store write, WAL + synchronous=FULL): a small batch through `ProviderCa::issue_many`, and
//! `issue-batch`'s own loop (`run_batch`, JSON lines in and out) over 16,384 requests, into a
//! new store and into one of 300,000 leaves. Run on one core for the ratio and on two for the
//! scaling (the store commits run on their own thread, so pin the process, not only rayon):
//! `RAYON_NUM_THREADS=1 taskset -c 0 cargo bench --bench issue` and
//! `RAYON_NUM_THREADS=2 taskset -c 0,1 cargo bench --bench issue`. With `BENCH_CPU_TIME=1`
//! (Linux) criterion measures the process's CPU time (all its threads) instead of wall time:
//! on a shared machine the one-core ratios then do not depend on how much of the core the
//! other work left (waits for the disk are not counted either); it says nothing of scaling.

/// The allocator `mimi-attest` (the command) runs with: this measures what `issue-batch` does.
#[cfg(feature = "cli")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::fs::File;
use std::io::BufWriter;

use criterion::measurement::Measurement;
use criterion::{BatchSize, Criterion, Throughput};
use mimi_attest::run_batch;
use mimi_attest::CertStatus;
use mimi_attest::{init_log, IssueRequest, KeyProtection, ProviderCa, Sii, SubjectKey};
use time::OffsetDateTime;

#[path = "common/mod.rs"]
mod common;
use common::CONFIG;

fn bench<M: Measurement + 'static>(c: &mut Criterion<M>) {
    let (rng, key) = common::ring_key();
    // About the size of a mapping leaf's TBSCertificate.
    let tbs = vec![0x5a_u8; 520];

    let mut g = c.benchmark_group("issue");
    g.throughput(Throughput::Elements(1));
    g.bench_function("baseline: ring ECDSA P-256 sign", |b| {
        b.iter(|| key.sign(&rng, &tbs).unwrap())
    });

    let tmp = tempfile::tempdir().unwrap();
    let new_ca = |dir: &std::path::Path| {
        ProviderCa::init(CONFIG, "bench", &dir.join("ca"), OffsetDateTime::now_utc()).unwrap()
    };
    // Public keys made once, outside the measurement: a real batch brings its clients' keys.
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let spki = rcgen::PublicKeyData::subject_public_key_info(&key_pair);
    let spki_pem = pem::encode(&pem::Pem::new("PUBLIC KEY", spki.clone()));
    // Requests as a provider sees them: SIIs and request ids in no particular order, so they
    // land on random pages of their indexes, as the random serials do.
    let mut counter: u64 = 0;
    let mut next_request = |with_id: bool| {
        counter += 1;
        let h = counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut r = IssueRequest::new(Sii::parse(&format!("+1555{:07}", h % 10_000_000)).unwrap());
        r.key = SubjectKey::PublicKey(spki.clone());
        if with_id {
            r.request_id = Some(format!("{:016x}", h.rotate_left(17)));
        }
        r
    };

    // A small batch through the library: one sub-batch, so its reservation and completion
    // commits cannot overlap any signing.
    let mut small = new_ca(&tmp.path().join("small"));
    g.throughput(Throughput::Elements(64));
    g.bench_function("issue_many: 64 leaves, stored durably", |b| {
        b.iter_batched(
            || (0..64).map(|_| next_request(false)).collect::<Vec<_>>(),
            |reqs| {
                let out = small.issue_many(&reqs, OffsetDateTime::now_utc()).unwrap();
                assert!(out.iter().all(Result::is_ok));
            },
            BatchSize::SmallInput,
        )
    });

    // What `mimi-attest issue-batch` does, minus process start, reading the input file and
    // the final sync and rename of the output: JSON request lines (id, SII, public key PEM)
    // in, JSON result lines (chain PEM, ~1.8 KB each) out through a `BufWriter` into a real
    // file, as the command writes them (`PendingFile`: a `BufWriter` over a file), in one
    // pipeline (sub-batches of 512, 1,024, 2,048, then 4,096); into a new store (the
    // results file in the iteration's temporary directory; closing the store, which folds
    // what is left of the write-ahead log into the database, is inside the measurement, as
    // the command closes it before it exits), and into one that already holds PREFILL
    // leaves (a results file in the bench's temporary directory, truncated before each
    // iteration; the log carries over from one iteration to the next). The cost per leaf
    // grows with the store: see BENCHMARKS.md. Creating or truncating the file is outside
    // the measurement; writing and flushing it are inside.
    const LINES: u64 = 16_384;
    const PREFILL: usize = 300_000;
    let mut large = new_ca(&tmp.path().join("large"));
    let prefill: Vec<IssueRequest> = (0..PREFILL).map(|_| next_request(true)).collect();
    for part in prefill.chunks(LINES as usize) {
        large.issue_many(part, OffsetDateTime::now_utc()).unwrap();
    }
    drop(prefill);
    let mut batch_input = || {
        let mut input = Vec::new();
        for _ in 0..LINES {
            let r = next_request(true);
            let line = serde_json::json!({
                "id": r.request_id,
                "sii": r.sii.canonical(),
                "public_key": spki_pem,
            });
            input.extend_from_slice(line.to_string().as_bytes());
            input.push(b'\n');
        }
        input
    };
    g.throughput(Throughput::Elements(LINES));
    g.sample_size(10);
    // A new (or truncated) results file, opened and buffered as the command opens its
    // output (which also syncs it; that is left out here).
    let results_file = |path: &std::path::Path| {
        // 256 KiB, as PendingFile buffers.
        BufWriter::with_capacity(256 << 10, File::create(path).unwrap())
    };
    let run = |ca: &mut ProviderCa, input: Vec<u8>, mut output: BufWriter<File>| {
        let summary = run_batch(
            ca,
            &mut input.as_slice(),
            &mut output,
            &OffsetDateTime::now_utc,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(summary.issued, LINES);
        // Flushed inside the measurement; the file is closed outside it.
        output.into_inner().unwrap()
    };
    // A new CA for every iteration (made outside the measurement, removed after it).
    g.bench_function(
        format!("issue-batch (run_batch): {LINES} JSON requests, new store"),
        |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().unwrap();
                    let ca = new_ca(dir.path());
                    let output = results_file(&dir.path().join("results.jsonl"));
                    (dir, ca, batch_input(), output)
                },
                |(dir, mut ca, input, output)| {
                    let file = run(&mut ca, input, output);
                    drop(ca);
                    (dir, file)
                },
                BatchSize::PerIteration,
            )
        },
    );
    // The same with the CA writing a transparency log (a new log beside the new CA): every
    // leaf labelled (one VRF proof), appended, and one checkpoint per sub-batch, fsynced
    // before the results are handed out. The ratio to the case above is the issue's target.
    g.bench_function(
        format!("issue-batch (run_batch): {LINES} JSON requests, new store, logged"),
        |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().unwrap();
                    let log_dir = dir.path().join("log");
                    init_log(&log_dir, "log.example/bench", &KeyProtection::Insecure).unwrap();
                    let config = format!("{CONFIG}log:\n  dir: {}\n", log_dir.display());
                    let ca = ProviderCa::init(
                        &config,
                        "bench",
                        &dir.path().join("ca"),
                        OffsetDateTime::now_utc(),
                    )
                    .unwrap();
                    let output = results_file(&dir.path().join("results.jsonl"));
                    (dir, ca, batch_input(), output)
                },
                |(dir, mut ca, input, output)| {
                    let file = run(&mut ca, input, output);
                    drop(ca);
                    (dir, file)
                },
                BatchSize::PerIteration,
            )
        },
    );
    let rows_before = large.store().count(CertStatus::Issued).unwrap_or(0);
    let large_results = tmp.path().join("large-results.jsonl");
    g.bench_function(
        format!("issue-batch (run_batch): {LINES} JSON requests, store of 300k"),
        |b| {
            b.iter_batched(
                || (batch_input(), results_file(&large_results)),
                |(input, output)| run(&mut large, input, output),
                BatchSize::PerIteration,
            )
        },
    );
    // The store grows as criterion iterates: say how large it was.
    eprintln!(
        "store of 300k: {rows_before} issued certificates before, {} after",
        large.store().count(CertStatus::Issued).unwrap_or(0)
    );
    g.finish();
}

common::bench_main!(bench, common::CpuTime::process());
