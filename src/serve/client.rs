//! The lookup client: a platform's TLS client certificate, the server checked against a CA
//! file (or the system's roots), one `POST /v1/lookup`, and each returned chain verified by
//! the caller's [`Verifier`] before anything in it is believed.

use std::path::Path;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST, RETRY_AFTER};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::ServerName;
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::tls::{provider, read_chain, read_key, VERSIONS};
use crate::sii::Sii;
use crate::verify::{chain_from_pem, Verification, Verifier, VerifyError, VerifyOptions};

/// Largest answer read: 100 chains of a few KiB each, with room to spare.
const MAX_ANSWER_LEN: usize = 16 * 1024 * 1024;

/// Why a lookup could not be made or answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A file or the server URL given cannot be used.
    #[error("{what}: {message}")]
    Setup {
        /// What was given (`--client-cert FILE`, the URL).
        what: String,
        /// Why it cannot be used, and what to give.
        message: String,
    },
    /// No connection (TCP or TLS, including a server that refused the client certificate).
    #[error("cannot connect to {server}: {message}")]
    Connect {
        /// The server.
        server: String,
        /// Why.
        message: String,
    },
    /// The server answered with an error.
    #[error("the server refused the lookup with status {status}: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's `error` message.
        message: String,
        /// Seconds to wait before asking again (429).
        retry_after: Option<u64>,
    },
    /// The answer is not a lookup answer.
    #[error("the server's answer is not a lookup answer: {0}")]
    BadAnswer(String),
}

/// One SII's answer, in request order.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct LookupItem {
    /// The SII, canonical, as the server read it.
    pub sii: String,
    /// The attestation chain (PEM, leaf first), when found.
    #[serde(default)]
    pub chain_pem: Option<String>,
    /// Its tlog-proof, when the server has one.
    #[serde(default)]
    pub tlog_proof: Option<String>,
}

impl LookupItem {
    /// Whether the server found an attestation.
    pub fn found(&self) -> bool {
        self.chain_pem.is_some()
    }

    /// Verify the returned chain (with its proof, if any) against `verifier`, requiring it to
    /// attest the SII asked for; `None` when nothing was found, `Some(Err)` when the answer
    /// holds no chain that parses.
    pub fn verify(
        &self,
        verifier: &Verifier,
        options: &VerifyOptions<'_>,
    ) -> Option<Result<Verification, VerifyError>> {
        let pem = self.chain_pem.as_ref()?;
        let expected = Sii::parse(&self.sii).ok();
        let mut options = options.clone();
        if let Some(sii) = &expected {
            options = options.expect_sii(sii);
        }
        if let Some(proof) = &self.tlog_proof {
            options = options.log_proof_text(proof.as_bytes());
        }
        Some(chain_from_pem(pem.as_bytes()).map(|chain| verifier.verify_with(&chain, &options)))
    }
}

/// Why a request failed: the connection's own error when it has one (a TLS alert says more
/// than "canceled"), else the request's.
async fn connection_error(
    task: tokio::task::JoinHandle<Result<(), hyper::Error>>,
    request_error: hyper::Error,
) -> hyper::Error {
    match tokio::time::timeout(std::time::Duration::from_secs(2), task).await {
        Ok(Ok(Err(e))) => e,
        _ => request_error,
    }
}

/// The server's answer to one lookup.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct LookupAnswer {
    /// One item per SII asked, in order.
    pub results: Vec<LookupItem>,
}

/// A client of one exchange service.
pub struct LookupClient {
    connector: TlsConnector,
    server: String,
    host: String,
    port: u16,
    name: ServerName<'static>,
}

impl LookupClient {
    /// A client of the server at `url` (`https://host[:port]`), authenticating with the
    /// platform's client certificate and key (PEM), checking the server's certificate
    /// against `server_ca` (PEM), or the system's roots when `None`.
    pub fn new(
        url: &str,
        client_cert: &Path,
        client_key: &Path,
        server_ca: Option<&Path>,
    ) -> Result<LookupClient, ClientError> {
        let setup = |what: String, message: String| ClientError::Setup { what, message };
        let uri: Uri = url.parse().map_err(|e| {
            setup(
                format!("--server {url}"),
                format!("not a URL ({e}); give e.g. https://lookup.chat-b.example:8443"),
            )
        })?;
        if uri.scheme_str() != Some("https") {
            return Err(setup(
                format!("--server {url}"),
                "the exchange service is HTTPS only: give an https:// URL".into(),
            ));
        }
        let host = uri
            .host()
            .ok_or_else(|| setup(format!("--server {url}"), "names no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(443);
        let name = ServerName::try_from(host.clone()).map_err(|e| {
            setup(
                format!("--server {url}"),
                format!("{host:?} is not a DNS name or IP address: {e}"),
            )
        })?;
        let mut roots = RootCertStore::empty();
        match server_ca {
            Some(path) => {
                let certs = read_chain(path)
                    .map_err(|m| setup(format!("--server-ca {}", path.display()), m))?;
                for c in certs {
                    roots.add(c).map_err(|e| {
                        setup(
                            format!("--server-ca {}", path.display()),
                            format!("not a CA certificate webpki can use: {e}"),
                        )
                    })?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for c in found.certs {
                    let _ = roots.add(c);
                }
                if roots.is_empty() {
                    return Err(setup("--server-ca".into(), "not given, and the system has no root certificates: give the CA of the server's TLS certificate".into()));
                }
            }
        }
        let chain = read_chain(client_cert)
            .map_err(|m| setup(format!("--client-cert {}", client_cert.display()), m))?;
        let key = read_key(client_key)
            .map_err(|m| setup(format!("--client-key {}", client_key.display()), m))?;
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| setup("TLS".into(), e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| {
                setup(
                    format!(
                        "--client-cert {} --client-key {}",
                        client_cert.display(),
                        client_key.display()
                    ),
                    format!("the certificate and key do not make a TLS client identity: {e}"),
                )
            })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(LookupClient {
            connector: TlsConnector::from(Arc::new(config)),
            server: url.to_owned(),
            host,
            port,
            name,
        })
    }

    /// Look `siis` up (any accepted spelling; the server canonicalises them), on a new
    /// connection (HTTP/2 when the server offers it).
    pub async fn lookup(&self, siis: &[String]) -> Result<LookupAnswer, ClientError> {
        let connect = |message: String| ClientError::Connect {
            server: self.server.clone(),
            message,
        };
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| connect(e.to_string()))?;
        let tls = self
            .connector
            .connect(self.name.clone(), tcp)
            .await
            .map_err(|e| connect(format!("TLS handshake failed ({e}): is this platform's client certificate issued by the client CA the server's trust list names for it?")))?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        let body = serde_json::to_vec(&serde_json::json!({ "siis": siis }))
            .map_err(|e| ClientError::BadAnswer(e.to_string()))?;
        let authority = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let request = Request::post(if h2 {
            format!("https://{authority}/v1/lookup")
        } else {
            "/v1/lookup".to_owned()
        })
        .header(CONTENT_TYPE, "application/json");
        let request = if h2 {
            request
        } else {
            request.header(HOST, &authority)
        };
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ClientError::BadAnswer(e.to_string()))?;
        let io = TokioIo::new(tls);
        // Under TLS 1.3 a server that refuses the client certificate says so after the
        // client's side of the handshake is done: its alert surfaces here, as the cause.
        let http = |e: hyper::Error| {
            let mut message = format!("HTTP: {e}");
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                message.push_str(&format!(": {c}"));
                cause = c.source();
            }
            message.push_str(if message.contains("alert") {
                " (the server refused this platform's client certificate: is it issued by the client CA the server's trust list names for it?)"
            } else {
                " (a server closes the connection at once when it refuses the client certificate: is it issued by the client CA the server's trust list names for it?)"
            });
            connect(message)
        };
        let sent = if h2 {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(http)?;
            let task = tokio::spawn(conn);
            sender.send_request(request).await.map_err(|e| (task, e))
        } else {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(http)?;
            let task = tokio::spawn(conn);
            sender.send_request(request).await.map_err(|e| (task, e))
        };
        let response = match sent {
            Ok(r) => r,
            Err((task, e)) => return Err(http(connection_error(task, e).await)),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = Limited::new(response.into_body(), MAX_ANSWER_LEN)
            .collect()
            .await
            .map_err(|e| ClientError::BadAnswer(format!("cannot read it: {e}")))?
            .to_bytes();
        if status != StatusCode::OK {
            #[derive(Deserialize)]
            struct Error {
                error: String,
            }
            let message = serde_json::from_slice::<Error>(&bytes)
                .map(|e| e.error)
                .unwrap_or_else(|_| {
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned()
                });
            return Err(ClientError::Refused {
                status: status.as_u16(),
                message,
                retry_after,
            });
        }
        let answer: LookupAnswer =
            serde_json::from_slice(&bytes).map_err(|e| ClientError::BadAnswer(e.to_string()))?;
        if answer.results.len() != siis.len() {
            return Err(ClientError::BadAnswer(format!(
                "{} results for {} SIIs asked",
                answer.results.len(),
                siis.len()
            )));
        }
        Ok(answer)
    }

    /// [`LookupClient::lookup`] for callers without a runtime (it makes one for the call).
    pub fn lookup_blocking(&self, siis: &[String]) -> Result<LookupAnswer, ClientError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Connect {
                server: self.server.clone(),
                message: format!("cannot start the I/O runtime: {e}"),
            })?;
        runtime.block_on(self.lookup(siis))
    }
}
