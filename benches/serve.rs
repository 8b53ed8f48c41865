//! The exchange service on loopback: one keep-alive HTTP/1.1 connection with mutual TLS,
//! requests one after another. Baseline in the same run: a minimal rustls + hyper server
//! with the same TLS setup (client certificates required) answering a fixed 4 KiB body.
//! `lookup_1` and `lookup_100` ask for 1 and 100 SIIs of a store of 10,000 attestations.

#[path = "common/mod.rs"]
mod common;
#[path = "common/exchange.rs"]
mod exchange;
#[path = "../tests/common/tls.rs"]
mod tls;

use criterion::{Criterion, Throughput};
use exchange::{baseline, client_config, connect, exchange, lookup_body, ServeDir};
use mimi_attest::{ServeConfig, Server};
use time::OffsetDateTime;

const STORE_SIZE: usize = 10_000;

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let now = OffsetDateTime::now_utc();
    let (ca, chains) = common::issued_chains(dir, STORE_SIZE, now);
    let files = ServeDir::write(dir, &dir.join("ca"), ca.root_pem(), now);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let config = ServeConfig::from_file(&dir.join("serve.yaml")).unwrap();
    let served = runtime.block_on(Server::bind(config)).unwrap();
    let serve_addr = served.local_addr().unwrap();
    let handle = served.handle();
    runtime.spawn(async move { served.run().await.unwrap() });
    let base_addr = runtime.block_on(baseline(files.server.clone(), &files.client_ca_pem));
    // A connection per benchmark, made just before it: an idle HTTP/1 connection is closed
    // after the header timeout.
    let tls_config = client_config(&files.tls_ca_pem, &files.client);
    let connection = |addr| runtime.block_on(connect(addr, &tls_config));
    let body_of = |n: usize| {
        let siis: Vec<String> = chains[..n].iter().map(|(s, _)| s.canonical()).collect();
        lookup_body(&siis)
    };
    let (one, hundred) = (body_of(1), body_of(100));

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("exchange");
    g.throughput(Throughput::Elements(1));
    g.bench_function("baseline_fixed_4k", |b| {
        let mut send = connection(base_addr);
        b.iter(|| runtime.block_on(exchange(&mut send, &one)))
    });
    g.bench_function("lookup_1", |b| {
        let mut send = connection(serve_addr);
        b.iter(|| runtime.block_on(exchange(&mut send, &one)))
    });
    g.throughput(Throughput::Elements(100));
    g.bench_function("lookup_100", |b| {
        let mut send = connection(serve_addr);
        b.iter(|| runtime.block_on(exchange(&mut send, &hundred)))
    });
    g.finish();
    c.final_summary();
    handle.shutdown();
}
