//! The service's counters, served as Prometheus text at `GET /metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// The statuses the service answers with, in the order they are reported.
const STATUSES: [u16; 11] = [200, 400, 403, 404, 405, 413, 422, 429, 500, 503, 504];

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// Counters updated with relaxed atomics: each is independent, and a scrape that sees one a
/// request ahead of another is harmless.
#[derive(Default)]
pub(crate) struct Metrics {
    by_status: [AtomicU64; STATUSES.len()],
    other_status: AtomicU64,
    lookups: AtomicU64,
    found: AtomicU64,
    not_found: AtomicU64,
    rate_limited: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_micros: AtomicU64,
}

impl Metrics {
    /// One request answered with `status` after `latency`.
    pub(crate) fn request(&self, status: u16, latency: Duration) {
        match STATUSES.iter().position(|s| *s == status) {
            Some(i) => self.by_status[i].fetch_add(1, Relaxed),
            None => self.other_status.fetch_add(1, Relaxed),
        };
        if status == 429 {
            self.rate_limited.fetch_add(1, Relaxed);
        }
        let secs = latency.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_micros
            .fetch_add(latency.as_micros() as u64, Relaxed);
    }

    /// One lookup answered: how many SIIs were found and not found.
    pub(crate) fn lookup(&self, found: u64, not_found: u64) {
        self.lookups.fetch_add(1, Relaxed);
        self.found.fetch_add(found, Relaxed);
        self.not_found.fetch_add(not_found, Relaxed);
    }

    /// The Prometheus text exposition.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP mimi_requests_total HTTP requests answered, by status."
        );
        let _ = writeln!(out, "# TYPE mimi_requests_total counter");
        for (s, n) in STATUSES.iter().zip(&self.by_status) {
            let _ = writeln!(
                out,
                "mimi_requests_total{{status=\"{s}\"}} {}",
                n.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "mimi_requests_total{{status=\"other\"}} {}",
            self.other_status.load(Relaxed)
        );
        for (name, help, v) in [
            (
                "mimi_lookups_total",
                "Lookup requests answered (200).",
                &self.lookups,
            ),
            (
                "mimi_lookup_found_total",
                "SIIs looked up and found.",
                &self.found,
            ),
            (
                "mimi_lookup_not_found_total",
                "SIIs looked up and not found.",
                &self.not_found,
            ),
            (
                "mimi_rate_limited_total",
                "Requests refused over a client's quota (429).",
                &self.rate_limited,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Relaxed)
            );
        }
        let name = "mimi_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from a request's headers to its answer."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (b, n) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.latency_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
        out
    }
}
