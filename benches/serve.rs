//! The exchange service on loopback: one keep-alive HTTP/1.1 connection with mutual TLS,
//! requests one after another. Baseline in the same run: a minimal rustls + hyper server
//! with the same TLS setup (client certificates required) answering a fixed 4 KiB body.
//! `lookup_1` and `lookup_100` ask for 1 and 100 SIIs of a store of 10,000 attestations.

#[path = "common/mod.rs"]
mod common;
#[path = "../tests/common/tls.rs"]
mod tls;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use criterion::{Criterion, Throughput};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use mimi_attest::{ServeConfig, Server};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use time::OffsetDateTime;

const STORE_SIZE: usize = 10_000;

fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.unwrap())
        .collect()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The baseline: the same TLS (client certificates under `client_ca`), a fixed 4 KiB answer.
async fn baseline(server: (String, String), client_ca: &str) -> SocketAddr {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certs(client_ca).remove(0)).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certs(&server.0),
            PrivateKeyDer::from_pem_slice(server.1.as_bytes()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = Bytes::from(vec![b'x'; 4096]);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, body) = (acceptor.clone(), body.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |_req| {
                    let body = body.clone();
                    async move { Ok::<_, Infallible>(hyper::Response::new(Full::new(body))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

/// A keep-alive connection to `addr` with the client's certificate.
async fn connect(
    addr: SocketAddr,
    server_ca: &str,
    client: &(String, String),
) -> SendRequest<Full<Bytes>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certs(server_ca).remove(0)).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            certs(&client.0),
            PrivateKeyDer::from_pem_slice(client.1.as_bytes()).unwrap(),
        )
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    send
}

async fn exchange(send: &mut SendRequest<Full<Bytes>>, body: &Bytes) -> usize {
    // The connection takes the next request once it has finished the last one.
    send.ready().await.unwrap();
    let req = hyper::Request::post("/v1/lookup")
        .header("host", "localhost")
        .body(Full::new(body.clone()))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.into_body().collect().await.unwrap().to_bytes().len()
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let now = OffsetDateTime::now_utc();
    let (ca, chains) = common::issued_chains(dir, STORE_SIZE, now);
    let tls_ca = tls::test_ca("bench TLS CA");
    let client_ca = tls::test_ca("bench client CA");
    let server = tls::tls_cert(&tls_ca, "localhost", true);
    let client = tls::tls_cert(&client_ca, "client", false);
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write("server.pem", &server.0);
    write("server.key", &server.1);
    let indent = |pem: &str| -> String { pem.lines().map(|l| format!("      {l}\n")).collect() };
    let fmt = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    write(
        "trust.yaml",
        &format!(
            "version: 2\nsequence: 1\nissued: {}\nexpires: {}\nanchors:\n  - name: chat-a\n    provider: chat-a.example\n    certificate_pem: |\n{}    scope: {{tel: [\"+1\"]}}\n    client_auth_pem: |\n{}",
            fmt(now - time::Duration::hours(1)),
            fmt(now + time::Duration::days(1)),
            indent(ca.root_pem()),
            indent(&client_ca.pem)
        ),
    );
    write(
        "serve.yaml",
        "listen: 127.0.0.1:0\ntls: {certificate: server.pem, key: server.key}\ntrust_list: trust.yaml\nca: ca\nrate_limit: {per_client_per_minute: 1000000000, burst: 1000000}\n",
    );
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
    let base_addr = runtime.block_on(baseline(server.clone(), &client_ca.pem));
    // A connection per benchmark, made just before it: an idle HTTP/1 connection is closed
    // after the header timeout.
    let connection = |addr| runtime.block_on(connect(addr, &tls_ca.pem, &client));
    let body_of = |n: usize| {
        let siis: Vec<String> = chains[..n].iter().map(|(s, _)| s.canonical()).collect();
        Bytes::from(serde_json::to_vec(&serde_json::json!({ "siis": siis })).unwrap())
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
