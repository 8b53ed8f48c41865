//! Issuance writes the log: a CA whose config has `log:` hands out only leaves that are
//! logged under a checkpoint on disk (cosigned by its witnesses), with their proofs; one
//! checkpoint per batch; the store records each leaf's index; a crash between storing and
//! logging, or between logging and recording, is repaired by the next run without a
//! duplicate or a lost entry.

use std::fs;
use std::path::Path;

use mimi_attest::{log_keys, TlogProof};

use crate::common::ca::{chat_a_config, init_ca, store_db};
use crate::common::cli::{batch_cmd, ok, s};
use crate::common::logged::{check, logged_ca, stored_indexes};
use crate::common::now;

fn log_size(tmp: &Path) -> u64 {
    let op = mimi_attest::open_log(&tmp.join("log"), None).unwrap();
    op.writer().size()
}

/// `issue-batch` of `n` requests `{prefix}{i}`; the result lines.
fn batch(tmp: &Path, ca: &Path, prefix: &str, n: usize) -> Vec<serde_json::Value> {
    let input = tmp.join(format!("{prefix}.jsonl"));
    let text: String = (0..n)
        .map(|i| format!("{{\"id\":\"{prefix}{i}\",\"sii\":\"+1555{i:07}\"}}\n"))
        .collect();
    fs::write(&input, text).unwrap();
    let output = tmp.join(format!("{prefix}.out.jsonl"));
    let _ = fs::remove_file(&output);
    let o = batch_cmd(ca, &input, &output).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_logged_ca_hands_out_proofs_one_checkpoint_per_batch_and_replays_add_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = logged_ca(tmp.path());
    let keys = log_keys(&tmp.path().join("log")).unwrap();
    assert_eq!(log_size(tmp.path()), 0);

    // One: the proof beside the chain.
    let out = tmp.path().join("one.pem");
    issue_one(&ca, &out);
    let proof = fs::read_to_string(tmp.path().join("one.pem.tlog-proof")).unwrap();
    let chain = fs::read_to_string(&out).unwrap();
    assert_eq!(check(&proof, &chain, &ca, &keys, tmp.path()), 0);
    assert_eq!(log_size(tmp.path()), 1);

    // A batch: every result proven, one checkpoint for all of it.
    let lines = batch(tmp.path(), &ca, "b", 20);
    assert_eq!(lines.len(), 20);
    let mut indexes = Vec::new();
    for l in &lines {
        let i = check(
            l["tlog_proof"].as_str().unwrap(),
            l["chain_pem"].as_str().unwrap(),
            &ca,
            &keys,
            tmp.path(),
        );
        let p = TlogProof::parse(l["tlog_proof"].as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(
            p.checkpoint.checkpoint().size(),
            21,
            "one checkpoint for the batch"
        );
        indexes.push(i);
    }
    assert_eq!(indexes, (1..21).collect::<Vec<u64>>());
    assert_eq!(log_size(tmp.path()), 21);
    // The store records each leaf's index.
    let stored = stored_indexes(&ca);
    assert_eq!(stored.len(), 21);
    for (l, (serial, index)) in lines.iter().zip(&stored[1..]) {
        assert_eq!(l["serial"].as_str().unwrap(), serial);
        let p = TlogProof::parse(l["tlog_proof"].as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(*index, Some(p.index as i64));
    }

    // The same batch again: replayed, the same indexes, nothing added.
    let again = batch(tmp.path(), &ca, "b", 20);
    for (a, b) in again.iter().zip(&lines) {
        assert_eq!(a["replayed"], true);
        let i = check(
            a["tlog_proof"].as_str().unwrap(),
            a["chain_pem"].as_str().unwrap(),
            &ca,
            &keys,
            tmp.path(),
        );
        let p = TlogProof::parse(b["tlog_proof"].as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(i, p.index);
    }
    assert_eq!(log_size(tmp.path()), 21);
}

/// Crashes simulated on disk: (a) after the store committed and before the log's
/// checkpoint (the log restored from before the batch, the indexes gone), (b) after the
/// checkpoint and before the indexes were recorded. The next run logs each leaf once.
#[test]
fn leaves_stored_but_not_logged_are_logged_once_by_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = logged_ca(tmp.path());
    let keys = log_keys(&tmp.path().join("log")).unwrap();
    let log = tmp.path().join("log");
    let before = tmp.path().join("log-before");
    issue_one(&ca, &tmp.path().join("c.pem"));
    copy_dir(&log, &before);
    batch(tmp.path(), &ca, "c", 10);
    assert_eq!(log_size(tmp.path()), 11);

    // (a): the log as it was before the batch, and no index recorded for the batch.
    fs::remove_dir_all(&log).unwrap();
    copy_dir(&before, &log);
    store_db(&ca)
        .execute("DELETE FROM log_entries WHERE log_index >= 1", [])
        .unwrap();
    assert_eq!(log_size(tmp.path()), 1);
    let lines = batch(tmp.path(), &ca, "d", 1);
    check(
        lines[0]["tlog_proof"].as_str().unwrap(),
        lines[0]["chain_pem"].as_str().unwrap(),
        &ca,
        &keys,
        tmp.path(),
    );
    assert_eq!(log_size(tmp.path()), 12, "the ten once, then the new one");
    assert!(stored_indexes(&ca).iter().all(|(_, i)| i.is_some()));

    // (b): logged but the indexes lost: found again, nothing appended twice.
    let was = stored_indexes(&ca);
    store_db(&ca)
        .execute("DELETE FROM log_entries", [])
        .unwrap();
    batch(tmp.path(), &ca, "e", 1);
    assert_eq!(log_size(tmp.path()), 13);
    let now_stored = stored_indexes(&ca);
    assert_eq!(&now_stored[..was.len()], &was[..]);
    let mut all: Vec<i64> = now_stored.iter().map(|(_, i)| i.unwrap()).collect();
    all.sort();
    assert_eq!(all, (0..13).collect::<Vec<i64>>(), "every leaf once");
}

/// A CA without `log:` writes no proof and records no index.
#[test]
fn a_ca_without_a_log_is_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca");
    drop(init_ca(&ca, &chat_a_config(), now()));
    let lines = batch(tmp.path(), &ca, "n", 3);
    assert!(lines.iter().all(|l| l.get("tlog_proof").is_none()));
    let out = tmp.path().join("x.pem");
    issue_one(&ca, &out);
    assert!(!tmp.path().join("x.pem.tlog-proof").exists());
    assert!(stored_indexes(&ca).iter().all(|(_, i)| i.is_none()));
}

/// `issue --out <out>` of one leaf with a generated key (written beside it).
fn issue_one(ca: &Path, out: &Path) {
    let key = out.with_extension("key");
    ok(&[
        "issue",
        "--ca",
        s(ca),
        "--sii",
        "+15559990001",
        "--key-out",
        s(&key),
        "--out",
        s(out),
    ]);
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else if e.file_name() != "lock" {
            fs::copy(e.path(), &dest).unwrap();
        }
    }
}
