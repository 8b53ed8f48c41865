//! Running the real `mimi-attest` binary and reading what it said.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary cargo built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_mimi-attest");

/// The repository: commands run here, so relative paths such as `certs/…` resolve.
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The passphrase variable; removed from every command so the caller's environment never
/// changes a test's outcome.
pub const PASSWORD_ENV: &str = "MIMI_ATTEST_PASSWORD";

/// A file of the repository, e.g. `repo_path("ca-config/chat-a.yaml")` (an absolute path
/// stays as it is).
pub fn repo_path(p: &str) -> PathBuf {
    Path::new(ROOT).join(p)
}

/// [`repo_path`] as a command-line argument.
pub fn repo(p: &str) -> String {
    repo_path(p).display().to_string()
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `mimi-attest args`, not yet started: from the repository, without a passphrase in the
/// environment.
pub fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(ROOT).args(args).env_remove(PASSWORD_ENV);
    c
}

/// `mimi-attest args`, run to completion.
pub fn run(args: &[&str]) -> Output {
    cmd(args).output().expect("the binary runs")
}

/// `mimi-attest args` with `input` on stdin.
pub fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// `mimi-attest args`, which must exit 0.
pub fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    o
}

/// `o`, which must have exited 0.
pub fn succeeded(o: Output) -> Output {
    assert!(o.status.success(), "command failed: {}", stderr(&o));
    o
}

/// The exit code (every command exits; none is killed by a signal).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

/// What the command wrote to stdout; the CLI writes text, so it must be UTF-8.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

/// What the command wrote to stderr; it must be UTF-8.
pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

/// What the command wrote to stdout, as JSON.
pub fn stdout_json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

/// `openssl args` succeeded (false also when OpenSSL is not installed).
pub fn openssl(args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// OpenSSL is not installed: says that `check` is skipped, visibly, and returns true.
pub fn no_openssl(check: &str) -> bool {
    let missing = !openssl(&["version"]);
    if missing {
        eprintln!("SKIPPED (visible): openssl not found, {check} did not run");
    }
    missing
}

/// `ca init` from the repository's `config` into `dir`, without a passphrase.
pub fn ca_init(config: &str, dir: &Path) {
    ok(&[
        "ca",
        "init",
        "--insecure-no-password",
        "--config",
        &repo(config),
        "--dir",
        s(dir),
    ]);
}

/// The chat-a CA made by `ca init` in `tmp/ca`; its directory.
pub fn init_chat_a(tmp: &Path) -> PathBuf {
    let ca = tmp.join("ca");
    ca_init("ca-config/chat-a.yaml", &ca);
    ca
}

/// `issue --out out` on `ca` for `sii`, with a generated key beside it (`out` with the
/// extension `.key`); the serial it printed.
pub fn issue(ca: &Path, sii: &str, out: &Path) -> String {
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

/// `issue-batch --quiet` on `ca` from `input` to `output`, not yet started.
pub fn batch_cmd(ca: &Path, input: &Path, output: &Path) -> Command {
    cmd(&[
        "issue-batch",
        "--quiet",
        "--ca",
        s(ca),
        "--input",
        s(input),
        "--output",
        s(output),
    ])
}

/// A time at which the committed examples in certs/ are valid: `demo --write-certs` dates
/// them 2026-01-01.
pub const AT: &str = "2026-01-02T00:00:00Z";

/// `verify` of the committed examples `files` against their trust list at [`AT`].
pub fn verify_args<'a>(format: &'a str, files: &[&'a str]) -> Vec<&'a str> {
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

/// `o` exited 2, the command refusing what it was asked, and its stderr says `says`.
#[track_caller]
pub fn refused(o: &Output, says: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
    assert!(stderr(o).contains(says), "{}", stderr(o));
}

/// The independent implementation of mapping-log-v1 (tests/interop/mapping_log.py) run with
/// `args` (`selftest`, `spec FILE`, `proof ...`, `cosigned ...`, `consistency ...`). None when
/// python3 or its `cryptography` package is missing (said visibly).
pub fn mapping_log(args: &[&str]) -> Option<Output> {
    let has = Command::new("python3")
        .args(["-c", "import cryptography"])
        .output();
    if !has.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED (visible): python3 with `cryptography` not found; mapping_log.py {} did not run, so the log files were not checked independently", args.first().unwrap_or(&""));
        return None;
    }
    Some(
        Command::new("python3")
            .arg(repo_path("tests/interop/mapping_log.py"))
            .args(args)
            .output()
            .expect("python3 runs"),
    )
}

/// python3 with `cryptography` >= 45 (its X.509 verifier with extension policies) can run
/// tests/interop/verify_chain.py and what imports it.
pub fn python_x509_ready() -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import cryptography.x509.verification as v; v.ExtensionPolicy; v.Criticality",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The shell block of README.md between `<!-- readme-test: NAME -->` and
/// `<!-- /readme-test -->` (the text inside its ``` fence), as the README shows it.
pub fn readme_block(name: &str) -> String {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let start = format!("<!-- readme-test: {name} -->\n");
    let from = readme
        .find(&start)
        .unwrap_or_else(|| panic!("README.md has no {start:?}"))
        + start.len();
    let block = &readme[from..from + readme[from..].find("<!-- /readme-test -->").unwrap()];
    let body = block.split_once('\n').map(|(fence, rest)| {
        assert!(
            fence.starts_with("```"),
            "the block starts with a fence: {fence:?}"
        );
        rest
    });
    body.and_then(|b| b.rsplit_once("```"))
        .map(|(code, _)| code.to_owned())
        .unwrap_or_else(|| panic!("no fenced block in {block:?}"))
}
