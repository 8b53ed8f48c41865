//! Hostile and broken input for every command, through the real binary: garbage, empty
//! files, wrong PEM labels, DER with trailing bytes, a 50 MB file, a chain of 1,000
//! certificates, RSA and P-384 material where P-256 is required, YAML with wrong types and
//! unknown keys, missing files. Each case must end with the right exit code (2: the tool
//! cannot use its input; 1: a chain or request was rejected), a one-line `error:` message
//! on stderr (no panic, no backtrace, no Debug dump), within a time bound.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::cli::{cmd, init_chat_a, openssl, repo};

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Out {
    let start = Instant::now();
    // Files, not pipes: a full pipe would stall the child while we wait for it.
    let (out, err) = (
        tempfile::NamedTempFile::new().unwrap(),
        tempfile::NamedTempFile::new().unwrap(),
    );
    let mut cmd = cmd(args);
    cmd.env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(err.reopen().unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run mimi-attest");
    // Time bound: no case may take more than 20 s (they take well under 1 s).
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("mimi-attest {args:?} ran for more than 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = child.wait().unwrap();
    let read = |f: &tempfile::NamedTempFile| {
        String::from_utf8_lossy(&std::fs::read(f.path()).unwrap()).into_owned()
    };
    Out {
        code: status.code(),
        stdout: read(&out),
        stderr: read(&err),
        elapsed: start.elapsed(),
    }
}

/// Every hostile file, made once.
struct Files {
    _tmp: tempfile::TempDir,
    d: PathBuf,
    ca: PathBuf,
    openssl: bool,
}

impl Files {
    fn p(&self, name: &str) -> String {
        self.d.join(name).display().to_string()
    }
}

fn setup() -> Files {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_path_buf();
    let w = |name: &str, data: &[u8]| std::fs::write(d.join(name), data).unwrap();
    let ca = init_chat_a(&d);

    let mut garbage = Vec::with_capacity(4096);
    let mut x: u32 = 0x1234_5678;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        garbage.push(x as u8);
    }
    garbage[0] = 0x30; // looks like DER at first glance
    w("garbage.bin", &garbage);
    w("empty", b"");
    w("text.txt", b"hello, this is not a certificate\n");
    let chain = std::fs::read(repo("certs/alice-chat-a.pem")).unwrap();
    let blocks = pem::parse_many(&chain).unwrap();
    let leaf_der = blocks[0].contents().to_vec();
    w(
        "wrong-label.pem",
        pem::encode(&pem::Pem::new("PUBLIC KEY", leaf_der.clone())).as_bytes(),
    );
    let mut trailing = leaf_der.clone();
    trailing.extend_from_slice(&[0, 0, 0, 1]);
    w("trailing.der", &trailing);
    // A 50 MB file (sparse: cheap on disk) that starts like PEM.
    {
        let f = std::fs::File::create(d.join("big.pem")).unwrap();
        use std::io::Write;
        (&f).write_all(b"-----BEGIN CERTIFICATE-----\n").unwrap();
        f.set_len(50 * 1024 * 1024).unwrap();
    }
    w("chain1000.pem", chain.repeat(500).as_slice()); // 1,000 certificates
    w("chain100.pem", chain.repeat(50).as_slice());
    w("batch-garbage.jsonl", b"{not json\n[1,2]\n{\"id\":5}\n");
    {
        let f = std::fs::File::create(d.join("batch-big.jsonl")).unwrap();
        f.set_len(50 * 1024 * 1024).unwrap(); // one 50 MB "line" of NULs
    }
    w(
        "config-types.yaml",
        b"provider: [1, 2]\norganization: 7\nscope: yes\n",
    );
    w(
        "config-unknown.yaml",
        (std::fs::read_to_string(repo("ca-config/chat-a.yaml")).unwrap() + "\nbogus_key: 1\n")
            .as_bytes(),
    );
    w("trust-types.yaml", b"version: one\nanchors: 5\n");
    w(
        "trust-unknown.yaml",
        format!(
            "version: 1\nanchors:\n  - name: a\n    provider: chat-a.example\n    certificate: {}\n    scope: {{tel: [\"+1\"]}}\n    colour: blue\n",
            repo("certs/chat-a-root.pem")
        )
        .as_bytes(),
    );
    std::fs::create_dir(d.join("configs")).unwrap();
    std::fs::write(d.join("configs/chat-a.yaml"), b"provider: [oops\n").unwrap();
    std::fs::copy(repo("ca-config/chat-b.yaml"), d.join("configs/chat-b.yaml")).unwrap();
    std::fs::create_dir(d.join("notca")).unwrap();
    // A CA directory whose store is garbage.
    std::fs::create_dir(d.join("badstore")).unwrap();
    for name in ["config.yaml", "root.pem", "ca.pem", "ca.key", "root.key"] {
        std::fs::copy(ca.join(name), d.join("badstore").join(name)).unwrap();
    }
    std::fs::write(d.join("badstore/store.db"), &garbage).unwrap();

    let have_openssl = openssl(&["version"]);
    if have_openssl {
        let o = |a: &[&str]| assert!(openssl(a), "openssl {a:?}");
        let p = |n: &str| d.join(n).display().to_string();
        o(&["genrsa", "-out", &p("rsa.key"), "2048"]);
        o(&[
            "ecparam",
            "-name",
            "secp384r1",
            "-genkey",
            "-noout",
            "-out",
            &p("p384.sec1"),
        ]);
        o(&[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            &p("p384.sec1"),
            "-out",
            &p("p384.key"),
        ]);
        for k in ["rsa", "p384"] {
            o(&[
                "pkey",
                "-in",
                &p(&format!("{k}.key")),
                "-pubout",
                "-out",
                &p(&format!("{k}.pub")),
            ]);
            o(&[
                "req",
                "-new",
                "-key",
                &p(&format!("{k}.key")),
                "-subj",
                "/",
                "-addext",
                "subjectAltName=URI:tel:+15551234567",
                "-out",
                &p(&format!("{k}.csr")),
            ]);
            o(&[
                "req",
                "-x509",
                "-key",
                &p(&format!("{k}.key")),
                "-subj",
                "/CN=x",
                "-days",
                "3",
                "-addext",
                "subjectAltName=URI:tel:+15551234567",
                "-out",
                &p(&format!("{k}.crt")),
            ]);
        }
        // A trust list whose anchor is an RSA root.
        std::fs::write(
            d.join("trust-rsa.yaml"),
            format!(
                "version: 1\nanchors:\n  - name: a\n    provider: chat-a.example\n    certificate: {}\n    scope: {{tel: [\"+1\"]}}\n",
                p("rsa.crt")
            ),
        )
        .unwrap();
    } else {
        eprintln!("SKIPPED (visible): openssl not found, RSA/P-384 hostile cases do not run");
    }
    Files {
        _tmp: tmp,
        d,
        ca,
        openssl: have_openssl,
    }
}

/// One case: a name, the arguments, the expected exit code and a word the message must hold.
struct Case {
    name: &'static str,
    args: Vec<String>,
    code: i32,
    says: &'static str,
    needs_openssl: bool,
}

fn check(f: &Files, c: &Case) -> Result<(), String> {
    let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
    let o = run(&args, &[]);
    let mut problems = Vec::new();
    if o.code != Some(c.code) {
        problems.push(format!("exit {:?}, expected {}", o.code, c.code));
    }
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE", "{ ", "Error {"] {
        if o.stderr.contains(bad) {
            problems.push(format!("stderr holds {bad:?}"));
        }
    }
    if c.code == 2 {
        let lines: Vec<&str> = o.stderr.lines().collect();
        if lines.len() != 1 || !lines[0].starts_with("error: ") {
            problems.push(format!("expected one `error:` line, got {}", lines.len()));
        }
    }
    // Rejections (exit 1) are reported on stdout by `verify`; errors on stderr.
    let said = format!("{}{}", o.stdout, o.stderr).to_lowercase();
    if !said.contains(&c.says.to_lowercase()) {
        problems.push(format!("message does not say {:?}", c.says));
    }
    if o.elapsed > Duration::from_secs(10) {
        problems.push(format!("took {:?}", o.elapsed));
    }
    let _ = f;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}\n    stderr: {}",
            c.name,
            problems.join("; "),
            o.stderr.trim_end().replace('\n', "\n            ")
        ))
    }
}

fn cases(f: &Files) -> Vec<Case> {
    let ca = f.ca.display().to_string();
    let tl = repo("certs/trust-list.yaml");
    let at = "--at=2026-01-03T00:00:00Z".to_string();
    let mut v = Vec::new();
    let mut add = |name, args: Vec<String>, code, says, needs_openssl| {
        v.push(Case {
            name,
            args,
            code,
            says,
            needs_openssl,
        })
    };
    let s = |x: &[&str]| x.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let issue = |extra: &[String]| {
        let mut a = s(&["issue", "--ca", &ca, "--sii", "+15551234567"]);
        a.extend_from_slice(extra);
        a
    };
    let verify = |file: String| {
        vec![
            "verify".into(),
            "--trust-list".into(),
            tl.clone(),
            at.clone(),
            file,
        ]
    };

    // ca init
    for (name, cfg, says) in [
        ("init: missing config", f.p("nope.yaml"), "nope.yaml"),
        ("init: empty config", f.p("empty"), "empty"),
        ("init: garbage config", f.p("garbage.bin"), "garbage.bin"),
        (
            "init: config of wrong types",
            f.p("config-types.yaml"),
            "config-types.yaml",
        ),
        (
            "init: config with unknown key",
            f.p("config-unknown.yaml"),
            "bogus_key",
        ),
        ("init: 50 MB config", f.p("big.pem"), "big.pem"),
    ] {
        add(
            name,
            s(&[
                "ca",
                "init",
                "--insecure-no-password",
                "--config",
                &cfg,
                "--dir",
                &f.p("newca"),
            ]),
            2,
            says,
            false,
        );
    }
    add(
        "init: no passphrase",
        s(&[
            "ca",
            "init",
            "--config",
            &repo("ca-config/chat-a.yaml"),
            "--dir",
            &f.p("newca"),
        ]),
        2,
        "passphrase",
        false,
    );
    add(
        "init: missing password file",
        s(&[
            "ca",
            "init",
            "--password-file",
            &f.p("nope.txt"),
            "--config",
            &repo("ca-config/chat-a.yaml"),
            "--dir",
            &f.p("newca"),
        ]),
        2,
        "nope.txt",
        false,
    );
    add(
        "init: empty password file",
        s(&[
            "ca",
            "init",
            "--password-file",
            &f.p("empty"),
            "--config",
            &repo("ca-config/chat-a.yaml"),
            "--dir",
            &f.p("newca"),
        ]),
        2,
        "empty",
        false,
    );

    // issue
    add(
        "issue: missing CA dir",
        s(&[
            "issue",
            "--ca",
            &f.p("nope"),
            "--sii",
            "+15551234567",
            "--key-out",
            &f.p("k1"),
        ]),
        2,
        "not a CA directory",
        false,
    );
    add(
        "issue: empty dir as CA",
        s(&[
            "issue",
            "--ca",
            &f.p("notca"),
            "--sii",
            "+15551234567",
            "--key-out",
            &f.p("k1"),
        ]),
        2,
        "not a CA directory",
        false,
    );
    for (name, flag, file, says) in [
        ("issue: missing CSR", "--csr", f.p("nope.csr"), "nope.csr"),
        ("issue: empty CSR", "--csr", f.p("empty"), "neither"),
        ("issue: garbage CSR", "--csr", f.p("garbage.bin"), "CSR"),
        (
            "issue: certificate as CSR (wrong label)",
            "--csr",
            repo("certs/alice-chat-a.pem"),
            "CERTIFICATE",
        ),
        ("issue: 50 MB CSR", "--csr", f.p("big.pem"), "big.pem"),
        (
            "issue: text as public key",
            "--public-key",
            f.p("text.txt"),
            "neither",
        ),
        (
            "issue: wrong-label public key",
            "--public-key",
            repo("certs/alice-chat-a.pem"),
            "CERTIFICATE",
        ),
        (
            "issue: DER cert with trailing bytes as public key",
            "--public-key",
            f.p("trailing.der"),
            "P-256",
        ),
    ] {
        add(name, issue(&s(&[flag, &file])), 2, says, false);
    }
    add(
        "issue: RSA CSR",
        issue(&s(&["--csr", &f.p("rsa.csr")])),
        2,
        "P-256",
        true,
    );
    add(
        "issue: P-384 CSR",
        issue(&s(&["--csr", &f.p("p384.csr")])),
        2,
        "P-256",
        true,
    );
    add(
        "issue: RSA public key",
        issue(&s(&["--public-key", &f.p("rsa.pub")])),
        2,
        "P-256",
        true,
    );
    add(
        "issue: P-384 public key",
        issue(&s(&["--public-key", &f.p("p384.pub")])),
        2,
        "P-256",
        true,
    );

    // issue-batch
    let batch = |input: String| {
        s(&[
            "issue-batch",
            "--quiet",
            "--ca",
            &ca,
            "--input",
            &input,
            "--output",
            &f.p("out.jsonl"),
        ])
    };
    add(
        "issue-batch: missing input",
        batch(f.p("nope.jsonl")),
        2,
        "nope.jsonl",
        false,
    );
    add(
        "issue-batch: binary garbage",
        batch(f.p("garbage.bin")),
        2,
        "UTF-8",
        false,
    );
    add(
        "issue-batch: 50 MB line",
        batch(f.p("batch-big.jsonl")),
        2,
        "line 1 is longer",
        false,
    );
    add(
        "issue-batch: missing CA",
        s(&[
            "issue-batch",
            "--ca",
            &f.p("nope"),
            "--input",
            &f.p("empty"),
            "--output",
            &f.p("out.jsonl"),
        ]),
        2,
        "not a CA directory",
        false,
    );
    add(
        "issue-batch: output dir missing",
        s(&[
            "issue-batch",
            "--ca",
            &ca,
            "--input",
            &f.p("empty"),
            "--output",
            &f.p("no/such/out.jsonl"),
        ]),
        2,
        "cannot create",
        false,
    );
    // Bad lines are reported per line (exit 1: requests rejected, the batch itself ran).
    add(
        "issue-batch: garbage lines",
        batch(f.p("batch-garbage.jsonl")),
        1,
        "3 failed",
        false,
    );

    // verify: unusable trust list = 2; hostile chains are rejected = 1.
    add(
        "verify: missing trust list",
        s(&[
            "verify",
            "--trust-list",
            &f.p("nope.yaml"),
            &repo("certs/alice-chat-a.pem"),
        ]),
        2,
        "nope.yaml",
        false,
    );
    add(
        "verify: trust list of wrong types",
        s(&[
            "verify",
            "--trust-list",
            &f.p("trust-types.yaml"),
            &repo("certs/alice-chat-a.pem"),
        ]),
        2,
        "trust-types.yaml",
        false,
    );
    add(
        "verify: trust list with unknown key",
        s(&[
            "verify",
            "--trust-list",
            &f.p("trust-unknown.yaml"),
            &repo("certs/alice-chat-a.pem"),
        ]),
        2,
        "colour",
        false,
    );
    add(
        "verify: empty trust list",
        s(&[
            "verify",
            "--trust-list",
            &f.p("empty"),
            &repo("certs/alice-chat-a.pem"),
        ]),
        2,
        "empty",
        false,
    );
    add(
        "verify: 50 MB trust list",
        s(&[
            "verify",
            "--trust-list",
            &f.p("big.pem"),
            &repo("certs/alice-chat-a.pem"),
        ]),
        2,
        "big.pem",
        false,
    );
    add(
        "verify: RSA anchor in trust list",
        s(&[
            "verify",
            "--trust-list",
            &f.p("trust-rsa.yaml"),
            &repo("certs/alice-chat-a.pem"),
        ]),
        2,
        "P-256",
        true,
    );
    add(
        "verify: missing chain",
        verify(f.p("nope.pem")),
        2,
        "nope.pem",
        false,
    );
    add(
        "verify: 50 MB chain",
        verify(f.p("big.pem")),
        2,
        "big.pem",
        false,
    );
    add(
        "verify: empty chain",
        verify(f.p("empty")),
        1,
        "E_MALFORMED",
        false,
    );
    add(
        "verify: garbage chain",
        verify(f.p("garbage.bin")),
        1,
        "E_MALFORMED",
        false,
    );
    add(
        "verify: wrong PEM label",
        verify(f.p("wrong-label.pem")),
        1,
        "E_MALFORMED",
        false,
    );
    add(
        "verify: DER with trailing bytes",
        verify(f.p("trailing.der")),
        1,
        "E_MALFORMED",
        false,
    );
    add(
        "verify: 1,000 certificates",
        verify(f.p("chain1000.pem")),
        1,
        "E_MALFORMED",
        false,
    );
    add(
        "verify: RSA self-signed",
        verify(f.p("rsa.crt")),
        1,
        "REJECTED",
        true,
    );
    add(
        "verify: P-384 self-signed",
        verify(f.p("p384.crt")),
        1,
        "REJECTED",
        true,
    );

    // inspect, lint
    for cmd in ["inspect", "lint"] {
        for (name, file, says) in [
            ("missing file", f.p("nope.pem"), "nope.pem"),
            ("empty file", f.p("empty"), "empty"),
            ("garbage", f.p("garbage.bin"), "garbage.bin"),
            ("wrong PEM label", f.p("wrong-label.pem"), "PUBLIC KEY"),
            ("DER with trailing bytes", f.p("trailing.der"), "trailing"),
            ("50 MB file", f.p("big.pem"), "big.pem"),
        ] {
            let name: &'static str = Box::leak(format!("{cmd}: {name}").into_boxed_str());
            add(name, s(&[cmd, &file]), 2, says, false);
        }
    }
    // 100, not 1,000: inspecting is linear (about 10 ms a certificate in a debug build).
    add(
        "inspect: 100 certificates",
        s(&["inspect", &f.p("chain100.pem")]),
        0,
        "",
        false,
    );
    add(
        "inspect: RSA CSR",
        s(&["inspect", &f.p("rsa.csr")]),
        0,
        "",
        true,
    );
    add(
        "lint: P-384 certificate",
        s(&["lint", &f.p("p384.crt")]),
        1,
        "",
        true,
    );

    // revoke, crl, store list, needs-renewal, demo
    add(
        "revoke: missing CA",
        s(&[
            "revoke",
            "--ca",
            &f.p("nope"),
            "--serial",
            "01",
            "--reason",
            "superseded",
        ]),
        2,
        "not a CA directory",
        false,
    );
    add(
        "revoke: garbage serial",
        s(&[
            "revoke",
            "--ca",
            &ca,
            "--serial",
            "zz\u{1}",
            "--reason",
            "superseded",
        ]),
        2,
        "serial",
        false,
    );
    add(
        "revoke: unknown serial",
        s(&[
            "revoke",
            "--ca",
            &ca,
            "--serial",
            "0123456789abcdef",
            "--reason",
            "superseded",
        ]),
        2,
        "0123456789abcdef",
        false,
    );
    add(
        "crl: missing CA",
        s(&["crl", "--ca", &f.p("nope"), "--out", &f.p("crl.pem")]),
        2,
        "not a CA directory",
        false,
    );
    add(
        "crl: output dir missing",
        s(&["crl", "--ca", &ca, "--out", &f.p("no/such/crl.pem")]),
        2,
        "crl.pem",
        false,
    );
    add(
        "store list: missing CA",
        s(&["store", "list", "--ca", &f.p("nope")]),
        2,
        "nope",
        false,
    );
    add(
        "store list: dir without store",
        s(&["store", "list", "--ca", &f.p("notca")]),
        2,
        "store",
        false,
    );
    for (name, file, says) in [
        ("needs-renewal: missing file", f.p("nope.pem"), "nope.pem"),
        ("needs-renewal: empty file", f.p("empty"), "empty"),
        (
            "needs-renewal: garbage",
            f.p("garbage.bin"),
            "not a certificate",
        ),
        (
            "needs-renewal: wrong PEM label",
            f.p("wrong-label.pem"),
            "PUBLIC KEY",
        ),
        (
            "needs-renewal: DER with trailing bytes",
            f.p("trailing.der"),
            "trailing",
        ),
        ("needs-renewal: 50 MB file", f.p("big.pem"), "big.pem"),
    ] {
        add(name, s(&["needs-renewal", &file]), 2, says, false);
    }
    let bad = f.p("badstore");
    for (name, args) in [
        (
            "issue: garbage store",
            s(&[
                "issue",
                "--ca",
                &bad,
                "--sii",
                "+15551234567",
                "--key-out",
                &f.p("k2"),
            ]),
        ),
        (
            "issue-batch: garbage store",
            s(&[
                "issue-batch",
                "--ca",
                &bad,
                "--input",
                &f.p("empty"),
                "--output",
                &f.p("o2.jsonl"),
            ]),
        ),
        (
            "revoke: garbage store",
            s(&[
                "revoke",
                "--ca",
                &bad,
                "--serial",
                "01",
                "--reason",
                "superseded",
            ]),
        ),
        (
            "crl: garbage store",
            s(&["crl", "--ca", &bad, "--out", &f.p("crl2.pem")]),
        ),
        (
            "store list: garbage store",
            s(&["store", "list", "--ca", &bad]),
        ),
    ] {
        add(name, args, 2, "not a database", false);
    }
    add(
        "demo: missing configs dir",
        s(&["demo", "--configs", &f.p("nope")]),
        2,
        "nope",
        false,
    );
    add(
        "demo: broken config",
        s(&["demo", "--configs", &f.p("configs")]),
        2,
        "chat-a.yaml",
        false,
    );
    v
}

#[test]
fn hostile_input_table() {
    let f = setup();
    let cases = cases(&f);
    let mut failures = Vec::new();
    let (mut ran, mut skipped) = (0, 0);
    for c in &cases {
        if c.needs_openssl && !f.openssl {
            skipped += 1;
            continue;
        }
        ran += 1;
        if let Err(e) = check(&f, c) {
            failures.push(e);
        }
    }
    eprintln!("hostile input: {ran} cases ran, {skipped} skipped (no openssl)");
    assert!(
        failures.is_empty(),
        "{} of {ran} hostile-input cases failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn ca_key_of_the_wrong_kind_is_refused() {
    let f = setup();
    let key = f.ca.join("ca.key");
    let put = |data: &[u8]| {
        std::fs::remove_file(&key).unwrap();
        mimi_attest::write_atomic(
            &key,
            data,
            mimi_attest::FileMode::Private,
            mimi_attest::Overwrite::Refuse,
        )
        .unwrap();
    };
    let issue = |f: &Files| {
        run(
            &[
                "issue",
                "--ca",
                f.ca.to_str().unwrap(),
                "--sii",
                "+15551234567",
                "--key-out",
                &f.p("k"),
            ],
            &[],
        )
    };
    let mut kinds: Vec<(&str, Vec<u8>, &str)> = vec![
        ("garbage", b"garbage".to_vec(), "not a PEM private key"),
        ("empty", Vec::new(), "not a PEM private key"),
        (
            "certificate",
            std::fs::read(repo("certs/chat-a-root.pem")).unwrap(),
            "CERTIFICATE",
        ),
    ];
    if f.openssl {
        kinds.push(("RSA", std::fs::read(f.d.join("rsa.key")).unwrap(), "P-256"));
        kinds.push((
            "P-384",
            std::fs::read(f.d.join("p384.key")).unwrap(),
            "P-256",
        ));
        kinds.push((
            "SEC1",
            std::fs::read(f.d.join("p384.sec1")).unwrap(),
            "openssl pkcs8",
        ));
    }
    for (name, data, says) in kinds {
        put(&data);
        let o = issue(&f);
        assert_eq!(o.code, Some(2), "{name}: {}", o.stderr);
        assert_eq!(o.stderr.lines().count(), 1, "{name}: {}", o.stderr);
        assert!(o.stderr.contains(says), "{name}: {}", o.stderr);
    }
}
