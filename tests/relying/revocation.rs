//! Revocation on the relying platform (issue 5, item 3): the trust-list policy
//! `revocation: off | leaf | chain` and `max_crl_age`, CRLs given to the library and to
//! `verify --crl`, fail-closed on missing or stale CRLs, CRLs from the wrong CA ignored with a
//! note, CRL bundles after `ca rotate`, and OpenSSL agreeing where it is installed.
//!
//! Each rustls-webpki revocation option is shown to take effect by a verdict that would differ
//! under the builder's default (the builder is `Copy`: a dropped `with_*` result changes
//! nothing): depth (`leaf` accepts a chain whose issuing CA is revoked, `chain` does not),
//! unknown status denied (no CRL → rejected), expiration enforced (a CRL past nextUpdate but
//! young enough for max_crl_age → rejected).

use std::path::{Path, PathBuf};
use std::process::Command;

use mimi_attest::RevokeReason;
use mimi_attest::{chain_from_pem, crls_from_pem, Verification};
use mimi_attest::{
    Code, IssueRequest, Issued, ProviderCa, Sii, TrustList, Verifier, VerifyOptions,
};
use rustls_pki_types::CertificateRevocationListDer;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::common::ca::{chat_a_config, init_ca, issue_at};
use crate::common::cli::{no_openssl, run, stderr, stdout_json};
use crate::common::now;

/// CA config with a long CRL lifetime, so that max_crl_age alone can make a CRL stale.
const CONFIG_30D: &str = "provider: chat-a.example\norganization: Chat A Inc.\nscope:\n  tel: [\"+1\", \"+44\"]\n  email: [\"chat-a.example\"]\ncrl:\n  url: http://crl.chat-a.example/mapping.crl\n  lifetime: 30d\n";

/// A CA made five days ago (so CRLs can be dated in the past), in `dir`.
fn new_ca(dir: &Path, config: &str) -> ProviderCa {
    init_ca(dir, config, now() - Duration::days(5))
}

/// A leaf issued five days ago.
fn issue(ca: &mut ProviderCa, sii: &str) -> Issued {
    issue_at(ca, sii, now() - Duration::days(5))
}

fn revoke(ca: &mut ProviderCa, leaf: &Issued) {
    ca.records()
        .revoke_serial(
            &leaf.serial,
            RevokeReason::SiiReassigned,
            now() - Duration::days(5),
        )
        .unwrap();
}

/// A trust list for `ca`'s root, written to `dir`, with extra `policy:` lines.
fn trust_list_file(dir: &Path, ca: &ProviderCa, policy: &str) -> PathBuf {
    std::fs::write(dir.join("root.pem"), ca.root_pem()).unwrap();
    let path = dir.join("trust-list.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nanchors:\n  - name: chat-a\n    provider: chat-a.example\n    certificate: root.pem\n    scope: {{tel: [\"+1\"]}}\npolicy:\n{policy}  clock_skew: 5m\n"
        ),
    )
    .unwrap();
    path
}

fn verifier(dir: &Path, ca: &ProviderCa, policy: &str, crls: &[&[u8]]) -> Verifier {
    let list = TrustList::from_file(&trust_list_file(dir, ca, policy)).unwrap();
    let ders: Vec<CertificateRevocationListDer<'static>> = crls
        .iter()
        .map(|d| CertificateRevocationListDer::from(d.to_vec()))
        .collect();
    Verifier::new(list).with_crls(ders).unwrap()
}

fn check(v: &Verifier, leaf: &Issued) -> Verification {
    let chain = chain_from_pem(leaf.chain_pem.as_bytes()).unwrap();
    v.verify_with(&chain, &VerifyOptions::at(now()))
}

fn code(v: &Verification) -> Option<Code> {
    v.result.as_ref().err().map(|e| e.code())
}

/// A CRL signed by the provider root (`crl --root`): lists the issuing CAs revoked in the
/// store of the CA directory `ca_dir`.
fn root_crl(ca_dir: &Path, at: OffsetDateTime) -> Vec<u8> {
    ProviderCa::root_crl(ca_dir, at).unwrap().der
}

/// Serial (hex) of the issuing CA in a chain.
fn issuing_ca_serial(leaf: &Issued) -> mimi_attest::Serial {
    let chain = chain_from_pem(leaf.chain_pem.as_bytes()).unwrap();
    let (_, c) = X509Certificate::from_der(chain[1].as_ref()).unwrap();
    mimi_attest::Serial::from_contents(c.raw_serial())
}

#[test]
fn policy_defaults_to_off_and_parses_leaf_chain_and_max_crl_age() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = new_ca(&tmp.path().join("ca"), &chat_a_config());
    let list = TrustList::from_file(&trust_list_file(tmp.path(), &ca, "")).unwrap();
    assert_eq!(list.policy().revocation.as_str(), "off");
    assert_eq!(list.policy().max_crl_age.to_string(), "2d");
    let list = TrustList::from_file(&trust_list_file(
        tmp.path(),
        &ca,
        "  revocation: chain\n  max_crl_age: 7d\n",
    ))
    .unwrap();
    assert_eq!(list.policy().revocation.as_str(), "chain");
    assert_eq!(list.policy().max_crl_age.to_string(), "7d");
    let bad = TrustList::from_file(&trust_list_file(
        tmp.path(),
        &ca,
        "  revocation: sometimes\n",
    ))
    .unwrap_err();
    assert!(bad.to_string().contains("sometimes"), "{bad}");
}

#[test]
fn off_mode_does_not_consult_crls() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = new_ca(&tmp.path().join("ca"), &chat_a_config());
    let leaf = issue(&mut ca, "+15550000001");
    revoke(&mut ca, &leaf);
    let crl = ca.crl(now()).unwrap();
    let v = verifier(tmp.path(), &ca, "  revocation: off\n", &[&crl.der]);
    let r = check(&v, &leaf);
    assert!(r.result.is_ok(), "{:?}", r.result);
    assert!(r.crl_notes.is_empty());
    // And no CRLs at all is fine too.
    let v = verifier(tmp.path(), &ca, "", &[]);
    assert!(check(&v, &leaf).result.is_ok());
}

#[test]
fn leaf_mode_revoked_leaf_is_e_revoked_and_good_leaf_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = new_ca(&tmp.path().join("ca"), &chat_a_config());
    let bad = issue(&mut ca, "+15550000001");
    let good = issue(&mut ca, "+15550000002");
    revoke(&mut ca, &bad);
    let crl = ca.crl(now()).unwrap();
    let v = verifier(tmp.path(), &ca, "  revocation: leaf\n", &[&crl.der]);
    let r = check(&v, &bad);
    let e = r.result.unwrap_err();
    assert_eq!(e.code(), Code::Revoked);
    assert_eq!(e.code().as_str(), "E_REVOKED");
    assert_eq!(e.depth(), 0);
    assert!(
        e.message().contains(&bad.serial.to_string()),
        "{}",
        e.message()
    );
    assert!(r.crl_notes.is_empty());
    let r = check(&v, &good);
    assert!(r.result.is_ok(), "{:?}", r.result);
    // The plain API (no notes) gives the same verdicts.
    let chain = chain_from_pem(bad.chain_pem.as_bytes()).unwrap();
    assert_eq!(
        v.verify(&chain, now()).unwrap_err().code().as_str(),
        "E_REVOKED"
    );
    assert_eq!(
        v.verify(&chain_from_pem(good.chain_pem.as_bytes()).unwrap(), now())
            .unwrap()
            .sii
            .canonical(),
        "tel:+15550000002"
    );
}

/// Unknown status is denied (fail closed): no CRL at all, or only another issuer's.
#[test]
fn leaf_mode_without_crl_is_revocation_unknown() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = new_ca(&tmp.path().join("ca"), &chat_a_config());
    let leaf = issue(&mut ca, "+15550000001");
    let v = verifier(tmp.path(), &ca, "  revocation: leaf\n", &[]);
    let e = check(&v, &leaf).result.unwrap_err();
    assert_eq!(e.code().as_str(), "E_REVOCATION_UNKNOWN");
    assert_eq!(e.depth(), 0);
    // A CRL from the root (another issuer) is no CRL for the leaf.
    let rc = root_crl(&tmp.path().join("ca"), now());
    let v = verifier(tmp.path(), &ca, "  revocation: leaf\n", &[&rc]);
    let e = check(&v, &leaf).result.unwrap_err();
    assert_eq!(e.code(), Code::RevocationUnknown);
    assert_eq!(e.depth(), 0);
    assert!(e.message().contains("none of the 1 CRL"), "{}", e.message());
}

/// max_crl_age is ours (webpki does not know thisUpdate): a CRL three days old whose
/// nextUpdate is still ahead is stale under the 2d default, fresh under 7d.
#[test]
fn crl_older_than_max_crl_age_is_revocation_unknown_with_note() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = new_ca(&tmp.path().join("ca"), CONFIG_30D);
    let leaf = issue(&mut ca, "+15550000001");
    let old = ca.crl(now() - Duration::days(3)).unwrap();
    assert!(old.next_update > now());
    let v = verifier(tmp.path(), &ca, "  revocation: leaf\n", &[&old.der]);
    let r = check(&v, &leaf);
    let e = r.result.unwrap_err();
    assert_eq!(e.code().as_str(), "E_REVOCATION_UNKNOWN");
    assert!(e.message().contains("max_crl_age"), "{}", e.message());
    assert_eq!(r.crl_notes.len(), 1);
    assert!(r.crl_notes[0].message.contains("older than"));
    let v = verifier(
        tmp.path(),
        &ca,
        "  revocation: leaf\n  max_crl_age: 7d\n",
        &[&old.der],
    );
    assert!(check(&v, &leaf).result.is_ok());
}

/// Copy trap, expiration: a CRL past its nextUpdate but young enough for max_crl_age is only
/// caught by webpki's `ExpirationPolicy::Enforce` (the builder's default is `Ignore`).
#[test]
fn crl_past_next_update_is_revocation_unknown_expiration_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = new_ca(&tmp.path().join("ca"), &chat_a_config());
    let leaf = issue(&mut ca, "+15550000001");
    let expired = ca.crl(now() - Duration::days(2)).unwrap();
    assert!(expired.next_update < now());
    let v = verifier(
        tmp.path(),
        &ca,
        "  revocation: leaf\n  max_crl_age: 7d\n",
        &[&expired.der],
    );
    let r = check(&v, &leaf);
    let e = r.result.unwrap_err();
    assert_eq!(e.code().as_str(), "E_REVOCATION_UNKNOWN");
    assert!(e.message().contains("nextUpdate"), "{}", e.message());
    // A newer CRL from the same CA is preferred over the expired one.
    let fresh = ca.crl(now()).unwrap();
    let v = verifier(
        tmp.path(),
        &ca,
        "  revocation: leaf\n  max_crl_age: 7d\n",
        &[&expired.der, &fresh.der],
    );
    assert!(check(&v, &leaf).result.is_ok());
}

/// Two CAs made from the same config have the same names but different keys: CA B's CRL
/// names A's issuing CA as issuer but does not verify with its key. It is ignored with a
/// note, so A's leaf has no CRL (unknown), and it never hides A's own CRL.
#[test]
fn crl_signed_by_another_ca_is_ignored_with_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = new_ca(&tmp.path().join("a"), &chat_a_config());
    let mut b = new_ca(&tmp.path().join("b"), &chat_a_config());
    let leaf = issue(&mut a, "+15550000001");
    let revoked = issue(&mut a, "+15550000002");
    revoke(&mut a, &revoked);
    let b_crl = b.crl(now()).unwrap();
    let a_crl = a.crl(now()).unwrap();

    for mode in ["leaf", "chain"] {
        let v = verifier(
            tmp.path(),
            &a,
            &format!("  revocation: {mode}\n"),
            &[&b_crl.der],
        );
        let r = check(&v, &leaf);
        let e = r.result.unwrap_err();
        assert_eq!(e.code().as_str(), "E_REVOCATION_UNKNOWN", "{mode}");
        assert_eq!(e.depth(), 0);
        assert_eq!(r.crl_notes.len(), 1, "{mode}");
        assert_eq!(r.crl_notes[0].index, 0);
        assert!(
            r.crl_notes[0].message.contains("signature does not verify"),
            "{}",
            r.crl_notes[0]
        );
        assert!(r.crl_notes[0].to_string().starts_with("CRL 0 from \""));
    }

    // B's CRL first, A's second: A's is used, B's noted.
    let v = verifier(
        tmp.path(),
        &a,
        "  revocation: leaf\n",
        &[&b_crl.der, &a_crl.der],
    );
    let r = check(&v, &leaf);
    assert!(r.result.is_ok(), "{:?}", r.result);
    assert_eq!(r.crl_notes.len(), 1);
    let r = check(&v, &revoked);
    assert_eq!(code(&r), Some(Code::Revoked));
}

/// After `ca rotate`, `crls` gives one CRL per still-valid issuing CA; the PEM bundle covers
/// leaves of the old and of the new issuing CA.
#[test]
fn crl_bundle_after_rotation_covers_old_and_new_issuing_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let mut ca = new_ca(&dir, &chat_a_config());
    let old_good = issue(&mut ca, "+15550000001");
    let old_bad = issue(&mut ca, "+15550000002");
    drop(ca);
    let mut ca = ProviderCa::rotate(&dir, now() - Duration::days(4)).unwrap();
    let new_good = ca
        .issue(
            &IssueRequest::new(Sii::parse("+15550000003").unwrap()),
            now() - Duration::days(4),
        )
        .unwrap();
    let new_bad = ca
        .issue(
            &IssueRequest::new(Sii::parse("+15550000004").unwrap()),
            now() - Duration::days(4),
        )
        .unwrap();
    assert_ne!(issuing_ca_serial(&old_good), issuing_ca_serial(&new_good));
    for l in [&old_bad, &new_bad] {
        ca.records()
            .revoke_serial(&l.serial, RevokeReason::KeyCompromise, now())
            .unwrap();
    }
    let crls = ca.crls(now()).unwrap();
    assert_eq!(crls.len(), 2);
    let bundle: String = crls.iter().map(|c| c.pem.clone()).collect();
    let parsed = crls_from_pem(bundle.as_bytes()).unwrap();
    assert_eq!(parsed.len(), 2);

    let list =
        TrustList::from_file(&trust_list_file(tmp.path(), &ca, "  revocation: leaf\n")).unwrap();
    let v = Verifier::new(list).with_crls(parsed).unwrap();
    assert_eq!(v.crl_count(), 2);
    for (leaf, want) in [
        (&old_good, None),
        (&old_bad, Some(Code::Revoked)),
        (&new_good, None),
        (&new_bad, Some(Code::Revoked)),
    ] {
        let r = check(&v, leaf);
        assert_eq!(code(&r), want, "{}: {:?}", leaf.sii, r.result);
        assert!(r.crl_notes.is_empty(), "{:?}", r.crl_notes);
    }

    // The same through the CLI, with the bundle file.
    std::fs::write(tmp.path().join("bundle.pem"), &bundle).unwrap();
    std::fs::write(tmp.path().join("old-bad.pem"), &old_bad.chain_pem).unwrap();
    std::fs::write(tmp.path().join("new-good.pem"), &new_good.chain_pem).unwrap();
    let tl = tmp.path().join("trust-list.yaml");
    let out = run(&[
        "verify",
        "--trust-list",
        tl.to_str().unwrap(),
        "--crl",
        tmp.path().join("bundle.pem").to_str().unwrap(),
        tmp.path().join("new-good.pem").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&[
        "verify",
        "--trust-list",
        tl.to_str().unwrap(),
        "--crl",
        tmp.path().join("bundle.pem").to_str().unwrap(),
        tmp.path().join("old-bad.pem").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("REJECTED E_REVOKED"));
}

/// `chain` needs a CRL from every issuer on the path: the issuing CA's (from `crl`) and one
/// signed by the provider root covering the issuing CA (`crl --root`, revoked with
/// `revoke --issuing-ca`). Copy trap, depth: under `leaf` a revoked issuing CA
/// does not matter and no root CRL is needed; under `chain` both do.
#[test]
fn chain_mode_needs_a_root_crl_and_leaf_mode_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let mut ca = new_ca(&dir, &chat_a_config());
    let leaf = issue(&mut ca, "+15550000001");
    let ca_crl = ca.crl(now()).unwrap();
    let ca_serial = issuing_ca_serial(&leaf);
    let root_ok = root_crl(&dir, now());
    ca.records()
        .revoke_issuing_ca(&ca_serial, RevokeReason::KeyCompromise, now())
        .unwrap();
    let root_revoking = root_crl(&dir, now());

    // chain, issuing-CA CRL only: the issuing CA's status is unknown (depth 1).
    let v = verifier(tmp.path(), &ca, "  revocation: chain\n", &[&ca_crl.der]);
    let e = check(&v, &leaf).result.unwrap_err();
    assert_eq!(e.code().as_str(), "E_REVOCATION_UNKNOWN");
    assert_eq!(e.depth(), 1, "{e}");
    // chain, both CRLs: valid.
    let v = verifier(
        tmp.path(),
        &ca,
        "  revocation: chain\n",
        &[&ca_crl.der, &root_ok],
    );
    assert!(check(&v, &leaf).result.is_ok());
    // chain, root CRL revokes the issuing CA: E_REVOKED at depth 1.
    let v = verifier(
        tmp.path(),
        &ca,
        "  revocation: chain\n",
        &[&ca_crl.der, &root_revoking],
    );
    let e = check(&v, &leaf).result.unwrap_err();
    assert_eq!(e.code().as_str(), "E_REVOKED");
    assert_eq!(e.depth(), 1);
    assert!(
        e.message().contains(&ca_serial.to_string()),
        "{}",
        e.message()
    );
    // chain, root CRL only: the leaf's status is unknown (depth 0).
    let v = verifier(tmp.path(), &ca, "  revocation: chain\n", &[&root_ok]);
    let e = check(&v, &leaf).result.unwrap_err();
    assert_eq!(e.code(), Code::RevocationUnknown);
    assert_eq!(e.depth(), 0);

    // leaf: the revoked issuing CA is not looked at; no root CRL needed.
    let v = verifier(
        tmp.path(),
        &ca,
        "  revocation: leaf\n",
        &[&ca_crl.der, &root_revoking],
    );
    assert!(check(&v, &leaf).result.is_ok());
    let v = verifier(tmp.path(), &ca, "  revocation: leaf\n", &[&ca_crl.der]);
    assert!(check(&v, &leaf).result.is_ok());
}

#[test]
fn cli_verify_crl_json_notes_and_bad_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = new_ca(&tmp.path().join("a"), &chat_a_config());
    let mut b = new_ca(&tmp.path().join("b"), &chat_a_config());
    let bad = issue(&mut a, "+15550000001");
    revoke(&mut a, &bad);
    let a_crl = a.crl(now()).unwrap();
    let b_crl = b.crl(now()).unwrap();
    let p = |n: &str| tmp.path().join(n).to_str().unwrap().to_owned();
    std::fs::write(p("bad.pem"), &bad.chain_pem).unwrap();
    std::fs::write(p("a.crl"), &a_crl.der).unwrap(); // DER
    std::fs::write(p("b.crl.pem"), &b_crl.pem).unwrap(); // PEM
    std::fs::write(p("garbage.crl"), "not a CRL\n").unwrap();
    let tl = trust_list_file(tmp.path(), &a, "  revocation: leaf\n");
    let tl = tl.to_str().unwrap();

    let out = run(&[
        "verify",
        "--trust-list",
        tl,
        "--crl",
        &p("b.crl.pem"),
        "--crl",
        &p("a.crl"),
        "--format",
        "json",
        &p("bad.pem"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = stdout_json(&out);
    assert_eq!(v[0]["code"], "E_REVOKED");
    assert_eq!(v[0]["depth"], 0);
    let notes = v[0]["crl_notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["crl"], format!("{}#0", p("b.crl.pem")));
    assert!(notes[0]["message"]
        .as_str()
        .unwrap()
        .contains("signature does not verify"));
    let err = stderr(&out);
    assert!(err.contains("note: ") && err.contains("ignored"), "{err}");

    // No CRL for the issuer: exit 1, E_REVOCATION_UNKNOWN.
    let out = run(&["verify", "--trust-list", tl, &p("bad.pem")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("E_REVOCATION_UNKNOWN"));

    // Garbage or missing CRL file: exit 2 with a message naming it.
    for f in [p("garbage.crl"), p("missing.crl")] {
        let out = run(&["verify", "--trust-list", tl, "--crl", &f, &p("bad.pem")]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(&f), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
    }

    // revocation: off with --crl given: a note says the CRLs are not consulted.
    let tl_off = trust_list_file(tmp.path(), &a, "");
    let out = run(&[
        "verify",
        "--trust-list",
        tl_off.to_str().unwrap(),
        "--crl",
        &p("a.crl"),
        &p("bad.pem"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("revocation: off"), "{}", stderr(&out));
}

/// Where openssl is installed, `openssl verify -crl_check` agrees with our verdict on a
/// revoked and a good leaf.
#[test]
fn openssl_agrees_on_revoked_and_good_leaf() {
    if no_openssl("the revocation cross-check") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = new_ca(&tmp.path().join("ca"), &chat_a_config());
    let bad = issue(&mut ca, "+15550000001");
    let good = issue(&mut ca, "+15550000002");
    revoke(&mut ca, &bad);
    let crl = ca.crl(now()).unwrap();
    let v = verifier(tmp.path(), &ca, "  revocation: leaf\n", &[&crl.der]);
    let p = |n: &str| tmp.path().join(n).to_str().unwrap().to_owned();
    std::fs::write(p("crl.pem"), &crl.pem).unwrap();
    std::fs::write(p("bundle.pem"), format!("{}{}", ca.root_pem(), ca.ca_pem())).unwrap();
    for (leaf, name) in [(&bad, "bad.pem"), (&good, "good.pem")] {
        let leaf_pem = pem::encode(&pem::Pem::new("CERTIFICATE", leaf.leaf_der.clone()));
        std::fs::write(p(name), leaf_pem).unwrap();
        let out = Command::new("openssl")
            .args([
                "verify",
                "-crl_check",
                "-purpose",
                "any",
                "-CRLfile",
                &p("crl.pem"),
                "-CAfile",
                &p("bundle.pem"),
                &p(name),
            ])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let ours = check(&v, leaf).result;
        assert_eq!(out.status.success(), ours.is_ok(), "{name}: {text}");
        if ours.is_err() {
            assert!(text.contains("revoked"), "{text}");
        }
    }
}

/// Partial CRLs (issuingDistributionPoint) and delta CRLs are refused when loaded: the
/// verifier looks serials up itself and would otherwise read "not listed" as "not revoked"
/// for certificates outside such a CRL's scope.
#[test]
fn partial_crls_are_refused_at_load() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let ca = new_ca(&dir, &chat_a_config());
    let key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(dir.join("root.key")).unwrap()).unwrap();
    let root_der = rustls_pki_types::CertificateDer::from(
        pem::parse(ca.root_pem()).unwrap().contents().to_vec(),
    );
    let issuer = rcgen::Issuer::from_ca_cert_der(&root_der, key).unwrap();
    let at = now();
    let partial = rcgen::CertificateRevocationListParams {
        this_update: at,
        next_update: at + Duration::days(1),
        crl_number: rcgen::SerialNumber::from(7u64),
        issuing_distribution_point: Some(rcgen::CrlIssuingDistributionPoint {
            distribution_point: rcgen::CrlDistributionPoint {
                uris: vec!["http://crl.chat-a.example/users.crl".into()],
            },
            scope: Some(rcgen::CrlScope::UserCertsOnly),
        }),
        revoked_certs: vec![],
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(&issuer)
    .unwrap()
    .der()
    .to_vec();
    let e = verifier_result(tmp.path(), &ca, &[&partial]).unwrap_err();
    assert!(e.contains("issuingDistributionPoint"), "{e}");
}

fn verifier_result(dir: &Path, ca: &ProviderCa, crls: &[&[u8]]) -> Result<Verifier, String> {
    let tl = TrustList::from_file(&trust_list_file(dir, ca, "  revocation: leaf\n")).unwrap();
    Verifier::new(tl)
        .with_crls(
            crls.iter()
                .map(|d| rustls_pki_types::CertificateRevocationListDer::from(d.to_vec())),
        )
        .map_err(|e| e.to_string())
}
