//! Signed trust lists (version 2) through the real CLI: a federation's publisher signing
//! with `trust-list keygen`/`sign`, a platform accepting with `trust-list verify` (threshold,
//! rollback against its state file, expiry, signer rotation), `verify` and `resolve` on
//! signed lists with a chain of a CA made here, and `trust-list check`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use time::Duration;

use crate::common::cli::{cmd, run, s, stderr, stdout, stdout_json, PASSWORD_ENV};
use crate::common::now;
use crate::common::trust::{
    accepted, chat_a_root_pem, fresh_chain, no_panic, refused_with, signers_yaml, AnchorText,
    Federation, ListV2, Signer,
};

/// The state file's bytes, which a refusal must leave as they were.
fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

/// The sequence a state file records.
fn state_sequence(p: &Path) -> u64 {
    let text = std::fs::read_to_string(p).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("sequence: "))
        .unwrap_or_else(|| panic!("no sequence in {text}"))
        .parse()
        .unwrap()
}

#[test]
fn a_federation_publishes_versions_2_and_3_and_a_replayed_2_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Three signers, each with an encrypted key.
    let signers: Vec<Signer> = (1..=3)
        .map(|i| Signer::keygen(dir, &format!("fed.example/signer-{i}"), true))
        .collect();
    for sg in &signers {
        let mode = std::fs::metadata(&sg.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", sg.key.display());
        let text = std::fs::read_to_string(&sg.key).unwrap();
        assert!(text.contains("ENCRYPTED PRIVATE KEY"), "{text}");
        assert!(text.contains(&sg.vkey), "the key file names its vkey");
    }
    // keygen never replaces a key.
    let again = cmd(&[
        "trust-list",
        "keygen",
        "--insecure-no-password",
        "--name",
        "fed.example/signer-1",
        "--out",
        s(&signers[0].key),
    ])
    .output()
    .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );

    let vkeys: Vec<&str> = signers.iter().map(|s| s.vkey.as_str()).collect();
    let signers_file = dir.join("signers.yaml");
    std::fs::write(&signers_file, signers_yaml(2, &vkeys)).unwrap();
    let state = dir.join("platform.state");
    let verify = |list: &Path, extra: &[&str]| {
        let mut args = vec![
            "trust-list",
            "verify",
            "--signers",
            s(&signers_file),
            "--state",
            s(&state),
        ];
        args.extend_from_slice(extra);
        args.push(s(list));
        run(&args)
    };

    let root = chat_a_root_pem();
    let v2 = dir.join("v2.yaml");
    std::fs::write(
        &v2,
        ListV2::new(2, AnchorText::chat_a(&root))
            .signed_by(2, &vkeys)
            .text(),
    )
    .unwrap();
    let v2s = dir.join("v2.signed");

    // An encrypted key signs only with its passphrase, and only the right one.
    let key = s(&signers[0].key);
    let sign = || cmd(&["trust-list", "sign", "--key", key, "--out", s(&v2s), s(&v2)]);
    for (passphrase, says) in [
        (None, "the key is encrypted: give its passphrase"),
        (Some("not the passphrase"), "wrong passphrase"),
    ] {
        let mut c = sign();
        if let Some(p) = passphrase {
            c.env(PASSWORD_ENV, p);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{passphrase:?}");
        assert!(
            stderr(&o).contains(says) && stderr(&o).contains(PASSWORD_ENV),
            "{passphrase:?}: {}",
            stderr(&o)
        );
    }
    assert!(!v2s.exists(), "nothing written without the key");

    // 2 of 3: signer 1, then signer 2 adds a line.
    signers[0].signs(&v2, &v2s);
    let one = verify(&v2s, &[]);
    refused_with(
        &one,
        "E_TRUST_LIST_SIGNATURES",
        "signed by 1 of the trusted signers",
    );
    assert!(!state.exists(), "a refused list starts no state");
    signers[1].signs(&v2s, &v2s);
    assert_eq!(
        std::fs::read_to_string(&v2s)
            .unwrap()
            .matches("\n— fed.example/signer-")
            .count(),
        2
    );
    let o = verify(&v2s, &[]);
    accepted(
        &o,
        "accepted: sequence 2, 1 anchor(s), signed by fed.example/signer-1, fed.example/signer-2",
    );
    assert_eq!(state_sequence(&state), 2);

    // Version 3, signed by signers 2 and 3.
    let v3 = dir.join("v3.yaml");
    let v3_list = ListV2::new(3, AnchorText::chat_a(&root)).signed_by(2, &vkeys);
    std::fs::write(&v3, v3_list.text()).unwrap();
    let v3s = dir.join("v3.signed");
    signers[1].signs(&v3, &v3s);
    signers[2].signs(&v3s, &v3s);
    accepted(&verify(&v3s, &[]), "accepted: sequence 3");
    assert_eq!(state_sequence(&state), 3);
    let after_3 = bytes(&state);

    // The replayed version 2 is refused, and the state still holds 3.
    let o = verify(&v2s, &[]);
    refused_with(
        &o,
        "E_TRUST_LIST_ROLLBACK",
        "sequence 2 is older than sequence 3, accepted before",
    );
    assert!(
        stderr(&o).contains("the state file still holds the one accepted before"),
        "{}",
        stderr(&o)
    );
    assert_eq!(bytes(&state), after_3);
    let j = stdout_json(&verify(&v2s, &["--format", "json"]));
    assert_eq!(j["accepted"], false);
    assert_eq!(j["code"], "E_TRUST_LIST_ROLLBACK");
    assert!(j["error"].as_str().unwrap().contains("older"), "{j}");

    // The same sequence with the same text is a no-op, even signed by other signers.
    accepted(&verify(&v3s, &[]), "unchanged: sequence 3");
    let v3_other_sigs = dir.join("v3-other.signed");
    signers[0].signs(&v3, &v3_other_sigs);
    signers[2].signs(&v3_other_sigs, &v3_other_sigs);
    assert_ne!(bytes(&v3_other_sigs), bytes(&v3s));
    let j = stdout_json(&verify(&v3_other_sigs, &["--format", "json"]));
    assert_eq!(j["accepted"], true, "{j}");
    assert_eq!(j["unchanged"], true, "{j}");
    assert_eq!(j["sequence"], 3);
    assert_eq!(bytes(&state), after_3);

    // The same sequence with other text is refused.
    let mut changed = v3_list.clone();
    changed.expires += Duration::days(1);
    let v3b = dir.join("v3b.yaml");
    std::fs::write(&v3b, changed.text()).unwrap();
    let v3bs = dir.join("v3b.signed");
    signers[0].signs(&v3b, &v3bs);
    signers[1].signs(&v3bs, &v3bs);
    refused_with(
        &verify(&v3bs, &[]),
        "E_TRUST_LIST_ROLLBACK",
        "sequence 3 was accepted before with other contents",
    );
    assert_eq!(bytes(&state), after_3);
    // Written atomically: nothing but the state and its lock beside it.
    let mut beside: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("platform.state"))
        .collect();
    beside.sort();
    assert_eq!(beside, ["platform.state", "platform.state.lock"]);
}

#[test]
fn too_few_and_unknown_signatures_do_not_reach_the_threshold() {
    let fed = Federation::new(3);
    let text = fed.list(2, AnchorText::chat_a(&chat_a_root_pem())).text();
    let state = fed.path("state");

    let unsigned = fed.path("plain.yaml");
    std::fs::write(&unsigned, &text).unwrap();
    refused_with(
        &fed.verify(Some(&state), &unsigned, &[]),
        "E_TRUST_LIST_FORM",
        "not a signed trust list",
    );

    let one = fed.publish("one", &text, &[0]);
    refused_with(
        &fed.verify(Some(&state), &one, &[]),
        "E_TRUST_LIST_SIGNATURES",
        "signed by 1 of the trusted signers (fed.example/signer-1), the threshold is 2",
    );

    // A valid signature of a key outside the set is ignored, also when it bears the name of
    // a trusted signer.
    let outsider = Signer::keygen(fed.dir.path(), "fed.example/outsider", false);
    let impostor_dir = fed.path("impostor");
    std::fs::create_dir(&impostor_dir).unwrap();
    let impostor = Signer::keygen(&impostor_dir, "fed.example/signer-2", false);
    assert_ne!(impostor.vkey, fed.signers[1].vkey);
    for other in [&outsider, &impostor] {
        let two = fed.path("two.signed");
        fed.signers[0].signs(&fed.path("one.yaml"), &two);
        other.signs(&two, &two);
        assert_eq!(
            std::fs::read_to_string(&two)
                .unwrap()
                .matches("\n— ")
                .count(),
            2
        );
        refused_with(
            &fed.verify(Some(&state), &two, &[]),
            "E_TRUST_LIST_SIGNATURES",
            "signed by 1 of the trusted signers (fed.example/signer-1)",
        );
    }

    // A repeated line counts once.
    let signed = String::from_utf8(bytes(&one)).unwrap();
    let line = signed.lines().last().unwrap().to_owned();
    let dup = fed.path("dup.signed");
    std::fs::write(&dup, format!("{signed}{line}\n")).unwrap();
    refused_with(
        &fed.verify(Some(&state), &dup, &[]),
        "E_TRUST_LIST_SIGNATURES",
        "signed by 1 of the trusted signers",
    );
    assert!(!state.exists(), "no refusal writes a state");

    // Two distinct trusted signers are enough; the outsider's extra line does no harm.
    let two = fed.publish("ok", &text, &[2, 0]);
    outsider.signs(&two, &two);
    accepted(
        &fed.verify(Some(&state), &two, &[]),
        "signed by fed.example/signer-3, fed.example/signer-1",
    );
}

#[test]
fn a_list_changed_after_signing_is_refused() {
    let fed = Federation::new(3);
    let text = fed.list(5, AnchorText::chat_a(&chat_a_root_pem())).text();
    let signed = fed.publish("v5", &text, &[0, 1]);
    let state = fed.path("state");
    accepted(&fed.verify(Some(&state), &signed, &[]), "sequence 5");
    // The text edited after signing: a higher sequence, the signature lines kept.
    let edited =
        String::from_utf8(bytes(&signed))
            .unwrap()
            .replacen("sequence: 5", "sequence: 6", 1);
    let forged = fed.path("forged.signed");
    std::fs::write(&forged, edited).unwrap();
    fed.refuses(
        &state,
        &forged,
        &[],
        "E_TRUST_LIST_SIGNATURES",
        "does not verify over this list's text",
    );
    // Signing the edited text is what makes it acceptable.
    let fixed = fed.publish(
        "v6",
        &fed.list(6, AnchorText::chat_a(&chat_a_root_pem())).text(),
        &[1, 2],
    );
    accepted(&fed.verify(Some(&state), &fixed, &[]), "sequence 6");
}

#[test]
fn an_expired_list_is_refused() {
    let fed = Federation::new(3);
    let list = fed.list(2, AnchorText::chat_a(&chat_a_root_pem()));
    let signed = fed.publish("v2", &list.text(), &[0, 1]);
    let state = fed.path("state");
    let at = |t| mimi_attest::rfc3339(t);
    refused_with(
        &fed.verify(Some(&state), &signed, &["--at", &at(list.expires)]),
        "E_TRUST_LIST_EXPIRED",
        &format!("the list expired at {}", at(list.expires)),
    );
    assert!(!state.exists());
    accepted(
        &fed.verify(
            Some(&state),
            &signed,
            &["--at", &at(list.expires - Duration::seconds(1))],
        ),
        "accepted: sequence 2",
    );
    fed.refuses(
        &state,
        &signed,
        &["--at", &at(list.expires + Duration::days(1))],
        "E_TRUST_LIST_EXPIRED",
        "fetch the publisher's current list",
    );
}

#[test]
fn a_signer_rotation_needs_the_new_sets_threshold_and_the_state_keeps_the_new_set() {
    let fed = Federation::new(6);
    let root = chat_a_root_pem();
    let state = fed.path("state");
    let v2 = fed.publish(
        "v2",
        &fed.list(2, AnchorText::chat_a(&root)).text(),
        &[0, 1],
    );
    accepted(&fed.verify(Some(&state), &v2, &[]), "sequence 2");

    // Version 3 hands over to signers 4, 5 and 6 (2 of them).
    let new_set = fed.vkeys(&[3, 4, 5]);
    let v3 = ListV2::new(3, AnchorText::chat_a(&root))
        .signed_by(2, &new_set)
        .text();
    let only_old = fed.publish("v3", &v3, &[0, 1]);
    fed.refuses(
        &state,
        &only_old,
        &[],
        "E_TRUST_LIST_ROTATION",
        "but only 0 of them signed it (threshold 2)",
    );
    fed.signers[3].signs(&only_old, &only_old);
    fed.refuses(
        &state,
        &only_old,
        &[],
        "E_TRUST_LIST_ROTATION",
        "only 1 of them signed it",
    );
    // The new set alone is not the current set's threshold either.
    let only_new = fed.publish("v3-new", &v3, &[3, 4]);
    fed.refuses(
        &state,
        &only_new,
        &[],
        "E_TRUST_LIST_SIGNATURES",
        "signed by 0 of the trusted signers",
    );

    fed.signers[5].signs(&only_old, &only_old);
    let o = fed.verify(Some(&state), &only_old, &[]);
    accepted(&o, "accepted: sequence 3");
    assert!(
        stdout(&o).contains("rotated: the next list must be signed by 2 of [fed.example/signer-4, fed.example/signer-5, fed.example/signer-6]"),
        "{}",
        stdout(&o)
    );
    let st = std::fs::read_to_string(&state).unwrap();
    assert_eq!(state_sequence(&state), 3);
    for v in &new_set {
        assert!(st.contains(v), "{st}");
    }
    for v in fed.vkeys(&[0, 1, 2]) {
        assert!(!st.contains(v), "the old signers left the state: {st}");
    }

    // Version 4, signed by the new set only: accepted with the state, refused without it
    // (the signers file alone knows only the old set).
    let v4 = fed.publish(
        "v4",
        &ListV2::new(4, AnchorText::chat_a(&root))
            .signed_by(2, &new_set)
            .text(),
        &[4, 5],
    );
    refused_with(
        &fed.verify(None, &v4, &[]),
        "E_TRUST_LIST_SIGNATURES",
        "signed by 0 of the trusted signers",
    );
    accepted(&fed.verify(Some(&state), &v4, &[]), "accepted: sequence 4");
    // And the old set can no longer sign for this platform.
    let v5_old = fed.publish(
        "v5",
        &ListV2::new(5, AnchorText::chat_a(&root))
            .signed_by(2, &new_set)
            .text(),
        &[0, 1, 2],
    );
    fed.refuses(
        &state,
        &v5_old,
        &[],
        "E_TRUST_LIST_SIGNATURES",
        "signed by 0 of the trusted signers",
    );
}

#[test]
fn a_corrupt_state_file_stops_the_check_with_what_to_do() {
    let fed = Federation::new(3);
    let signed = fed.publish(
        "v2",
        &fed.list(2, AnchorText::chat_a(&chat_a_root_pem())).text(),
        &[0, 1],
    );
    let good = fed.path("good.state");
    accepted(&fed.verify(Some(&good), &signed, &[]), "sequence 2");
    let whole = bytes(&good);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"garbage\n".to_vec()),
        ("truncated", whole[..whole.len() / 2].to_vec()),
        ("truncated-in-header", whole[..40].to_vec()),
        ("empty", Vec::new()),
        ("binary", vec![0xff, 0xfe, 0x00, 0x80]),
        (
            "other-format",
            String::from_utf8(whole.clone())
                .unwrap()
                .replace("mimi-attest-trust-state-v1", "mimi-attest-trust-state-v9")
                .into_bytes(),
        ),
        (
            "bad-hash",
            String::from_utf8(whole.clone())
                .unwrap()
                .replace("sha256: ", "sha256: zz")
                .into_bytes(),
        ),
    ];
    for (name, content) in cases {
        let st = fed.path(&format!("{name}.state"));
        std::fs::write(&st, &content).unwrap();
        let o = fed.verify(Some(&st), &signed, &[]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stdout(&o));
        let err = stderr(&o);
        assert!(
            err.contains("the state file is unreadable or corrupt")
                && err.contains("restore it from a backup"),
            "{name}: {err}"
        );
        no_panic(&o);
        assert_eq!(bytes(&st), content, "{name}: the state is left as it was");
        // verify refuses to run on it too.
        let v = run(&[
            "verify",
            "--trust-list",
            s(&signed),
            "--signers",
            s(&fed.signers_file),
            "--state",
            s(&st),
            "certs/alice-chat-a.pem",
        ]);
        assert_eq!(v.status.code(), Some(2), "{name}");
        assert!(stderr(&v).contains("restore it from a backup"), "{name}");
        assert_eq!(bytes(&st), content, "{name}");
    }
}

#[test]
fn a_state_file_of_another_publisher_is_refused() {
    let a = Federation::new(3);
    let b = Federation::new(3);
    let root = chat_a_root_pem();
    let b_list = b.publish("b", &b.list(7, AnchorText::chat_a(&root)).text(), &[0, 1]);
    let b_state = b.path("b.state");
    accepted(&b.verify(Some(&b_state), &b_list, &[]), "sequence 7");
    let before = bytes(&b_state);
    let a_list = a.publish("a", &a.list(9, AnchorText::chat_a(&root)).text(), &[0, 1]);
    let o = a.verify(Some(&b_state), &a_list, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("the state file is of another publisher")
            && stderr(&o).contains("or a new path to begin one"),
        "{}",
        stderr(&o)
    );
    no_panic(&o);
    assert_eq!(bytes(&b_state), before);
    // Its own publisher's list still passes with it.
    accepted(&b.verify(Some(&b_state), &b_list, &[]), "unchanged");
}

/// `command --trust-list list [--signers] [--state] extra... chain` for `verify` or
/// `resolve`.
fn relying(
    command: &str,
    list: &Path,
    signers: Option<&Path>,
    state: Option<&Path>,
    extra: &[&str],
    chain: &Path,
) -> std::process::Output {
    let mut args = vec![command, "--trust-list", s(list)];
    if let Some(sg) = signers {
        args.extend(["--signers", s(sg)]);
    }
    if let Some(st) = state {
        args.extend(["--state", s(st)]);
    }
    args.extend_from_slice(extra);
    args.push(s(chain));
    let o = run(&args);
    no_panic(&o);
    o
}

#[test]
fn verify_and_resolve_take_a_signed_list_with_its_signers_and_state() {
    let fed = Federation::new(3);
    let issued = fresh_chain(fed.dir.path());
    let chain = &issued.chain;
    let anchor = AnchorText::chat_a(&issued.root_pem);
    let v2 = fed.publish("v2", &fed.list(2, anchor.clone()).text(), &[0, 2]);
    let signers = Some(fed.signers_file.as_path());
    let state = fed.path("state");

    for command in ["verify", "resolve"] {
        let o = relying(
            command,
            &v2,
            signers,
            Some(&state),
            &["--format", "json"],
            chain,
        );
        assert_eq!(o.status.code(), Some(0), "{command}: {}", stderr(&o));
        let j = stdout_json(&o);
        let r = if command == "verify" {
            j[0].clone()
        } else {
            j["mappings"][0].clone()
        };
        assert_eq!(r["anchor"], "chat-a", "{command}: {j}");
        assert_eq!(r["sii"], "tel:+15551234567", "{command}: {j}");
        assert_eq!(state_sequence(&state), 2);

        // The signed list without its signers: refused before any chain is looked at.
        let o = relying(command, &v2, None, None, &[], chain);
        assert_eq!(o.status.code(), Some(2), "{command}");
        assert!(
            stderr(&o).contains("E_TRUST_LIST_FORM") && stderr(&o).contains("--signers"),
            "{command}: {}",
            stderr(&o)
        );
        // A plain list given with --signers is not taken as signed.
        let o = relying(command, &fed.path("v2.yaml"), signers, None, &[], chain);
        assert_eq!(o.status.code(), Some(2), "{command}");
        assert!(
            stderr(&o).contains("E_TRUST_LIST_FORM"),
            "{command}: {}",
            stderr(&o)
        );
        // Too few signatures.
        let one = fed.publish("one", &fed.list(2, anchor.clone()).text(), &[1]);
        let o = relying(command, &one, signers, None, &[], chain);
        assert_eq!(o.status.code(), Some(2), "{command}");
        assert!(
            stderr(&o).contains("E_TRUST_LIST_SIGNATURES"),
            "{command}: {}",
            stderr(&o)
        );
    }

    // verify records a newer list and then refuses the older one.
    let v3 = fed.publish("v3", &fed.list(3, anchor.clone()).text(), &[1, 2]);
    let o = relying("verify", &v3, signers, Some(&state), &[], chain);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("valid"), "{}", stdout(&o));
    assert_eq!(state_sequence(&state), 3);
    let before = bytes(&state);
    for command in ["verify", "resolve"] {
        let o = relying(command, &v2, signers, Some(&state), &[], chain);
        assert_eq!(o.status.code(), Some(2), "{command}");
        assert!(
            stderr(&o).contains("E_TRUST_LIST_ROLLBACK"),
            "{command}: {}",
            stderr(&o)
        );
        assert_eq!(bytes(&state), before);
    }

    // An expired signed list is refused at load: exit 2, no verdict on the chain.
    let mut expired = fed.list(4, anchor.clone());
    expired.issued = now() - Duration::days(60);
    expired.expires = now() - Duration::days(1);
    let expired = fed.publish("expired", &expired.text(), &[0, 1]);
    for command in ["verify", "resolve"] {
        let o = relying(command, &expired, signers, Some(&state), &[], chain);
        assert_eq!(o.status.code(), Some(2), "{command}");
        assert!(
            stderr(&o).contains("E_TRUST_LIST_EXPIRED")
                && stderr(&o).contains("the list expired at"),
            "{command}: {}",
            stderr(&o)
        );
        assert!(stdout(&o).is_empty(), "{command}: {}", stdout(&o));
        assert_eq!(bytes(&state), before);
    }

    // A plain version 2 list, used at a time past its expires: the chain is rejected,
    // E_TRUST_LIST_EXPIRED (fail closed).
    let plain = fed.list(5, anchor);
    let plain_file = fed.path("plain-v5.yaml");
    std::fs::write(&plain_file, plain.text()).unwrap();
    let past = mimi_attest::rfc3339(plain.expires + Duration::hours(1));
    let ok_now = relying("verify", &plain_file, None, None, &[], chain);
    assert_eq!(ok_now.status.code(), Some(0), "{}", stderr(&ok_now));
    for command in ["verify", "resolve"] {
        let o = relying(
            command,
            &plain_file,
            None,
            None,
            &["--at", &past, "--format", "json"],
            chain,
        );
        assert_eq!(o.status.code(), Some(1), "{command}: {}", stderr(&o));
        let j = stdout_json(&o);
        let r = if command == "verify" {
            &j[0]
        } else {
            &j["rejected"][0]
        };
        assert_eq!(r["valid"], false, "{command}: {j}");
        assert_eq!(r["code"], "E_TRUST_LIST_EXPIRED", "{command}: {j}");
        let m = r["message"].as_str().unwrap();
        assert!(m.contains("the trust list expired at"), "{command}: {m}");
    }
    let o = relying("resolve", &plain_file, None, None, &["--at", &past], chain);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("REJECTED E_TRUST_LIST_EXPIRED"),
        "{}",
        stdout(&o)
    );
}

/// `trust-list check` of `text` (written to `name` in `dir`), in text and JSON.
fn check(dir: &Path, name: &str, text: &str, extra: &[&str]) -> (i32, String, serde_json::Value) {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let mut args = vec!["trust-list", "check"];
    args.extend_from_slice(extra);
    args.push(s(&file));
    let o = run(&args);
    no_panic(&o);
    let mut json_args = args.clone();
    json_args.insert(2, "--format");
    json_args.insert(3, "json");
    let j = run(&json_args);
    assert_eq!(j.status.code(), o.status.code());
    let j = stdout_json(&j);
    assert_eq!(j["file"], s(&file));
    for f in j["findings"].as_array().unwrap() {
        let mut keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["id", "line", "message", "severity"], "{f}");
        assert!(
            ["error", "warning", "notice"].contains(&f["severity"].as_str().unwrap()),
            "{f}"
        );
    }
    (o.status.code().unwrap(), stdout(&o), j)
}

/// The one finding with `id` in a check's JSON.
fn finding<'a>(j: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    let all = j["findings"].as_array().unwrap();
    let found: Vec<_> = all.iter().filter(|f| f["id"] == id).collect();
    assert_eq!(found.len(), 1, "{id} in {j}");
    found[0]
}

/// The 1-based line of `text` that holds `needle` (the `occurrence`-th, from 1).
fn line_with(text: &str, needle: &str, occurrence: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(occurrence - 1)
        .unwrap_or_else(|| panic!("{needle} not in {text}"))
        .0
        + 1
}

#[test]
fn trust_list_check_names_each_problem_with_its_line() {
    let fed = Federation::new(3);
    let dir = fed.dir.path();
    let root = chat_a_root_pem();

    // Clean: the root's own scope, the right provider, signers named, far from expiry.
    let clean = fed.list(2, AnchorText::chat_a(&root)).text();
    let (code, out, j) = check(dir, "clean.yaml", &clean, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.trim_end().ends_with(": clean"), "{out}");
    assert_eq!(j["findings"], serde_json::json!([]));
    // Its signed form checks clean too.
    let signed = fed.publish("clean-signed", &clean, &[0, 1]);
    let o = run(&["trust-list", "check", s(&signed)]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("clean"));

    // A typo of the provider that the root names.
    let mut typo = AnchorText::chat_a(&root);
    typo.provider = "chat-a.exmaple".into();
    let text = fed.list(2, typo).text();
    let (code, out, j) = check(dir, "typo.yaml", &text, &[]);
    assert_eq!(code, 1, "{out}");
    let f = finding(&j, "provider-typo");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["line"], line_with(&text, "- name: chat-a", 1));
    let m = f["message"].as_str().unwrap();
    assert!(
        m.contains("\"chat-a.exmaple\" looks like a typo of \"chat-a.example\""),
        "{m}"
    );
    assert!(out.contains(": error provider-typo: "), "{out}");
    let (code, ..) = check(dir, "typo.yaml", &text, &["--severity", "error"]);
    assert_eq!(code, 1);

    // The root's own MimiScope (+1, +44) is wider than the anchor's (+1).
    let mut narrow = AnchorText::chat_a(&root);
    narrow.scope = r#"{tel: ["+1"], email: ["chat-a.example"]}"#.into();
    let text = fed.list(2, narrow).text();
    let (code, out, j) = check(dir, "narrow.yaml", &text, &[]);
    assert_eq!(code, 1, "{out}");
    let f = finding(&j, "root-scope-wider");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["line"], line_with(&text, "- name: chat-a", 1));
    assert!(f["message"].as_str().unwrap().contains("+44"), "{f}");
    // A warning fails the check at the default severity only.
    let (code, ..) = check(dir, "narrow.yaml", &text, &["--severity", "error"]);
    assert_eq!(code, 0);

    // One provider listed twice (two roots of chat-a.example).
    let other_root = fresh_chain(&fed.path("second")).root_pem;
    let mut list = fed.list(2, AnchorText::chat_a(&root));
    let mut second = AnchorText::chat_a(&other_root);
    second.name = "chat-a-next".into();
    list.anchors.push(second);
    let text = list.text();
    let (code, out, j) = check(dir, "twice.yaml", &text, &[]);
    assert_eq!(code, 1, "{out}");
    let f = finding(&j, "provider-twice");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["line"], line_with(&text, "- name: chat-a-next", 1));
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("as anchor \"chat-a\" is"),
        "{f}"
    );

    // Expiring within 7 days.
    let mut soon = fed.list(2, AnchorText::chat_a(&root));
    soon.expires = now() + Duration::days(3);
    let text = soon.text();
    let (code, out, j) = check(dir, "soon.yaml", &text, &[]);
    assert_eq!(code, 1, "{out}");
    let f = finding(&j, "list-expires-soon");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["line"], line_with(&text, "expires:", 1));
    // Checked as of a time past expiry, it has expired.
    let at = mimi_attest::rfc3339(now() + Duration::days(4));
    let (code, _, j) = check(dir, "soon.yaml", &text, &["--at", &at]);
    assert_eq!(code, 1);
    assert_eq!(finding(&j, "list-expired")["severity"], "error");

    // An unknown key, reported at its own line (in the second anchor).
    let mut list = fed.list(2, AnchorText::chat_a(&root));
    let mut b = AnchorText::chat_a(&other_root);
    b.name = "chat-a-2".into();
    list.anchors.push(b);
    let text = list.text();
    let bad_line = line_with(&text, "    scope: ", 2);
    let text = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == bad_line {
                l.replace("scope:", "scop:")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let (code, out, j) = check(dir, "unknown.yaml", &text, &[]);
    assert_eq!(code, 1, "{out}");
    let f = finding(&j, "list-invalid");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["line"], bad_line, "{f}");
    let m = f["message"].as_str().unwrap();
    assert!(m.contains("unknown field `scop`"), "{m}");
    assert!(m.contains(&format!("unknown.yaml:{bad_line}:5:")), "{m}");
}
