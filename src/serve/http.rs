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
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use rustls_pki_types::CertificateDer;
use serde::Serialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::metrics::Metrics;
use super::server::{AccessLogLine, ServerEvent};
use super::tls::{ClientCas, LeafProof};
use super::MAX_BODY_LEN;
use crate::issue::LogProver;
use crate::log::{AddCheckpoint, NoteVerifierKey, Witness, WitnessError};
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
    /// The witness answering `POST /witness/add-checkpoint` (when one is configured).
    pub(crate) witness: Option<WitnessService>,
}

/// A witness and the logs it cosigns for.
pub(crate) struct WitnessService {
    pub(crate) witness: Witness,
    pub(crate) log_keys: Vec<NoteVerifierKey>,
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

/// A JSON error answer: `code` is stable (docs/spec.md#exchange-errors), `error` says what
/// was wrong and what to do.
fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Answer {
    json_response(status, &json!({ "error": message.into(), "code": code }))
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
        "/witness/add-checkpoint" => "/witness/add-checkpoint",
        p if p.starts_with("/log/") => "/log/",
        _ => "(other)",
    };
    let method = req.method().clone();
    let (answer, siis) = match &anchor {
        None => {
            let mut r = error(
                StatusCode::FORBIDDEN,
                "unknown_client",
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
            "method_not_allowed",
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
        ("/witness/add-checkpoint", &Method::POST) => (add_checkpoint(shared, req).await, 0),
        ("/witness/add-checkpoint", _) => only("POST"),
        (path, &Method::GET) if path.starts_with("/log/") => (log_file(shared, path).await, 0),
        (path, _) if path.starts_with("/log/") => only("GET"),
        (path, _) => (
            error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no such path {:?}: this service answers POST /v1/lookup, GET /healthz, GET /metrics and, when configured, GET /log/... and POST /witness/add-checkpoint", truncate(path)),
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
        error(StatusCode::NOT_FOUND, "not_found", format!("{why}: /log/ serves the log's checkpoint and tiles (c2sp.org/tlog-tiles), e.g. /log/checkpoint"))
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
            "internal",
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

/// Reads a request body of at most [`MAX_BODY_LEN`] bytes. A larger one is refused 413 with
/// `hint` — unless `prefix` finds, in the bytes read so far, a reason to refuse it otherwise
/// (the answer it returns). A declared length above [`MAX_DECLARED_LEN`] is refused before
/// any of the body is read, and the connection then closed.
async fn read_body(
    req: Request<Incoming>,
    hint: &str,
    prefix: impl FnOnce(&[u8]) -> Option<Answer>,
) -> Result<Bytes, Answer> {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is larger than {} KiB: {hint}", MAX_BODY_LEN >> 10),
        )
    };
    let close = |mut r: Answer| {
        // The body is not read to its end: the connection cannot carry another request.
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        r
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_DECLARED_LEN) {
        return Err(close(too_large()));
    }
    let mut body = req.into_body();
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                "malformed_request",
                format!("the body could not be read ({e}); send it again"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            let room = MAX_BODY_LEN - read.len();
            if data.len() > room {
                let mut seen = (read.len() + data.len()) as u64;
                read.extend_from_slice(&data[..room]);
                let answer = close(prefix(&read).unwrap_or_else(too_large));
                // The rest is read and dropped, up to MAX_DECLARED_LEN in all: a client still
                // sending when the connection closes gets a reset, and loses the answer.
                while seen <= MAX_DECLARED_LEN {
                    match body.frame().await {
                        Some(Ok(frame)) => {
                            seen += frame.data_ref().map_or(0, |d| d.len() as u64);
                        }
                        _ => break,
                    }
                }
                return Err(answer);
            }
            read.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(read))
}

/// Largest Content-Length whose first [`MAX_BODY_LEN`] bytes are read to choose the answer
/// (a batch of 10,000 SIIs is about 200 KiB: it gets 422, too many SIIs); a larger one is
/// refused 413 before any of it is read.
const MAX_DECLARED_LEN: u64 = 4 << 20;

/// A lookup body, read strictly: `{"siis": [string, ...]}` and nothing else. Past
/// `max_batch`, SIIs are counted, not kept.
struct LookupBody {
    siis: Vec<String>,
    count: usize,
}

/// Why a lookup body was refused.
enum BodyProblem {
    /// Not a lookup body (serde's message).
    Malformed(String),
    /// More than `max_batch` SIIs; at least this many.
    TooMany(usize),
}

fn parse_lookup(bytes: &[u8], max_batch: usize) -> Result<LookupBody, BodyProblem> {
    use serde::de::{
        DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor,
    };
    use std::cell::Cell;
    use std::fmt;

    struct Body<'a> {
        max: usize,
        seen: &'a Cell<usize>,
    }
    struct Siis<'a>(Body<'a>);

    impl<'de> DeserializeSeed<'de> for Siis<'_> {
        type Value = Vec<String>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<String>, D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for Siis<'_> {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of SII strings")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            loop {
                let n = self.0.seen.get();
                let more = if n < self.0.max {
                    seq.next_element::<String>()?.map(|s| out.push(s))
                } else {
                    seq.next_element::<IgnoredAny>()?.map(|_| ())
                };
                if more.is_none() {
                    return Ok(out);
                }
                self.0.seen.set(n + 1);
            }
        }
    }
    impl<'de> DeserializeSeed<'de> for Body<'_> {
        type Value = Vec<String>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<String>, D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Body<'_> {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(r#"an object {"siis": [...]}"#)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut siis = None;
            while let Some(key) = map.next_key::<String>()? {
                if key != "siis" {
                    return Err(A::Error::custom(format!(
                        "unknown field `{key}`, expected `siis`"
                    )));
                }
                if siis.is_some() {
                    return Err(A::Error::duplicate_field("siis"));
                }
                siis = Some(map.next_value_seed(Siis(Body {
                    max: self.max,
                    seen: self.seen,
                }))?);
            }
            siis.ok_or_else(|| A::Error::missing_field("siis"))
        }
    }

    let seen = Cell::new(0);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Body {
        max: max_batch,
        seen: &seen,
    }
    .deserialize(&mut de)
    .and_then(|siis| de.end().map(|()| siis));
    // Too many SIIs is the answer even when the rest is cut off or wrong.
    if seen.get() > max_batch {
        return Err(BodyProblem::TooMany(seen.get()));
    }
    parsed
        .map(|siis| LookupBody {
            count: siis.len(),
            siis,
        })
        .map_err(|e| BodyProblem::Malformed(e.to_string()))
}

const LOOKUP_SHAPE: &str = r#"send {"siis": ["tel:+15551234567", "mailto:alice@example.com"]}"#;

fn too_many(n: usize, at_least: bool, max_batch: usize) -> Answer {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "too_many_siis",
        format!(
            "{}{n} SIIs in one request, more than the {max_batch} this service answers at once: split them into requests of at most {max_batch}",
            if at_least { "at least " } else { "" }
        ),
    )
}

async fn lookup(shared: &Arc<Shared>, conn: &Conn, req: Request<Incoming>) -> (Answer, usize) {
    let max_batch = shared.max_batch;
    let hint = format!("send at most {max_batch} SIIs per request, in several requests");
    let body = match read_body(req, &hint, |prefix| match parse_lookup(prefix, max_batch) {
        Err(BodyProblem::TooMany(n)) => Some(too_many(n, true, max_batch)),
        _ => None,
    })
    .await
    {
        Ok(b) => b,
        Err(answer) => return (answer, 0),
    };
    let asked = match parse_lookup(&body, max_batch) {
        Ok(b) => b,
        Err(BodyProblem::TooMany(n)) => return (too_many(n, false, max_batch), n),
        Err(BodyProblem::Malformed(e)) => {
            return (
                error(
                    StatusCode::BAD_REQUEST,
                    "malformed_request",
                    format!("the body is not a lookup request: {e}; {LOOKUP_SHAPE}"),
                ),
                0,
            )
        }
    };
    let n = asked.count;
    let mut siis = Vec::with_capacity(n);
    for (i, s) in asked.siis.iter().enumerate() {
        match Sii::parse(s) {
            Ok(sii) => siis.push(sii),
            Err(e) => {
                return (
                    error(StatusCode::BAD_REQUEST, "invalid_sii", format!("siis[{i}] is not an SII: {e}; nothing was looked up; correct it and send the request again")),
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
                "internal",
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
                    "internal",
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
                    "internal",
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
        "rate_limited",
        format!("over this platform's quota: {n} SIIs cannot be looked up now; retry after {secs} s (Retry-After), or ask for fewer SIIs at a time"),
    );
    r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// `POST /witness/add-checkpoint` (c2sp.org/tlog-witness): the cosignature line on success
/// (200, `text/plain`); on a `409` the size the witness holds (`text/x.tlog.size`); other
/// refusals as JSON errors with tlog-witness's status.
async fn add_checkpoint(shared: &Arc<Shared>, req: Request<Incoming>) -> Answer {
    if shared.witness.is_none() {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "this service runs no witness: POST /witness/add-checkpoint is served when serve.yaml names a witness",
        );
    }
    let hint = "an add-checkpoint request is an old size, at most 63 proof hashes and a checkpoint";
    let body = match read_body(req, hint, |_| None).await {
        Ok(b) => b,
        Err(answer) => return answer,
    };
    let pool = Arc::clone(shared);
    let now = OffsetDateTime::now_utc().unix_timestamp().max(0) as u64;
    // The witness locks and fsyncs its state file: off the async threads.
    let outcome = tokio::task::spawn_blocking(move || {
        let Some(w) = &pool.witness else {
            return Err(None);
        };
        AddCheckpoint::parse(&body)
            .and_then(|request| w.witness.add_checkpoint(&request, &w.log_keys, now))
            .map_err(Some)
    })
    .await;
    match outcome {
        Ok(Ok(line)) => {
            let mut r = Response::new(Full::new(Bytes::from(line)));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            r
        }
        Ok(Err(Some(e))) => witness_refusal(&e),
        Ok(Err(None)) | Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the witness failed inside the server; try again later",
        ),
    }
}

fn witness_refusal(e: &WitnessError) -> Answer {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(held) = e.held_size() {
        let mut r = Response::new(Full::new(Bytes::from(format!("{held}\n"))));
        *r.status_mut() = status;
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/x.tlog.size"));
        return r;
    }
    let code = match e {
        WitnessError::Malformed { .. } => "malformed_request",
        WitnessError::NotSignedByLog(_) => "checkpoint_not_signed",
        WitnessError::UnknownLog { .. } => "unknown_log",
        WitnessError::Inconsistent(_) => "inconsistent_proof",
        _ => "internal",
    };
    let message = match e {
        // The witness's own state is not the client's business.
        WitnessError::State { .. } => {
            "the witness could not use its state; try again later".to_owned()
        }
        e => e.to_string(),
    };
    error(status, code, message)
}
