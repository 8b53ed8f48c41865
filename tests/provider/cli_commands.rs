//! Commands do what they say: `verify` answers for every file it is given, the store is
//! read without being changed, a revoked issuing CA is shown and no longer signs, a
//! replayed request says so, the batch progress bar counts one unit.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::cli::{
    init_chat_a, issue, ok, run, s, stderr, stdout, stdout_json, verify_args, BIN, ROOT,
};

#[test]
fn verify_gives_every_file_a_result_and_exit_2_when_one_is_missing() {
    let files = [
        "certs/alice-chat-a.pem",
        "certs/no-such-chain.pem",
        "certs/forged-claims-chat-a.pem",
        "certs/bob-email-chat-a.pem",
    ];
    let o = run(&verify_args("json", &files));
    let v = stdout_json(&o);
    let results = v.as_array().unwrap();
    assert_eq!(results.len(), 4, "{v:#}");
    assert_eq!(results[0]["valid"], true);
    assert_eq!(results[1]["file"], "certs/no-such-chain.pem");
    assert_eq!(results[1]["valid"], false);
    let error = results[1]["error"].as_str().unwrap();
    assert!(
        error.contains("cannot read certs/no-such-chain.pem"),
        "{error}"
    );
    assert!(results[1].get("code").is_none(), "not a verifier code");
    assert_eq!(results[2]["code"], "E_PROVIDER_MISMATCH");
    assert_eq!(results[3]["valid"], true);
    // Could not run (2) beats rejected (1).
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // One `error:` line, naming the file and what was wrong (exit 2 always has one).
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with(
            "error: 1 of 4 file(s) could not be read: cannot read certs/no-such-chain.pem"
        ),
        "{err}"
    );

    // Text: every file has its lines, in order.
    let o = run(&verify_args("text", &files));
    assert_eq!(o.status.code(), Some(2));
    let text = stdout(&o);
    let heads: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(
        heads,
        [
            "certs/alice-chat-a.pem: valid",
            "certs/no-such-chain.pem: NOT READ",
            "certs/forged-claims-chat-a.pem: REJECTED E_PROVIDER_MISMATCH (certificate at depth 0)",
            "certs/bob-email-chat-a.pem: valid",
        ],
        "{text}"
    );

    // Without a missing file, a rejection is still 1, and all valid 0.
    let o = run(&verify_args(
        "json",
        &["certs/alice-chat-a.pem", "certs/forged-claims-chat-a.pem"],
    ));
    assert_eq!(o.status.code(), Some(1));
    let o = run(&verify_args("json", &["certs/no-such-chain.pem"]));
    assert_eq!(o.status.code(), Some(2));
    let v: Value = stdout_json(&o);
    assert_eq!(v.as_array().unwrap().len(), 1);
}

#[test]
fn replayed_issue_with_key_out_says_no_key_was_written() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let ca = init_chat_a(t);
    let issue_with = |key: &Path, out: &Path| {
        run(&[
            "issue",
            "--ca",
            s(&ca),
            "--sii",
            "+15551234567",
            "--request-id",
            "signup-42",
            "--key-out",
            s(key),
            "--out",
            s(out),
        ])
    };
    let first = issue_with(&t.join("first.key"), &t.join("first.pem"));
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(!stderr(&first).contains("warning"), "{}", stderr(&first));
    assert!(t.join("first.key").exists());

    let again = issue_with(&t.join("second.key"), &t.join("second.pem"));
    // The chain asked for is written (the same certificate), so the command succeeded.
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(
        std::fs::read(t.join("first.pem")).unwrap(),
        std::fs::read(t.join("second.pem")).unwrap()
    );
    assert!(!t.join("second.key").exists(), "no key exists for a replay");
    let err = stderr(&again);
    assert!(err.contains("already issued:"), "{err}");
    assert!(
        err.contains("warning: request id \"signup-42\" was issued before")
            && err.contains("no new key was generated")
            && err.contains(&format!(
                "nothing was written to {}",
                s(&t.join("second.key"))
            ))
            && err.contains("the first run wrote"),
        "{err}"
    );
}

/// Every file of a directory and the SHA-256 of its content: what "unchanged" means.
fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                mimi_attest::hex(&mimi_attest::sha256(&data)),
            )
        })
        .collect()
}

/// Run as a user without write access to what the test made read-only. Root ignores file
/// modes, so when a write into a 0555 directory succeeds the command runs as `nobody`.
fn run_unprivileged(args: &[&str], probe_dir: &Path) -> Output {
    use std::os::unix::process::CommandExt;
    let probe = probe_dir.join(".write-probe");
    let privileged = std::fs::write(&probe, b"x").is_ok();
    let _ = std::fs::remove_file(&probe);
    let mut cmd = Command::new(BIN);
    cmd.current_dir(ROOT)
        .args(args)
        .env_remove("MIMI_ATTEST_PASSWORD");
    if privileged {
        cmd.uid(65534).gid(65534);
    }
    cmd.output().unwrap()
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Copy the CA directory's files (not subdirectories) to `to`.
fn copy_dir(from: &Path, to: &Path, names: &[&str]) {
    std::fs::create_dir(to).unwrap();
    for n in names {
        std::fs::copy(from.join(n), to.join(n)).unwrap();
    }
}

fn leaf_serials(o: &Output) -> Vec<String> {
    stdout(o)
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("leaf"))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect()
}

/// The hash of the empty file.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Every file is as it was. The only thing a reader may add, in a writable directory, is
/// what SQLite makes for any reader of a WAL database: an empty `store.db-wal` and the
/// `store.db-shm` index (never part of the data).
fn assert_unchanged(
    before: &std::collections::BTreeMap<String, String>,
    after: &std::collections::BTreeMap<String, String>,
) {
    for (name, hash) in before {
        assert_eq!(after.get(name), Some(hash), "{name} changed");
    }
    for (name, hash) in after {
        if !before.contains_key(name) {
            match name.as_str() {
                "store.db-shm" => {}
                "store.db-wal" => assert_eq!(hash, EMPTY_SHA256, "a log was written"),
                other => panic!("{other} was added"),
            }
        }
    }
}

#[test]
fn store_list_and_export_change_nothing_and_work_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    set_mode(t, 0o755);
    let ca = init_chat_a(t);
    let serial = issue(&ca, "+15551234567", &t.join("alice.pem"));

    // The CA directory itself: nothing written, no file added.
    let before = snapshot(&ca);
    let list = ok(&["store", "list", "--ca", s(&ca)]);
    assert_eq!(leaf_serials(&list), std::slice::from_ref(&serial));
    ok(&["store", "list", "--ca", s(&ca), "--format", "json"]);
    let export = ok(&["store", "export", "--ca", s(&ca)]);
    assert!(stdout(&export).contains(&format!("# serial: {serial}")));
    assert_unchanged(&before, &snapshot(&ca));

    // A 0444 store in a writable directory, and a read-only directory of read-only files.
    let files = ["config.yaml", "ca.pem", "root.pem", "store.db"];
    for (name, dir_mode) in [("ro-file", 0o755), ("ro-dir", 0o555)] {
        let copy = t.join(name);
        copy_dir(&ca, &copy, &files);
        for f in files {
            set_mode(&copy.join(f), 0o444);
        }
        set_mode(&copy, dir_mode);
        let before = snapshot(&copy);
        for args in [
            vec!["store", "list", "--ca", s(&copy)],
            vec!["store", "export", "--ca", s(&copy)],
        ] {
            let o = run_unprivileged(&args, &copy);
            assert_eq!(o.status.code(), Some(0), "{name} {args:?}: {}", stderr(&o));
            assert!(stdout(&o).contains(&serial), "{name}: {}", stdout(&o));
        }
        if dir_mode == 0o555 {
            assert_eq!(snapshot(&copy), before, "{name}: files changed");
        }
        set_mode(&copy, 0o755);
    }
}

/// A store whose last changes are still in its write-ahead log (another process holds it
/// open) is listed with them; listing writes neither the database nor the log.
#[test]
fn store_list_reads_changes_still_in_the_write_ahead_log() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    set_mode(t, 0o755);
    let ca = init_chat_a(t);
    let db = ca.join(mimi_attest::STORE_FILE);
    // A reader holding a snapshot from before the leaf keeps the log from being folded in.
    let reader = rusqlite::Connection::open(&db).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let n: i64 = reader
        .query_row("SELECT count(*) FROM certificates", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2, "root and issuing CA");
    let serial = issue(&ca, "+15551234567", &t.join("alice.pem"));
    let wal = ca.join("store.db-wal");
    assert!(
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0,
        "the leaf is in the log"
    );
    let before = snapshot(&ca);
    let list = ok(&["store", "list", "--ca", s(&ca)]);
    assert_eq!(
        leaf_serials(&list),
        std::slice::from_ref(&serial),
        "{}",
        stdout(&list)
    );
    let (db_name, wal_name) = ("store.db".to_owned(), "store.db-wal".to_owned());
    let after = snapshot(&ca);
    assert_eq!(after[&db_name], before[&db_name]);
    assert_eq!(after[&wal_name], before[&wal_name]);

    // The same two files copied read-only (0444, and also in a 0555 directory), where
    // SQLite cannot read the log in place: still listed with the leaf, nothing changed.
    for (name, dir_mode) in [("ro-files", 0o755), ("ro-dir", 0o555)] {
        let copy = t.join(name);
        let files = [
            "config.yaml",
            "ca.pem",
            "root.pem",
            "store.db",
            "store.db-wal",
        ];
        copy_dir(&ca, &copy, &files);
        for f in files {
            set_mode(&copy.join(f), 0o444);
        }
        set_mode(&copy, dir_mode);
        let before = snapshot(&copy);
        let o = run_unprivileged(&["store", "list", "--ca", s(&copy)], &copy);
        set_mode(&copy, 0o755);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        assert_eq!(
            leaf_serials(&o),
            std::slice::from_ref(&serial),
            "{name}: {}",
            stdout(&o)
        );
        assert_unchanged(&before, &snapshot(&copy));
    }
    reader.execute_batch("COMMIT").unwrap();
}

/// Serial of the certificate in a PEM file.
fn pem_serial(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let der = pem::parse(&bytes).unwrap().into_contents();
    let (_, c) = x509_parser::parse_x509_certificate(&der).unwrap();
    mimi_attest::Serial::from_contents(c.raw_serial()).to_string()
}

/// The issuing CA revoked for key-compromise: its leaves are listed revoked through it,
/// `crl` refuses to sign with its key (and after `ca rotate` signs only the new CA's CRL),
/// and every message says what actually protects relying platforms.
#[test]
fn compromised_issuing_ca_is_shown_and_signs_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let ca = init_chat_a(t);
    let leaf = issue(&ca, "+15551234567", &t.join("alice.pem"));
    let old_ca = pem_serial(&ca.join("ca.pem"));
    ok(&["crl", "--ca", s(&ca), "--out", s(&t.join("before.crl"))]);

    let revoked = ok(&[
        "revoke",
        "--ca",
        s(&ca),
        "--serial",
        &old_ca,
        "--reason",
        "key-compromise",
        "--issuing-ca",
    ]);
    let err = stderr(&revoked);
    assert!(
        err.contains("`revocation: leaf` or `off` do not see a revoked issuing CA"),
        "{err}"
    );
    assert!(err.contains("`crl` signs nothing more with it"), "{err}");

    // store list: the leaf is revoked through its CA, in text and JSON.
    let list = ok(&["store", "list", "--ca", s(&ca)]);
    let line = stdout(&list)
        .lines()
        .find(|l| l.starts_with(&leaf))
        .unwrap()
        .to_owned();
    assert!(
        line.contains("revoked (issuing CA revoked: key-compromise)"),
        "{line}"
    );
    let json = ok(&["store", "list", "--ca", s(&ca), "--format", "json"]);
    let rows: Value = stdout_json(&json);
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["serial"] == leaf.as_str())
        .unwrap();
    assert_eq!(row["state"], "revoked");
    assert_eq!(row["status"], "issued", "its own record is unchanged");
    assert_eq!(row["issuer_revocation"]["serial"], old_ca.as_str());
    assert_eq!(row["issuer_revocation"]["reason"], "key-compromise");
    assert!(row["issuer_revocation"]["revoked_at"].is_string());
    let valid = ok(&["store", "list", "--ca", s(&ca), "--status", "valid"]);
    assert!(leaf_serials(&valid).is_empty(), "{}", stdout(&valid));
    let export = stdout(&ok(&["store", "export", "--ca", s(&ca)]));
    assert!(
        export.contains(&format!("# issuer_revoked: {old_ca} at ")),
        "{export}"
    );

    // crl with the compromised key: refused, saying what to do instead.
    let out = t.join("after.crl");
    let o = run(&["crl", "--ca", s(&ca), "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("revoked for key-compromise")
            && err.contains("ca rotate")
            && err.contains("--root"),
        "{err}"
    );
    assert!(!out.exists());

    // Rotation: the message says what protects platforms, not that the leaves stay valid.
    let rotated = ok(&["ca", "rotate", "--ca", s(&ca)]);
    let err = stderr(&rotated);
    assert!(!err.contains("stay valid"), "{err}");
    assert!(
        err.contains(&format!("{old_ca} was revoked (key-compromise)"))
            && err.contains("1 unexpired attestation(s) are rejected")
            && err.contains("--root")
            && err.contains("signs no more CRLs with it"),
        "{err}"
    );
    let new_ca_serial = pem_serial(&ca.join("ca.pem"));
    assert_ne!(new_ca_serial, old_ca);

    // crl now signs the new CA's CRL only, and says why the old one gets none.
    let o = ok(&["crl", "--ca", s(&ca), "--out", s(&out)]);
    let err = stderr(&o);
    let pems = std::fs::read_to_string(&out).unwrap();
    assert_eq!(pems.matches("BEGIN X509 CRL").count(), 1, "{err}");
    assert!(
        err.contains(&format!("of issuing CA {new_ca_serial}")),
        "{err}"
    );
    assert!(!err.contains(&format!("of issuing CA {old_ca}")), "{err}");
    assert!(
        err.contains(&format!("note: no CRL for issuing CA {old_ca}")),
        "{err}"
    );
    // The root CRL lists the compromised CA.
    let root_crl = t.join("root.crl");
    ok(&["crl", "--ca", s(&ca), "--root", "--out", s(&root_crl)]);
    let der = pem::parse(std::fs::read(&root_crl).unwrap())
        .unwrap()
        .into_contents();
    let (_, crl) = x509_parser::parse_x509_crl(&der).unwrap();
    let listed: Vec<String> = crl
        .iter_revoked_certificates()
        .map(|r| mimi_attest::Serial::from_contents(r.raw_serial()).to_string())
        .collect();
    assert_eq!(listed, [old_ca]);
}

/// A rotation of a CA that was not revoked keeps saying its leaves stay valid, and `crl`
/// signs for both.
#[test]
fn plain_rotation_keeps_signing_for_both() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let ca = init_chat_a(t);
    issue(&ca, "+15551234567", &t.join("alice.pem"));
    let err = stderr(&ok(&["ca", "rotate", "--ca", s(&ca)]));
    assert!(
        err.contains("1 unexpired attestation(s) stay valid until they expire unless revoked"),
        "{err}"
    );
    let out = t.join("all.crl");
    ok(&["crl", "--ca", s(&ca), "--out", s(&out)]);
    let pems = std::fs::read_to_string(&out).unwrap();
    assert_eq!(pems.matches("BEGIN X509 CRL").count(), 2);
}

/// The provider root's key kept outside the CA directory: `ca rotate` and `crl --root` say
/// how to give it, take it with --root-key, and refuse a key that is not the root's.
#[test]
fn root_key_can_live_outside_the_ca_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let ca = init_chat_a(t);
    let offline = t.join("offline");
    std::fs::create_dir(&offline).unwrap();
    set_mode(&offline, 0o700);
    let root_key = offline.join("root.key");
    std::fs::rename(ca.join("root.key"), &root_key).unwrap();
    let root_crl = t.join("root.crl");
    let ca_key = ca.join("ca.key");

    for args in [
        vec!["ca", "rotate", "--ca", s(&ca)],
        vec!["crl", "--ca", s(&ca), "--root", "--out", s(&root_crl)],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains("--root-key FILE"), "{}", stderr(&o));
        // The issuing CA's key is not the root's.
        let mut wrong = args.clone();
        wrong.extend(["--root-key", s(&ca_key)]);
        let o = run(&wrong);
        assert_eq!(o.status.code(), Some(2), "{wrong:?}");
        assert!(stderr(&o).contains("does not belong to"), "{}", stderr(&o));
    }
    assert!(!root_crl.exists());

    let old = pem_serial(&ca.join("ca.pem"));
    ok(&["ca", "rotate", "--ca", s(&ca), "--root-key", s(&root_key)]);
    assert_ne!(pem_serial(&ca.join("ca.pem")), old);
    let o = ok(&[
        "crl",
        "--ca",
        s(&ca),
        "--root",
        "--root-key",
        s(&root_key),
        "--out",
        s(&root_crl),
    ]);
    assert!(stderr(&o).contains("root CRL number"), "{}", stderr(&o));
    assert!(root_crl.exists());
    assert!(!ca.join("root.key").exists(), "the key stayed where it was");

    // --root-key belongs to the root CRL: without --root it is a usage error.
    let o = run(&[
        "crl",
        "--ca",
        s(&ca),
        "--root-key",
        s(&root_key),
        "--out",
        s(&t.join("x.crl")),
    ]);
    assert_eq!(o.status.code(), Some(2));
}
