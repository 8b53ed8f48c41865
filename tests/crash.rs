//! Crash safety: `issue-batch` killed with SIGKILL at random points of a 10,000-request run,
//! several times, then run to completion. Whatever any run handed out (the committed output
//! and the partial `.tmp` outputs killed runs left behind) must be in the store, the store
//! must pass `PRAGMA integrity_check`, no serial or request id may appear twice, and the
//! final output must answer every request exactly once, with the certificate any earlier
//! run handed out for it. The partial outputs are gone once a later run has started.
#![cfg(unix)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mimi-attest");
const REQUESTS: usize = 10_000;
const KILLS: usize = 6;

fn repo(p: &str) -> String {
    format!("{}/{p}", env!("CARGO_MANIFEST_DIR"))
}

/// A small xorshift generator; the seed is printed so a failure can be replayed
/// (`MIMI_CRASH_SEED=...`).
struct Rng(u64);
impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn batch(ca: &Path, input: &Path, output: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.args(["issue-batch", "--quiet", "--ca"])
        .arg(ca)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .env_remove("MIMI_ATTEST_PASSWORD")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// (id, serial, leaf PEM) of every complete result line in `text` (a killed run's last line
/// may be cut short: it is skipped).
fn results(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            Some((
                v["id"].as_str()?.to_owned(),
                v["serial"].as_str()?.to_owned(),
                v["chain_pem"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// serial, request id, status, DER.
type LeafRow = (String, Option<String>, String, Option<Vec<u8>>);

#[test]
fn killed_batches_lose_nothing_and_repeat_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca");
    let out = Command::new(BIN)
        .args(["ca", "init", "--insecure-no-password", "--config"])
        .arg(repo("ca-config/chat-a.yaml"))
        .arg("--dir")
        .arg(&ca)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let input = tmp.path().join("requests.jsonl");
    let text: String = (0..REQUESTS)
        .map(|i| format!("{{\"id\":\"r{i:05}\",\"sii\":\"+1555{i:07}\"}}\n"))
        .collect();
    std::fs::write(&input, text).unwrap();
    let outdir = tmp.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let output = outdir.join("results.jsonl");
    let evidence = tmp.path().join("evidence");
    std::fs::create_dir(&evidence).unwrap();

    let seed = std::env::var("MIMI_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed {seed} (MIMI_CRASH_SEED={seed} replays it)");
    let mut rng = Rng(seed);

    // How long a whole run takes here, to spread the kills over it.
    let mut kills = 0;
    let mut finished_early = 0;
    // Kills land at a random point inside a window that shrinks to what a run takes on this
    // machine (later runs replay what earlier ones issued, and go faster).
    let mut window_ms: u64 = 800;
    for round in 0..KILLS {
        let mut child = batch(&ca, &input, &output).spawn().unwrap();
        let after = Duration::from_millis(10 + rng.next(window_ms));
        let start = Instant::now();
        while start.elapsed() < after {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        } else {
            finished_early += 1;
            window_ms = (start.elapsed().as_millis() as u64 * 3 / 4).max(20);
        }
        let status = child.wait().unwrap();
        eprintln!("round {round}: after {after:?}: {status}");
        // The partial output a killed run left behind (the next run removes it) and the
        // committed output of a run that finished are evidence: keep copies aside.
        for e in std::fs::read_dir(&outdir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "tmp") {
                let name = p.file_name().unwrap().to_string_lossy();
                std::fs::copy(&p, evidence.join(format!("partial-{round}-{name}"))).unwrap();
            }
        }
        if output.exists() {
            std::fs::rename(&output, evidence.join(format!("finished-{round}.jsonl"))).unwrap();
        }
    }
    eprintln!("{kills} runs killed with SIGKILL, {finished_early} finished before their kill");
    assert!(
        kills >= KILLS / 2,
        "too few kills landed: the runs were faster than expected"
    );

    // Everything handed out so far: partial outputs (.tmp) and finished ones.
    let mut handed: HashMap<String, (String, String)> = HashMap::new();
    let mut partial_files = 0;
    for e in std::fs::read_dir(&evidence).unwrap() {
        let p = e.unwrap().path();
        partial_files += usize::from(p.extension().is_some_and(|x| x == "tmp"));
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        for (id, serial, pem) in results(&text) {
            if let Some((s, _)) = handed.get(&id) {
                assert_eq!(s, &serial, "request {id} was answered with two serials");
            }
            handed.insert(id, (serial, pem));
        }
    }
    eprintln!(
        "{} certificates handed out before the final run ({partial_files} partial outputs)",
        handed.len()
    );

    // Run to completion.
    let o = batch(&ca, &input, &output).output().unwrap();
    assert!(
        o.status.success(),
        "final run: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(&outdir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        [std::ffi::OsString::from("results.jsonl")],
        "the final run removed the partial outputs of killed runs"
    );
    let final_results = results(&std::fs::read_to_string(&output).unwrap());
    assert_eq!(final_results.len(), REQUESTS, "one result per request");
    let ids: HashSet<&str> = final_results.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(ids.len(), REQUESTS, "every request answered exactly once");
    let final_by_id: HashMap<&str, (&str, &str)> = final_results
        .iter()
        .map(|(i, s, p)| (i.as_str(), (s.as_str(), p.as_str())))
        .collect();
    for (id, (serial, pem)) in &handed {
        let (s, p) = final_by_id[id.as_str()];
        assert_eq!((s, p), (serial.as_str(), pem.as_str()), "request {id}");
    }

    // The store: intact, every handed-out certificate in it, nothing twice.
    let db = rusqlite::Connection::open(ca.join(mimi_attest::STORE_FILE)).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let mut stmt = db
        .prepare(
            "SELECT c.serial, c.request_id, c.status, d.der FROM certificates c \
             LEFT JOIN certificate_der d ON d.id = c.id WHERE c.kind = 'leaf'",
        )
        .unwrap();
    let rows: Vec<LeafRow> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut serials = HashSet::new();
    let mut request_ids = HashSet::new();
    let mut issued: HashMap<String, Vec<u8>> = HashMap::new();
    for (serial, rid, status, der) in &rows {
        assert!(serials.insert(serial.clone()), "serial {serial} twice");
        if let Some(rid) = rid {
            assert!(request_ids.insert(rid.clone()), "request id {rid} twice");
        }
        if status == "issued" {
            issued.insert(serial.clone(), der.clone().expect("issued rows hold DER"));
        }
    }
    assert_eq!(
        issued.len(),
        REQUESTS,
        "exactly one issued certificate per request"
    );
    for (id, (serial, pem)) in final_by_id.iter().map(|(i, (s, p))| (i, (s, p))) {
        let der = issued
            .get(*serial)
            .unwrap_or_else(|| panic!("{id}: serial {serial} is not in the store"));
        let leaf = pem::parse_many(pem.as_bytes()).unwrap();
        assert_eq!(
            leaf[0].contents(),
            der.as_slice(),
            "{id}: stored DER differs"
        );
    }
    let abandoned = rows.iter().filter(|r| r.2 != "issued").count();
    eprintln!(
        "store: {} issued leaves, {abandoned} reservations abandoned by killed runs; integrity ok",
        issued.len()
    );
}
