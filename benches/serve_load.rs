//! Load generator for the exchange service: N concurrent clients, each on its own keep-alive
//! mutual-TLS HTTP/1.1 connection, against `mimi-attest serve` (the command, in its own
//! process, access log on) on loopback, serving a store of 1,000,000 attestations. In the same
//! run, the same generator against the baseline: a minimal rustls + hyper server with the same
//! TLS (this binary again, in its own process) answering a fixed 4 KiB body.
//!
//! Reports requests/s, SIIs/s, p50/p99/p99.9 latency, full handshakes/s (a new connection per
//! request, no session resumption) and the server's resident memory. With
//! `MIMI_LOAD_SOAK_SECS` it then runs a bounded soak (keep-alive lookups and connection churn
//! together) and samples the server's memory every 10 s.
//!
//! `cargo bench --bench serve_load`; environment: `MIMI_LOAD_CLIENTS` (16), `MIMI_LOAD_SECS`
//! (10 per scenario, after 5 s of warm-up), `MIMI_LOAD_STORE` (1000000), `MIMI_LOAD_SOAK_SECS`
//! (0). The store is issued once and kept under `target/bench-data/` (about 2 GB for a
//! million), and issued again when its leaves are near expiry.

#[path = "common/exchange.rs"]
mod exchange;
#[path = "../tests/common/tls.rs"]
mod tls;

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use exchange::{baseline, client_config, connect, exchange, lookup_body, ServeDir};
use hyper::body::Bytes;
use mimi_attest::{IssueRequest, ProviderCa, Sii, SubjectKey};
use time::OffsetDateTime;

/// The environment variable that makes this binary the baseline server, serving the TLS files
/// of the directory it names.
const BASELINE_ROLE: &str = "MIMI_LOAD_BASELINE";
const WARM_UP: Duration = Duration::from_secs(5);
/// The store's leaves are valid for 30 days (the longest a validation may back); it is issued again once it is this old.
const STORE_REISSUE_AFTER: time::Duration = time::Duration::days(20);
const CA_CONFIG: &str = "provider: chat-a.example\norganization: Chat A Inc.\nscope:\n  tel: [\"+1\"]\nvalidity: {root: 10y, ca: 1y, leaf_default: 30d, leaf_max: 30d}\n";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
        })
        .unwrap_or(default)
}

fn main() {
    if let Ok(dir) = std::env::var(BASELINE_ROLE) {
        return run_baseline(Path::new(&dir));
    }
    let clients = env_num("MIMI_LOAD_CLIENTS", 16) as usize;
    let secs = Duration::from_secs(env_num("MIMI_LOAD_SECS", 10));
    let store_size = env_num("MIMI_LOAD_STORE", 1_000_000);
    let soak = Duration::from_secs(env_num("MIMI_LOAD_SOAK_SECS", 0));

    let ca_dir = cached_store(store_size);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let now = OffsetDateTime::now_utc();
    let root = std::fs::read_to_string(ca_dir.join("root.pem")).unwrap();
    let files = ServeDir::write(dir, &ca_dir, &root, now);
    let (mut served, serve_addr) = start_server(dir);
    let (mut base, base_addr) = start_baseline(dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = client_config(&files.tls_ca_pem, &files.client);
    let rss = |child: &Child| memory_kib(child.id());

    // What is measured must be real answers: a chain for each SII asked.
    let answer = runtime.block_on(async {
        let mut send = connect(serve_addr, &config).await;
        exchange::exchange_text(&mut send, &lookup_body(&["tel:+15550000000"])).await
    });
    assert_eq!(
        answer.matches("\"status\":\"found\"").count(),
        1,
        "the server did not find +15550000000 in the store: {answer}"
    );
    println!(
        "exchange service load: {clients} clients, {} s a scenario after {} s warm-up, store of {store_size} attestations",
        secs.as_secs(),
        WARM_UP.as_secs()
    );
    println!("server memory before: {:?}", rss(&served));
    let scenarios: [(&str, SocketAddr, usize, bool); 5] = [
        ("baseline fixed 4 KiB", base_addr, 1, true),
        ("lookup of 1 SII", serve_addr, 1, true),
        ("lookup of 100 SIIs", serve_addr, 100, true),
        ("baseline full handshakes", base_addr, 1, false),
        ("lookup full handshakes", serve_addr, 1, false),
    ];
    println!(
        "{:<26} {:>10} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}  vs baseline",
        "scenario", "req/s", "SIIs/s", "p50 ms", "p99 ms", "p99.9 ms", "server µs", "client µs"
    );
    let mut baselines = [0.0f64; 2];
    for (name, addr, batch, keep_alive) in scenarios {
        let load = Load {
            addr,
            config: Arc::clone(&config),
            batch,
            store_size,
            keep_alive,
        };
        let server = if addr == base_addr { &base } else { &served };
        let (cpu_before, own_before) = (cpu_secs(server.id()), cpu_secs(std::process::id()));
        let stats = runtime.block_on(load.run(clients, WARM_UP, secs));
        // Warm-up requests are not counted: the CPU they took is scaled out by time.
        let share = secs.as_secs_f64() / (secs + WARM_UP).as_secs_f64();
        let cpu = (cpu_secs(server.id()) - cpu_before) * share;
        let own = (cpu_secs(std::process::id()) - own_before) * share;
        let rate = stats.per_second();
        let slot = usize::from(!keep_alive);
        let versus = if addr == base_addr {
            baselines[slot] = rate;
            String::new()
        } else {
            format!("{:.2}x", rate / baselines[slot])
        };
        println!(
            "{name:<26} {rate:>10.0} {:>11.0} {:>9.3} {:>9.3} {:>9.3} {:>9.1} {:>9.1}  {versus}",
            rate * batch as f64,
            stats.percentile(0.50),
            stats.percentile(0.99),
            stats.percentile(0.999),
            cpu * 1e6 / stats.latencies_us.len().max(1) as f64,
            own * 1e6 / stats.latencies_us.len().max(1) as f64,
        );
    }
    println!("server memory after: {:?}", rss(&served));

    if !soak.is_zero() {
        println!(
            "soak: {clients} keep-alive clients (lookups of 1 SII) and 2 clients reconnecting for every request, {} s",
            soak.as_secs()
        );
        let slice = Duration::from_secs(10);
        let mut samples = Vec::new();
        let started = Instant::now();
        while started.elapsed() < soak {
            let run = |keep_alive| Load {
                addr: serve_addr,
                config: Arc::clone(&config),
                batch: 1,
                store_size,
                keep_alive,
            };
            let (kept, churned) = runtime.block_on(async {
                tokio::join!(
                    run(true).run(clients, Duration::ZERO, slice),
                    run(false).run(2, Duration::ZERO, slice)
                )
            });
            let m = rss(&served);
            println!(
                "  {:>4} s: {:.0} lookups/s, {:.0} handshakes/s, p99 {:.3} ms, server {m:?}",
                started.elapsed().as_secs(),
                kept.per_second(),
                churned.per_second(),
                kept.percentile(0.99)
            );
            samples.push(m.anon_kib);
        }
        // The first slice fills the server's caches; compare the rest's first and last thirds.
        let settled = &samples[samples.len().min(1)..];
        if settled.len() >= 3 {
            let third = settled.len() / 3;
            let first = settled[..third].iter().max().unwrap();
            let last = settled[settled.len() - third..].iter().max().unwrap();
            println!(
                "soak memory (anonymous, the store's mapped pages aside): first third's peak {first} KiB, last third's peak {last} KiB ({:+.1} %)",
                (*last as f64 / *first as f64 - 1.0) * 100.0
            );
        }
    }
    let _ = base.kill();
    let _ = served.kill();
    let _ = (base.wait(), served.wait());
}

/// The baseline server's process: prints its address on stdout, serves until killed.
fn run_baseline(dir: &Path) {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let addr = baseline(
            (read("server.pem"), read("server.key")),
            &read("client-ca.pem"),
        )
        .await;
        println!("{addr}");
        std::io::stdout().flush().unwrap();
        std::future::pending::<()>().await
    });
}

fn start_baseline(dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(BASELINE_ROLE, dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("the baseline server printed {line:?}"));
    (child, addr)
}

/// `mimi-attest serve` with its access log in a file; its address from the log.
fn start_server(dir: &Path) -> (Child, SocketAddr) {
    let log = dir.join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mimi-attest"))
        .arg("serve")
        .arg("--config")
        .arg(dir.join("serve.yaml"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(addr) = text
            .lines()
            .find_map(|l| l.strip_prefix("listening on "))
            .and_then(|a| a.trim().parse().ok())
        {
            return (child, addr);
        }
        if child.try_wait().unwrap().is_some() || started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("mimi-attest serve did not start:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A CA directory whose store holds `n` live leaves for +1555 0000000, +1555 0000001, …,
/// issued once into `target/bench-data/` and kept.
fn cached_store(n: u64) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // target/<profile>/deps/<this binary>
            let exe = std::env::current_exe().unwrap();
            exe.ancestors().nth(3).unwrap().to_path_buf()
        });
    let home = target.join("bench-data").join(format!("serve-store-{n}"));
    let stamp = home.join("issued-at");
    let now = OffsetDateTime::now_utc();
    if let Some(at) = std::fs::read_to_string(&stamp)
        .ok()
        .and_then(|t| t.trim().parse::<i64>().ok())
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
    {
        if now - at < STORE_REISSUE_AFTER {
            return home.join("ca");
        }
    }
    let building = home.with_extension("building");
    let _ = std::fs::remove_dir_all(&building);
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&building).unwrap();
    eprintln!(
        "issuing a store of {n} attestations into {} (once; kept for later runs)",
        home.display()
    );
    let mut ca = ProviderCa::init(CA_CONFIG, "load", &building.join("ca"), now).unwrap();
    let spki = rcgen::PublicKeyData::subject_public_key_info(&rcgen::KeyPair::generate().unwrap());
    let started = Instant::now();
    const CHUNK: u64 = 20_000;
    for start in (0..n).step_by(CHUNK as usize) {
        let reqs: Vec<IssueRequest> = (start..(start + CHUNK).min(n))
            .map(|i| {
                IssueRequest::new(Sii::parse(&sii_number(i)).unwrap())
                    .with_key(SubjectKey::PublicKey(spki.clone()))
            })
            .collect();
        for r in ca.issue_many(&reqs, now).unwrap() {
            r.unwrap();
        }
        eprint!("\r  {} of {n}", (start + CHUNK).min(n));
    }
    eprintln!(" in {:.0} s", started.elapsed().as_secs_f64());
    drop(ca);
    std::fs::write(building.join("issued-at"), now.unix_timestamp().to_string()).unwrap();
    std::fs::rename(&building, &home).unwrap();
    home.join("ca")
}

fn sii_number(i: u64) -> String {
    format!("+1555{i:07}")
}

/// CPU time (user and system) a process has used, from /proc.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of stat(5), the 12th and 13th after the name.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|t| t.parse::<f64>().ok()))
        .sum();
    // Linux reports them in USER_HZ, 100 a second on every architecture it runs on.
    ticks / 100.0
}

/// The server's resident memory (`VmRSS`, `RssAnon`) and its peak so far (`VmHWM`), from /proc.
#[derive(Debug)]
#[allow(dead_code)]
struct Memory {
    rss_kib: u64,
    /// Of the resident memory, what is not a mapped file (the store is mapped).
    anon_kib: u64,
    peak_kib: u64,
}

fn memory_kib(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS:"),
        anon_kib: field("RssAnon:"),
        peak_kib: field("VmHWM:"),
    }
}

/// One scenario: where, how and what the clients ask.
struct Load {
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    /// SIIs a request, chosen at random from the store.
    batch: usize,
    store_size: u64,
    /// One connection a client for all its requests; else a new connection (a full
    /// handshake) for every request.
    keep_alive: bool,
}

impl Load {
    /// `clients` clients ask as fast as they are answered for `warm_up + secs`; the requests
    /// answered after the warm-up are counted.
    async fn run(self, clients: usize, warm_up: Duration, secs: Duration) -> Stats {
        let this = Arc::new(self);
        let start = Instant::now();
        let (counted, end) = (start + warm_up, start + warm_up + secs);
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let this = Arc::clone(&this);
                tokio::spawn(async move { this.client(c as u64, counted, end).await })
            })
            .collect();
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.unwrap());
        }
        latencies.sort_unstable();
        Stats {
            latencies_us: latencies,
            secs: secs.as_secs_f64(),
        }
    }

    async fn client(&self, seed: u64, counted: Instant, end: Instant) -> Vec<u32> {
        let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (seed + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let mut next_body = || -> Bytes {
            let siis: Vec<String> = (0..self.batch)
                .map(|_| {
                    // xorshift64: which SIIs are asked needs no better randomness.
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    format!("tel:{}", sii_number(rng % self.store_size))
                })
                .collect();
            lookup_body(&siis)
        };
        let mut latencies = Vec::new();
        let mut kept = if self.keep_alive {
            Some(connect(self.addr, &self.config).await)
        } else {
            None
        };
        loop {
            let body = next_body();
            let asked = Instant::now();
            if asked >= end {
                return latencies;
            }
            match kept.as_mut() {
                Some(send) => exchange(send, &body).await,
                None => exchange(&mut connect(self.addr, &self.config).await, &body).await,
            };
            if asked >= counted {
                latencies.push(asked.elapsed().as_micros().try_into().unwrap_or(u32::MAX));
            }
        }
    }
}

/// The latencies of the requests counted, sorted.
struct Stats {
    latencies_us: Vec<u32>,
    secs: f64,
}

impl Stats {
    fn per_second(&self) -> f64 {
        self.latencies_us.len() as f64 / self.secs
    }

    /// The `q` quantile of the latencies, in milliseconds.
    fn percentile(&self, q: f64) -> f64 {
        let n = self.latencies_us.len();
        if n == 0 {
            return f64::NAN;
        }
        let i = ((n as f64 * q).ceil() as usize).clamp(1, n) - 1;
        f64::from(self.latencies_us[i]) / 1e3
    }
}
