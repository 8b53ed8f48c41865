//! The accept loop: TLS handshakes under a timeout, one task per connection under a
//! connection limit, HTTP/1.1 and HTTP/2 (ALPN), idle connections closed, the trust list
//! reloaded on demand or when its file changes, and a drain on shutdown.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use governor::{Quota, RateLimiter};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::config::{Limits, ServeConfig};
use super::http::{handle, Conn, EventSink, Shared, StorePool, TlsState, WitnessService};
use super::metrics::Metrics;
use super::tls::{read_chain, read_key, spki_sha256, ClientCas};
use super::ServeError;
use crate::issue::{open_witness, LogProver};
use crate::profile;
use crate::store::STORE_FILE;
use crate::trust::{SignerSet, TrustListSource};
use crate::verify::{Reload, ReloadingVerifier};

/// How often the trust-list file is checked for a change.
const WATCH_EVERY: Duration = Duration::from_secs(5);
/// Requests at once on one HTTP/2 connection: with the body limit, what one connection can
/// make the server hold (8 × 64 KiB).
const MAX_STREAMS: u32 = 8;
/// Largest request head (HTTP/1 read buffer, HTTP/2 header list).
const MAX_HEADER_BUF: usize = 16 * 1024;
/// How long in-flight requests get to finish after shutdown is asked for.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// One request as the access log records it: who asked, what was answered, how many SIIs
/// and how fast; never the SIIs themselves.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct AccessLogLine<'a> {
    /// The authenticated platform (anchor name); `None` when its certificate no longer maps
    /// to an anchor of the list in force.
    pub anchor: Option<&'a str>,
    /// The HTTP method.
    pub method: &'a str,
    /// The route (`/v1/lookup`, `/witness/add-checkpoint`, `/healthz`, `/metrics`, `/log/`,
    /// or `(other)`).
    pub path: &'a str,
    /// The status answered.
    pub status: u16,
    /// How many SIIs the request asked for.
    pub siis: usize,
    /// Time from the request's headers to its answer.
    pub latency: Duration,
}

/// What a running server reports, to the callback given to [`Server::on_event`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ServerEvent<'a> {
    /// A request was answered.
    Access(AccessLogLine<'a>),
    /// A new trust list is in force.
    Reloaded {
        /// Its sequence (version 2 lists).
        sequence: Option<u64>,
    },
    /// A changed trust-list file could not be used; the list in force stays.
    ReloadFailed {
        /// Why.
        message: String,
    },
}

/// The exchange service, bound to its address and ready to [`Server::run`].
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
    reloader: Arc<Reloader>,
    limits: Limits,
    shutdown: watch::Sender<bool>,
}

/// Controls a running [`Server`] from elsewhere (signal handlers, tests).
#[derive(Clone)]
pub struct ServerHandle {
    reloader: Arc<Reloader>,
    shutdown: watch::Sender<bool>,
}

impl ServerHandle {
    /// Read the trust list again and, when it holds a newer acceptable list, serve under its
    /// client CAs from the next connection and request on. On failure the list in force stays.
    pub fn reload(&self) -> Result<Reload, ServeError> {
        self.reloader.reload()
    }

    /// Stop accepting connections, let in-flight requests finish (closing idle keep-alive
    /// connections), and make [`Server::run`] return.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}

/// What a reload needs: the source, the server's identity, and where the new TLS state goes.
struct Reloader {
    trust: ReloadingVerifier,
    list_path: std::path::PathBuf,
    cert_path: std::path::PathBuf,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    shared: Mutex<Option<std::sync::Weak<Shared>>>,
    generation: AtomicU64,
}

impl Reloader {
    fn tls_state(&self, generation: u64) -> Result<TlsState, ServeError> {
        let accepted = self.trust.accepted();
        let cas = ClientCas::of(accepted.list(), &self.list_path)?;
        let config =
            cas.server_config(self.chain.clone(), self.key.clone_key(), &self.cert_path)?;
        Ok(TlsState {
            generation,
            config,
            cas,
        })
    }

    fn reload(&self) -> Result<Reload, ServeError> {
        let outcome = self.trust.reload(OffsetDateTime::now_utc())?;
        if let Reload::Swapped { .. } = outcome {
            let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
            let state = self.tls_state(generation)?;
            let shared = self
                .shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .and_then(|w| w.upgrade());
            if let Some(shared) = shared {
                shared.tls.store(Arc::new(state));
            }
        }
        Ok(outcome)
    }
}

impl Server {
    /// Load everything `config` names (TLS identity, trust list, store) and bind its address.
    /// Call inside a tokio runtime.
    pub async fn bind(config: ServeConfig) -> Result<Server, ServeError> {
        let tls_err = |what, path: &std::path::Path, message| ServeError::Tls {
            what,
            path: path.display().to_string(),
            message,
        };
        let chain = read_chain(&config.certificate)
            .map_err(|m| tls_err("certificate", &config.certificate, m))?;
        let key = read_key(&config.key).map_err(|m| tls_err("key", &config.key, m))?;
        let source = match &config.signers {
            Some(signers) => {
                let set = SignerSet::from_file(signers)?;
                let s = TrustListSource::signed(&config.trust_list, set);
                match &config.state {
                    Some(state) => s.with_state(state),
                    None => s,
                }
            }
            None => TrustListSource::plain(&config.trust_list),
        };
        let trust = ReloadingVerifier::new(source, OffsetDateTime::now_utc())?;
        let reloader = Arc::new(Reloader {
            trust,
            list_path: config.trust_list.clone(),
            cert_path: config.certificate.clone(),
            chain,
            key,
            shared: Mutex::new(None),
            generation: AtomicU64::new(0),
        });
        let tls = reloader.tls_state(0)?;
        let log = match &config.log {
            Some(dir) => Some(
                LogProver::open(dir, config.passphrase.as_ref()).map_err(|e| ServeError::Log {
                    dir: dir.display().to_string(),
                    source: Box::new(e),
                })?,
            ),
            None => None,
        };
        let witness = match &config.witness {
            Some(w) => Some(WitnessService {
                witness: open_witness(&w.dir, config.passphrase.as_ref()).map_err(|e| {
                    ServeError::Witness {
                        dir: w.dir.display().to_string(),
                        source: Box::new(e),
                    }
                })?,
                log_keys: w.log_keys.clone(),
            }),
            None => None,
        };
        // A CA whose store is PostgreSQL has no store.db: say so, not that none is there.
        if let Ok(Some(store)) =
            crate::issue::CaConfig::from_file(&config.ca.join(crate::issue::CONFIG_FILE))
                .map(|c| c.store)
        {
            return Err(ServeError::Store {
                dir: config.ca.display().to_string(),
                source: Box::new(crate::store::StoreError::Failed {
                    path: store.url,
                    message: "this CA's store is PostgreSQL (store: in its config), and the exchange service reads only store.db so far: nothing was started".into(),
                }),
            });
        }
        let stores = StorePool::open(config.ca.join(STORE_FILE), log).map_err(|source| {
            ServeError::Store {
                dir: config.ca.display().to_string(),
                source: Box::new(source),
            }
        })?;
        // The config checked both are non-zero.
        let per_minute = std::num::NonZeroU32::new(config.rate_limit.per_client_per_minute)
            .unwrap_or(std::num::NonZeroU32::MIN);
        let burst = std::num::NonZeroU32::new(config.rate_limit.burst).unwrap_or(per_minute);
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| ServeError::Listen {
                addr: config.listen.to_string(),
                message: format!("{e}; choose another port, or stop what listens there"),
            })?;
        let shared = Arc::new(Shared {
            max_batch: config.max_batch,
            limiter: RateLimiter::keyed(quota),
            metrics: Metrics::default(),
            stores,
            batch_lookups: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, usize::from),
            )),
            tls: ArcSwap::from_pointee(tls),
            events: std::sync::OnceLock::new(),
            log_public: config.log.as_ref().map(|d| d.join("public")),
            witness,
        });
        *reloader
            .shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::downgrade(&shared));
        let (shutdown, _) = watch::channel(false);
        Ok(Server {
            listener,
            shared,
            reloader,
            limits: config.limits,
            shutdown,
        })
    }

    /// The address it listens on (with the port chosen, when the config gave port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Report access lines and reloads to `sink` (the library never prints).
    pub fn on_event(self, sink: impl Fn(ServerEvent<'_>) + Send + Sync + 'static) -> Self {
        let sink: EventSink = Box::new(sink);
        let _ = self.shared.events.set(sink);
        self
    }

    /// A handle to reload the trust list or shut the server down.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            reloader: self.reloader.clone(),
            shutdown: self.shutdown.clone(),
        }
    }

    /// Serve until [`ServerHandle::shutdown`]; then stop accepting, let the connections
    /// finish their requests (at most 30 s), and return.
    pub async fn run(self) -> Result<(), ServeError> {
        let Server {
            listener,
            shared,
            reloader,
            limits,
            shutdown,
        } = self;
        let connections = Arc::new(Semaphore::new(limits.max_connections));
        let mut stop = shutdown.subscribe();
        let watcher = tokio::spawn(watch_file(
            reloader,
            Arc::clone(&shared),
            shutdown.subscribe(),
        ));
        loop {
            let permit = tokio::select! {
                _ = stopped(&mut stop) => break,
                p = Arc::clone(&connections).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let (tcp, _peer) = tokio::select! {
                _ = stopped(&mut stop) => break,
                a = listener.accept() => match a {
                    Ok(a) => a,
                    // Out of file descriptors and the like: wait, rather than spin.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            let shared = Arc::clone(&shared);
            let stop = shutdown.subscribe();
            tokio::spawn(async move {
                serve_connection(tcp, shared, limits, stop).await;
                drop(permit);
            });
        }
        drop(listener);
        // Every connection holds a permit until it is done: all of them back means drained.
        let all = limits.max_connections.min(u32::MAX as usize) as u32;
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, connections.acquire_many(all)).await;
        watcher.abort();
        Ok(())
    }
}

/// Reload when the trust-list file's bytes change; trim the quota table.
async fn watch_file(reloader: Arc<Reloader>, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let hash = |p: &std::path::Path| std::fs::read(p).ok().map(|b| profile::sha256(&b));
    let mut seen = hash(&reloader.list_path);
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => return,
            _ = tokio::time::sleep(WATCH_EVERY) => {}
        }
        // Forget the quota state of clients whose quota is full again, so that the table
        // holds only recent clients.
        shared.limiter.retain_recent();
        let now = hash(&reloader.list_path);
        if now == seen {
            continue;
        }
        seen = now;
        let r = Arc::clone(&reloader);
        let outcome = tokio::task::spawn_blocking(move || r.reload()).await;
        if let Some(events) = shared.events.get() {
            match outcome {
                Ok(Ok(Reload::Swapped { sequence })) => events(ServerEvent::Reloaded { sequence }),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => events(ServerEvent::ReloadFailed {
                    message: e.to_string(),
                }),
                Err(e) => events(ServerEvent::ReloadFailed {
                    message: e.to_string(),
                }),
            }
        }
    }
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    shared: Arc<Shared>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let (acceptor, generation) = {
        let state = shared.tls.load();
        (
            TlsAcceptor::from(Arc::clone(&state.config)),
            state.generation,
        )
    };
    let tls = match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        // A failed or slow handshake: rustls has sent its alert; nothing else to do.
        _ => return,
    };
    let offered = tls.get_ref().1.peer_certificates().unwrap_or_default();
    let Some(leaf) = offered.first().map(|c| c.clone().into_owned()) else {
        return;
    };
    let leaf_alone_verified_by = (offered.len() == 1).then_some(generation);
    let Some(key) = spki_sha256(&leaf) else {
        return;
    };
    let conn = Arc::new(Conn {
        leaf,
        leaf_alone_verified_by,
        key,
        anchor: Mutex::new((u64::MAX, None)),
    });
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: tls,
        activity: Arc::clone(&activity),
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEADER_BUF)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(MAX_HEADER_BUF as u32)
        .keep_alive_interval(limits.idle_timeout)
        .keep_alive_timeout(limits.handshake_timeout);
    let service = service_fn(move |req| handle(Arc::clone(&shared), Arc::clone(&conn), req));
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let tick = (limits.idle_timeout / 4).max(Duration::from_millis(100));
    let mut closing = false;
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = stopped(&mut stop), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = tokio::time::sleep(tick) => {
                if activity.idle() >= limits.idle_timeout {
                    if closing {
                        // Asked to close and still silent: drop it.
                        return;
                    }
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                    activity.touch();
                }
            }
        }
    }
}

/// When bytes last moved on a connection.
struct Activity {
    origin: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }
    fn touch(&self) {
        self.last_ms
            .store(self.origin.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    fn idle(&self) -> Duration {
        let now = self.origin.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// A stream that records when it last read or wrote, for the idle timeout (the HTTP/1 header
/// timeout does not cover a client that sends nothing before the protocol is known).
struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        r
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Resolves once shutdown is asked for (the guard `wait_for` returns is dropped at once, so
/// the future stays `Send`).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
