//! Renewal, needs-renewal and CA rotation.

use std::path::Path;

use mimi_attest::MimiMapping;
use mimi_attest::{needs_renewal, RenewalWindow};
use mimi_attest::{IssueRequest, ProviderCa, Sii, SubjectKey};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{CertificateRevocationList, FromDer, X509Certificate};

use crate::common::ca::{chat_a_config, init_ca};
use crate::common::cli::{refused, run, stderr};

/// A chat-a CA created ten days ago, so tests can issue in the past.
fn new_ca(tmp: &Path) -> ProviderCa {
    let ten_days_ago = OffsetDateTime::now_utc() - Duration::days(10);
    init_ca(&tmp.join("ca"), &chat_a_config(), ten_days_ago)
}

fn leaf(chain_pem: &str) -> Vec<u8> {
    ::pem::parse_many(chain_pem)
        .unwrap()
        .remove(0)
        .into_contents()
}

fn mapping_and_key(der: &[u8]) -> (MimiMapping, Vec<u8>, String) {
    let (_, c) = X509Certificate::from_der(der).unwrap();
    (
        mimi_attest::leaf_mapping(&c).unwrap(),
        c.public_key().raw.to_vec(),
        mimi_attest::leaf_sii(&c).unwrap().canonical(),
    )
}

#[test]
fn renewal_keeps_the_mapping_and_key_and_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = new_ca(tmp.path());
    let t0 = OffsetDateTime::now_utc() - Duration::days(6);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut req = IssueRequest::new(Sii::parse("+15550000001").unwrap());
    req.handle = Some("mimi://chat-a.example/u/1".into());
    req.flags.preferred = true;
    req.key = SubjectKey::PublicKey(rcgen::PublicKeyData::subject_public_key_info(&key));
    req.validated_at = Some(t0 - Duration::hours(1));
    let first = ca.issue(&req, t0).unwrap();
    let renewed = ca
        .renew(&first.serial, None, None, OffsetDateTime::now_utc())
        .unwrap();
    assert_ne!(renewed.serial, first.serial);
    let (m0, k0, s0) = mapping_and_key(&first.leaf_der);
    let (m1, k1, s1) = mapping_and_key(&renewed.leaf_der);
    assert_eq!(
        (m0, k0, s0),
        (m1, k1, s1),
        "same mapping, key and SII; validatedAt kept"
    );
    assert!(renewed.not_after > first.not_after);
    // Renewing the same serial again returns the same renewal.
    let again = ca
        .renew(&first.serial, None, None, OffsetDateTime::now_utc())
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.serial, renewed.serial);
}

#[test]
fn renewal_refuses_a_stale_validation_and_says_what_fits() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = new_ca(tmp.path());
    let now = OffsetDateTime::now_utc();
    let mut req = IssueRequest::new(Sii::parse("+15550000002").unwrap());
    req.validated_at = Some(now - Duration::days(26));
    // A 7-day leaf would go stale at day 30: refused, with the validity that fits.
    let e = ca.issue(&req, now).unwrap_err();
    assert!(
        matches!(&e, mimi_attest::IssueError::ValidationTooOld { fits: Some(f), .. } if f.to_string() == "4d"),
        "{e}"
    );
    let e = e.to_string();
    assert!(
        e.contains("too old") && e.contains("ask for a validity of 4d or less"),
        "{e}"
    );
    // The command line words the same advice in its flags.
    let validated = mimi_attest::rfc3339(now - Duration::days(26));
    let o = run(&[
        "issue",
        "--ca",
        tmp.path().join("ca").to_str().unwrap(),
        "--sii",
        "+15550000003",
        "--validated-at",
        &validated,
        "--key-out",
        tmp.path().join("k.pem").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("too old") && stderr(&o).contains("ask for --validity 4d or less"),
        "{}",
        stderr(&o)
    );
    req.validity = Some("3d".parse().unwrap());
    let first = ca.issue(&req, now).unwrap();
    let e = ca
        .renew(&first.serial, None, None, now)
        .unwrap_err()
        .to_string();
    assert!(e.contains("too old"), "{e}");
    let fresh = ca.renew(&first.serial, Some(now), None, now).unwrap();
    let (m, _, _) = mapping_and_key(&fresh.leaf_der);
    assert_eq!(m.validated_at, now.replace_nanosecond(0).unwrap());
}

#[test]
fn due_for_renewal_lists_each_leaf_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = new_ca(tmp.path());
    let now = OffsetDateTime::now_utc();
    let old = ca
        .issue(
            &IssueRequest::new(Sii::parse("+15550000003").unwrap()),
            now - Duration::days(6),
        )
        .unwrap();
    let _young = ca
        .issue(&IssueRequest::new(Sii::parse("+15550000004").unwrap()), now)
        .unwrap();
    let due = ca
        .due_for_renewal(RenewalWindow::Remaining("2d".parse().unwrap()), now)
        .unwrap();
    assert_eq!(due, vec![old.serial.clone()]);
    let d = tmp.path().join("ca").display().to_string();
    let out = tmp.path().join("renewed.jsonl").display().to_string();
    let o = run(&["renew", "--ca", &d, "--due-within", "2d", "--out", &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 due: 1 renewed, 0 failed"),
        "{}",
        stderr(&o)
    );
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
    assert_eq!(line["id"], format!("renew:{}", old.serial));
    // Already renewed: no longer due.
    let ca = ProviderCa::open(&tmp.path().join("ca")).unwrap();
    assert!(ca
        .due_for_renewal(RenewalWindow::Remaining("2d".parse().unwrap()), now)
        .unwrap()
        .is_empty());
}

#[test]
fn needs_renewal_windows_and_cli_exit_codes() {
    let nb = OffsetDateTime::now_utc() - Duration::days(5);
    let na = nb + Duration::days(7);
    let now = OffsetDateTime::now_utc();
    assert!(needs_renewal(nb, na, "30%".parse().unwrap(), now));
    assert!(!needs_renewal(nb, na, "20%".parse().unwrap(), now));
    assert!(needs_renewal(nb, na, "3d".parse().unwrap(), now));
    assert!(!needs_renewal(nb, na, "1d".parse().unwrap(), now));
    assert!(
        needs_renewal(nb, nb + Duration::days(1), "1%".parse().unwrap(), now),
        "expired"
    );
    assert!("150%".parse::<RenewalWindow>().is_err());

    let tmp = tempfile::tempdir().unwrap();
    let mut ca = new_ca(tmp.path());
    let fresh = ca
        .issue(
            &IssueRequest::new(Sii::parse("+15550000005").unwrap()),
            OffsetDateTime::now_utc(),
        )
        .unwrap();
    let f = tmp.path().join("chain.pem");
    std::fs::write(&f, &fresh.chain_pem).unwrap();
    let f = f.to_str().unwrap();
    assert_eq!(run(&["needs-renewal", f]).status.code(), Some(1));
    assert_eq!(
        run(&["needs-renewal", f, "--within", "8d"]).status.code(),
        Some(0)
    );
    assert_eq!(
        run(&["needs-renewal", f, "--within", "100%"]).status.code(),
        Some(0)
    );
    let o = run(&[
        "needs-renewal",
        &tmp.path().join("missing.pem").display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn rotation_keeps_old_leaves_and_signs_crls_for_both() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let mut ca = new_ca(tmp.path());
    let before = ca
        .issue(
            &IssueRequest::new(Sii::parse("+15550000006").unwrap()),
            OffsetDateTime::now_utc(),
        )
        .unwrap();
    let old_ca_pem = ca.ca_pem().to_owned();
    drop(ca);
    let o = run(&["ca", "rotate", "--ca", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut ca = ProviderCa::open(&dir).unwrap();
    assert_ne!(ca.ca_pem(), old_ca_pem);
    let after = ca
        .issue(
            &IssueRequest::new(Sii::parse("+15550000007").unwrap()),
            OffsetDateTime::now_utc(),
        )
        .unwrap();
    let issuer_of = |chain: &str| {
        let der = leaf(chain);
        let (_, c) = X509Certificate::from_der(&der).unwrap();
        c.issuer().to_string()
    };
    assert!(issuer_of(&before.chain_pem).ends_with("Issuing CA 1"));
    assert!(issuer_of(&after.chain_pem).ends_with("Issuing CA 2"));
    // The new CA chains to the same root.
    let root_der = ::pem::parse(ca.root_pem()).unwrap().into_contents();
    let new_ca_der = ::pem::parse(ca.ca_pem()).unwrap().into_contents();
    let (_, root) = X509Certificate::from_der(&root_der).unwrap();
    let (_, new_ca) = X509Certificate::from_der(&new_ca_der).unwrap();
    new_ca.verify_signature(Some(root.public_key())).unwrap();
    // Revoke one leaf of each generation; CRLs come for both issuers.
    ca.records()
        .revoke_serial(
            &before.serial,
            mimi_attest::RevokeReason::Superseded,
            OffsetDateTime::now_utc(),
        )
        .unwrap();
    ca.records()
        .revoke_serial(
            &after.serial,
            mimi_attest::RevokeReason::Superseded,
            OffsetDateTime::now_utc(),
        )
        .unwrap();
    let crls = ca.crls(OffsetDateTime::now_utc()).unwrap();
    assert_eq!(crls.len(), 2);
    let listed = |der: &[u8]| {
        let (_, crl) = CertificateRevocationList::from_der(der).unwrap();
        crl.iter_revoked_certificates()
            .map(|r| mimi_attest::Serial::from_contents(r.raw_serial()))
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(&crls[0].der), vec![after.serial.clone()]);
    assert_eq!(listed(&crls[1].der), vec![before.serial.clone()]);
    assert!(crls[1].number > crls[0].number);
    let old_ca_der = ::pem::parse(&old_ca_pem).unwrap().into_contents();
    let (_, old_ca) = X509Certificate::from_der(&old_ca_der).unwrap();
    let (_, crl_old) = CertificateRevocationList::from_der(&crls[1].der).unwrap();
    crl_old.verify_signature(old_ca.public_key()).unwrap();
    // PEM bundle from the CLI; --der refuses two CRLs.
    let out = tmp.path().join("all.crl").display().to_string();
    let o = run(&["crl", "--ca", dir.to_str().unwrap(), "--out", &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&out)
            .unwrap()
            .matches("BEGIN X509 CRL")
            .count(),
        2
    );
    let o = run(&["crl", "--ca", dir.to_str().unwrap(), "--out", &out, "--der"]);
    refused(&o, "drop --der");
}

#[test]
fn rotation_needs_the_root_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let _ = new_ca(tmp.path());
    std::fs::rename(dir.join("root.key"), tmp.path().join("offline-root.key")).unwrap();
    let o = run(&["ca", "rotate", "--ca", dir.to_str().unwrap()]);
    refused(&o, "root.key back from offline storage");
    // Nothing changed: the CA still opens and issues under the first issuing CA.
    let mut ca = ProviderCa::open(&dir).unwrap();
    let i = ca
        .issue(
            &IssueRequest::new(Sii::parse("+15550000008").unwrap()),
            OffsetDateTime::now_utc(),
        )
        .unwrap();
    assert!(i.chain_pem.contains("BEGIN CERTIFICATE"));
    assert!(!dir.join("ca.pem.next").exists());
}
