//! A CA directory made by the release with store schema version 1 (`tests/data/store-v1`:
//! `ca init`, `issue --request-id`, `issue`, `issue-batch`, `revoke --sii`, `crl`) with
//! this build: commands that write refuse it, unchanged, and say to run `store migrate`;
//! auditors list and export it as it is; `store migrate` upgrades it in place to version 3,
//! every row and every certificate's DER survive unchanged, replays answer from the migrated
//! rows, revocations stay, and issuing goes on.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use mimi_attest::{CertKind, CertStatus, IssuanceStore, StoreError};
use mimi_attest::{IssueError, IssueRequest, ProviderCa, Sii};
use time::OffsetDateTime;

use crate::common::ca::{intact_store_db, store_db};
use crate::common::cli::{batch_cmd, run, s, stderr};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/store-v1");

/// A writable copy of the fixture CA (git keeps no file modes: the keys get 0600 again).
fn copy_fixture(to: &Path) -> PathBuf {
    let ca = to.join("ca");
    fs::create_dir(&ca).unwrap();
    for entry in fs::read_dir(Path::new(FIXTURE).join("ca")).unwrap() {
        let entry = entry.unwrap();
        let dest = ca.join(entry.file_name());
        fs::copy(entry.path(), &dest).unwrap();
        let mode = if dest.extension().is_some_and(|e| e == "key") {
            0o600
        } else {
            0o644
        };
        fs::set_permissions(&dest, fs::Permissions::from_mode(mode)).unwrap();
    }
    fs::set_permissions(&ca, fs::Permissions::from_mode(0o700)).unwrap();
    ca
}

/// `mimi-attest store migrate --ca <ca>`, required to succeed; its stderr.
fn migrate(ca: &Path) -> String {
    let o = run(&["store", "migrate", "--ca", s(ca)]);
    let err = stderr(&o);
    assert!(o.status.success(), "store migrate: {err}");
    err
}

fn store_sha256(ca: &Path) -> String {
    let data = fs::read(ca.join(mimi_attest::STORE_FILE)).unwrap();
    mimi_attest::hex(&mimi_attest::sha256(&data))
}

fn schema_version(ca: &Path) -> String {
    let db = store_db(ca);
    db.query_row(
        "SELECT value FROM meta WHERE key = 'schema_version'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// Serial → (status, DER) of the fixture's rows, read with version 1's own layout.
fn v1_rows(ca: &Path) -> HashMap<String, (String, Option<Vec<u8>>)> {
    let db = store_db(ca);
    let mut stmt = db
        .prepare("SELECT serial, status, der FROM certificates")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows
}

#[test]
fn version_1_store_is_upgraded_by_store_migrate_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = copy_fixture(tmp.path());
    assert_eq!(schema_version(&ca_dir), "1");
    let before = v1_rows(&ca_dir);
    assert_eq!(before.len(), 6, "root, issuing CA and four leaves");

    // Opening the CA to issue does not upgrade it: it says to migrate, and changes nothing.
    let hash = store_sha256(&ca_dir);
    let err = ProviderCa::open(&ca_dir)
        .err()
        .expect("a version 1 store is refused");
    assert!(
        matches!(
            err,
            IssueError::Store(StoreError::Outdated {
                found: 1,
                current: 3,
                ..
            })
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("mimi-attest store migrate --ca"),
        "{err}"
    );
    assert_eq!(schema_version(&ca_dir), "1");
    assert_eq!(store_sha256(&ca_dir), hash);

    let said = migrate(&ca_dir);
    assert!(said.contains("from schema version 1 to 3"), "{said}");
    let mut ca = ProviderCa::open(&ca_dir).unwrap();
    assert_eq!(schema_version(&ca_dir), "3");
    let rows = ca.store().all().unwrap();
    assert_eq!(rows.len(), before.len());
    for row in &rows {
        let (status, der) = &before[&row.serial.to_string()];
        assert_eq!(row.status.as_str(), status, "{}", row.serial);
        assert_eq!(&row.der, der, "{}: DER changed", row.serial);
    }
    let kinds: Vec<CertKind> = rows.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            CertKind::Root,
            CertKind::Ca,
            CertKind::Leaf,
            CertKind::Leaf,
            CertKind::Leaf,
            CertKind::Leaf
        ],
        "rows keep their order"
    );
    let revoked: Vec<String> = rows
        .iter()
        .filter(|r| r.status == CertStatus::Revoked)
        .map(|r| r.sii.as_ref().map(|s| s.canonical()).unwrap_or_default())
        .collect();
    assert_eq!(revoked, ["mailto:alice@chat-a.example"]);
    assert_eq!(
        ca.store()
            .revoked_entries(&rows[1].serial, rows[0].not_before)
            .unwrap()
            .len(),
        1,
        "the CRL query finds the revocation through the new index"
    );

    // The request id issued under version 1 answers from the migrated row: the same DER.
    let one_pem = fs::read_to_string(Path::new(FIXTURE).join("one.pem")).unwrap();
    let one_der = pem::parse_many(one_pem.as_bytes()).unwrap()[0]
        .contents()
        .to_vec();
    let issuer = ca.store().get(&rows[1].serial).unwrap().unwrap();
    let stored = ca.store().by_request_id("v1-one").unwrap().unwrap();
    assert_eq!(stored.der.as_deref(), Some(one_der.as_slice()));
    let mut again = IssueRequest::new(Sii::parse("+15550000001").unwrap());
    again.handle = Some("mimi://chat-a.example/u/one".into());
    again.request_id = Some("v1-one".into());
    // Generated key in the original request: a retry asks the same way.
    let now = OffsetDateTime::now_utc().min(issuer.not_after - time::Duration::days(8));
    let replay = ca.issue(&again, now).unwrap();
    assert!(replay.replayed);
    assert_eq!(replay.leaf_der, one_der);

    // New issuance lands in the version 2 store.
    let fresh = ca
        .issue(&IssueRequest::new(Sii::parse("+15550000009").unwrap()), now)
        .unwrap();
    assert!(!fresh.replayed);
    let row = ca.store().get(&fresh.serial).unwrap().unwrap();
    assert_eq!(row.status, CertStatus::Issued);
    assert_eq!(row.der.as_deref(), Some(fresh.leaf_der.as_slice()));

    // Migrating again has nothing to do.
    drop(ca);
    let said = migrate(&ca_dir);
    assert!(said.contains("already has schema version 3"), "{said}");
    let ca = ProviderCa::open(&ca_dir).unwrap();
    assert_eq!(ca.store().all().unwrap().len(), before.len() + 1);
    intact_store_db(&ca_dir);
}

#[test]
fn cli_store_list_and_batch_replay_work_on_a_version_1_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = copy_fixture(tmp.path());
    let hash = store_sha256(&ca_dir);
    let list = run(&["store", "list", "--ca", s(&ca_dir)]);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let text = String::from_utf8(list.stdout).unwrap();
    assert_eq!(text.lines().count(), 7, "a header and six rows: {text}");
    assert!(text.contains("revoked"), "{text}");
    let note = String::from_utf8_lossy(&list.stderr);
    assert!(
        note.contains("schema version 1") && note.contains("store migrate --ca"),
        "{note}"
    );
    // Read as it is: the auditor's listing upgraded nothing.
    assert_eq!(schema_version(&ca_dir), "1");
    assert_eq!(store_sha256(&ca_dir), hash);

    // The same batch again: refused until the store is migrated, then both lines are
    // answered from the store, same serials as before.
    let out = tmp.path().join("again.jsonl");
    let batch = || {
        batch_cmd(&ca_dir, &Path::new(FIXTURE).join("batch.jsonl"), &out)
            .output()
            .unwrap()
    };
    let refused = batch();
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("store migrate --ca"), "{err}");
    assert_eq!(store_sha256(&ca_dir), hash);
    assert!(!out.exists());
    migrate(&ca_dir);
    let run = batch();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let serials = |path: &Path| -> Vec<(String, bool)> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["serial"].as_str().unwrap().to_owned(),
                    v["replayed"].as_bool().unwrap_or(false),
                )
            })
            .collect()
    };
    let first = serials(&Path::new(FIXTURE).join("batch.out.jsonl"));
    let second = serials(&out);
    assert_eq!(first.len(), 2);
    for ((s1, r1), (s2, r2)) in first.iter().zip(&second) {
        assert_eq!(s1, s2);
        assert!(!r1 && *r2, "the second run is a replay");
    }
    let _ = IssuanceStore::open(&ca_dir.join(mimi_attest::STORE_FILE)).unwrap();
}

/// A retry whose checks fail now (its validation has become too old for a fresh leaf) is
/// still answered from the store when its id was issued; an unknown id gets the check's
/// error. Replays are found through the store's unique request-id index at reservation,
/// and through a lookup when the request fails before it.
#[test]
fn retry_that_fails_its_checks_now_still_replays() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = copy_fixture(tmp.path());
    migrate(&ca_dir);
    let mut ca = ProviderCa::open(&ca_dir).unwrap();
    let t0 = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        .min(ca.store().all().unwrap()[1].not_after - time::Duration::days(60));
    let mut req = IssueRequest::new(Sii::parse("+15550000077").unwrap());
    req.validated_at = Some(t0 - time::Duration::days(20));
    req.request_id = Some("late-retry".into());
    let first = ca.issue(&req, t0).unwrap();
    assert!(!first.replayed);
    // Five days on, validated_at + 30 days is before a fresh leaf's notAfter.
    let later = t0 + time::Duration::days(5);
    let again = ca.issue(&req, later).unwrap();
    assert!(again.replayed);
    assert_eq!(again.leaf_der, first.leaf_der);
    req.request_id = Some("late-new".into());
    let e = ca.issue(&req, later).unwrap_err().to_string();
    assert!(e.contains("validat"), "{e}");
}

/// Every command that writes the store refuses a version 1 store, changes nothing and
/// names `store migrate`; the auditor's export reads it as it is.
#[test]
fn commands_that_write_refuse_a_version_1_store_and_say_to_migrate() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = copy_fixture(tmp.path());
    let hash = store_sha256(&ca_dir);
    let rows = v1_rows(&ca_dir);
    let serial = rows
        .iter()
        .find(|(_, (status, _))| status == "issued")
        .map(|(s, _)| s.clone())
        .unwrap();
    let ca = ca_dir.to_str().unwrap();
    let out = tmp.path().join("out.pem");
    let out = out.to_str().unwrap();
    let commands: [&[&str]; 6] = [
        &[
            "issue",
            "--ca",
            ca,
            "--sii",
            "+15550000042",
            "--key-out",
            out,
        ],
        &[
            "revoke",
            "--ca",
            ca,
            "--serial",
            &serial,
            "--reason",
            "superseded",
        ],
        &["crl", "--ca", ca, "--out", out],
        &["crl", "--ca", ca, "--root", "--out", out],
        &["renew", "--ca", ca, "--serial", &serial, "--out", out],
        &["ca", "rotate", "--ca", ca],
    ];
    for args in commands {
        let o = run(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("schema version 1") && err.contains(&format!("store migrate --ca {ca}")),
            "{args:?}: {err}"
        );
        assert_eq!(store_sha256(&ca_dir), hash, "{args:?} changed the store");
        assert_eq!(schema_version(&ca_dir), "1");
    }
    assert!(!ca_dir.join("previous").exists(), "no rotation was started");
    let export = run(&["store", "export", "--ca", ca]);
    assert!(export.status.success());
    let pem = String::from_utf8(export.stdout).unwrap();
    assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 6);
    assert_eq!(store_sha256(&ca_dir), hash);
}
