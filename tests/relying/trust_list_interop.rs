//! Signed trust lists cross-checked with an independent implementation,
//! tests/interop/trust_list.py (Python standard library and `cryptography`, written from
//! c2sp.org/signed-note and the design): lists it makes and signs are accepted by our
//! `trust-list verify` and `verify`, lists our CLI signs are accepted by it, a list signed
//! by keys of both is accepted by both, every hostile variant it makes gets the same verdict
//! from both, and one publisher's history (threshold, expiry, rollback, replay, rotation) is
//! replayed through both with the same outcome at every step. Skipped, visibly, when
//! python3 or `cryptography` is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use time::Duration;

use crate::common::cli::{repo_path, run, s, stderr, stdout, stdout_json};
use crate::common::now;
use crate::common::trust::{
    fresh_chain, no_panic, signers_yaml, AnchorText, Federation, ListV2, CHAT_A_SCOPE,
};

/// python3 with `cryptography` can run the script; else says what is skipped and returns
/// false.
fn python_ready(what: &str) -> bool {
    let ok = Command::new("python3")
        .args([
            "-c",
            "import cryptography.hazmat.primitives.asymmetric.ed25519",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED (visible): python3 with `cryptography` not importable; {what} did not run"
        );
    }
    ok
}

/// `python3 tests/interop/trust_list.py args`.
fn py(args: &[&str]) -> Output {
    Command::new("python3")
        .arg(repo_path("tests/interop/trust_list.py"))
        .args(args)
        .output()
        .unwrap()
}

/// [`py`], which must exit 0; its stdout.
#[track_caller]
fn py_ok(args: &[&str]) -> String {
    let o = py(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "trust_list.py {args:?}: {}{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// A key made by the Python tool: its file and vkey.
struct PyKey {
    key: PathBuf,
    vkey: String,
}

fn py_keygen(dir: &Path, name: &str) -> PyKey {
    let key = dir.join(format!("{}.pykey", name.replace('/', "_")));
    let vkey = py_ok(&["keygen", "--name", name, "--out", s(&key)])
        .trim()
        .to_owned();
    assert!(vkey.starts_with(&format!("{name}+")), "{vkey}");
    PyKey { key, vkey }
}

/// `n` signers' keys made by the Python tool in `dir`, and a signers file of 2 of them.
fn py_federation(dir: &Path, n: usize) -> (Vec<PyKey>, PathBuf) {
    let keys: Vec<PyKey> = (1..=n)
        .map(|i| py_keygen(dir, &format!("py.example/signer-{i}")))
        .collect();
    let vkeys: Vec<&str> = keys.iter().map(|k| k.vkey.as_str()).collect();
    let signers = dir.join("signers.yaml");
    std::fs::write(&signers, signers_yaml(2, &vkeys)).unwrap();
    (keys, signers)
}

/// The Python tool signs `input` into `out` with `key`.
fn py_sign(key: &Path, input: &Path, out: &Path) {
    py_ok(&["sign", "--key", s(key), "--out", s(out), s(input)]);
}

/// Both implementations' exit codes for `trust-list verify --signers signers [--state]`
/// (each with its own state file: the formats differ).
fn verdicts(signers: &Path, list: &Path, states: Option<(&Path, &Path)>) -> (i32, i32) {
    let mut ours = vec!["trust-list", "verify", "--signers", s(signers)];
    let mut theirs = vec!["verify", "--signers", s(signers)];
    if let Some((o, t)) = states {
        ours.extend(["--state", s(o)]);
        theirs.extend(["--state", s(t)]);
    }
    ours.push(s(list));
    theirs.push(s(list));
    let a = run(&ours);
    no_panic(&a);
    let b = py(&theirs);
    (a.status.code().unwrap(), b.status.code().unwrap())
}

#[test]
fn the_python_selftest_passes() {
    if !python_ready("the trust_list.py self-test") {
        return;
    }
    let out = py_ok(&["selftest"]);
    assert!(out.starts_with("ok: signed-note vectors"), "{out}");
}

#[test]
fn lists_made_and_signed_by_python_are_accepted_by_our_cli() {
    if !python_ready("the Python-signed list check") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let chain = fresh_chain(&dir.join("issuer"));
    let root = dir.join("root.pem");
    std::fs::write(&root, &chain.root_pem).unwrap();
    let (keys, signers) = py_federation(dir, 3);
    let vkeys: Vec<&str> = keys.iter().map(|k| k.vkey.as_str()).collect();
    let t = mimi_attest::rfc3339;
    let make = |seq: u64, out: &Path| {
        let seq = seq.to_string();
        let issued = t(now() - Duration::hours(1));
        let expires = t(now() + Duration::days(30));
        let mut args = vec![
            "make-list",
            "--sequence",
            &seq,
            "--issued",
            &issued,
            "--expires",
            &expires,
            "--root-pem",
            s(&root),
            "--provider",
            "chat-a.example",
            "--name",
            "chat-a",
            "--tel",
            "+1",
            "--tel",
            "+44",
            "--email",
            "chat-a.example",
            "--signers-threshold",
            "2",
        ];
        for v in &vkeys {
            args.extend(["--signer-vkey", v]);
        }
        args.extend(["--out", s(out)]);
        py_ok(&args);
    };
    let list = dir.join("v2.yaml");
    make(2, &list);
    // Our check finds nothing to say about the list as Python wrote it.
    let o = run(&["trust-list", "check", s(&list)]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let signed = dir.join("v2.signed");
    py_sign(&keys[0].key, &list, &signed);
    py_sign(&keys[2].key, &signed, &signed);

    let state = dir.join("state");
    let o = run(&[
        "trust-list",
        "verify",
        "--signers",
        s(&signers),
        "--state",
        s(&state),
        "--format",
        "json",
        s(&signed),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let j = stdout_json(&o);
    assert_eq!(j["sequence"], 2);
    assert_eq!(
        j["signed_by"],
        serde_json::json!(["py.example/signer-1", "py.example/signer-3"])
    );
    // Our text hash of the list is the SHA-256 of the bytes Python signed.
    assert_eq!(
        j["sha256"],
        mimi_attest::hex(&mimi_attest::sha256(&std::fs::read(&list).unwrap()))
    );
    let o = run(&[
        "verify",
        "--trust-list",
        s(&signed),
        "--signers",
        s(&signers),
        "--state",
        s(&state),
        "--format",
        "json",
        s(&chain.chain),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j = stdout_json(&o);
    assert_eq!(j[0]["valid"], true, "{j}");
    assert_eq!(j[0]["anchor"], "chat-a");

    // Version 3 by Python, then the replayed version 2: refused by ours.
    let list3 = dir.join("v3.yaml");
    make(3, &list3);
    let signed3 = dir.join("v3.signed");
    py_sign(&keys[1].key, &list3, &signed3);
    py_sign(&keys[2].key, &signed3, &signed3);
    let o = run(&[
        "trust-list",
        "verify",
        "--signers",
        s(&signers),
        "--state",
        s(&state),
        s(&signed3),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = run(&[
        "trust-list",
        "verify",
        "--signers",
        s(&signers),
        "--state",
        s(&state),
        s(&signed),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("E_TRUST_LIST_ROLLBACK"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn lists_signed_by_our_cli_are_accepted_by_python() {
    if !python_ready("the Python check of our signed lists") {
        return;
    }
    let fed = Federation::new(3);
    let root = crate::common::trust::chat_a_root_pem();
    let v2 = fed.publish(
        "v2",
        &fed.list(2, AnchorText::chat_a(&root)).text(),
        &[0, 1],
    );
    let o = py(&["verify", "--signers", s(&fed.signers_file), s(&v2)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("accepted: sequence 2, valid signatures of 2 of the 3 trusted keys"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("fed.example/signer-1, fed.example/signer-2"),
        "{}",
        stdout(&o)
    );
    // Signing once more by the same key replaces its line (as Go's note.Sign does), in
    // both implementations: the note still has two lines and both accept it.
    fed.signers[0].signs(&v2, &v2);
    let text = std::fs::read_to_string(&v2).unwrap();
    assert_eq!(text.matches("\n— ").count(), 2, "{text}");
    assert_eq!(verdicts(&fed.signers_file, &v2, None), (0, 0));
}

#[test]
fn a_list_signed_by_keys_of_both_implementations_is_accepted_by_both() {
    if !python_ready("the mixed-signature check") {
        return;
    }
    let fed = Federation::new(3);
    let py1 = py_keygen(fed.dir.path(), "py.example/signer-1");
    let vkeys = [fed.signers[0].vkey.as_str(), py1.vkey.as_str()];
    let signers = fed.path("mixed.yaml");
    std::fs::write(&signers, signers_yaml(2, &vkeys)).unwrap();
    let text = ListV2::new(
        2,
        AnchorText::chat_a(&crate::common::trust::chat_a_root_pem()),
    )
    .signed_by(2, &vkeys)
    .text();
    let plain = fed.path("mixed-list.yaml");
    std::fs::write(&plain, text).unwrap();
    let signed = fed.path("mixed-list.signed");
    // Ours first, then Python's; and the other way round.
    fed.signers[0].signs(&plain, &signed);
    py_sign(&py1.key, &signed, &signed);
    assert_eq!(verdicts(&signers, &signed, None), (0, 0));
    let other = fed.path("mixed-list-2.signed");
    py_sign(&py1.key, &plain, &other);
    fed.signers[0].signs(&other, &other);
    assert_eq!(verdicts(&signers, &other, None), (0, 0));
}

#[test]
fn every_hostile_variant_gets_the_same_verdict_from_both() {
    if !python_ready("the mutation cross-check") {
        return;
    }
    let fed = Federation::new(3);
    let dir = fed.dir.path();
    // Signers: two of ours, two of Python's (whose key files `mutate tab` can sign with);
    // the base list is signed by one of each.
    let py_keys = [
        py_keygen(dir, "py.example/signer-1"),
        py_keygen(dir, "py.example/signer-2"),
    ];
    let vkeys = [
        fed.signers[0].vkey.as_str(),
        fed.signers[1].vkey.as_str(),
        py_keys[0].vkey.as_str(),
        py_keys[1].vkey.as_str(),
    ];
    let signers = fed.path("signers-4.yaml");
    std::fs::write(&signers, signers_yaml(2, &vkeys)).unwrap();
    let plain = fed.path("base.yaml");
    std::fs::write(
        &plain,
        ListV2::new(
            2,
            AnchorText::chat_a(&crate::common::trust::chat_a_root_pem()),
        )
        .signed_by(2, &vkeys)
        .text(),
    )
    .unwrap();
    let base = fed.path("base.signed");
    fed.signers[0].signs(&plain, &base);
    py_sign(&py_keys[0].key, &base, &base);
    assert_eq!(verdicts(&signers, &base, None), (0, 0));
    let once = fed.path("once.signed");
    fed.signers[1].signs(&plain, &once);

    // (kind, input, extra arguments, expected exit code of both).
    let cases: Vec<(&str, &Path, Vec<&str>, i32)> = vec![
        ("flip-text", &base, vec![], 1),
        ("drop-sig", &base, vec![], 1),
        ("drop-sig", &base, vec!["--index", "1"], 1),
        ("dup-sig", &base, vec![], 0),
        ("unknown-key", &base, vec![], 0),
        ("bad-sig", &base, vec![], 1),
        ("bad-sig", &base, vec!["--index", "1"], 1),
        (
            "tab",
            &base,
            vec!["--key", s(&py_keys[0].key), "--key", s(&py_keys[1].key)],
            1,
        ),
        ("reorder", &base, vec![], 0),
        // Neither a repeated line nor a stranger under a trusted name makes one signature
        // count twice.
        ("dup-sig", &once, vec![], 1),
        (
            "unknown-key",
            &once,
            vec!["--name", "fed.example/signer-1"],
            1,
        ),
        (
            "unknown-key",
            &once,
            vec!["--name", "fed.example/signer-2"],
            1,
        ),
    ];
    for (i, (kind, input, extra, want)) in cases.into_iter().enumerate() {
        let out = fed.path(&format!("m{i}-{kind}.signed"));
        let mut args = vec!["mutate", kind, s(input), s(&out)];
        args.extend(extra.iter().copied());
        py_ok(&args);
        let (ours, theirs) = verdicts(&signers, &out, None);
        assert_eq!(
            (ours, theirs),
            (want, want),
            "{kind} {extra:?}: ours {ours}, Python {theirs}"
        );
        if want == 1 {
            let o = fed_verify(&signers, &out);
            let refusal = stdout(&o);
            let code = match kind {
                "tab" => "'\\t' is not allowed in a signed list",
                _ => "E_TRUST_LIST_SIGNATURES",
            };
            assert!(refusal.contains(code), "{kind}: {refusal}");
        }
    }
    // A list too large for either to read, validly signed by two trusted keys (with the
    // library's note keys: neither tool signs it). The limits differ, 1 MiB here and 4 MiB
    // in trust_list.py; this one is over both.
    let text = format!(
        "{}# {}\n",
        std::fs::read_to_string(&plain).unwrap(),
        "x".repeat(4200 * 1024)
    );
    let mut note = format!("{text}\n");
    for signer in &fed.signers[..2] {
        let key = mimi_attest::open_signing_key(&signer.key, None).unwrap();
        note.push_str(&key.signature_line(text.as_bytes(), 0).unwrap());
    }
    let huge_signed = fed.path("huge.signed");
    std::fs::write(&huge_signed, note).unwrap();
    assert_eq!(verdicts(&signers, &huge_signed, None), (1, 1), "huge");
}

/// Our `trust-list verify --signers signers list`.
fn fed_verify(signers: &Path, list: &Path) -> Output {
    run(&["trust-list", "verify", "--signers", s(signers), s(list)])
}

#[test]
fn one_publishers_history_gets_the_same_verdicts_from_both() {
    if !python_ready("the history replay") {
        return;
    }
    let fed = Federation::new(6);
    let root = crate::common::trust::chat_a_root_pem();
    let anchor = AnchorText::chat_a(&root);
    let old = fed.vkeys(&[0, 1, 2]);
    let new = fed.vkeys(&[3, 4, 5]);
    let ours = fed.path("ours.state");
    let theirs = fed.path("theirs.state");
    let list = |seq: u64, next: &[&str]| ListV2::new(seq, anchor.clone()).signed_by(2, next);
    let mut expired = list(9, &old);
    expired.issued = now() - Duration::days(40);
    expired.expires = now() - Duration::days(10);
    let mut other_text = list(3, &old);
    other_text.anchors[0].scope = CHAT_A_SCOPE.replace("\"+44\"", "\"+44\", \"+33\"");

    // (what, list, signed by, expected exit code of both)
    let steps: Vec<(&str, ListV2, Vec<usize>, i32)> = vec![
        ("1 of 2", list(2, &old), vec![0], 1),
        ("version 2", list(2, &old), vec![0, 1], 0),
        ("version 2 again", list(2, &old), vec![1, 2], 0),
        ("version 3", list(3, &old), vec![2, 0], 0),
        ("version 2 replayed", list(2, &old), vec![0, 1], 1),
        ("version 3, other text", other_text, vec![0, 1], 1),
        ("expired", expired, vec![0, 1], 1),
        ("rotation by the old set only", list(4, &new), vec![0, 1], 1),
        ("rotation by the new set only", list(4, &new), vec![3, 4], 1),
        ("rotation by both", list(4, &new), vec![0, 1, 3, 5], 0),
        ("version 5 by the old set", list(5, &new), vec![0, 1, 2], 1),
        ("version 5 by the new set", list(5, &new), vec![4, 5], 0),
    ];
    for (i, (what, l, by, want)) in steps.into_iter().enumerate() {
        let signed = fed.publish(&format!("step{i}"), &l.text(), &by);
        let before = (std::fs::read(&ours).ok(), std::fs::read(&theirs).ok());
        let got = verdicts(&fed.signers_file, &signed, Some((&ours, &theirs)));
        assert_eq!(got, (want, want), "{what}: (ours, Python)");
        if want != 0 {
            assert_eq!(
                (std::fs::read(&ours).ok(), std::fs::read(&theirs).ok()),
                before,
                "{what}: a refusal leaves both states as they were"
            );
        }
    }
    // Both state files moved on to the new set: the bootstrap signers alone no longer
    // suffice for a list the new set signed.
    let v6 = fed.publish("v6", &list(6, &new).text(), &[3, 4]);
    assert_eq!(verdicts(&fed.signers_file, &v6, None), (1, 1));
    assert_eq!(
        verdicts(&fed.signers_file, &v6, Some((&ours, &theirs))),
        (0, 0)
    );
}

#[test]
fn both_refuse_numbers_that_are_not_plain_decimals() {
    if !python_ready("the number-spelling cross-check") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (keys, signers) = py_federation(dir, 2);
    let vkeys: Vec<&str> = keys.iter().map(|k| k.vkey.as_str()).collect();
    let text = ListV2::new(
        16,
        AnchorText::chat_a(&crate::common::trust::chat_a_root_pem()),
    )
    .signed_by(2, &vkeys)
    .text();
    let sign = |name: &str, text: &str| {
        let plain = dir.join(format!("{name}.yaml"));
        std::fs::write(&plain, text).unwrap();
        let signed = dir.join(format!("{name}.signed"));
        py_sign(&keys[0].key, &plain, &signed);
        py_sign(&keys[1].key, &signed, &signed);
        signed
    };
    assert_eq!(verdicts(&signers, &sign("decimal", &text), None), (0, 0));
    // The same numbers (16 and 2) in YAML's other spellings.
    let spellings = [
        ("0x10", "0x2"),
        ("0o20", "0o2"),
        ("+16", "+2"),
        ("016", "02"),
    ];
    for (i, (sequence, threshold)) in spellings.into_iter().enumerate() {
        for (field, from, spelled) in [
            ("sequence", "sequence: 16", sequence),
            ("threshold", "threshold: 2", threshold),
        ] {
            let to = format!("{field}: {spelled}");
            let list = sign(&format!("{field}{i}"), &text.replacen(from, &to, 1));
            assert_eq!(verdicts(&signers, &list, None), (1, 1), "{to}");
        }
    }
}
