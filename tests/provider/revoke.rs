//! Revocation and CRLs on the provider side: `revoke` by serial and by SII, CRL numbers,
//! expired entries dropping off, and OpenSSL agreeing with our CRLs where it is installed.

use std::path::Path;
use std::process::Command;

use mimi_attest::CertStatus;
use mimi_attest::RevokeReason;
use mimi_attest::{IssueRequest, ProviderCa, Sii};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{CertificateRevocationList, FromDer, X509Certificate};

use crate::common::ca::{chat_a_config, init_ca, issue_at};
use crate::common::cli::{no_openssl, refused, run, stderr};

/// A chat-a CA made now.
fn new_ca(tmp: &Path) -> ProviderCa {
    init_ca(&tmp.join("ca"), &chat_a_config(), OffsetDateTime::now_utc())
}

/// A leaf issued now.
fn issue(ca: &mut ProviderCa, sii: &str) -> mimi_attest::Issued {
    issue_at(ca, sii, OffsetDateTime::now_utc())
}

fn crl_serials(der: &[u8]) -> Vec<mimi_attest::Serial> {
    let (_, crl) = CertificateRevocationList::from_der(der).unwrap();
    crl.iter_revoked_certificates()
        .map(|r| mimi_attest::Serial::from_contents(r.raw_serial()))
        .collect()
}

#[test]
fn revoke_by_serial_twice_unknown_and_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = new_ca(tmp.path());
    let a = issue(&mut ca, "+15550000001");
    let dir = tmp.path().join("ca");
    let d = dir.to_str().unwrap();
    let o = run(&[
        "revoke",
        "--ca",
        d,
        "--serial",
        &a.serial.to_string().to_uppercase(),
        "--reason",
        "sii-reassigned",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        a.serial.to_string()
    );
    let o = run(&[
        "revoke",
        "--ca",
        d,
        "--serial",
        &a.serial.to_string(),
        "--reason",
        "superseded",
    ]);
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("already revoked") && stderr(&o).contains("sii-reassigned"),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "revoke",
        "--ca",
        d,
        "--serial",
        "0123abcd",
        "--reason",
        "superseded",
    ]);
    refused(&o, "was not issued by this CA");
    let o = run(&[
        "revoke",
        "--ca",
        d,
        "--serial",
        &a.serial.to_string(),
        "--reason",
        "lost",
    ]);
    refused(&o, "key-compromise");
    // The root and the issuing CA are not attestations.
    let ca = ProviderCa::open(&dir).unwrap();
    let root_serial = ca.store().all().unwrap()[0].serial.clone();
    let o = run(&[
        "revoke",
        "--ca",
        d,
        "--serial",
        &root_serial.to_string(),
        "--reason",
        "superseded",
    ]);
    refused(&o, "root certificate");
    let row = ca.store().get(&a.serial).unwrap().unwrap();
    assert_eq!(row.status, CertStatus::Revoked);
    assert_eq!(row.revocation_reason, Some(RevokeReason::SiiReassigned));
}

#[test]
fn revoke_by_sii_takes_every_live_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = new_ca(tmp.path());
    let a1 = issue(&mut ca, "+15550000001");
    let a2 = issue(&mut ca, "+1 555 000 0001");
    let other = issue(&mut ca, "+15550000002");
    let now = OffsetDateTime::now_utc();
    let out = ca
        .records()
        .revoke_sii(
            &Sii::parse("tel:+15550000001").unwrap(),
            RevokeReason::AccountClosed,
            now,
        )
        .unwrap();
    let mut got: Vec<_> = out.iter().map(|o| o.serial.clone()).collect();
    got.sort();
    let mut want = vec![a1.serial.clone(), a2.serial.clone()];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        ca.store().get(&other.serial).unwrap().unwrap().status,
        CertStatus::Issued
    );
    // Nothing live left: a second call revokes nothing.
    assert!(ca
        .records()
        .revoke_sii(
            &Sii::parse("+15550000001").unwrap(),
            RevokeReason::AccountClosed,
            now
        )
        .unwrap()
        .is_empty());
}

#[test]
fn crl_numbers_increase_and_expired_entries_drop_off() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = new_ca(tmp.path());
    let now = OffsetDateTime::now_utc();
    let short = ca
        .issue(
            &IssueRequest::new(Sii::parse("+15550000001").unwrap())
                .with_validity("1d".parse().unwrap()),
            now,
        )
        .unwrap();
    let long = issue(&mut ca, "+15550000002");
    let kept = issue(&mut ca, "+15550000003");
    ca.records()
        .revoke_serial(&short.serial, RevokeReason::KeyCompromise, now)
        .unwrap();
    ca.records()
        .revoke_serial(&long.serial, RevokeReason::Unspecified, now)
        .unwrap();
    let c1 = ca.crl(now).unwrap();
    assert_eq!(c1.number, 1);
    let mut s = crl_serials(&c1.der);
    s.sort();
    let mut want = vec![short.serial.clone(), long.serial.clone()];
    want.sort();
    assert_eq!(s, want);
    // Two days later the 1-day leaf has expired and leaves the CRL.
    let c2 = ca.crl(now + Duration::days(2)).unwrap();
    assert_eq!(c2.number, 2);
    assert_eq!(crl_serials(&c2.der), vec![long.serial.clone()]);
    assert!(!crl_serials(&c2.der).contains(&kept.serial));
    // The CRL is signed by the issuing CA, with its AKI, number and nextUpdate from the config.
    let (_, crl) = CertificateRevocationList::from_der(&c2.der).unwrap();
    let ca_der = ::pem::parse(ca.ca_pem()).unwrap().into_contents();
    let (_, ca_cert) = X509Certificate::from_der(&ca_der).unwrap();
    crl.verify_signature(ca_cert.public_key()).unwrap();
    assert_eq!(crl.issuer(), ca_cert.subject());
    assert_eq!(crl.crl_number().map(|n| n.to_string()), Some("2".into()));
    let life = crl.next_update().unwrap().to_datetime() - crl.last_update().to_datetime();
    assert_eq!(life, Duration::hours(24));
    // Reason codes: keyCompromise for the first, none for unspecified.
    let (_, crl1) = CertificateRevocationList::from_der(&c1.der).unwrap();
    for entry in crl1.iter_revoked_certificates() {
        let serial = mimi_attest::Serial::from_contents(entry.raw_serial());
        let reason = entry.reason_code().map(|(_, r)| r.0);
        if serial == short.serial {
            assert_eq!(reason, Some(1));
        } else {
            assert_eq!(reason, None);
        }
    }
}

#[test]
fn openssl_agrees_with_our_crl() {
    if no_openssl("the CRL cross-check") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = new_ca(tmp.path());
    let revoked = issue(&mut ca, "+15550000001");
    let good = issue(&mut ca, "+15550000002");
    ca.records()
        .revoke_serial(
            &revoked.serial,
            RevokeReason::SiiReassigned,
            OffsetDateTime::now_utc(),
        )
        .unwrap();
    let crl = ca.crl(OffsetDateTime::now_utc()).unwrap();
    let p = |n: &str| tmp.path().join(n).display().to_string();
    std::fs::write(p("crl.pem"), &crl.pem).unwrap();
    std::fs::write(p("bundle.pem"), format!("{}{}", ca.root_pem(), ca.ca_pem())).unwrap();
    std::fs::write(p("issuing.pem"), ca.ca_pem()).unwrap();
    std::fs::write(p("revoked.pem"), &revoked.chain_pem).unwrap();
    std::fs::write(p("good.pem"), &good.chain_pem).unwrap();
    let o = Command::new("openssl")
        .args([
            "crl",
            "-in",
            &p("crl.pem"),
            "-CAfile",
            &p("issuing.pem"),
            "-noout",
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success() && stderr(&o).contains("verify OK"),
        "{}",
        stderr(&o)
    );
    let verify = |leaf: &str| {
        Command::new("openssl")
            .args([
                "verify",
                "-crl_check",
                "-CRLfile",
                &p("crl.pem"),
                "-CAfile",
                &p("bundle.pem"),
                &p(leaf),
            ])
            .output()
            .unwrap()
    };
    let o = verify("revoked.pem");
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("certificate revoked")
            || stderr(&o).contains("certificate revoked")
    );
    let o = verify("good.pem");
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
}

#[test]
fn crl_cli_writes_pem_or_der() {
    let tmp = tempfile::tempdir().unwrap();
    let _ca = new_ca(tmp.path());
    let d = tmp.path().join("ca").display().to_string();
    let pem_out = tmp.path().join("c.pem").display().to_string();
    let der_out = tmp.path().join("c.der").display().to_string();
    let o = run(&["crl", "--ca", &d, "--out", &pem_out]);
    assert!(
        o.status.success() && stderr(&o).contains("CRL number 1"),
        "{}",
        stderr(&o)
    );
    assert!(std::fs::read_to_string(&pem_out)
        .unwrap()
        .starts_with("-----BEGIN X509 CRL-----"));
    let o = run(&["crl", "--ca", &d, "--out", &der_out, "--der"]);
    assert!(
        o.status.success() && stderr(&o).contains("CRL number 2"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&der_out).unwrap()[0], 0x30);
}
