//! The transparency log on the command line: `log init|add|cosign|label|show`, `witness
//! init|show|cosign` and `monitor` with real CAs, real chains and real files; the proofs they
//! write are checked again by the independent Python implementation.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::cli::{
    ca_init, cmd, code, init_chat_a, issue, mapping_log, ok, refused, s, stderr, stdout,
    stdout_json, PASSWORD_ENV,
};

const PASS: &str = "log passphrase";
const ORIGIN: &str = "log.example/mapping";

/// `mimi-attest args` with the log's passphrase in the environment.
fn with_pass(args: &[&str]) -> Output {
    cmd(args)
        .env(PASSWORD_ENV, PASS)
        .output()
        .expect("the binary runs")
}

fn pass_ok(args: &[&str]) -> Output {
    let o = with_pass(args);
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    o
}

/// A log and a witness, both encrypted under [`PASS`].
fn log_and_witness(tmp: &Path) -> (PathBuf, PathBuf) {
    let log = tmp.join("log");
    let w = tmp.join("w1");
    pass_ok(&["log", "init", "--dir", s(&log), "--origin", ORIGIN]);
    pass_ok(&[
        "witness",
        "init",
        "--dir",
        s(&w),
        "--name",
        "witness.example/w1",
    ]);
    (log, w)
}

/// A log, a witness, the chat-a CA and alice's chain (`alice.pem`, not yet logged).
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (log, w) = log_and_witness(tmp.path());
    let chat_a = init_chat_a(tmp.path());
    let alice = tmp.path().join("alice.pem");
    issue(&chat_a, "+15551234567", &alice);
    (tmp, log, w, chat_a)
}

/// alice's chain of [`setup`] and bob's, issued now by `chat_a` (neither logged).
fn alice_and_bob(tmp: &tempfile::TempDir, chat_a: &Path) -> (PathBuf, PathBuf) {
    let bob = tmp.path().join("bob.pem");
    issue(chat_a, "+15557654321", &bob);
    (tmp.path().join("alice.pem"), bob)
}

/// An add-checkpoint request for the log's current checkpoint from size 0, written to `path`.
fn request_from_zero(log: &Path, path: &Path) {
    let mut text = b"old 0\n\n".to_vec();
    text.extend(fs::read(log.join("public/checkpoint")).unwrap());
    fs::write(path, &text).unwrap();
}

/// `witness cosign` of `request` by the witness in `w`, knowing `log_key`.
fn witness_cosign(w: &Path, log_key: &str, request: &Path) -> Output {
    with_pass(&[
        "witness",
        "cosign",
        "--dir",
        s(w),
        "--log-key",
        log_key,
        s(request),
    ])
}

/// `log add --witness w` on `log` of `args` (chains, flags), which must exit 0.
fn add_witnessed(log: &Path, w: &Path, args: &[&str]) -> Output {
    let mut all = vec!["log", "add", "--log", s(log), "--witness", s(w)];
    all.extend_from_slice(args);
    pass_ok(&all)
}

/// `witness show --format json` of `w`: its name and key.
fn witness_show(w: &Path) -> serde_json::Value {
    stdout_json(&ok(&["witness", "show", "--dir", s(w), "--format", "json"]))
}

fn proof_of(chain: &Path) -> PathBuf {
    PathBuf::from(format!("{}.tlog-proof", chain.display()))
}

fn monitor(log: &Path, state: &Path, witness_key: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "monitor",
        "--log",
        s(log),
        "--state",
        s(state),
        "--witness-key",
        witness_key,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    crate::common::cli::run(&args)
}

/// `mapping_log(args)` succeeded, printing a line that starts `ok:` (true when skipped).
fn python_ok(args: &[&str]) -> bool {
    mapping_log(args).is_none_or(|o| {
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.stdout.starts_with(b"ok: "), "{args:?}");
        true
    })
}

/// `mapping_log(args)` rejected the files: exit 1 with `invalid: ...` (true when skipped).
fn python_rejects(args: &[&str], says: &str) -> bool {
    mapping_log(args).is_none_or(|o| {
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?} accepted: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        true
    })
}

/// The independent check of a written proof (VRF, entry, inclusion, the log's signature and
/// each witness's cosignature).
fn python_check(proof: &Path, chain: &Path, log: &Path, witnesses: &[&str]) -> bool {
    let log_yaml = log.join("log.yaml");
    let mut args = vec!["proof", s(proof), s(chain), s(&log_yaml)];
    args.extend_from_slice(witnesses);
    python_ok(&args)
}

#[test]
fn a_shared_log_with_a_witness_and_a_monitor_finds_the_number_two_providers_claim() {
    let (tmp, log, w, chat_a) = setup();
    let (alice, bob) = alice_and_bob(&tmp, &chat_a);

    let show = stdout_json(&ok(&["log", "show", "--log", s(&log), "--format", "json"]));
    assert_eq!(show["origin"], ORIGIN);
    assert_eq!(show["size"], 0);
    let log_key = show["key"].as_str().unwrap().to_owned();
    assert!(log_key.starts_with("log.example/mapping+"));
    assert_eq!(show["vrf_key"].as_str().unwrap().len(), 44);
    #[cfg(unix)]
    for key in ["log.key", "vrf.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(log.join(key)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
        let pem = fs::read_to_string(log.join(key)).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    }

    let added = stdout_json(&add_witnessed(
        &log,
        &w,
        &["--format", "json", s(&alice), s(&bob)],
    ));
    assert_eq!(added["size"], 2);
    assert_eq!(added["chains"][0]["index"], 0);
    assert_eq!(added["chains"][1]["index"], 1);
    assert_eq!(added["chains"][0]["new"], true);
    let witness = witness_show(&w);
    assert_eq!(witness["name"], "witness.example/w1");
    let w_key = witness["key"].as_str().unwrap().to_owned();
    for chain in [&alice, &bob] {
        let proof = fs::read_to_string(proof_of(chain)).unwrap();
        assert!(
            proof.starts_with("c2sp.org/tlog-proof@v1\nextra "),
            "{proof}"
        );
        assert!(
            proof.contains("\n— witness.example/w1 "),
            "cosigned: {proof}"
        );
        python_check(&proof_of(chain), chain, &log, &[&w_key]);
    }
    let show = stdout_json(&ok(&["log", "show", "--log", s(&log), "--format", "json"]));
    assert_eq!(show["size"], 2);

    // A resubmission keeps its index and adds nothing.
    let again = with_pass(&["log", "add", "--log", s(&log), s(&alice)]);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert!(
        stdout(&again).contains("index 0 (already logged)"),
        "{}",
        stdout(&again)
    );

    let state = tmp.path().join("monitor");
    let first = monitor(&log, &state, &w_key, &[]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let report = stdout_json(&first);
    assert_eq!(report["size"], 2);
    assert_eq!(report["witnesses"][0], "witness.example/w1");
    assert_eq!(report["providers"][0]["provider"], "chat-a.example");
    assert_eq!(report["providers"][0]["entries"], 2);
    assert_eq!(report["conflicts"].as_array().unwrap().len(), 0);
    assert_eq!(report["problems"].as_array().unwrap().len(), 0);

    // chat-b attests alice's number too: the monitor sees one label held by two providers.
    let chat_b = tmp.path().join("chat-b");
    ca_init("ca-config/chat-b.yaml", &chat_b);
    let carol = tmp.path().join("carol.pem");
    issue(&chat_b, "+15551234567", &carol);
    add_witnessed(&log, &w, &[s(&carol)]);
    let label = stdout_json(&pass_ok(&[
        "log",
        "label",
        "--log",
        s(&log),
        "--sii",
        "+15551234567",
        "--format",
        "json",
    ]));
    let label = label["label"].as_str().unwrap().to_owned();
    let second = monitor(&log, &state, &w_key, &["--label", &label]);
    assert_eq!(
        code(&second),
        0,
        "conflicts are findings: {}",
        stderr(&second)
    );
    let report = stdout_json(&second);
    assert_eq!(report["previous_size"], 2);
    assert_eq!(report["size"], 3);
    assert_eq!(report["conflicts"][0]["label"], label);
    let holders: Vec<&str> = report["conflicts"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["provider"].as_str().unwrap())
        .collect();
    assert_eq!(holders, ["chat-a.example", "chat-b.example"]);
    assert_eq!(report["label_entries"].as_array().unwrap().len(), 2);

    // A monitor may take the log's keys and the witnesses from a platform's trust list.
    let list = tmp.path().join("trust-list.yaml");
    fs::write(
        &list,
        format!(
            "version: 1\nanchors:\n  - name: chat-a\n    provider: chat-a.example\n    certificate: {}\n    scope: {{tel: [\"+1\"]}}\nlogs:\n  - name: shared\n    key: {log_key}\n    vrf_key: {}\nwitnesses:\n  - name: w1\n    key: {w_key}\n",
            chat_a.join("root.pem").display(),
            show["vrf_key"].as_str().unwrap()
        ),
    )
    .unwrap();
    let from_list = crate::common::cli::run(&[
        "monitor",
        "--log",
        s(&log),
        "--state",
        s(&tmp.path().join("monitor-2")),
        "--trust-list",
        s(&list),
        "--format",
        "json",
    ]);
    assert_eq!(code(&from_list), 0, "{}", stderr(&from_list));
    let listed = stdout_json(&from_list);
    assert_eq!(listed["size"], 3);
    assert_eq!(listed["witnesses"][0], "witness.example/w1");
    assert_eq!(listed["conflicts"][0]["label"], label);
    // A list that does not accept this log says which logs it does accept.
    fs::write(
        &list,
        format!(
            "version: 1\nanchors:\n  - name: chat-a\n    provider: chat-a.example\n    certificate: {}\n    scope: {{tel: [\"+1\"]}}\n",
            chat_a.join("root.pem").display()
        ),
    )
    .unwrap();
    let none = crate::common::cli::run(&[
        "monitor",
        "--log",
        s(&log),
        "--state",
        s(&tmp.path().join("monitor-3")),
        "--trust-list",
        s(&list),
    ]);
    assert_eq!(code(&none), 2);
    assert!(
        stderr(&none).contains("names no log of origin \"log.example/mapping\""),
        "{}",
        stderr(&none)
    );
    if python_check(&proof_of(&carol), &carol, &log, &[&w_key]) {
        // A proof checked against another chain fails there too.
        let yaml = log.join("log.yaml");
        python_rejects(
            &["proof", s(&proof_of(&carol)), s(&bob), s(&yaml)],
            "VRF proof",
        );
    }

    // The witness, given the log's first checkpoint again, answers 409 with the size it holds.
    let request = tmp.path().join("stale.req");
    request_from_zero(&log, &request);
    let o = witness_cosign(&w, &log_key, &request);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("409 Conflict [holds size 3]"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());

    // A rollback (an old checkpoint copied back): the monitor exits 1 and keeps its state.
    let cp = log.join("public/checkpoint");
    let current = fs::read(&cp).unwrap();
    let old = fs::read_to_string(proof_of(&bob)).unwrap();
    let old_cp = old.split_once("\n\n").unwrap().1;
    fs::write(&cp, old_cp).unwrap();
    let rolled = monitor(&log, &state, &w_key, &[]);
    assert_eq!(code(&rolled), 1, "{}", stdout(&rolled));
    let report = stdout_json(&rolled);
    assert!(
        report["problems"][0]
            .as_str()
            .unwrap()
            .contains("rolled back"),
        "{report}"
    );
    fs::write(&cp, current).unwrap();
    let back = monitor(&log, &state, &w_key, &[]);
    assert_eq!(code(&back), 0, "{}", stdout(&back));
}

#[test]
fn bad_inputs_are_refused_clearly_and_leave_nothing_behind() {
    let (tmp, log, w, _) = setup();
    let alice = tmp.path().join("alice.pem");

    // An existing directory is never overwritten.
    let o = with_pass(&["log", "init", "--dir", s(&log), "--origin", ORIGIN]);
    refused(&o, "a log directory is never overwritten");
    let o = with_pass(&["witness", "init", "--dir", s(&w), "--name", "w2"]);
    refused(&o, "a witness directory is never overwritten");
    // No passphrase and no --insecure-no-password: nothing is created.
    let fresh = tmp.path().join("fresh");
    let o = crate::common::cli::run(&["log", "init", "--dir", s(&fresh), "--origin", ORIGIN]);
    refused(&o, "the log keys need a passphrase");
    assert!(!fresh.exists());

    // The wrong passphrase: exit 2, nothing logged, no proof.
    let wrong = tmp.path().join("wrong");
    fs::write(&wrong, "not it\n").unwrap();
    let o = crate::common::cli::run(&[
        "log",
        "add",
        "--log",
        s(&log),
        "--password-file",
        s(&wrong),
        s(&alice),
    ]);
    refused(&o, "wrong passphrase");
    assert!(!proof_of(&alice).exists());

    // Not a chain, a leaf alone, a leaf after the wrong CA: each refused alone (exit 1), the
    // good chain is logged.
    let not_chain = tmp.path().join("notes.pem");
    fs::write(&not_chain, "hello\n").unwrap();
    let leaf_only = tmp.path().join("leaf.pem");
    let pem = fs::read_to_string(&alice).unwrap();
    let end = "-----END CERTIFICATE-----\n";
    let first = &pem[..pem.find(end).unwrap() + end.len()];
    fs::write(&leaf_only, first).unwrap();
    let chat_b = tmp.path().join("chat-b");
    ca_init("ca-config/chat-b.yaml", &chat_b);
    let other_ca = fs::read_to_string(chat_b.join("ca.pem")).unwrap();
    let wrong_ca = tmp.path().join("wrong-ca.pem");
    fs::write(&wrong_ca, format!("{first}{other_ca}")).unwrap();
    let o = with_pass(&[
        "log",
        "add",
        "--log",
        s(&log),
        s(&not_chain),
        s(&leaf_only),
        s(&wrong_ca),
        s(&alice),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("notes.pem: NOT LOGGED"), "{out}");
    assert!(out.contains("holds one certificate"), "{out}");
    assert!(
        out.contains("not signed by the second certificate's key"),
        "{out}"
    );
    assert!(out.contains("alice.pem: index 0 (new)"), "{out}");
    for bad in [&not_chain, &leaf_only, &wrong_ca] {
        assert!(!proof_of(bad).exists(), "{}", bad.display());
    }
    assert!(proof_of(&alice).exists());
    let show = stdout_json(&ok(&["log", "show", "--log", s(&log), "--format", "json"]));
    assert_eq!(show["size"], 1, "only the good chain is logged");

    // A malformed witness request is a 400, and a key the witness does not know a 404.
    let junk = tmp.path().join("junk.req");
    fs::write(&junk, "not a request").unwrap();
    let vkey = show["key"].as_str().unwrap();
    let o = witness_cosign(&w, vkey, &junk);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("400 Bad Request"), "{}", stderr(&o));
    let req = tmp.path().join("first.req");
    request_from_zero(&log, &req);
    let other = witness_show(&w);
    let o = witness_cosign(&w, other["key"].as_str().unwrap(), &req);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("404 Not Found"), "{}", stderr(&o));
    // The right key: a cosignature line on stdout, and `log cosign` then finds it held.
    let o = witness_cosign(&w, vkey, &req);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("— witness.example/w1 "),
        "{}",
        stdout(&o)
    );
    // The log has not attached it; `log cosign` asks again from the size the witness holds.
    pass_ok(&["log", "cosign", "--log", s(&log), "--witness", s(&w)]);
    let cp = fs::read_to_string(log.join("public/checkpoint")).unwrap();
    assert!(cp.contains("— witness.example/w1 "), "{cp}");

    // A monitor given a label that is not hex is told what a label is.
    let o = crate::common::cli::run(&[
        "monitor",
        "--log",
        s(&log),
        "--state",
        s(&tmp.path().join("m")),
        "--label",
        "xyz",
    ]);
    refused(&o, "is not 64 hex digits");
}

/// `log witness-request --log L --old SIZE [--out F]` of the log's current checkpoint.
fn witness_request(log: &Path, old: u64, out: Option<&Path>) -> Output {
    let old = old.to_string();
    let mut args = vec!["log", "witness-request", "--log", s(log), "--old", &old];
    if let Some(out) = out {
        args.extend(["--out", s(out)]);
    }
    with_pass(&args)
}

/// `log add-cosignature --log L --witness-key K FILE`.
fn add_cosignature(log: &Path, witness_key: &str, answer: &Path) -> Output {
    with_pass(&[
        "log",
        "add-cosignature",
        "--log",
        s(log),
        "--witness-key",
        witness_key,
        s(answer),
    ])
}

#[test]
fn a_witness_that_is_no_local_directory_gets_a_request_and_its_answer_is_attached() {
    let (tmp, log, w, chat_a) = setup();
    let (alice, bob) = alice_and_bob(&tmp, &chat_a);
    add_witnessed(&log, &w, &[s(&alice)]);
    let w_key = witness_show(&w)["key"].as_str().unwrap().to_owned();
    let show = stdout_json(&ok(&["log", "show", "--log", s(&log), "--format", "json"]));
    let log_key = show["key"].as_str().unwrap().to_owned();
    let checkpoint = log.join("public/checkpoint");
    let yaml = log.join("log.yaml");
    let size_1 = tmp.path().join("size-1.checkpoint");
    fs::copy(&checkpoint, &size_1).unwrap();
    python_ok(&["cosigned", s(&size_1), s(&yaml), &w_key]);
    // The log grows without the witness: its checkpoint of size 2 is not cosigned.
    pass_ok(&["log", "add", "--log", s(&log), s(&bob)]);
    let uncosigned = fs::read(&checkpoint).unwrap();
    assert!(!String::from_utf8_lossy(&uncosigned).contains("witness.example/w1"));

    // The request from the size the witness holds: `old 1`, the one hash of the consistency
    // proof from 1 to 2, a blank line, the checkpoint; the same on stdout and in --out.
    let req = tmp.path().join("add-checkpoint.req");
    let o = witness_request(&log, 1, Some(&req));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    assert!(stderr(&o).contains("log add-cosignature"), "{}", stderr(&o));
    let body = fs::read(&req).unwrap();
    let text = String::from_utf8(body.clone()).unwrap();
    let (head, note) = text.split_once("\n\n").unwrap();
    let head: Vec<&str> = head.lines().collect();
    assert_eq!(head[0], "old 1");
    assert_eq!(head.len(), 2, "{text}");
    assert_eq!(head[1].len(), 44, "{text}");
    assert_eq!(note.as_bytes(), &uncosigned[..]);
    assert_eq!(witness_request(&log, 1, None).stdout, body);
    // The independent implementation checks the request against the checkpoint the witness
    // holds (and the log's bundles); a changed proof hash fails it.
    python_ok(&["consistency", s(&size_1), s(&req), s(&log)]);
    let forged = tmp.path().join("forged.req");
    let flipped = if head[1].starts_with('A') { "B" } else { "A" };
    fs::write(
        &forged,
        format!("old 1\n{flipped}{}\n\n{note}", &head[1][1..]),
    )
    .unwrap();
    python_rejects(
        &["consistency", s(&size_1), s(&forged), s(&log)],
        "consistency proof",
    );
    python_rejects(
        &["cosigned", s(&checkpoint), s(&yaml), &w_key],
        "no cosignature",
    );

    // The witness answers (as a remote one would over HTTP) and the log attaches the answer.
    let o = witness_cosign(&w, &log_key, &req);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let answer = tmp.path().join("answer.txt");
    fs::write(&answer, &o.stdout).unwrap();
    // Another witness's key does not vouch for the line: refused, nothing attached.
    let w2 = tmp.path().join("w2");
    pass_ok(&[
        "witness",
        "init",
        "--dir",
        s(&w2),
        "--name",
        "witness.example/w2",
    ]);
    let w2_key = witness_show(&w2)["key"].as_str().unwrap().to_owned();
    refused(
        &add_cosignature(&log, &w2_key, &answer),
        "by none of the witness keys given",
    );
    let junk = tmp.path().join("junk.txt");
    fs::write(&junk, "hello\n").unwrap();
    refused(
        &add_cosignature(&log, &w_key, &junk),
        "nothing was attached",
    );
    assert_eq!(fs::read(&checkpoint).unwrap(), uncosigned);
    let o = add_cosignature(&log, &w_key, &answer);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("witness.example/w1 cosigned log.example/mapping at size 2"),
        "{}",
        stderr(&o)
    );
    let cosigned = fs::read_to_string(&checkpoint).unwrap();
    assert!(cosigned.starts_with(std::str::from_utf8(&uncosigned).unwrap()));
    assert!(
        cosigned.ends_with(&fs::read_to_string(&answer).unwrap()),
        "{cosigned}"
    );
    python_ok(&["cosigned", s(&checkpoint), s(&yaml), &w_key]);
    python_rejects(
        &["cosigned", s(&checkpoint), s(&yaml), &w2_key],
        "no cosignature by witness.example/w2",
    );
    let state = tmp.path().join("monitor");
    let report = stdout_json(&monitor(&log, &state, &w_key, &[]));
    assert_eq!(report["witnesses"][0], "witness.example/w1", "{report}");
    // Attaching the same answer again changes nothing.
    let o = add_cosignature(&log, &w_key, &answer);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&checkpoint).unwrap(), cosigned);

    // The log grew since the answer: it cosigns another checkpoint, and is refused.
    let carol = tmp.path().join("carol.pem");
    issue(&chat_a, "+15550001111", &carol);
    pass_ok(&["log", "add", "--log", s(&log), s(&carol)]);
    let grown = fs::read(&checkpoint).unwrap();
    refused(
        &add_cosignature(&log, &w_key, &answer),
        "not a cosignature of the current checkpoint (size 3)",
    );
    assert_eq!(fs::read(&checkpoint).unwrap(), grown);
    // A request from a size the witness does not hold gets its 409; one from more than the
    // log holds is refused before anything is written.
    let stale = tmp.path().join("stale.req");
    assert_eq!(code(&witness_request(&log, 1, Some(&stale))), 0);
    let o = witness_cosign(&w, &log_key, &stale);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("[holds size 2]"), "{}", stderr(&o));
    let too_big = tmp.path().join("too-big.req");
    refused(
        &witness_request(&log, 4, Some(&too_big)),
        "check --old: give the size the witness holds",
    );
    assert!(!too_big.exists());

    // Two more entries, and the request from the size the witness holds (2 to 5): checked
    // independently, answered, attached, the cosignature checked independently.
    let size_2 = tmp.path().join("size-2.checkpoint");
    fs::write(&size_2, &cosigned).unwrap();
    let (dave, erin) = (tmp.path().join("dave.pem"), tmp.path().join("erin.pem"));
    issue(&chat_a, "+15550002222", &dave);
    issue(&chat_a, "+15550003333", &erin);
    pass_ok(&["log", "add", "--log", s(&log), s(&dave), s(&erin)]);
    let req = tmp.path().join("from-2.req");
    assert_eq!(code(&witness_request(&log, 2, Some(&req))), 0);
    python_ok(&["consistency", s(&size_2), s(&req), s(&log)]);
    python_rejects(
        &["consistency", s(&size_1), s(&req), s(&log)],
        "the old checkpoint has 1",
    );
    let o = witness_cosign(&w, &log_key, &req);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    fs::write(&answer, &o.stdout).unwrap();
    assert_eq!(code(&add_cosignature(&log, &w_key, &answer)), 0);
    python_ok(&["cosigned", s(&checkpoint), s(&yaml), &w_key]);
    // The witness's own state, the checkpoint it cosigned, also checks out.
    let held: Vec<PathBuf> = fs::read_dir(w.join("state"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "checkpoint"))
        .collect();
    assert_eq!(held.len(), 1);
    python_ok(&["cosigned", s(&held[0]), s(&yaml), &w_key]);
}
