//! The exchange service's benchmarks' TLS side: the baseline server (the same mutual TLS as
//! `mimi-attest serve`, a fixed 4 KiB answer), and a client's keep-alive connection and request.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use time::OffsetDateTime;

use crate::tls;

/// The files `mimi-attest serve` runs from, written into one directory: `server.pem`,
/// `server.key`, `client-ca.pem`, `trust.yaml` (one anchor, chat-a.example, for `+1`, whose
/// client CA is `client-ca.pem`) and `serve.yaml` (no practical quota).
pub struct ServeDir {
    /// The CA of the server's certificate (for the clients).
    pub tls_ca_pem: String,
    /// The server's certificate and key (PEM).
    pub server: (String, String),
    /// The client CA's certificate (PEM).
    pub client_ca_pem: String,
    /// A client certificate and key under the client CA (PEM).
    pub client: (String, String),
}

impl ServeDir {
    /// Writes the files into `dir` for a CA directory at `ca_dir` whose root is `root_pem`.
    pub fn write(dir: &Path, ca_dir: &Path, root_pem: &str, now: OffsetDateTime) -> ServeDir {
        let tls_ca = tls::test_ca("bench TLS CA");
        let client_ca = tls::test_ca("bench client CA");
        let server = tls::tls_cert(&tls_ca, "localhost", true);
        let client = tls::tls_cert(&client_ca, "client", false);
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        write("server.pem", &server.0);
        write("server.key", &server.1);
        write("client-ca.pem", &client_ca.pem);
        let indent =
            |pem: &str| -> String { pem.lines().map(|l| format!("      {l}\n")).collect() };
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
                indent(root_pem),
                indent(&client_ca.pem)
            ),
        );
        write(
            "serve.yaml",
            &format!(
                "listen: 127.0.0.1:0\ntls: {{certificate: server.pem, key: server.key}}\ntrust_list: trust.yaml\nca: {}\nrate_limit: {{per_client_per_minute: 4000000000, burst: 1000000000}}\n",
                ca_dir.display()
            ),
        );
        ServeDir {
            tls_ca_pem: tls_ca.pem.clone(),
            server,
            client_ca_pem: client_ca.pem.clone(),
            client,
        }
    }
}

/// The certificates of a PEM text.
pub fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.unwrap())
        .collect()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The baseline, spawned on the current runtime: the same TLS (client certificates under
/// `client_ca` required), HTTP/1.1, a fixed 4 KiB answer to every request.
pub async fn baseline(server: (String, String), client_ca: &str) -> SocketAddr {
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
                let _ = tcp.set_nodelay(true);
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

/// A client's TLS config: the server checked under `server_ca`, the client's certificate and
/// key; no session resumption, so that every connection is a full handshake.
pub fn client_config(server_ca: &str, client: &(String, String)) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certs(server_ca).remove(0)).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            certs(&client.0),
            PrivateKeyDer::from_pem_slice(client.1.as_bytes()).unwrap(),
        )
        .unwrap();
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// A keep-alive HTTP/1.1 connection to `addr` over TLS with `config`.
pub async fn connect(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
) -> SendRequest<Full<Bytes>> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    send
}

/// One `POST /v1/lookup` with `body` on the connection; the answer's length. Anything but
/// 200 stops the benchmark.
pub async fn exchange(send: &mut SendRequest<Full<Bytes>>, body: &Bytes) -> usize {
    answer(send, body).await.len()
}

/// One `POST /v1/lookup` with `body` on the connection; the answer, as text.
pub async fn exchange_text(send: &mut SendRequest<Full<Bytes>>, body: &Bytes) -> String {
    String::from_utf8(answer(send, body).await.to_vec()).unwrap()
}

async fn answer(send: &mut SendRequest<Full<Bytes>>, body: &Bytes) -> Bytes {
    // The connection takes the next request once it has finished the last one.
    send.ready().await.unwrap();
    let req = hyper::Request::post("/v1/lookup")
        .header("host", "localhost")
        .body(Full::new(body.clone()))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200, "the server answered {}", resp.status());
    resp.into_body().collect().await.unwrap().to_bytes()
}

/// The lookup request body for `siis` (canonical SIIs).
pub fn lookup_body<S: AsRef<str>>(siis: &[S]) -> Bytes {
    let siis: Vec<&str> = siis.iter().map(AsRef::as_ref).collect();
    Bytes::from(serde_json::to_vec(&serde_json::json!({ "siis": siis })).unwrap())
}
