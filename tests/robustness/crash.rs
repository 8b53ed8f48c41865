//! Crash safety: `issue-batch` killed with SIGKILL at random points of a 10,000-request run,
//! several times, then run to completion. Whatever any run handed out (the committed output
//! and the partial `.tmp` outputs killed runs left behind) must be in the store, the store
//! must pass `PRAGMA integrity_check`, no serial or request id may appear twice, and the
//! final output must answer every request exactly once, with the certificate any earlier
//! run handed out for it. The partial outputs are gone once a later run has started.
//!
//! With a transparency log (`log:` in the CA config) the same kills must leave every stored
//! leaf in the log exactly once, at the index the store records, under checkpoints that all
//! agree with the final one (no fork: one root per size).
#![cfg(unix)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mimi_attest::{
    check_mapping_proof, log_keys, open_log, sha256, verify_consistency, witness_key,
    MappingLogEntry, SignedCheckpoint, TlogProof,
};

use crate::common::ca::intact_store_db;
use crate::common::cli::{batch_cmd, init_chat_a};
use crate::common::logged::{issuer_spki, leaf_der, logged_ca};

const REQUESTS: usize = 10_000;
const KILLS: usize = 6;
/// Fewer requests with a log: each leaf costs a VRF proof as well.
const LOGGED_REQUESTS: usize = 400;

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
    let mut c = batch_cmd(ca, input, output);
    c.stdout(Stdio::null()).stderr(Stdio::piped());
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

/// The generator, from `MIMI_CRASH_SEED` or the clock; the seed is printed.
fn seeded_rng() -> Rng {
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
    Rng(seed)
}

/// `n` requests `r{i}` in `dir/requests.jsonl`.
fn write_requests(dir: &Path, n: usize) -> std::path::PathBuf {
    let input = dir.join("requests.jsonl");
    let text: String = (0..n)
        .map(|i| format!("{{\"id\":\"r{i:05}\",\"sii\":\"+1555{i:07}\"}}\n"))
        .collect();
    std::fs::write(&input, text).unwrap();
    input
}

/// serial, request id, status, DER.
type LeafRow = (String, Option<String>, String, Option<Vec<u8>>);

#[test]
fn killed_batches_lose_nothing_and_repeat_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = init_chat_a(tmp.path());
    let input = write_requests(tmp.path(), REQUESTS);
    let outdir = tmp.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let output = outdir.join("results.jsonl");
    let evidence = tmp.path().join("evidence");
    std::fs::create_dir(&evidence).unwrap();

    let mut rng = seeded_rng();

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
    let db = intact_store_db(&ca);
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

/// serial, DER, recorded log index.
type LoggedRow = (String, Vec<u8>, Option<i64>);

#[test]
fn killed_logged_batches_log_every_leaf_once_without_a_fork() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = logged_ca(tmp.path());
    let log = tmp.path().join("log");
    let keys = log_keys(&log).unwrap();
    let input = write_requests(tmp.path(), LOGGED_REQUESTS);
    let output = tmp.path().join("results.jsonl");
    let mut rng = seeded_rng();

    // Each run's published checkpoint, kept to check against the final one.
    let mut checkpoints = Vec::new();
    let mut kills = 0;
    let mut window_ms: u64 = 400;
    for round in 0..KILLS {
        let mut child = batch(&ca, &input, &output).spawn().unwrap();
        let after = Duration::from_millis(10 + rng.next(window_ms));
        let start = Instant::now();
        while start.elapsed() < after && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        } else {
            window_ms = (start.elapsed().as_millis() as u64 * 3 / 4).max(20);
        }
        let status = child.wait().unwrap();
        eprintln!("logged round {round}: after {after:?}: {status}");
        checkpoints.push(std::fs::read(log.join("public/checkpoint")).unwrap());
        // Re-run to completion: it repairs what the killed run left half logged.
        let o = batch(&ca, &input, &output).output().unwrap();
        assert!(
            o.status.success(),
            "round {round}, run to completion: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        checkpoints.push(std::fs::read(log.join("public/checkpoint")).unwrap());
        std::fs::remove_file(&output).unwrap();
        // The same input again replays; fresh requests make the next kill land while
        // issuing anew as well.
        if round % 2 == 1 {
            let more = (0..LOGGED_REQUESTS / 4)
                .map(|i| format!("{{\"id\":\"n{round}-{i}\",\"sii\":\"+1666{i:07}\"}}\n"))
                .collect::<String>();
            let mut text = std::fs::read_to_string(&input).unwrap();
            text.push_str(&more);
            std::fs::write(&input, text).unwrap();
        }
    }
    eprintln!("{kills} logged runs killed with SIGKILL");
    assert!(kills >= KILLS / 2, "too few kills landed");

    // The final run: every request answered, every proof checks.
    let o = batch(&ca, &input, &output).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let requests = std::fs::read_to_string(&input).unwrap().lines().count();
    let spki = issuer_spki(&ca);
    let w = witness_key(&tmp.path().join("w1")).unwrap();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), requests, "one result per request");
    let mut proven: HashMap<[u8; 32], u64> = HashMap::new();
    for l in &lines {
        let id = l["id"].as_str().unwrap();
        let proof = TlogProof::parse(l["tlog_proof"].as_str().unwrap().as_bytes())
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let der = leaf_der(l["chain_pem"].as_str().unwrap());
        let checked = check_mapping_proof(&proof, &der, &spki, &keys, std::slice::from_ref(&w))
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        proven.insert(sha256(&der), checked.index);
    }

    // The log: every entry once, and exactly the store's issued leaves.
    let op = open_log(&log, None).unwrap();
    let writer = op.writer();
    let size = writer.size();
    let mut in_log: HashMap<[u8; 32], u64> = HashMap::new();
    for (i, bytes) in (0..).zip(writer.read_entries(0, size).unwrap()) {
        let entry = MappingLogEntry::decode(&bytes).unwrap();
        if let Some(first) = in_log.insert(entry.leaf_sha256, i) {
            panic!("a leaf is in the log twice, at {first} and {i}");
        }
    }
    let db = intact_store_db(&ca);
    let mut stmt = db
        .prepare(
            "SELECT c.serial, d.der, l.log_index FROM certificates c \
             JOIN certificate_der d ON d.id = c.id \
             LEFT JOIN log_entries l ON l.id = c.id \
             WHERE c.kind = 'leaf' AND c.status = 'issued'",
        )
        .unwrap();
    let rows: Vec<LoggedRow> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), requests, "one issued leaf per request");
    assert_eq!(
        size,
        rows.len() as u64,
        "the log holds the store's leaves, no more"
    );
    for (serial, der, index) in &rows {
        let at = in_log
            .get(&sha256(der))
            .unwrap_or_else(|| panic!("leaf {serial} is not in the log"));
        assert_eq!(
            *index,
            Some(*at as i64),
            "leaf {serial}: the store's log index"
        );
        if let Some(p) = proven.get(&sha256(der)) {
            assert_eq!(p, at, "leaf {serial}: the handed-out proof's index");
        }
    }
    assert_eq!(proven.len(), requests);

    // The published checkpoint verifies; every earlier one is a prefix of it.
    let last =
        SignedCheckpoint::parse(&std::fs::read(log.join("public/checkpoint")).unwrap()).unwrap();
    last.verify(&keys.origin, &keys.key).unwrap();
    let (new_size, new_root) = (last.checkpoint().size(), *last.checkpoint().root_hash());
    assert_eq!(new_size, size);
    let mut roots: HashMap<u64, [u8; 32]> = HashMap::new();
    for (n, bytes) in checkpoints.iter().enumerate() {
        let c = SignedCheckpoint::parse(bytes).unwrap();
        c.verify(&keys.origin, &keys.key).unwrap();
        let (old_size, old_root) = (c.checkpoint().size(), *c.checkpoint().root_hash());
        if let Some(r) = roots.insert(old_size, old_root) {
            assert_eq!(r, old_root, "two roots for size {old_size}: a fork");
        }
        let proof = writer.consistency_proof(old_size, new_size).unwrap();
        verify_consistency(&proof, old_size, &old_root, new_size, &new_root)
            .unwrap_or_else(|e| panic!("checkpoint {n} (size {old_size}): {e}"));
    }
    eprintln!(
        "log: {size} entries, {} checkpoints consistent with the last",
        checkpoints.len()
    );
}
