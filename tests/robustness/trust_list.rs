//! Hostile trust lists (version 2, plain and signed) for every command that reads one:
//! tabs and control characters, YAML anchors, aliases and a billion-laughs bomb, lists over
//! the size limits, unknown keys, `certificate: FILE` in a signed list, version 1 lists with
//! version 2 fields, broken signed notes and signers files. Each is refused with the right
//! exit code and a message that says where and what, quickly, without a panic. Signed lists
//! that `trust-list sign` would refuse to make are signed here with the library's note key,
//! so that the platform's side sees them too. Platforms accepting lists in several processes
//! at once keep one whole state file.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use mimi_attest::{open_signing_key, KeyType};

use crate::common::cli::{cmd, run, s, stderr, stdout, AT};
use crate::common::trust::{chat_a_root_pem, no_panic, AnchorText, Federation};

/// `mimi-attest args`, which must finish within 5 s (every case takes well under one)
/// without panicking.
fn timed(args: &[&str]) -> Output {
    let start = Instant::now();
    let o = run(args);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{args:?} took {:?}",
        start.elapsed()
    );
    no_panic(&o);
    assert!(!stderr(&o).contains("RUST_BACKTRACE"), "{}", stderr(&o));
    o
}

/// `text` signed by the federation's signers at `by`, bypassing every check of
/// `trust-list sign`: the text, a blank line, their signature lines.
fn raw_signed(fed: &Federation, text: &str, by: &[usize]) -> Vec<u8> {
    let mut out = format!("{text}\n");
    for &i in by {
        let key = open_signing_key(&fed.signers[i].key, None).unwrap();
        out.push_str(&key.signature_line(text.as_bytes(), 0).unwrap());
    }
    out.into_bytes()
}

/// A hostile list written as `name` (plain) and `name.signed` (signed 2 of 3 by the
/// library, whatever it holds).
struct Hostile {
    plain: PathBuf,
    signed: PathBuf,
}

fn hostile(fed: &Federation, name: &str, text: &str) -> Hostile {
    let plain = fed.path(name);
    std::fs::write(&plain, text).unwrap();
    let signed = fed.path(&format!("{name}.signed"));
    std::fs::write(&signed, raw_signed(fed, text, &[0, 1])).unwrap();
    Hostile { plain, signed }
}

/// Every command refuses `h`, and each message holds all of `says`: `verify` and `trust-list
/// sign` of the plain list (and `sign` of the signed form) exit 2; `trust-list check` reports an error (exit 1);
/// `trust-list verify` of the signed form refuses it (exit 1) and `verify` with it exits 2.
fn refused_everywhere(fed: &Federation, h: &Hostile, says: &[&str]) {
    let chain = "certs/alice-chat-a.pem";
    let out = fed.path("out.signed");
    let has_all = |what: &str, text: &str| {
        for w in says {
            assert!(text.contains(w), "{what}: {w:?} not in {text}");
        }
    };
    let o = timed(&["verify", "--trust-list", s(&h.plain), chain]);
    assert_eq!(o.status.code(), Some(2), "verify: {}", stdout(&o));
    has_all("verify", &stderr(&o));

    let _ = std::fs::remove_file(&out);
    let key = s(&fed.signers[0].key);
    let o = timed(&[
        "trust-list",
        "sign",
        "--key",
        key,
        "--out",
        s(&out),
        s(&h.plain),
    ]);
    assert_eq!(o.status.code(), Some(2), "sign: {}", stdout(&o));
    has_all("sign", &stderr(&o));
    assert!(!out.exists(), "sign wrote nothing");
    // Nor does a second signer add a signature to the signed form.
    let o = timed(&[
        "trust-list",
        "sign",
        "--key",
        key,
        "--out",
        s(&out),
        s(&h.signed),
    ]);
    assert_eq!(o.status.code(), Some(2), "sign signed: {}", stdout(&o));
    has_all("sign signed", &stderr(&o));
    assert!(!out.exists(), "sign wrote nothing");

    let o = timed(&["trust-list", "check", s(&h.plain)]);
    assert_eq!(o.status.code(), Some(1), "check: {}", stdout(&o));
    assert!(stdout(&o).contains(": error "), "check: {}", stdout(&o));
    has_all("check", &stdout(&o));

    let state = fed.path("hostile.state");
    let o = fed.verify(Some(&state), &h.signed, &[]);
    no_panic(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "trust-list verify: {}",
        stderr(&o)
    );
    assert!(stdout(&o).starts_with("refused: "), "{}", stdout(&o));
    has_all("trust-list verify", &stdout(&o));
    assert!(!state.exists(), "a refused list writes no state");

    let o = timed(&[
        "verify",
        "--trust-list",
        s(&h.signed),
        "--signers",
        s(&fed.signers_file),
        chain,
    ]);
    assert_eq!(o.status.code(), Some(2), "verify signed: {}", stdout(&o));
    has_all("verify signed", &stderr(&o));
}

/// The list text of sequence 2 with one chat-a anchor.
fn good_text(fed: &Federation) -> String {
    fed.list(2, AnchorText::chat_a(&chat_a_root_pem())).text()
}

/// Replace the first `from` on line `line` (1-based) of `text` by `to`.
fn on_line(text: &str, line: usize, from: &str, to: &str) -> String {
    let mut out: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(out[line - 1].contains(from), "{from:?} not on line {line}");
    out[line - 1] = out[line - 1].replacen(from, to, 1);
    out.join("\n") + "\n"
}

/// The 1-based line of the first line of `text` starting (after spaces) with `start`,
/// after line `after`.
fn line_of(text: &str, start: &str, after: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(after)
        .find(|(_, l)| l.trim_start().starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?}"))
        .0
        + 1
}

#[test]
fn tabs_and_control_characters_are_refused_at_their_line_and_column() {
    let fed = Federation::new(3);
    let text = good_text(&fed);
    let provider = line_of(&text, "provider:", 0);
    // `    provider: chat-a.example`: the character after "provider: " is column 15.
    for (name, c) in [
        ("tab", '\t'),
        ("bell", '\u{7}'),
        ("nul", '\0'),
        ("escape", '\u{1b}'),
        ("delete", '\u{7f}'),
        ("next-line", '\u{85}'),
    ] {
        let bad = on_line(&text, provider, "provider: ", &format!("provider: {c}"));
        let h = hostile(&fed, &format!("{name}.yaml"), &bad);
        let at = format!(":{provider}:15: {c:?} is not allowed in a");
        refused_everywhere(&fed, &h, &[&at]);
    }
    // A tab in indentation, and a carriage return (allowed before a line feed in a plain
    // list, never in a signed one).
    let bad = on_line(&text, provider, "    provider", "\tprovider");
    refused_everywhere(
        &fed,
        &hostile(&fed, "indent.yaml", &bad),
        &[&format!(":{provider}:1: '\\t' is not allowed")],
    );
    let crlf = text.replace('\n', "\r\n");
    let h = hostile(&fed, "crlf.yaml", &crlf);
    let o = fed.verify(None, &h.signed, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(":1:11: '\\r' is not allowed in a signed list"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn yaml_anchors_aliases_and_a_billion_laughs_are_refused_at_once() {
    let fed = Federation::new(3);
    let text = good_text(&fed);
    // An anchor on the first scope, an alias in a second anchor.
    let scope = line_of(&text, "scope:", 0);
    let mut with_alias = on_line(&text, scope, "scope: ", "scope: &s ");
    let anchors = with_alias.find("signers:").unwrap();
    with_alias.insert_str(
        anchors,
        "  - name: chat-b\n    provider: chat-b.example\n    certificate: x.pem\n    scope: *s\n",
    );
    refused_everywhere(
        &fed,
        &hostile(&fed, "alias.yaml", &with_alias),
        &[
            &format!(":{scope}:12: YAML anchors and aliases"),
            "write each entry out in full",
        ],
    );

    // A billion laughs: nine levels of nine aliases each.
    let mut bomb = String::from("version: 2\nsequence: 1\n");
    bomb.push_str("lol0: &l0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n");
    for i in 1..=9 {
        let refs = vec![format!("*l{}", i - 1); 9].join(", ");
        bomb.push_str(&format!("lol{i}: &l{i} [{refs}]\n"));
    }
    bomb.push_str("anchors: *l9\n");
    refused_everywhere(
        &fed,
        &hostile(&fed, "bomb.yaml", &bomb),
        &[":3:7: YAML anchors and aliases (&name, *name) are not allowed"],
    );

    // A bomb in a signers file or a state file is refused as quickly.
    let signers_bomb = fed.path("bomb-signers.yaml");
    std::fs::write(
        &signers_bomb,
        "threshold: &t 2\nkeys: [&k \"a\", *k, *k, *k, *k, *k, *k, *k, *k]\n",
    )
    .unwrap();
    let signed = fed.publish("good", &text, &[0, 1]);
    let o = timed(&[
        "trust-list",
        "verify",
        "--signers",
        s(&signers_bomb),
        s(&signed),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("signer key \"a\""), "{}", stderr(&o));
    let state_bomb = fed.path("bomb.state");
    std::fs::write(&state_bomb, &bomb).unwrap();
    let o = timed(&[
        "trust-list",
        "verify",
        "--signers",
        s(&fed.signers_file),
        "--state",
        s(&state_bomb),
        s(&signed),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("the state file is unreadable or corrupt"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn lists_over_the_size_limits_are_refused() {
    let fed = Federation::new(3);
    let text = good_text(&fed);
    // Over 1 MiB: refused unread by every command; `trust-list verify` refuses it as it
    // refuses any bad list (exit 1).
    let huge = format!("{text}# {}\n", "x".repeat(1100 * 1024));
    let h = hostile(&fed, "huge.yaml", &huge);
    let says = "larger than the 1048576 bytes a trust list may have";
    let chain = "certs/alice-chat-a.pem";
    let o = timed(&["verify", "--trust-list", s(&h.plain), chain]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(says), "{}", stderr(&o));
    let o = timed(&["trust-list", "check", s(&h.plain)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("error list-too-large: ") && stdout(&o).contains(says),
        "{}",
        stdout(&o)
    );
    let out = fed.path("huge.out");
    let o = fed.signers[0].sign(&h.plain, &out);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("too large for a signed list"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    let o = fed.verify(None, &h.signed, &[]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains(says), "{}", stdout(&o));
    let o = timed(&[
        "verify",
        "--signers",
        s(&fed.signers_file),
        "--trust-list",
        s(&h.signed),
        chain,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(says), "{}", stderr(&o));

    // Under 1 MiB but over the 1,000,000 bytes of a signed note: a platform refuses it
    // (exit 1), and `trust-list sign` refuses to add the signature that would pass the
    // limit.
    let big = format!("{text}# {}\n", "x".repeat(999_800 - text.len()));
    let h = hostile(&fed, "big.yaml", &big);
    let o = fed.verify(None, &h.signed, &[]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("more than the 1000000 a signed note may have"),
        "{}",
        stdout(&o)
    );
    let out = fed.path("big.out");
    fed.signers[0].signs(&h.plain, &out);
    let o = fed.signers[1].sign(&out, &out);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("more than the 1000000 platforms read"),
        "{}",
        stderr(&o)
    );
    // The file signed once is left as it was: one signature line.
    assert_eq!(
        std::fs::read_to_string(&out)
            .unwrap()
            .matches("\n— ")
            .count(),
        1
    );
}

#[test]
fn unknown_keys_are_reported_at_the_bad_key_itself() {
    let fed = Federation::new(3);
    let mut list = fed.list(2, AnchorText::chat_a(&chat_a_root_pem()));
    let mut b = AnchorText::chat_a(&std::fs::read_to_string("certs/chat-b-root.pem").unwrap());
    b.name = "chat-b".into();
    b.provider = "chat-b.example".into();
    b.scope = r#"{tel: ["+1"], email: ["chat-b.example"]}"#.into();
    list.anchors.push(b);
    let text = list.text();
    // A typo inside the second anchor: the message points at that line, not at the
    // anchor's start (or at the first anchor's `scope:`).
    let second = line_of(&text, "- name: chat-b", 0);
    let scope = line_of(&text, "scope:", second);
    let typo = on_line(&text, scope, "scope:", "scop:");
    refused_everywhere(
        &fed,
        &hostile(&fed, "scop.yaml", &typo),
        &[
            &format!(":{scope}:5: anchors[1]: unknown field `scop`"),
            "expected one of",
        ],
    );
    // A top-level typo, a typo inside signers, a typo inside policy.
    let expires = line_of(&text, "expires:", 0);
    let top = on_line(&text, expires, "expires:", "expire:");
    refused_everywhere(
        &fed,
        &hostile(&fed, "expire.yaml", &top),
        &[&format!(":{expires}:1: unknown field `expire`")],
    );
    let threshold = line_of(&text, "threshold:", 0);
    let in_signers = on_line(&text, threshold, "threshold:", "treshold:");
    refused_everywhere(
        &fed,
        &hostile(&fed, "treshold.yaml", &in_signers),
        &[&format!(
            ":{threshold}:3: signers: unknown field `treshold`"
        )],
    );
    let with_policy = format!("{text}policy:\n  clock_skew: 5m\n  max_leaf_valdity: 90d\n");
    let line = with_policy.lines().count();
    refused_everywhere(
        &fed,
        &hostile(&fed, "policy.yaml", &with_policy),
        &[&format!(
            ":{line}:3: policy: unknown field `max_leaf_valdity`"
        )],
    );
}

#[test]
fn a_signed_list_holds_its_roots_inline_and_is_of_version_2() {
    let fed = Federation::new(3);
    let text = good_text(&fed);
    // `certificate: FILE`: the file is not covered by the signatures.
    std::fs::copy("certs/chat-a-root.pem", fed.path("chat-a-root.pem")).unwrap();
    let start = line_of(&text, "certificate_pem:", 0);
    let end = line_of(&text, "-----END CERTIFICATE-----", start);
    let lines: Vec<&str> = text.lines().collect();
    let mut file_form: Vec<&str> = lines[..start - 1].to_vec();
    file_form.push("    certificate: chat-a-root.pem");
    file_form.extend(&lines[end..]);
    let file_form = file_form.join("\n") + "\n";
    let h = hostile(&fed, "file.yaml", &file_form);
    // As a plain list it is fine.
    let o = timed(&[
        "verify",
        "--trust-list",
        s(&h.plain),
        "--at",
        AT,
        "certs/alice-chat-a.pem",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let says = format!(
        "file.yaml:{start}: anchor \"chat-a\": certificate: FILE is not allowed in a signed list"
    );
    let o = fed.signers[0].sign(&h.plain, &fed.path("file.out"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(&says), "{}", stderr(&o));
    assert!(stderr(&o).contains("put the root inline as certificate_pem"));
    let o = fed.verify(None, &h.signed, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("certificate: FILE is not allowed in a signed list"));

    // Version 1 with version 2 fields.
    for (field, line_start) in [
        ("sequence", "sequence:"),
        ("issued", "issued:"),
        ("expires", "expires:"),
        ("signers", "signers:"),
    ] {
        let mut v1: Vec<String> = text
            .replacen("version: 2", "version: 1", 1)
            .lines()
            .map(str::to_owned)
            .collect();
        // Drop the version 2 fields before this one, so that it is the first found.
        for earlier in ["sequence:", "issued:", "expires:"] {
            if earlier == line_start {
                break;
            }
            v1.retain(|l| !l.starts_with(earlier));
        }
        let v1 = v1.join("\n") + "\n";
        let line = line_of(&v1, line_start, 0);
        refused_everywhere(
            &fed,
            &hostile(&fed, &format!("v1-{field}.yaml"), &v1),
            &[&format!(
                ":{line}: {field} is a field of version 2 lists: write version: 2"
            )],
        );
    }
    // Version 1 with an inline root.
    let v1 = text
        .replacen("version: 2", "version: 1", 1)
        .lines()
        .filter(|l| {
            !["sequence:", "issued:", "expires:"]
                .iter()
                .any(|f| l.starts_with(f))
        })
        .take_while(|l| !l.starts_with("signers:"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    refused_everywhere(
        &fed,
        &hostile(&fed, "v1-pem.yaml", &v1),
        &["certificate_pem and client_auth_pem are fields of version 2 lists"],
    );
    // A valid version 1 list, signed: a signed list is of version 2.
    let v1_plain = "version: 1\nanchors:\n  - name: chat-a\n    provider: chat-a.example\n    certificate: chat-a-root.pem\n    scope: {tel: [\"+1\"], email: [\"chat-a.example\"]}\n";
    let h = hostile(&fed, "v1.yaml", v1_plain);
    let o = fed.verify(None, &h.signed, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("a signed trust list must be of version 2"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn broken_signed_notes_and_signers_files_are_refused() {
    let fed = Federation::new(3);
    let text = good_text(&fed);
    let signed = raw_signed(&fed, &text, &[0, 1]);
    let signed = String::from_utf8(signed).unwrap();
    let sig_line = signed.lines().last().unwrap().to_owned();
    let first_sig = text.lines().count() + 2;
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "no-newline",
            signed.trim_end_matches('\n').to_owned(),
            "does not end with a newline",
        ),
        (
            "garbage-line",
            format!("{signed}this is not a signature\n"),
            "not a signature line",
        ),
        (
            "bad-base64",
            format!("{signed}— fed.example/signer-3 !!!!\n"),
            "not a signature line",
        ),
        (
            "short-signature",
            format!("{signed}— fed.example/signer-3 AAAA\n"),
            "not a signature line",
        ),
        (
            "second-blank-line",
            format!("{text}\n{sig_line}\n\n{sig_line}\n"),
            "",
        ),
        (
            "many-signatures",
            format!("{signed}{}", format!("{sig_line}\n").repeat(101)),
            "more than the 100 a signed note may carry",
        ),
    ];
    for (name, content, says) in cases {
        let p = fed.path(&format!("{name}.signed"));
        std::fs::write(&p, &content).unwrap();
        let o = fed.verify(None, &p, &[]);
        no_panic(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        assert!(
            stdout(&o).starts_with("refused: "),
            "{name}: {}",
            stdout(&o)
        );
        assert!(stdout(&o).contains(says), "{name}: {}", stdout(&o));
    }
    // The garbage line is named by its line number.
    let o = fed.verify(None, &fed.path("garbage-line.signed"), &[]);
    assert!(
        stdout(&o).contains(&format!(":{}: not a signature line", first_sig + 2)),
        "{}",
        stdout(&o)
    );

    // Signers files that cannot be used: exit 2, saying why.
    let good = fed.publish("good", &text, &[0, 1]);
    let v = fed.vkeys(&[0, 1, 2]);
    let cosig = mimi_attest::NoteSigningKey::from_seed(
        "witness.example/w1",
        KeyType::Cosignature,
        &[7; 32],
    )
    .unwrap()
    .verifier_key()
    .to_string();
    let cases: Vec<(&str, String, &str)> = vec![
        ("empty", String::new(), "a signers file is YAML"),
        (
            "threshold-0",
            format!("threshold: 0\nkeys: [{}]\n", v[0]),
            "threshold 0 is not between 1 and the 1",
        ),
        (
            "threshold-high",
            format!("threshold: 3\nkeys: [{}, {}]\n", v[0], v[1]),
            "threshold 3 is not between 1 and the 2",
        ),
        (
            "twice",
            format!("threshold: 1\nkeys: [{}, {}]\n", v[0], v[0]),
            "is listed twice",
        ),
        ("no-keys", "threshold: 1\nkeys: []\n".into(), "has no keys"),
        (
            "bad-key",
            "threshold: 1\nkeys: [not-a-key]\n".into(),
            "signer key \"not-a-key\"",
        ),
        (
            "cosignature-key",
            format!("threshold: 1\nkeys: [{cosig}]\n"),
            "is not a trust-list signing key (type 0x01, Ed25519)",
        ),
        (
            "unknown-field",
            format!("threshold: 1\nkeys: [{}]\nextra: 1\n", v[0]),
            "unknown field `extra`",
        ),
        (
            "negative",
            format!("threshold: -1\nkeys: [{}]\n", v[0]),
            "threshold",
        ),
    ];
    for (name, content, says) in cases {
        let p = fed.path(&format!("{name}.signers"));
        std::fs::write(&p, &content).unwrap();
        let o = timed(&["trust-list", "verify", "--signers", s(&p), s(&good)]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stdout(&o));
        assert!(stderr(&o).contains(says), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(s(&p)), "{name}: names the file");
    }
    let missing = fed.path("missing.signers");
    let o = timed(&["trust-list", "verify", "--signers", s(&missing), s(&good)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read the signers file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn sequence_and_threshold_are_plain_decimal_numbers() {
    let fed = Federation::new(3);
    let text = good_text(&fed);
    let sequence = line_of(&text, "sequence:", 0);
    let threshold = line_of(&text, "threshold:", 0);
    // YAML also spells numbers in hex, octal, with a sign or leading zeros; readers do not
    // all agree on them, so none is accepted where a number decides acceptance.
    for spelling in ["0x10", "0o10", "+5", "010", "1_000", "-1", "5.0"] {
        let bad = on_line(
            &text,
            sequence,
            "sequence: 2",
            &format!("sequence: {spelling}"),
        );
        refused_everywhere(
            &fed,
            &hostile(&fed, "sequence.yaml", &bad),
            &[&format!(
                ":{sequence}:11: sequence: \"{spelling}\" is not a whole number in plain decimal digits"
            )],
        );
        let bad = on_line(
            &text,
            threshold,
            "threshold: 2",
            &format!("threshold: {spelling}"),
        );
        refused_everywhere(
            &fed,
            &hostile(&fed, "threshold.yaml", &bad),
            &[&format!(
                ":{threshold}:14: signers.threshold: \"{spelling}\" is not a whole number in plain decimal digits"
            )],
        );
        let signers = fed.path("spelled.signers");
        let v = fed.vkeys(&[0, 1, 2]);
        std::fs::write(
            &signers,
            format!(
                "threshold: {spelling}\nkeys: [{}, {}, {}]\n",
                v[0], v[1], v[2]
            ),
        )
        .unwrap();
        let good = fed.publish("good", &text, &[0, 1]);
        let o = timed(&["trust-list", "verify", "--signers", s(&signers), s(&good)]);
        assert_eq!(o.status.code(), Some(2), "{spelling}");
        assert!(
            stderr(&o).contains("is not a whole number in plain decimal digits"),
            "{spelling}: {}",
            stderr(&o)
        );
    }
    // The largest sequence is accepted, one more is not.
    let max = on_line(
        &text,
        sequence,
        "sequence: 2",
        &format!("sequence: {}", u64::MAX),
    );
    let h = hostile(&fed, "max.yaml", &max);
    let o = fed.verify(None, &h.signed, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let over = on_line(
        &text,
        sequence,
        "sequence: 2",
        "sequence: 18446744073709551616",
    );
    refused_everywhere(
        &fed,
        &hostile(&fed, "over.yaml", &over),
        &["sequence: 18446744073709551616 is larger than 18446744073709551615"],
    );
}

#[test]
fn platforms_accepting_lists_at_the_same_time_keep_one_whole_state() {
    let fed = Federation::new(3);
    let root = chat_a_root_pem();
    let lists: Vec<PathBuf> = (2..=9)
        .map(|seq| {
            let text = fed.list(seq, AnchorText::chat_a(&root)).text();
            fed.publish(&format!("v{seq}"), &text, &[0, 1])
        })
        .collect();
    for round in 0..3 {
        let dir = fed.path(&format!("platform-{round}"));
        std::fs::create_dir(&dir).unwrap();
        let state = dir.join("state");
        // Every version at once, newest first in one round, oldest first in the others.
        let mut order: Vec<&PathBuf> = lists.iter().collect();
        if round == 1 {
            order.reverse();
        }
        let children: Vec<_> = order
            .iter()
            .map(|l| {
                cmd(&[
                    "trust-list",
                    "verify",
                    "--signers",
                    s(&fed.signers_file),
                    "--state",
                    s(&state),
                    s(l),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
            })
            .collect();
        for (child, list) in children.into_iter().zip(&order) {
            let o = child.wait_with_output().unwrap();
            no_panic(&o);
            match o.status.code() {
                Some(0) => {}
                // Refused only because a newer version was accepted first.
                Some(1) => assert!(
                    stdout(&o).contains("E_TRUST_LIST_ROLLBACK"),
                    "{}: {}",
                    list.display(),
                    stdout(&o)
                ),
                other => panic!("{}: exit {other:?}: {}", list.display(), stderr(&o)),
            }
        }
        let text = std::fs::read_to_string(&state).unwrap();
        assert!(text.contains("\nsequence: 9\n"), "round {round}: {text}");
        // Nothing but the state and its lock is left beside it.
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["state", "state.lock"], "round {round}");
    }
}
