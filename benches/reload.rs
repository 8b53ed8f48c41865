//! Verification throughput of a `ReloadingVerifier` while its trust list is reloaded, against
//! the same verifier with no reloads, in one run (a load generator, not criterion: what is
//! measured is one thread's throughput and latency while another thread works).
//!
//! One thread (pinned to core 0) verifies one real chain (leaf and issuing CA of a
//! `ProviderCa`, whose root is one of the 100 anchors of a signed 2-of-3 version 2 list) with
//! `verify_with`, timing each call in wall-clock and thread CPU time. Each round has three
//! phases, while a second thread (pinned to core 1) every 10 ms does:
//!
//! - quiet: nothing;
//! - loading (the control): publishes a version of the list to another file, loads it
//!   (read, both signatures, 100 anchors parsed), makes a `Verifier` of it and frees it:
//!   the work of a reload without the swap, so that what the second core's work costs the
//!   verifying one on this machine (shared caches, the hypervisor, other tenants pushed onto
//!   core 0) is measured apart;
//! - reloading: publishes the next version (sequence + 1, signed beforehand) over the file
//!   and calls `reload()`, which swaps in a new `Verifier` (its verified-intermediate cache
//!   starts empty, so the first verification after each swap checks the whole chain).
//!
//! Per phase: throughput, latency percentiles, CPU per verification, time the verifying
//! thread waited for a core; and the verifications in flight at a swap and the first on
//! each new verifier, against those in flight at a 10 ms tick of a quiet phase.
//!
//! ```sh
//! cargo bench --bench reload                  # 3 rounds of 3 phases of 5 s
//! RELOAD_ROUNDS=2 RELOAD_STATE=1 cargo bench --bench reload   # reloads keep a state file
//! ```
//!
//! `RELOAD_SECS` sets a phase's length, `RELOAD_EVERY_MS` the interval (default 10),
//! `RELOAD_PIN=0` leaves the threads unpinned. Without `--bench` (as `cargo test --benches`
//! runs it) one short round checks that it works. Results: BENCHMARKS.md "Trust lists".

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mimi_attest::{Reload, ReloadingVerifier, TrustListSource, Verifier, VerifyOptions};
use time::OffsetDateTime;

#[path = "common/mod.rs"]
mod common;

const ANCHORS: usize = 100;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the verifying thread saw in one phase.
#[derive(Default)]
struct Phase {
    /// Wall-clock nanoseconds of each verification.
    latencies: Vec<u64>,
    /// The thread's CPU nanoseconds in each verification.
    cpu_latencies: Vec<u64>,
    /// (wall, CPU) nanoseconds of each verification during which a swap happened (it began
    /// on the old verifier; when it ends it may hold the last reference to it).
    spanning: Vec<(u64, u64)>,
    /// (wall, CPU) nanoseconds of the first verification begun after each swap (on the new
    /// verifier, whose cache is empty).
    first_after: Vec<(u64, u64)>,
    /// (wall, CPU) nanoseconds of each verification in flight at a multiple of the reload
    /// interval since the phase began: in a quiet phase, the control for `spanning` (a
    /// verification caught by an instant is more likely a long one).
    at_ticks: Vec<(u64, u64)>,
    wall: Duration,
    cpu: Duration,
    /// Time the thread waited for a core (scheduler statistics).
    run_delay: Option<Duration>,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let secs = if full { env_u64("RELOAD_SECS", 5) } else { 0 };
    let phase_len = if full {
        Duration::from_secs(secs)
    } else {
        Duration::from_millis(300)
    };
    let rounds = if full { env_u64("RELOAD_ROUNDS", 3) } else { 1 };
    let every = Duration::from_millis(env_u64("RELOAD_EVERY_MS", 10));
    let use_state = env_u64("RELOAD_STATE", 0) != 0;
    // One core verifies, the other reloads.
    let pin = env_u64("RELOAD_PIN", 1) != 0
        && std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    if pin {
        common::pin_thread(0).unwrap();
    }

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let now = OffsetDateTime::now_utc();
    let (ca, issued) = common::issued_chains(dir, 1, now);
    let chain = issued[0].1.clone();
    let mut roots = vec![ca.root_pem().to_owned()];
    roots.extend(common::p256_roots(ANCHORS - 1));
    let (keys, signers) = common::federation(3, 2);

    // Every version the reloading phases will need, signed before any timing starts.
    let per_phase = phase_len.as_millis() as u64 / every.as_millis().max(1) as u64 + 50;
    let versions = 1 + rounds * per_phase;
    let started = Instant::now();
    let lists: Vec<Vec<u8>> = (1..=versions)
        .map(|seq| {
            common::signed_list(
                &common::v2_list_text(seq, now, &roots, &signers),
                &keys[..2],
            )
        })
        .collect();
    eprintln!(
        "{versions} signed versions of a {ANCHORS}-anchor list ({} bytes each) in {:.1} s",
        lists[0].len(),
        started.elapsed().as_secs_f64()
    );

    let path = dir.join("trust-list.signed");
    let publish = |bytes: &[u8]| {
        // A new file renamed over the old one, as a publisher's sync does: a reload reads
        // one version or the other.
        let tmp = dir.join("trust-list.signed.tmp");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    };
    publish(&lists[0]);
    let mut source = TrustListSource::signed(&path, signers.clone());
    if use_state {
        source = source.with_state(dir.join("trust.state"));
    }
    let verifier = ReloadingVerifier::new(source, now).unwrap();
    let options = VerifyOptions::at(now);

    // Warm up: the cache holds the issuing CA, the code and data are in cache.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(if full { 1000 } else { 50 }) {
        verifier.verify_with(&chain, &options).result.unwrap();
    }

    let verify_for = |len: Duration| -> Phase {
        let mut p = Phase {
            latencies: Vec::with_capacity(200_000),
            ..Phase::default()
        };
        p.cpu_latencies.reserve(200_000);
        // Which verifier is in force, by address: a new one after each swap.
        let in_force = || Arc::as_ptr(&verifier.current()) as usize;
        let mut seen = in_force();
        let cpu0 = common::thread_cpu_time().unwrap_or_default();
        let delay0 = common::thread_run_delay();
        let start = Instant::now();
        loop {
            let before = in_force();
            let c0 = common::thread_cpu_time().unwrap_or_default();
            let t0 = Instant::now();
            let v = verifier.verify_with(&chain, &options);
            let t1 = Instant::now();
            let c1 = common::thread_cpu_time().unwrap_or_default();
            v.result.unwrap();
            let ns = (t1 - t0).as_nanos() as u64;
            let cpu_ns = (c1 - c0).as_nanos() as u64;
            p.latencies.push(ns);
            p.cpu_latencies.push(cpu_ns);
            if before != seen {
                seen = before;
                p.first_after.push((ns, cpu_ns));
            }
            if in_force() != before {
                p.spanning.push((ns, cpu_ns));
            }
            let tick = |t: Instant| (t - start).as_nanos() / every.as_nanos();
            if tick(t0) != tick(t1) {
                p.at_ticks.push((ns, cpu_ns));
            }
            if t1 - start >= len {
                p.wall = t1 - start;
                break;
            }
        }
        p.cpu = common::thread_cpu_time()
            .unwrap_or_default()
            .saturating_sub(cpu0);
        p.run_delay = common::thread_run_delay()
            .zip(delay0)
            .map(|(b, a)| b.saturating_sub(a));
        p
    };

    // The control for the reloading phase: the same work on the second core (publish,
    // read, check the signatures, parse, make a verifier and free it) without the swap.
    let control_path = dir.join("control.signed");
    let control = TrustListSource::signed(&control_path, signers);
    let publish_control = |bytes: &[u8]| {
        let tmp = dir.join("control.signed.tmp");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, &control_path).unwrap();
    };

    let timing = (phase_len, every, pin);
    let mut next_version = 1usize;
    let (mut quiet, mut loading, mut busy) = (Vec::new(), Vec::new(), Vec::new());
    let (mut load_ns, mut reload_ns) = (Vec::new(), Vec::new());
    let mut missed_ticks = 0u64;
    for _ in 0..rounds {
        quiet.push(verify_for(phase_len));
        let (times, missed, _) = beside(timing, next_version, &mut loading, &verify_for, |k| {
            publish_control(&lists[k]);
            let t0 = Instant::now();
            let accepted = control.load(OffsetDateTime::now_utc()).unwrap();
            drop(Verifier::new(accepted.list().clone()));
            drop(accepted);
            t0.elapsed()
        });
        load_ns.extend(times);
        missed_ticks += missed;
        let (times, missed, k) = beside(timing, next_version, &mut busy, &verify_for, |k| {
            publish(&lists[k]);
            let t0 = Instant::now();
            let r = verifier.reload(OffsetDateTime::now_utc()).unwrap();
            let took = t0.elapsed();
            assert_eq!(
                r,
                Reload::Swapped {
                    sequence: Some(k as u64 + 1)
                }
            );
            took
        });
        reload_ns.extend(times);
        missed_ticks += missed;
        next_version = k;
    }

    let q = summarize(&quiet);
    let l = summarize(&loading);
    let b = summarize(&busy);
    println!(
        "{rounds} round(s) of {:.1} s each: quiet, loading (the second thread loads the list every {} ms, no swap), reloading (reload() every {} ms); state file: {}; threads pinned: {}",
        phase_len.as_secs_f64(),
        every.as_millis(),
        every.as_millis(),
        if use_state { "yes" } else { "no" },
        if pin { "verify core 0, second thread core 1" } else { "no" },
    );
    println!(
        "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} | {:>8} {:>8} {:>8} {:>8} | {:>9}",
        "phase",
        "verified",
        "per s",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "max µs",
        ">1 ms",
        "CPU µs",
        "CPU p99",
        "CPU p99.9",
        "CPU max",
        "waited ms"
    );
    for (name, s) in [("quiet", &q), ("loading", &l), ("reloading", &b)] {
        println!(
            "{:<10} {:>9} {:>9.0} {:>9.1} {:>9.1} {:>9.1} {:>9.0} {:>7} | {:>8.2} {:>8.1} {:>8.1} {:>8.0} | {:>9}",
            name, s.count, s.rate, s.wall.p50, s.wall.p99, s.wall.p999, s.wall.max, s.over_1ms,
            s.cpu_mean, s.cpu.p99, s.cpu.p999, s.cpu.max,
            s.run_delay.map_or("-".to_owned(), |d| format!("{:.0}", d.as_secs_f64() * 1e3)),
        );
    }
    for (what, x, y) in [
        ("reloading / quiet", &b, &q),
        ("loading / quiet", &l, &q),
        ("reloading / loading", &b, &l),
    ] {
        println!(
            "{what}: throughput {:.3} (wall clock), {:.3} (verifications per CPU second)",
            x.rate / y.rate,
            y.cpu_mean / x.cpu_mean
        );
    }
    for (what, mut ns) in [("load + Verifier::new", load_ns), ("reload()", reload_ns)] {
        ns.sort_unstable();
        println!(
            "{what}: {} ({:.1}/s), p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ns.len(),
            ns.len() as f64 / (rounds as f64 * phase_len.as_secs_f64()),
            pct(&ns, 0.50) / 1e6,
            pct(&ns, 0.99) / 1e6,
            ns.last().copied().unwrap_or(0) as f64 / 1e6
        );
    }
    println!("ticks the second thread began late: {missed_ticks}");
    let samples = |phases: &[Phase], pick: fn(&Phase) -> &[(u64, u64)]| -> Vec<(u64, u64)> {
        phases
            .iter()
            .flat_map(|p| pick(p).iter().copied())
            .collect()
    };
    for (what, picked) in [
        (
            "quiet: in flight at a 10 ms tick (control)",
            samples(&quiet, |p| &p.at_ticks),
        ),
        (
            "reloading: in flight at a swap",
            samples(&busy, |p| &p.spanning),
        ),
        (
            "reloading: first begun after a swap",
            samples(&busy, |p| &p.first_after),
        ),
    ] {
        if picked.is_empty() {
            continue;
        }
        let n = picked.len();
        let (wall, cpu): (Vec<u64>, Vec<u64>) = picked.into_iter().unzip();
        let (wall, cpu) = (Spread::of(wall), Spread::of(cpu));
        println!(
            "{what} ({n}): wall p50 {:.1} µs, p99 {:.1} µs, max {:.0} µs; CPU p50 {:.1} µs, p99 {:.1} µs, max {:.0} µs",
            wall.p50, wall.p99, wall.max, cpu.p50, cpu.p99, cpu.max
        );
    }
    assert_eq!(verifier.current().anchors().len(), ANCHORS);
}

/// One phase of `verify` on this thread while a second thread (on core 1 when `pin`) calls
/// `work(k)` every `every`, with k = `first`, `first + 1`, …; returns the times `work`
/// reported, the ticks it began late, and the next k.
fn beside<V, W>(
    (len, every, pin): (Duration, Duration, bool),
    first: usize,
    phases: &mut Vec<Phase>,
    verify: &V,
    work: W,
) -> (Vec<u64>, u64, usize)
where
    V: Fn(Duration) -> Phase,
    W: Fn(usize) -> Duration + Send,
{
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let stop = &stop;
        let h = s.spawn(move || {
            if pin {
                common::pin_thread(1).unwrap();
            }
            let (mut times, mut missed, mut k) = (Vec::new(), 0u64, first);
            let start = Instant::now();
            let mut tick = 1u32;
            while !stop.load(Ordering::Relaxed) {
                let due = start + every * tick;
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                } else {
                    missed += 1;
                }
                tick += 1;
                times.push(work(k).as_nanos() as u64);
                k += 1;
            }
            (times, missed, k)
        });
        phases.push(verify(len));
        stop.store(true, Ordering::Relaxed);
        h.join().unwrap()
    })
}

/// Percentiles of one distribution, in µs.
struct Spread {
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

impl Spread {
    fn of(mut v: Vec<u64>) -> Spread {
        v.sort_unstable();
        Spread {
            p50: pct(&v, 0.50) / 1e3,
            p99: pct(&v, 0.99) / 1e3,
            p999: pct(&v, 0.999) / 1e3,
            max: v.last().copied().unwrap_or(0) as f64 / 1e3,
        }
    }
}

struct Summary {
    count: usize,
    rate: f64,
    wall: Spread,
    over_1ms: usize,
    cpu_mean: f64,
    cpu: Spread,
    run_delay: Option<Duration>,
}

fn summarize(phases: &[Phase]) -> Summary {
    let wall_ns: Vec<u64> = phases
        .iter()
        .flat_map(|p| p.latencies.iter().copied())
        .collect();
    let cpu_ns: Vec<u64> = phases
        .iter()
        .flat_map(|p| p.cpu_latencies.iter().copied())
        .collect();
    let wall: f64 = phases.iter().map(|p| p.wall.as_secs_f64()).sum();
    let cpu: f64 = phases.iter().map(|p| p.cpu.as_secs_f64()).sum();
    Summary {
        count: wall_ns.len(),
        rate: wall_ns.len() as f64 / wall,
        over_1ms: wall_ns.iter().filter(|&&n| n > 1_000_000).count(),
        cpu_mean: cpu * 1e6 / wall_ns.len() as f64,
        wall: Spread::of(wall_ns),
        cpu: Spread::of(cpu_ns),
        run_delay: phases.iter().map(|p| p.run_delay).sum(),
    }
}

/// The `q` quantile of sorted `v`, in its unit.
fn pct(v: &[u64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() - 1) as f64 * q).round() as usize] as f64
}
