//! The service's routes: `POST /v1/lookup`, `GET /healthz`, `GET /metrics`; every error is a
//! JSON `{"error": "..."}` that says what to fix.

use std::collections::HashMap;
use std::convert::Infallible;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use governor::clock::{Clock, DefaultClock};
use governor::DefaultKeyedRateLimiter;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::metrics::Metrics;
use super::server::{AccessLogLine, ServerEvent};
use super::tls::{ClientCas, LeafProof};
use super::MAX_BODY_LEN;
use crate::issue::LogProver;
use crate::profile::{self, Serial};
use crate::sii::Sii;
use crate::store::{IssuanceStore, StoreError};

/// The TLS config in force and the client CAs it was made from; replaced whole on reload.
pub(crate) struct TlsState {
    pub(crate) generation: u64,
    pub(crate) config: Arc<rustls::ServerConfig>,
    pub(crate) cas: ClientCas,
}

/// A callback for what the server reports (access lines, reloads).
pub(crate) type EventSink = Box<dyn Fn(ServerEvent<'_>) + Send + Sync>;

/// What every connection shares.
pub(crate) struct Shared {
    pub(crate) max_batch: usize,
    pub(crate) limiter: DefaultKeyedRateLimiter<[u8; 32]>,
    pub(crate) metrics: Metrics,
    pub(crate) stores: StorePool,
    /// Batch lookups on the blocking pool at once: one a core, as they are CPU work; more
    /// would only add store connections (each maps the store) and threads.
    pub(crate) batch_lookups: Arc<tokio::sync::Semaphore>,
    pub(crate) tls: ArcSwap<TlsState>,
    pub(crate) events: std::sync::OnceLock<EventSink>,
    /// The log's `public/` directory, served under `/log/` (when a log is configured).
    pub(crate) log_public: Option<PathBuf>,
}

/// One authenticated connection: its client certificate, quota key and anchor (found again
/// after a reload, so a platform removed from the list is refused on its next request).
pub(crate) struct Conn {
    pub(crate) leaf: CertificateDer<'static>,
    /// The TLS generation whose config verified the handshake, when the client offered its
    /// leaf alone.
    pub(crate) leaf_alone_verified_by: Option<u64>,
    pub(crate) key: [u8; 32],
    pub(crate) anchor: Mutex<(u64, Option<String>)>,
}

impl Conn {
    fn proof_under(&self, generation: u64) -> LeafProof {
        if self.leaf_alone_verified_by == Some(generation) {
            LeafProof::HandshakeWithLeafAlone
        } else {
            LeafProof::None
        }
    }

    fn anchor(&self, tls: &TlsState) -> Option<String> {
        let mut a = self.anchor.lock().unwrap_or_else(PoisonError::into_inner);
        if a.0 != tls.generation {
            *a = (
                tls.generation,
                tls.cas
                    .anchor_of(&self.leaf, self.proof_under(tls.generation))
                    .map(str::to_owned),
            );
        }
        a.1.clone()
    }
}

/// Read-only store connections, reused across lookups (a connection serves one lookup at a
/// time; a lookup runs on tokio's blocking pool), and the PEM of issuing CAs by serial.
pub(crate) struct StorePool {
    path: PathBuf,
    log: Option<LogProver>,
    idle: Mutex<Vec<IssuanceStore>>,
    issuers: Mutex<HashMap<Serial, Arc<str>>>,
}

impl StorePool {
    /// A pool over the store at `path`, checked by opening it once.
    pub(crate) fn open(path: PathBuf, log: Option<LogProver>) -> Result<StorePool, StoreError> {
        let first = IssuanceStore::open_read_only(&path)?;
        Ok(StorePool {
            path,
            log,
            idle: Mutex::new(vec![first]),
            issuers: Mutex::new(HashMap::new()),
        })
    }

    /// The chain (leaf, then its issuing CA; PEM) of the newest valid leaf of each SII, with
    /// its tlog-proof when a log is configured and the store records the leaf as logged.
    fn lookup(&self, siis: &[Sii], now: OffsetDateTime) -> Result<Vec<Option<Found>>, StoreError> {
        let popped = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let store = match popped {
            Some(s) => s,
            None => IssuanceStore::open_read_only(&self.path)?,
        };
        let result = siis
            .iter()
            .map(|sii| self.chain_of(&store, sii, now))
            .collect();
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(store);
        result
    }

    fn chain_of(
        &self,
        store: &IssuanceStore,
        sii: &Sii,
        now: OffsetDateTime,
    ) -> Result<Option<Found>, StoreError> {
        let Some(leaf) = store.newest_live_leaf_of(sii, now)? else {
            return Ok(None);
        };
        let (Some(der), Some(issuer)) = (&leaf.der, &leaf.issuer_serial) else {
            return Ok(None);
        };
        let cached = self
            .issuers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(issuer)
            .cloned();
        let issuer_pem = match cached {
            Some(p) => p,
            None => {
                let Some(ca_der) = store.get(issuer)?.and_then(|c| c.der) else {
                    return Ok(None);
                };
                let mut pem = String::new();
                profile::push_pem_certificate(&mut pem, &ca_der);
                let pem: Arc<str> = pem.into();
                self.issuers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(issuer.clone(), pem.clone());
                pem
            }
        };
        let mut chain = String::new();
        profile::push_pem_certificate(&mut chain, der);
        chain.push_str(&issuer_pem);
        let tlog_proof = match &self.log {
            // A proof that cannot be made leaves the answer without one: the chain is still
            // the answer, and the client's policy decides whether a proof is required.
            Some(log) => store
                .log_index(&leaf.serial)?
                .and_then(|index| log.proof(index, &sii.canonical()).ok())
                .map(|p| p.to_text()),
            None => None,
        };
        Ok(Some(Found {
            chain_pem: chain,
            tlog_proof,
        }))
    }
}

/// A found attestation.
struct Found {
    chain_pem: String,
    tlog_proof: Option<String>,
}

type Answer = Response<Full<Bytes>>;

fn json_response(status: StatusCode, body: &Value) -> Answer {
    json_bytes(status, body.to_string().into_bytes())
}

/// An answer of JSON already serialised.
fn json_bytes(status: StatusCode, body: Vec<u8>) -> Answer {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error(status: StatusCode, message: impl Into<String>) -> Answer {
    json_response(status, &json!({ "error": message.into() }))
}

/// Lookups of at most this many SIIs are read on the connection's worker thread.
const INLINE_LOOKUP_MAX: usize = 4;

/// Answer one request, then count it and report its access line.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    req: Request<Incoming>,
) -> Result<Answer, Infallible> {
    let start = Instant::now();
    let tls = shared.tls.load_full();
    let anchor = conn.anchor(&tls);
    let route = match req.uri().path() {
        "/v1/lookup" => "/v1/lookup",
        "/healthz" => "/healthz",
        "/metrics" => "/metrics",
        p if p.starts_with("/log/") => "/log/",
        _ => "(other)",
    };
    let method = req.method().clone();
    let (answer, siis) = match &anchor {
        None => {
            let mut r = error(
                StatusCode::FORBIDDEN,
                "this client certificate was not issued by the client CA of any anchor of the trust list in force (the platform was removed by a reload, or its certificate comes through an intermediate CA): nothing is answered; have the federation list the platform's client CA as its anchor's client_auth_pem",
            );
            r.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            (r, 0)
        }
        Some(_) => route_request(&shared, &conn, req).await,
    };
    let latency = start.elapsed();
    shared.metrics.request(answer.status().as_u16(), latency);
    if let Some(events) = shared.events.get() {
        events(ServerEvent::Access(AccessLogLine {
            anchor: anchor.as_deref(),
            method: method.as_str(),
            path: route,
            status: answer.status().as_u16(),
            siis,
            latency,
        }));
    }
    Ok(answer)
}

/// The answer and the number of SIIs asked for.
async fn route_request(
    shared: &Arc<Shared>,
    conn: &Conn,
    req: Request<Incoming>,
) -> (Answer, usize) {
    let only = |allowed: &'static str| {
        let mut r = error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "{} {} is not served: use {allowed}",
                req.method(),
                req.uri().path()
            ),
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allowed));
        (r, 0)
    };
    match (req.uri().path(), req.method()) {
        ("/v1/lookup", &Method::POST) => lookup(shared, conn, req).await,
        ("/v1/lookup", _) => only("POST"),
        ("/healthz", &Method::GET) => (json_response(StatusCode::OK, &json!({"status": "ok"})), 0),
        ("/metrics", &Method::GET) => {
            let mut r = Response::new(Full::new(Bytes::from(shared.metrics.render())));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            (r, 0)
        }
        ("/healthz" | "/metrics", _) => only("GET"),
        (path, &Method::GET) if path.starts_with("/log/") => (log_file(shared, path).await, 0),
        (path, _) if path.starts_with("/log/") => only("GET"),
        (path, _) => (
            error(
                StatusCode::NOT_FOUND,
                format!("no such path {:?}: this service answers POST /v1/lookup, GET /healthz, GET /metrics and, with a log, GET /log/...", truncate(path)),
            ),
            0,
        ),
    }
}

/// Largest log file served: an entry bundle of 256 entries of at most 64 KiB.
const MAX_LOG_FILE: u64 = 256 * 65_536;

/// A file of the log's public tree (`/log/checkpoint`, `/log/tile/...`), as any static server
/// of a tlog-tiles log would serve it.
async fn log_file(shared: &Shared, path: &str) -> Answer {
    let not_found = |why: &str| {
        error(StatusCode::NOT_FOUND, format!("{why}: /log/ serves the log's checkpoint and tiles (c2sp.org/tlog-tiles), e.g. /log/checkpoint"))
    };
    let Some(public) = &shared.log_public else {
        return not_found("this service has no log configured");
    };
    let rel = &path["/log/".len()..];
    // Only plain names below public/: no "..", no empty or hidden components.
    let plain = |c: &str| {
        !c.is_empty()
            && !c.starts_with('.')
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    if !rel.split('/').all(plain) {
        return not_found(&format!("no such log file {:?}", truncate(rel)));
    }
    let file = public.join(rel);
    let Ok(meta) = tokio::fs::metadata(&file).await else {
        return not_found(&format!("no such log file {:?}", truncate(rel)));
    };
    if !meta.is_file() || meta.len() > MAX_LOG_FILE {
        return not_found(&format!("no such log file {:?}", truncate(rel)));
    }
    let Ok(bytes) = tokio::fs::read(&file).await else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the log file could not be read; try again",
        );
    };
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    let (kind, cache) = if rel == "checkpoint" {
        ("text/plain; charset=utf-8", "no-store")
    } else if rel.contains(".p/") {
        // A partial tile grows: it may be replaced by a wider one.
        ("application/octet-stream", "no-cache")
    } else {
        (
            "application/octet-stream",
            "public, max-age=31536000, immutable",
        )
    };
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static(cache),
    );
    r
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupBody {
    siis: Vec<String>,
}

const LOOKUP_SHAPE: &str = r#"send {"siis": ["tel:+15551234567", "mailto:alice@example.com"]}"#;

async fn lookup(shared: &Arc<Shared>, conn: &Conn, req: Request<Incoming>) -> (Answer, usize) {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {} KiB: send at most {} SIIs per request, in several requests", MAX_BODY_LEN >> 10, shared.max_batch),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_LEN as u64) {
        // The body is not read: the connection cannot carry another request after it.
        let mut r = too_large();
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return (r, 0);
    }
    let body = match Limited::new(req.into_body(), MAX_BODY_LEN).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return (too_large(), 0),
        Err(e) => {
            return (
                error(
                    StatusCode::BAD_REQUEST,
                    format!("the body could not be read ({e}): {LOOKUP_SHAPE}"),
                ),
                0,
            )
        }
    };
    let asked: LookupBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return (
                error(
                    StatusCode::BAD_REQUEST,
                    format!("the body is not a lookup request: {e}; {LOOKUP_SHAPE}"),
                ),
                0,
            )
        }
    };
    let n = asked.siis.len();
    if n > shared.max_batch {
        return (
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{n} SIIs in one request, more than the {} this service answers at once: split them into requests of at most {}", shared.max_batch, shared.max_batch),
            ),
            n,
        );
    }
    let mut siis = Vec::with_capacity(n);
    for (i, s) in asked.siis.iter().enumerate() {
        match Sii::parse(s) {
            Ok(sii) => siis.push(sii),
            Err(e) => {
                return (
                    error(StatusCode::BAD_REQUEST, format!("siis[{i}] is not an SII: {e}; nothing was looked up; correct it and send the request again")),
                    n,
                )
            }
        }
    }
    if let Some(units) = NonZeroU32::new(n as u32) {
        match shared.limiter.check_key_n(&conn.key, units) {
            Ok(Ok(())) => {}
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                return (rate_limited(wait, n), n);
            }
            // max_batch is at most the burst (the config checks it): unreachable, but answered.
            Err(_) => return (rate_limited(Duration::from_secs(60), n), n),
        }
    }
    let now = OffsetDateTime::now_utc();
    // A few SIIs are a few index reads in pages the OS has cached, shorter than the hand-off
    // to tokio's blocking pool and back (two thread wake-ups): they are read here. Larger
    // batches go to the blocking pool, so that no worker stalls on them.
    let (siis, found) = if n <= INLINE_LOOKUP_MAX {
        let found = shared.stores.lookup(&siis, now);
        (siis, found)
    } else {
        let failed = || {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the lookup failed inside the server; try again later",
            )
        };
        // The semaphore is never closed; were it, the lookup would fail like a crashed one.
        let Ok(permit) = Arc::clone(&shared.batch_lookups).acquire_owned().await else {
            return (failed(), n);
        };
        let pool = Arc::clone(shared);
        match tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let found = pool.stores.lookup(&siis, now);
            (siis, found)
        })
        .await
        {
            Ok(r) => r,
            Err(_) => return (failed(), n),
        }
    };
    let chains = match found {
        Ok(c) => c,
        Err(e) => {
            return (
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the issuance store could not be read ({e}); try again later"),
                ),
                n,
            )
        }
    };
    let results: Vec<Answered> = siis
        .iter()
        .zip(chains)
        .map(|(sii, chain)| match chain {
            Some(Found {
                chain_pem,
                tlog_proof,
            }) => Answered {
                sii: sii.canonical(),
                status: "found",
                chain_pem: Some(chain_pem),
                tlog_proof,
            },
            None => Answered {
                sii: sii.canonical(),
                status: "not_found",
                chain_pem: None,
                tlog_proof: None,
            },
        })
        .collect();
    let found = results.iter().filter(|r| r.chain_pem.is_some()).count() as u64;
    shared.metrics.lookup(found, n as u64 - found);
    let body = match serde_json::to_vec(&LookupAnswer { results }) {
        Ok(b) => b,
        // Strings alone cannot fail to serialise; were they to, nothing half-made is sent.
        Err(e) => {
            return (
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the answer could not be written ({e}); try again later"),
                ),
                n,
            )
        }
    };
    (json_bytes(StatusCode::OK, body), n)
}

/// A lookup's answer, serialised as it is built (no JSON tree in between).
#[derive(Serialize)]
struct LookupAnswer {
    results: Vec<Answered>,
}

/// One SII's result, in the order of its fields on the wire.
#[derive(Serialize)]
struct Answered {
    sii: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain_pem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tlog_proof: Option<String>,
}

fn rate_limited(wait: Duration, n: usize) -> Answer {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        format!("over this platform's quota: {n} SIIs cannot be looked up now; retry after {secs} s (Retry-After), or ask for fewer SIIs at a time"),
    );
    r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    r
}
