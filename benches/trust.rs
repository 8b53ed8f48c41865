//! Loading a version 2 trust list of 100 anchors (100 distinct real P-256 roots, inline PEM,
//! scopes) in its signed form against parsing the same list as plain YAML, in one run:
//!
//! - baseline: `TrustList::from_yaml` on the plain text (no file, no signatures);
//! - `TrustListSource::plain(..).load`: the plain list from its file;
//! - `TrustListSource::signed(..).load`: the signed list from its file, 2-of-3 and 3-of-5
//!   signatures checked, with no state file, with a state file that already holds this list
//!   (a restart: lock, read, compare) and with a new state file (written and synced);
//! - `SignedTrustList::parse` alone (the note's syntax), `Verifier::new` on the loaded list
//!   and dropping that verifier, to show where the time of a reload goes.
//!
//! `cargo bench --bench trust`; with `BENCH_CPU_TIME=1` (Linux) the thread's CPU time is
//! measured instead of wall time (see benches/verify.rs). Ratios against the baseline are in
//! BENCHMARKS.md "Trust lists".

use criterion::measurement::Measurement;
use criterion::{BatchSize, Criterion};
use mimi_attest::{SignedTrustList, TrustList, TrustListSource, Verifier};
use time::OffsetDateTime;

#[path = "common/mod.rs"]
mod common;

const ANCHORS: usize = 100;

fn bench<M: Measurement + 'static>(c: &mut Criterion<M>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let now = OffsetDateTime::now_utc();
    let roots = common::p256_roots(ANCHORS);
    let (keys3, set3) = common::federation(3, 2);
    let (keys5, set5) = common::federation(5, 3);
    let text = common::v2_list_text(7, now, &roots, &set3);
    let text5 = common::v2_list_text(7, now, &roots, &set5);
    let plain = dir.join("trust-list.yaml");
    std::fs::write(&plain, &text).unwrap();
    let signed3 = dir.join("trust-list-2of3.signed");
    let bytes3 = common::signed_list(&text, &keys3[..2]);
    std::fs::write(&signed3, &bytes3).unwrap();
    let signed5 = dir.join("trust-list-3of5.signed");
    std::fs::write(&signed5, common::signed_list(&text5, &keys5[..3])).unwrap();
    eprintln!(
        "list of {ANCHORS} anchors: {} bytes plain, {} bytes signed 2-of-3",
        text.len(),
        bytes3.len()
    );

    let source3 = TrustListSource::signed(&signed3, set3.clone());
    let source5 = TrustListSource::signed(&signed5, set5);
    let state = dir.join("trust.state");
    let with_state = source3.clone().with_state(&state);
    // The state holds this list: later loads find it unchanged and write nothing.
    assert!(!with_state.load(now).unwrap().is_unchanged());
    assert!(with_state.load(now).unwrap().is_unchanged());
    let plain_source = TrustListSource::plain(&plain);
    let list = plain_source.load(now).unwrap().into_list();
    assert_eq!(list.anchors().len(), ANCHORS);

    let mut g = c.benchmark_group("trust list (100 anchors)");
    g.bench_function("baseline: TrustList::from_yaml, plain text", |b| {
        b.iter(|| TrustList::from_yaml(&text, dir).unwrap())
    });
    g.bench_function("TrustListSource::plain load (file)", |b| {
        b.iter(|| plain_source.load(now).unwrap())
    });
    g.bench_function("TrustListSource::signed load, 2-of-3, no state", |b| {
        b.iter(|| source3.load(now).unwrap())
    });
    g.bench_function("TrustListSource::signed load, 3-of-5, no state", |b| {
        b.iter(|| source5.load(now).unwrap())
    });
    g.bench_function(
        "TrustListSource::signed load, 2-of-3, state file holding this list",
        |b| b.iter(|| assert!(with_state.load(now).unwrap().is_unchanged())),
    );
    let fresh = dir.join("fresh.state");
    let fresh_source = source3.clone().with_state(&fresh);
    g.bench_function(
        "TrustListSource::signed load, 2-of-3, new state file (written, synced)",
        |b| {
            b.iter_batched(
                || {
                    let _ = std::fs::remove_file(&fresh);
                },
                |()| fresh_source.load(now).unwrap(),
                BatchSize::PerIteration,
            )
        },
    );
    g.bench_function("SignedTrustList::parse (note syntax only)", |b| {
        b.iter(|| SignedTrustList::parse(&bytes3, "bench").unwrap())
    });
    g.bench_function(
        "Verifier::new on the loaded list (its clone included)",
        |b| b.iter(|| Verifier::new(list.clone())),
    );
    g.bench_function("dropping a Verifier of the list", |b| {
        b.iter_batched(|| Verifier::new(list.clone()), drop, BatchSize::SmallInput)
    });
    g.finish();
}

common::bench_main!(bench, common::CpuTime::thread());
