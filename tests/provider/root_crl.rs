//! Revoking an issuing CA (`revoke --issuing-ca`) and the root CRL (`crl --root`): what a
//! relying platform needs under `revocation: chain`, end to end through the CLI, the
//! refusals that keep a CA from being revoked by a typo, issuance refused under a revoked
//! issuing CA, and OpenSSL agreeing where it is installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use mimi_attest::{IssueError, IssueRequest, ProviderCa, Sii};
use mimi_attest::{KeyProtection, Passphrase, RevokeReason};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{CertificateRevocationList, FromDer, ParsedExtension, X509Certificate};

use crate::common::ca::chat_a_path;
use crate::common::cli::{init_chat_a, no_openssl, ok, refused, run, s, stderr, stdout};

/// Serial (hex) and subjectKeyIdentifier of the certificate in a PEM file.
fn cert_facts(pem_path: &Path) -> (String, Vec<u8>) {
    let der = CertificateDer::from_pem_slice(&std::fs::read(pem_path).unwrap()).unwrap();
    let (_, c) = X509Certificate::from_der(&der).unwrap();
    let ski = c
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
        .unwrap();
    (
        mimi_attest::Serial::from_contents(c.raw_serial()).to_string(),
        ski,
    )
}

struct RootCrlFacts {
    number: u64,
    aki: Vec<u8>,
    lifetime: Duration,
    /// (serial hex, reason code)
    entries: Vec<(String, Option<u8>)>,
}

fn read_crl(path: &Path) -> RootCrlFacts {
    let bytes = std::fs::read(path).unwrap();
    let der = pem::parse(&bytes).unwrap().into_contents();
    let (rest, crl) = CertificateRevocationList::from_der(&der).unwrap();
    assert!(rest.is_empty());
    let number = crl
        .crl_number()
        .unwrap()
        .to_u64_digits()
        .first()
        .copied()
        .unwrap_or(0);
    let aki = crl
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
        .unwrap();
    let lifetime = crl.next_update().unwrap().to_datetime() - crl.last_update().to_datetime();
    let entries = crl
        .iter_revoked_certificates()
        .map(|r| {
            (
                mimi_attest::Serial::from_contents(r.raw_serial()).to_string(),
                r.reason_code().map(|(_, c)| c.0),
            )
        })
        .collect();
    RootCrlFacts {
        number,
        aki,
        lifetime,
        entries,
    }
}

/// A trust list for the CA's root with `policy: {revocation: chain}`.
fn trust_list(tmp: &Path, ca: &Path) -> PathBuf {
    std::fs::copy(ca.join("root.pem"), tmp.join("anchor.pem")).unwrap();
    let path = tmp.join("trust-list.yaml");
    std::fs::write(
        &path,
        "version: 1\nanchors:\n  - name: chat-a\n    provider: chat-a.example\n    certificate: anchor.pem\n    scope: {tel: [\"+1\"]}\npolicy:\n  revocation: chain\n",
    )
    .unwrap();
    path
}

/// `ca init` (unencrypted keys) and one issued leaf: (CA dir, chain file).
fn cli_ca_with_leaf(tmp: &Path) -> (PathBuf, PathBuf) {
    let ca = init_chat_a(tmp);
    let chain = tmp.join("alice.pem");
    ok(&[
        "issue",
        "--ca",
        s(&ca),
        "--sii",
        "+15551234567",
        "--key-out",
        s(&tmp.join("alice.key")),
        "--out",
        s(&chain),
    ]);
    (ca, chain)
}

fn verify_json(tl: &Path, crls: &[&Path], chain: &Path) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["verify", "--trust-list", s(tl), "--format", "json"];
    for c in crls {
        args.extend(["--crl", s(c)]);
    }
    args.push(s(chain));
    let o = run(&args);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} / {}", stdout(&o), stderr(&o)));
    (o.status.code(), v)
}

/// The whole story under `revocation: chain`: both CRLs → valid; the issuing CA revoked
/// and a new root CRL → E_REVOKED at depth 1; nothing issued under the revoked CA until
/// `ca rotate`.
#[test]
fn cli_chain_mode_root_crl_then_revoked_issuing_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (ca, chain) = cli_ca_with_leaf(t);
    let (ca_serial, _) = cert_facts(&ca.join("ca.pem"));
    let (root_serial, root_ski) = cert_facts(&ca.join("root.pem"));
    let tl = trust_list(t, &ca);
    let (leaf_crl, root_crl) = (t.join("leaf.crl"), t.join("root.crl"));

    ok(&["crl", "--ca", s(&ca), "--out", s(&leaf_crl)]);
    let o = ok(&["crl", "--ca", s(&ca), "--root", "--out", s(&root_crl)]);
    assert!(
        stderr(&o).contains(&format!(
            "provider root {root_serial} with 0 revoked issuing CA"
        )),
        "{}",
        stderr(&o)
    );
    let first = read_crl(&root_crl);
    assert_eq!(first.aki, root_ski, "the root CRL's AKI is the root's SKI");
    assert_eq!(
        first.lifetime,
        Duration::hours(24),
        "crl.lifetime of the config"
    );
    assert!(first.entries.is_empty());
    // The CRL passes our own lint.
    let o = run(&["lint", s(&root_crl)]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));

    // chain mode, both CRLs: valid. Root CRL missing: E_REVOCATION_UNKNOWN at depth 1.
    let (code, _) = verify_json(&tl, &[&leaf_crl, &root_crl], &chain);
    assert_eq!(code, Some(0));
    let (code, v) = verify_json(&tl, &[&leaf_crl], &chain);
    assert_eq!(code, Some(1));
    assert_eq!(v[0]["code"], "E_REVOCATION_UNKNOWN");
    assert_eq!(v[0]["depth"], 1);

    // Without --issuing-ca the issuing CA is refused, and the message names the flag.
    let o = run(&[
        "revoke",
        "--ca",
        s(&ca),
        "--serial",
        &ca_serial,
        "--reason",
        "key-compromise",
    ]);
    refused(&o, "--issuing-ca");

    // With it: revoked, a warning that it is the current CA, the root CRL step named.
    let o = ok(&[
        "revoke",
        "--ca",
        s(&ca),
        "--serial",
        &ca_serial,
        "--reason",
        "key-compromise",
        "--issuing-ca",
    ]);
    assert_eq!(stdout(&o).trim(), ca_serial);
    let err = stderr(&o);
    assert!(err.contains("1 unexpired attestation(s)"), "{err}");
    assert!(
        err.contains("current issuing CA") && err.contains("ca rotate"),
        "{err}"
    );
    assert!(err.contains("crl --ca") && err.contains("--root"), "{err}");
    // Twice: reported, nothing changed.
    let o = ok(&[
        "revoke",
        "--ca",
        s(&ca),
        "--serial",
        &ca_serial,
        "--reason",
        "superseded",
        "--issuing-ca",
    ]);
    assert!(stderr(&o).contains("already revoked"), "{}", stderr(&o));
    assert!(stderr(&o).contains("key-compromise"), "{}", stderr(&o));

    // Nothing is issued (or renewed) under the revoked CA.
    let o = run(&[
        "issue",
        "--ca",
        s(&ca),
        "--sii",
        "+15557654321",
        "--key-out",
        s(&t.join("bob.key")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(&ca_serial) && err.contains("revoked") && err.contains("ca rotate"),
        "{err}"
    );
    assert!(!t.join("bob.key").exists());

    // Its key is declared compromised: `crl` signs nothing more with it (the leaf CRL
    // signed before stays fresh until its nextUpdate).
    let o = run(&["crl", "--ca", s(&ca), "--out", s(&t.join("refused.crl"))]);
    refused(&o, "key-compromise");
    // The new root CRL lists the issuing CA as cACompromise (2), with a higher number.
    ok(&["crl", "--ca", s(&ca), "--root", "--out", s(&root_crl)]);
    let second = read_crl(&root_crl);
    assert!(second.number > first.number);
    assert_eq!(second.entries, vec![(ca_serial.clone(), Some(2))]);
    let (code, v) = verify_json(&tl, &[&leaf_crl, &root_crl], &chain);
    assert_eq!(code, Some(1));
    assert_eq!(v[0]["code"], "E_REVOKED");
    assert_eq!(v[0]["depth"], 1);

    // `ca rotate` makes a new issuing CA; issuing works again, and its leaf is valid.
    ok(&["ca", "rotate", "--ca", s(&ca)]);
    let chain2 = t.join("carol.pem");
    ok(&[
        "issue",
        "--ca",
        s(&ca),
        "--sii",
        "+15550001111",
        "--key-out",
        s(&t.join("carol.key")),
        "--out",
        s(&chain2),
    ]);
    let new_crl = t.join("new.crl");
    ok(&["crl", "--ca", s(&ca), "--out", s(&new_crl)]);
    ok(&["crl", "--ca", s(&ca), "--root", "--out", s(&root_crl)]);
    let (code, _) = verify_json(&tl, &[&new_crl, &root_crl], &chain2);
    assert_eq!(code, Some(0));
    let (code, v) = verify_json(&tl, &[&leaf_crl, &new_crl, &root_crl], &chain);
    assert_eq!(code, Some(1));
    assert_eq!(v[0]["code"], "E_REVOKED");
}

/// The root is never revoked, an attestation is not revoked as a CA, and reasons that
/// describe a user are refused for a CA.
#[test]
fn cli_issuing_ca_revocation_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (ca, chain) = cli_ca_with_leaf(t);
    let (ca_serial, _) = cert_facts(&ca.join("ca.pem"));
    let (root_serial, _) = cert_facts(&ca.join("root.pem"));
    let (leaf_serial, _) = cert_facts(&chain);
    let revoke = |serial: &str, reason: &str| {
        run(&[
            "revoke",
            "--ca",
            s(&ca),
            "--serial",
            serial,
            "--reason",
            reason,
            "--issuing-ca",
        ])
    };
    let o = revoke(&root_serial, "key-compromise");
    refused(&o, "trust lists");
    let o = revoke(&leaf_serial, "key-compromise");
    refused(&o, "drop --issuing-ca");
    for reason in ["sii-reassigned", "account-closed"] {
        let o = revoke(&ca_serial, reason);
        refused(&o, "not a CA");
    }
    // --issuing-ca goes with --serial only.
    let o = run(&[
        "revoke",
        "--ca",
        s(&ca),
        "--sii",
        "+15551234567",
        "--reason",
        "superseded",
        "--issuing-ca",
    ]);
    refused(&o, "--serial");
    // Nothing was revoked: issuing still works.
    ok(&[
        "issue",
        "--ca",
        s(&ca),
        "--sii",
        "+15557654321",
        "--key-out",
        s(&t.join("bob.key")),
    ]);
}

/// `crl --root` without root.key (kept offline) is a clear exit-2 message; with an
/// encrypted root.key it needs the passphrase, like `ca rotate`.
#[test]
fn cli_root_crl_needs_root_key_and_passphrase() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let pass = t.join("pass.txt");
    std::fs::write(&pass, "correct horse battery\n").unwrap();
    let ca = t.join("ca");
    ok(&[
        "ca",
        "init",
        "--config",
        s(&chat_a_path()),
        "--dir",
        s(&ca),
        "--password-file",
        s(&pass),
    ]);
    let out = t.join("root.crl");
    let o = run(&["crl", "--ca", s(&ca), "--root", "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("root.key") && stderr(&o).contains("--password-file"),
        "{}",
        stderr(&o)
    );
    ok(&[
        "crl",
        "--ca",
        s(&ca),
        "--root",
        "--der",
        "--password-file",
        s(&pass),
        "--out",
        s(&out),
    ]);
    let der = std::fs::read(&out).unwrap();
    assert!(CertificateRevocationList::from_der(&der).is_ok(), "DER");

    std::fs::rename(ca.join("root.key"), t.join("offline-root.key")).unwrap();
    let o = run(&[
        "crl",
        "--ca",
        s(&ca),
        "--root",
        "--password-file",
        s(&pass),
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("root.key") && err.contains("offline") && err.contains("root CRL"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// The library: a revoked issuing CA refuses to issue with a typed error, revoking it twice
/// reports the first revocation, expired CAs drop off, and an encrypted root.key needs the
/// passphrase.
#[test]
fn library_revoke_issuing_ca_and_root_crl() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let cfg = std::fs::read_to_string(chat_a_path()).unwrap();
    let pass = Passphrase::new("library pass").unwrap();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let mut ca = ProviderCa::init_with(
        &cfg,
        "chat-a.yaml",
        &dir,
        now,
        &KeyProtection::Passphrase(pass.clone()),
    )
    .unwrap();
    ca.issue(&IssueRequest::new(Sii::parse("+15551234567").unwrap()), now)
        .unwrap();
    let ca_serial = ca.store().issuing_cas().unwrap()[0].serial.clone();
    let r = ca
        .records()
        .revoke_issuing_ca(&ca_serial, RevokeReason::Superseded, now)
        .unwrap();
    assert!(r.current && r.outcome.already.is_none());
    assert_eq!(r.live_attestations, 1);
    let again = ca
        .records()
        .revoke_issuing_ca(&ca_serial, RevokeReason::KeyCompromise, now)
        .unwrap();
    assert_eq!(
        again.outcome.already.as_ref().and_then(|(_, why)| *why),
        Some(RevokeReason::Superseded)
    );
    let e = ca
        .issue(&IssueRequest::new(Sii::parse("+15557654321").unwrap()), now)
        .unwrap_err();
    assert!(matches!(e, IssueError::IssuerRevoked { .. }), "{e}");
    // The attestation API still refuses the CA.
    assert!(ca
        .records()
        .revoke_serial(&ca_serial, RevokeReason::Superseded, now)
        .is_err());

    let e = ProviderCa::root_crl(&dir, now).unwrap_err();
    assert!(matches!(e, IssueError::Key { .. }), "{e}");
    let crl = ProviderCa::root_crl_with(&dir, now, Some(&pass)).unwrap();
    assert_eq!(crl.entries, 1);
    assert_eq!(crl.next_update - crl.this_update, Duration::hours(24));
    // After the CA has expired it drops off the root CRL.
    let later = r.not_after + Duration::seconds(1);
    let crl = ProviderCa::root_crl_with(&dir, later, Some(&pass)).unwrap();
    assert_eq!(crl.entries, 0);
}

/// Where openssl is installed: `openssl crl -verify` accepts the root CRL against root.pem,
/// and `openssl verify -crl_check_all` with both CRLs gives our verdict, before and after
/// the issuing CA is revoked.
#[test]
fn openssl_agrees_on_root_crl() {
    if no_openssl("the root CRL cross-check") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (ca, chain) = cli_ca_with_leaf(t);
    let (ca_serial, _) = cert_facts(&ca.join("ca.pem"));
    let tl = trust_list(t, &ca);
    let (leaf_crl, root_crl) = (t.join("leaf.crl"), t.join("root.crl"));
    let leaf_pem = t.join("leaf-only.pem");
    let first_cert = pem::parse_many(std::fs::read(&chain).unwrap()).unwrap()[0].clone();
    std::fs::write(&leaf_pem, pem::encode(&first_cert)).unwrap();
    let crls = t.join("crls.pem");

    let openssl = |args: &[&str]| {
        let o = Command::new("openssl").args(args).output().unwrap();
        (o.status.success(), format!("{}{}", stdout(&o), stderr(&o)))
    };
    for revoked in [false, true] {
        if revoked {
            ok(&[
                "revoke",
                "--ca",
                s(&ca),
                "--serial",
                &ca_serial,
                "--reason",
                "key-compromise",
                "--issuing-ca",
            ]);
        }
        // After the compromise the CA signs no more CRLs: the one signed before is used.
        if !revoked {
            ok(&["crl", "--ca", s(&ca), "--out", s(&leaf_crl)]);
        }
        ok(&["crl", "--ca", s(&ca), "--root", "--out", s(&root_crl)]);
        let (good, text) = openssl(&[
            "crl",
            "-verify",
            "-noout",
            "-in",
            s(&root_crl),
            "-CAfile",
            s(&ca.join("root.pem")),
        ]);
        assert!(good && text.contains("verify OK"), "{text}");
        std::fs::write(
            &crls,
            format!(
                "{}{}",
                std::fs::read_to_string(&leaf_crl).unwrap(),
                std::fs::read_to_string(&root_crl).unwrap()
            ),
        )
        .unwrap();
        let (theirs, text) = openssl(&[
            "verify",
            "-crl_check_all",
            "-purpose",
            "any",
            "-CAfile",
            s(&ca.join("root.pem")),
            "-untrusted",
            s(&ca.join("ca.pem")),
            "-CRLfile",
            s(&crls),
            s(&leaf_pem),
        ]);
        let (code, _) = verify_json(&tl, &[&leaf_crl, &root_crl], &chain);
        assert_eq!(theirs, code == Some(0), "revoked={revoked}: {text}");
        assert_eq!(code == Some(0), !revoked);
        if revoked {
            assert!(text.contains("revoked"), "{text}");
        }
    }
}

/// A retired issuing CA (after `ca rotate`) can be revoked too: no warning about the current
/// CA, issuing under the new one goes on, and the root CRL lists only the retired one.
#[test]
fn retired_issuing_ca_is_revoked_without_stopping_issuance() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let cfg = std::fs::read_to_string(chat_a_path()).unwrap();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let ca = ProviderCa::init(&cfg, "chat-a.yaml", &dir, now).unwrap();
    let old = ca.store().issuing_cas().unwrap()[0].serial.clone();
    drop(ca);
    let mut ca = ProviderCa::rotate(&dir, now).unwrap();
    let r = ca
        .records()
        .revoke_issuing_ca(&old, RevokeReason::Superseded, now)
        .unwrap();
    assert!(!r.current);
    ca.issue(&IssueRequest::new(Sii::parse("+15551234567").unwrap()), now)
        .unwrap();
    let crl = ProviderCa::root_crl(&dir, now).unwrap();
    assert_eq!(crl.entries, 1);
    let (_, parsed) = CertificateRevocationList::from_der(&crl.der).unwrap();
    let listed: Vec<_> = parsed
        .iter_revoked_certificates()
        .map(|e| {
            (
                mimi_attest::Serial::from_contents(e.raw_serial()).to_string(),
                e.reason_code().map(|(_, c)| c.0),
            )
        })
        .collect();
    assert_eq!(listed, vec![(old.to_string(), Some(4))]);
    // The CaRecords path (what the CLI uses, no key) agrees on which CA is current.
    let mut records = mimi_attest::CaRecords::open(&dir).unwrap();
    let current = ca.store().issuing_cas().unwrap()[1].serial.clone();
    let r = records
        .revoke_issuing_ca(&current, RevokeReason::KeyCompromise, now)
        .unwrap();
    assert!(r.current);
}
