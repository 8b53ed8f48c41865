//! Commands do what they say: `verify` answers for every file it is given, the store is
//! read without being changed, a revoked issuing CA is shown and no longer signs, a
//! replayed request says so, the batch progress bar counts one unit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mimi-attest");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The committed examples in certs/ are dated 2026-01-01 (`demo --write-certs`).
const AT: &str = "2026-01-02T00:00:00Z";

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(ROOT)
        .args(args)
        .env_remove("MIMI_ATTEST_PASSWORD")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run and require exit 0.
fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    o
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `ca init` with unencrypted keys from ca-config/chat-a.yaml.
fn new_ca(tmp: &Path) -> PathBuf {
    let ca = tmp.join("ca");
    let config = Path::new(ROOT).join("ca-config/chat-a.yaml");
    ok(&[
        "ca",
        "init",
        "--config",
        s(&config),
        "--dir",
        s(&ca),
        "--insecure-no-password",
    ]);
    ca
}

/// Issue a leaf with a generated key; its serial.
#[allow(dead_code)] // used by the store tests below
fn issue(ca: &Path, sii: &str, out: &Path) -> String {
    let key = out.with_extension("key");
    let o = ok(&[
        "issue",
        "--ca",
        s(ca),
        "--sii",
        sii,
        "--key-out",
        s(&key),
        "--out",
        s(out),
    ]);
    let err = stderr(&o);
    err.split("serial ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no serial in {err}"))
        .to_owned()
}

fn verify_args<'a>(format: &'a str, files: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "verify",
        "--trust-list",
        "ca-config/trust-list.yaml",
        "--at",
        AT,
        "--format",
        format,
    ];
    args.extend_from_slice(files);
    args
}

#[test]
fn verify_gives_every_file_a_result_and_exit_2_when_one_is_missing() {
    let files = [
        "certs/alice-chat-a.pem",
        "certs/no-such-chain.pem",
        "certs/forged-claims-chat-a.pem",
        "certs/bob-email-chat-a.pem",
    ];
    let o = run(&verify_args("json", &files));
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&o)));
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
    assert!(
        stderr(&o).contains("1 of 4 file(s) could not be read"),
        "{}",
        stderr(&o)
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
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
}

#[test]
fn replayed_issue_with_key_out_says_no_key_was_written() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let ca = new_ca(t);
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
