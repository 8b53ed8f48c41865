//! Concurrency: two `issue-batch` processes and `revoke`s on one CA at the same time. No
//! duplicate serial, no lost record, no "database is locked" reaching the user; and two
//! batches carrying the same request ids still issue one certificate per id.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

use crate::common::ca::intact_store_db;
use crate::common::cli::{batch_cmd, cmd, init_chat_a, issue};

fn requests(dir: &Path, name: &str, ids: std::ops::Range<usize>) -> PathBuf {
    let p = dir.join(name);
    let text: String = ids
        .map(|i| format!("{{\"id\":\"r{i:05}\",\"sii\":\"+1555{i:07}\"}}\n"))
        .collect();
    std::fs::write(&p, text).unwrap();
    p
}

fn batch(ca: &Path, input: &Path, output: &Path) -> Child {
    batch_cmd(ca, input, output)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn ok(name: &str, o: &Output) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{name}: {err}");
    assert!(
        !err.contains("locked") && !err.contains("busy"),
        "{name}: {err}"
    );
}

/// (id, serial) of every result line.
fn results(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(v["error"].is_null(), "{l}");
            (
                v["id"].as_str().unwrap().to_owned(),
                v["serial"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// serial -> (request id, status) of every leaf, after checking the database is intact.
fn store(ca: &Path) -> HashMap<String, (Option<String>, String)> {
    let db = intact_store_db(ca);
    let mut stmt = db
        .prepare("SELECT serial, request_id, status FROM certificates WHERE kind = 'leaf'")
        .unwrap();
    let rows: Vec<(String, Option<String>, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut ids = HashSet::new();
    let mut out = HashMap::new();
    for (serial, rid, status) in rows {
        if let Some(r) = &rid {
            assert!(ids.insert(r.clone()), "request id {r} twice in the store");
        }
        assert!(
            out.insert(serial.clone(), (rid, status)).is_none(),
            "serial twice"
        );
    }
    out
}

#[test]
fn two_batches_and_revokes_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ca = init_chat_a(d);
    // Some certificates to revoke while the batches run.
    let first = requests(d, "first.jsonl", 0..40);
    ok(
        "first",
        &batch(&ca, &first, &d.join("first.out"))
            .wait_with_output()
            .unwrap(),
    );
    let to_revoke: Vec<String> = results(&d.join("first.out"))
        .into_iter()
        .map(|r| r.1)
        .collect();

    let (a_in, b_in) = (
        requests(d, "a.jsonl", 1000..4000),
        requests(d, "b.jsonl", 5000..8000),
    );
    let (a_out, b_out) = (d.join("a.out"), d.join("b.out"));
    let a = batch(&ca, &a_in, &a_out);
    let b = batch(&ca, &b_in, &b_out);
    let ca_s = ca.to_str().unwrap().to_owned();
    let revoker = std::thread::spawn(move || {
        for serial in &to_revoke {
            let o = cmd(&[
                "revoke",
                "--ca",
                &ca_s,
                "--serial",
                serial,
                "--reason",
                "superseded",
            ])
            .output()
            .unwrap();
            ok("revoke", &o);
        }
        to_revoke
    });
    ok("batch a", &a.wait_with_output().unwrap());
    ok("batch b", &b.wait_with_output().unwrap());
    let revoked = revoker.join().unwrap();

    let rows = store(&ca);
    for (id, serial) in results(&a_out).into_iter().chain(results(&b_out)) {
        let (rid, status) = rows
            .get(&serial)
            .unwrap_or_else(|| panic!("{id}: {serial} lost"));
        assert_eq!(rid.as_deref(), Some(id.as_str()));
        assert_eq!(status, "issued");
    }
    for serial in &revoked {
        assert_eq!(rows[serial].1, "revoked", "{serial}");
    }
    let issued = rows.values().filter(|r| r.1 == "issued").count();
    assert_eq!(
        issued, 6000,
        "every batch request issued once, nothing else"
    );
}

#[test]
fn two_batches_with_the_same_ids_issue_once() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ca = init_chat_a(d);
    let input = requests(d, "same.jsonl", 0..3000);
    let (a_out, b_out) = (d.join("a.out"), d.join("b.out"));
    let a = batch(&ca, &input, &a_out);
    let b = batch(&ca, &input, &b_out);
    ok("batch a", &a.wait_with_output().unwrap());
    ok("batch b", &b.wait_with_output().unwrap());
    let (ra, rb) = (results(&a_out), results(&b_out));
    assert_eq!(
        ra, rb,
        "both runs answer every id with the same certificate"
    );
    let rows = store(&ca);
    assert_eq!(rows.values().filter(|r| r.1 == "issued").count(), 3000);
}

/// A log held open by another process: a second writer waits for it, 30 s at most, then
/// stops naming the lock file and its holder; released in time, the second writer goes on.
#[test]
fn a_second_writer_of_a_log_waits_a_bounded_time_then_names_the_holder() {
    use std::io::Write;
    use std::time::{Duration, Instant};

    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let log_arg = log.to_str().unwrap();
    let init = cmd(&[
        "log",
        "init",
        "--dir",
        log_arg,
        "--origin",
        "log.example/shared",
        "--insecure-no-password",
    ])
    .output()
    .unwrap();
    ok("log init", &init);
    let ca = init_chat_a(tmp.path());
    let alice = tmp.path().join("alice.pem");
    issue(&ca, "+15551234567", &alice);
    let alice_arg = alice.to_str().unwrap();

    // The holder: a real `log add` whose chain comes from stdin holds the log open until its
    // stdin closes.
    let spawn = |args: &[&str]| {
        cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut holder = spawn(&["log", "add", "--log", log_arg, "-"]);
    let holder_pid = format!("pid {} mimi-attest", holder.id());
    let lock = log.join("lock");
    let started = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.starts_with(&holder_pid)) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the holder never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let start = Instant::now();
    let o = cmd(&["log", "add", "--log", log_arg, alice_arg])
        .output()
        .unwrap();
    let waited = start.elapsed();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(lock.to_str().unwrap()), "{err}");
    assert!(err.contains(&holder_pid), "{err}");
    assert!(err.contains("not released within 30 s"), "{err}");
    assert!(err.contains("wait for it to finish"), "{err}");
    assert!(
        (Duration::from_secs(30)..Duration::from_secs(50)).contains(&waited),
        "{waited:?}"
    );
    let proof = tmp.path().join("alice.pem.tlog-proof");
    assert!(!proof.exists());

    // Released while the second writer waits: it goes on and logs.
    let waiter = spawn(&["log", "add", "--log", log_arg, alice_arg]);
    std::thread::sleep(Duration::from_millis(500));
    holder.stdin.take().unwrap().flush().unwrap();
    let held = holder.wait_with_output().unwrap();
    assert_eq!(held.status.code(), Some(1), "its stdin held no chain");
    let logged = waiter.wait_with_output().unwrap();
    ok("the waiting log add", &logged);
    assert!(
        String::from_utf8_lossy(&logged.stdout).contains("index 0 (new)"),
        "{}",
        String::from_utf8_lossy(&logged.stdout)
    );
    assert!(proof.exists());
}
