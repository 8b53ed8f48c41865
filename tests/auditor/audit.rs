//! Auditing: input detection, every decoded field of `inspect` against a fixture CA, the
//! JSON schema, every lint both ways, pre-issuance linting, the store, and a cross-check
//! with OpenSSL where it is installed.

use mimi_attest::CertStatus;
use mimi_attest::{
    catalogue, export_pem, inspect, lint_certificate, lint_certificate_min, lint_crl, lint_objects,
    read_objects, store_records, ObjectKind, RecordState, Role, Severity, StoreQuery,
};
use mimi_attest::{certificate_policies_der, oids};
use mimi_attest::{
    IssueError, IssueRequest, MappingFlags, Method, ProviderCa, Sii, Span, SubjectKey,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CidrSubnet,
    CrlDistributionPoint, CrlIssuingDistributionPoint, CrlScope, CustomExtension,
    DistinguishedName, DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, NameConstraints, RevocationReason, RevokedCertParams, SanType,
    SerialNumber, PKCS_ECDSA_P384_SHA384, PKCS_ED25519,
};
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

use crate::common::cli::no_openssl;
use crate::common::{self, mapping, mapping_ext, mimi_eku, now, policies_ext};

const CONFIG: &str = "provider: chat-a.example
organization: Chat A Inc.
scope:
  tel: [\"+1\", \"+44\"]
  email: [\"chat-a.example\"]
validity:
  root: 10y
  ca: 1y
  leaf_default: 7d
  leaf_max: 180d
  max_validation_age: 180d
crl:
  url: http://crl.chat-a.example/mapping.crl
  lifetime: 24h
";

struct Fixture {
    _dir: tempfile::TempDir,
    ca: ProviderCa,
    root_der: Vec<u8>,
    ca_der: Vec<u8>,
    ca_key: KeyPair,
    root_key: KeyPair,
}

fn pem_der(pem_text: &str) -> Vec<u8> {
    pem::parse(pem_text).unwrap().into_contents()
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = ProviderCa::init(CONFIG, "test.yaml", &dir.path().join("ca"), now()).unwrap();
        let read = |n: &str| std::fs::read_to_string(dir.path().join("ca").join(n)).unwrap();
        Fixture {
            root_der: pem_der(ca.root_pem()),
            ca_der: pem_der(ca.ca_pem()),
            ca_key: KeyPair::from_pem(&read("ca.key")).unwrap(),
            root_key: KeyPair::from_pem(&read("root.key")).unwrap(),
            ca,
            _dir: dir,
        }
    }

    fn issuer(&self) -> Issuer<'static, KeyPair> {
        let key = KeyPair::from_pem(&self.ca_key.serialize_pem()).unwrap();
        Issuer::from_ca_cert_der(&CertificateDer::from(self.ca_der.clone()), key).unwrap()
    }

    fn root_issuer(&self) -> Issuer<'static, KeyPair> {
        let key = KeyPair::from_pem(&self.root_key.serialize_pem()).unwrap();
        Issuer::from_ca_cert_der(&CertificateDer::from(self.root_der.clone()), key).unwrap()
    }
}

fn scope_ext() -> CustomExtension {
    common::scope_ext(&common::scope(&["+1"], &["chat-a.example"]))
}

/// A leaf as the issuer makes it: the shared leaf, valid from `t`, of a fixed serial.
fn leaf_params(t: OffsetDateTime) -> CertificateParams {
    let m = mapping("chat-a.example", t);
    let mut p = common::leaf_params(common::tel_san("tel:+15551234567"), Some(&m), t);
    p.serial_number = Some(SerialNumber::from_slice(&[0x5a; 16]));
    p.not_before = t;
    p.not_after = t + Duration::days(7);
    p
}

/// An issuing CA (pathLen 0) or root (pathLen 1) as `ca init` makes it: the shared CA of
/// chat-a's organisation and scope, valid from `t`, of a fixed serial.
fn ca_params(t: OffsetDateTime, path_len: u8) -> CertificateParams {
    let cn = if path_len == 0 {
        "Test Issuing CA"
    } else {
        "Test Root"
    };
    let s = common::scope(&["+1"], &["chat-a.example"]);
    let mut p = common::ca_params(cn, path_len, Some(&s), t);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Chat A Inc.");
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.serial_number = Some(SerialNumber::from_slice(&[0x6b; 16]));
    p.not_before = t;
    p.not_after = t + Duration::days(365);
    p
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Leaf,
    Ca,
    Root,
}

/// Builds a certificate of `kind`, changed by `f`, signed as the fixture would sign it.
fn build(fx: &Fixture, kind: Kind, f: impl FnOnce(&mut CertificateParams)) -> Vec<u8> {
    let t = now();
    let mut p = match kind {
        Kind::Leaf => leaf_params(t),
        Kind::Ca => ca_params(t, 0),
        Kind::Root => ca_params(t, 1),
    };
    f(&mut p);
    let key = common::key();
    match kind {
        Kind::Leaf => p.signed_by(&key, &fx.issuer()).unwrap().der().to_vec(),
        Kind::Ca => p.signed_by(&key, &fx.root_issuer()).unwrap().der().to_vec(),
        Kind::Root => p.self_signed(&key).unwrap().der().to_vec(),
    }
}

// --- DER surgery, for what rcgen (rightly) refuses to produce ---------------------------

fn tlv_len(d: &[u8]) -> (usize, usize) {
    match d[1] {
        l if l < 0x80 => (2, l as usize),
        0x81 => (3, d[2] as usize),
        0x82 => (4, ((d[2] as usize) << 8) | d[3] as usize),
        _ => panic!("length form not supported in tests"),
    }
}

fn len_bytes(n: usize) -> Vec<u8> {
    match n {
        n if n < 0x80 => vec![n as u8],
        n if n < 0x100 => vec![0x81, n as u8],
        n => vec![0x82, (n >> 8) as u8, n as u8],
    }
}

/// Replaces every TLV equal to `from` (walking into constructed TLVs) with `to`, fixing
/// every enclosing length. The signature no longer verifies; lints do not check it.
fn der_edit(d: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < d.len() {
        let (h, l) = tlv_len(&d[i..]);
        let node = &d[i..i + h + l];
        if node == from {
            out.extend_from_slice(to);
        } else if node[0] & 0x20 != 0 {
            let inner = der_edit(&node[h..], from, to);
            out.push(node[0]);
            out.extend(len_bytes(inner.len()));
            out.extend(inner);
        } else {
            out.extend_from_slice(node);
        }
        i += h + l;
    }
    out
}

fn utc_time(t: OffsetDateTime) -> Vec<u8> {
    let s = format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        t.year() % 100,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let mut v = vec![0x17, s.len() as u8];
    v.extend(s.bytes());
    v
}

fn generalized_time(t: OffsetDateTime) -> Vec<u8> {
    let s = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let mut v = vec![0x18, s.len() as u8];
    v.extend(s.bytes());
    v
}

fn ext_tlv(oid_der: &[u8], value: &[u8]) -> Vec<u8> {
    let mut inner = vec![0x06, oid_der.len() as u8];
    inner.extend_from_slice(oid_der);
    inner.push(0x04);
    inner.extend(len_bytes(value.len()));
    inner.extend_from_slice(value);
    let mut v = vec![0x30];
    v.extend(len_bytes(inner.len()));
    v.extend(inner);
    v
}

/// An Extension TLV marked critical.
fn crit_ext_tlv(oid_der: &[u8], value: &[u8]) -> Vec<u8> {
    let plain = ext_tlv(oid_der, value);
    let (h, _) = tlv_len(&plain);
    let oid_end = h + 2 + oid_der.len();
    let mut inner = plain[h..oid_end].to_vec();
    inner.extend([0x01, 0x01, 0xff]);
    inner.extend_from_slice(&plain[oid_end..]);
    let mut v = vec![0x30];
    v.extend(len_bytes(inner.len()));
    v.extend(inner);
    v
}

fn custom(oid: &[u64], content: Vec<u8>, critical: bool) -> CustomExtension {
    let mut e = CustomExtension::from_oid_content(oid, content);
    e.set_criticality(critical);
    e
}

fn fires(der: &[u8], id: &str) -> bool {
    let (_, findings) = lint_certificate(der, None).unwrap();
    findings.iter().any(|f| f.id == id)
}

fn ids(der: &[u8]) -> Vec<&'static str> {
    lint_certificate(der, None)
        .unwrap()
        .1
        .iter()
        .map(|f| f.id)
        .collect()
}

type Mutation = Box<dyn Fn(&Fixture) -> Vec<u8>>;

fn leaf_with(f: impl Fn(&mut CertificateParams) + 'static) -> Mutation {
    Box::new(move |fx| build(fx, Kind::Leaf, &f))
}

fn ca_with(f: impl Fn(&mut CertificateParams) + 'static) -> Mutation {
    Box::new(move |fx| build(fx, Kind::Ca, &f))
}

fn root_with(f: impl Fn(&mut CertificateParams) + 'static) -> Mutation {
    Box::new(move |fx| build(fx, Kind::Root, &f))
}

/// For every certificate lint: a certificate that makes it fire.
fn firing_cases() -> Vec<(&'static str, Mutation)> {
    let t = now();
    vec![
        (
            "e_leaf_sii_count",
            leaf_with(|p| {
                p.subject_alt_names
                    .push(SanType::URI("tel:+15550000000".try_into().unwrap()))
            }),
        ),
        (
            "e_leaf_sii_not_canonical",
            leaf_with(|p| {
                p.subject_alt_names = vec![SanType::URI("tel:+1-555-123-4567".try_into().unwrap())]
            }),
        ),
        (
            "e_leaf_san_not_critical",
            leaf_with(|p| {
                p.subject_alt_names = vec![];
                let mut san = vec![0x30, 18, 0x86, 16];
                san.extend(b"tel:+15551234567");
                p.custom_extensions
                    .push(custom(&[2, 5, 29, 17], san, false));
            }),
        ),
        (
            "e_leaf_subject_not_empty",
            leaf_with(|p| {
                p.distinguished_name
                    .push(DnType::CommonName, "+15551234567")
            }),
        ),
        (
            "e_leaf_mapping_missing",
            leaf_with(|p| p.custom_extensions = vec![policies_ext()]),
        ),
        (
            "e_leaf_mapping_malformed",
            leaf_with(|p| {
                p.custom_extensions = vec![
                    policies_ext(),
                    CustomExtension::from_oid_content(
                        oids::ID_PE_MIMI_MAPPING.arcs(),
                        vec![0x30, 0],
                    ),
                ]
            }),
        ),
        (
            "e_mapping_critical",
            leaf_with(move |p| {
                let mut m = mapping_ext(&mapping("chat-a.example", t));
                m.set_criticality(true);
                p.custom_extensions = vec![policies_ext(), m];
            }),
        ),
        (
            "e_mapping_validated_after_not_before",
            leaf_with(move |p| {
                p.custom_extensions = vec![
                    policies_ext(),
                    mapping_ext(&mapping("chat-a.example", t + Duration::hours(1))),
                ]
            }),
        ),
        (
            "w_mapping_validated_at_old",
            leaf_with(move |p| {
                p.custom_extensions = vec![
                    policies_ext(),
                    mapping_ext(&mapping("chat-a.example", t - Duration::days(40))),
                ]
            }),
        ),
        (
            "e_mapping_provider_not_lowercase",
            leaf_with(move |p| {
                p.custom_extensions = vec![
                    policies_ext(),
                    mapping_ext(
                        // The handle stays on the canonical domain: only the provider is wrong.
                        &mapping("Chat-A.example", t).with_handle("mimi://chat-a.example/u/alice"),
                    ),
                ]
            }),
        ),
        (
            "e_mapping_handle_not_bound",
            leaf_with(move |p| {
                let mut m = mapping("chat-a.example", t);
                m.handle = Some("mimi://chat-b.example/u/x".into());
                p.custom_extensions = vec![policies_ext(), mapping_ext(&m)]
            }),
        ),
        (
            "e_leaf_has_scope",
            leaf_with(|p| p.custom_extensions.push(scope_ext())),
        ),
        (
            "e_leaf_eku_not_mimi_only",
            leaf_with(|p| {
                p.extended_key_usages
                    .push(ExtendedKeyUsagePurpose::ServerAuth)
            }),
        ),
        (
            "e_leaf_ku_not_digital_signature",
            leaf_with(|p| p.key_usages = vec![KeyUsagePurpose::KeyEncipherment]),
        ),
        (
            "e_leaf_bc_not_critical",
            leaf_with(|p| p.is_ca = IsCa::NoCa),
        ),
        (
            "w_leaf_validity_over_7d",
            leaf_with(move |p| p.not_after = t + Duration::days(10)),
        ),
        (
            "e_leaf_validity_over_90d",
            leaf_with(move |p| p.not_after = t + Duration::days(100)),
        ),
        (
            "e_ca_eku_not_mimi_only",
            ca_with(|p| {
                p.extended_key_usages
                    .push(ExtendedKeyUsagePurpose::ServerAuth)
            }),
        ),
        (
            "e_ca_ku_missing",
            ca_with(|p| p.key_usages = vec![KeyUsagePurpose::KeyCertSign]),
        ),
        (
            "e_ku_not_critical",
            leaf_with(|p| {
                p.key_usages = vec![];
                p.custom_extensions.push(custom(
                    &[2, 5, 29, 15],
                    vec![0x03, 0x02, 0x07, 0x80],
                    false,
                ));
            }),
        ),
        (
            "e_ca_bc_not_critical",
            ca_with(|p| {
                p.is_ca = IsCa::NoCa;
                p.custom_extensions.push(custom(
                    &[2, 5, 29, 19],
                    vec![0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00],
                    false,
                ));
            }),
        ),
        (
            "e_ca_path_len",
            ca_with(|p| p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained)),
        ),
        (
            "e_root_path_len",
            root_with(|p| p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0))),
        ),
        (
            "e_scope_malformed",
            ca_with(|p| {
                p.custom_extensions = vec![
                    policies_ext(),
                    CustomExtension::from_oid_content(
                        oids::ID_PE_MIMI_SCOPE.arcs(),
                        vec![0x30, 0x02, 0x05, 0x00],
                    ),
                ]
            }),
        ),
        (
            "e_scope_critical",
            ca_with(|p| {
                let mut s = scope_ext();
                s.set_criticality(true);
                p.custom_extensions = vec![policies_ext(), s];
            }),
        ),
        (
            "n_ca_no_scope",
            root_with(|p| p.custom_extensions = vec![policies_ext()]),
        ),
        (
            "e_ca_has_mapping",
            ca_with(move |p| {
                p.custom_extensions
                    .push(mapping_ext(&mapping("chat-a.example", t)))
            }),
        ),
        (
            "e_signature_not_ecdsa_sha256",
            Box::new(|_fx: &Fixture| {
                let k384 = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
                let issuer = Issuer::new(ca_params(now(), 0), k384);
                leaf_params(now())
                    .signed_by(&common::key(), &issuer)
                    .unwrap()
                    .der()
                    .to_vec()
            }),
        ),
        (
            "e_key_not_p256",
            Box::new(|fx: &Fixture| {
                let k384 = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
                leaf_params(now())
                    .signed_by(&k384, &fx.issuer())
                    .unwrap()
                    .der()
                    .to_vec()
            }),
        ),
        (
            "e_serial_not_positive",
            leaf_with(|p| p.serial_number = Some(SerialNumber::from_slice(&[0]))),
        ),
        (
            "e_serial_not_positive",
            Box::new(|fx: &Fixture| {
                // negative: 0x5a.. turned into 0xda.. with the same length
                let der = build(fx, Kind::Leaf, |_| {});
                let mut from = vec![0x02, 0x10];
                from.extend([0x5a; 16]);
                let mut to = vec![0x02, 0x10, 0xda];
                to.extend([0x5a; 15]);
                der_edit(&der, &from, &to)
            }),
        ),
        (
            "e_serial_too_short",
            leaf_with(|p| p.serial_number = Some(SerialNumber::from_slice(&[1, 2, 3, 4]))),
        ),
        (
            "w_serial_under_128_bits",
            leaf_with(|p| p.serial_number = Some(SerialNumber::from_slice(&[0x11; 10]))),
        ),
        (
            "e_serial_too_long",
            leaf_with(|p| p.serial_number = Some(SerialNumber::from_slice(&[0x11; 21]))),
        ),
        ("e_missing_ski", leaf_with(|p| p.is_ca = IsCa::NoCa)),
        (
            "e_missing_aki",
            leaf_with(|p| p.use_authority_key_identifier_extension = false),
        ),
        (
            "e_policy_missing",
            leaf_with(move |p| {
                p.custom_extensions = vec![mapping_ext(&mapping("chat-a.example", t))]
            }),
        ),
        (
            "e_validity_inverted",
            leaf_with(move |p| p.not_after = t - Duration::days(1)),
        ),
        (
            "e_utc_generalized_time",
            Box::new(move |fx: &Fixture| {
                // notBefore set to `t` itself: `build` reads the clock again, and may read
                // the next second.
                let der = build(fx, Kind::Leaf, move |p| p.not_before = t);
                der_edit(&der, &utc_time(t), &generalized_time(t))
            }),
        ),
        (
            "e_unknown_critical_extension",
            leaf_with(|p| {
                p.custom_extensions
                    .push(custom(&[1, 2, 3, 4], vec![0x05, 0x00], true))
            }),
        ),
        (
            "e_extension_must_not_be_critical",
            leaf_with(move |p| {
                p.custom_extensions = vec![
                    mapping_ext(&mapping("chat-a.example", t)),
                    custom(&[2, 5, 29, 32], certificate_policies_der(), true),
                ]
            }),
        ),
        (
            "e_extension_not_der",
            leaf_with(|p| {
                // keyUsage digitalSignature with a trailing byte.
                p.key_usages = vec![];
                p.custom_extensions.push(custom(
                    &[2, 5, 29, 15],
                    vec![0x03, 0x02, 0x07, 0x80, 0x00],
                    true,
                ))
            }),
        ),
        (
            "e_duplicate_extension",
            leaf_with(|p| p.custom_extensions.push(policies_ext())),
        ),
        (
            "e_version_not_v3",
            Box::new(|fx: &Fixture| {
                let der = build(fx, Kind::Leaf, |_| {});
                der_edit(
                    &der,
                    &[0xa0, 0x03, 0x02, 0x01, 0x02],
                    &[0xa0, 0x03, 0x02, 0x01, 0x01],
                )
            }),
        ),
        (
            "n_not_mapping_v1",
            leaf_with(|p| {
                p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                p.custom_extensions = vec![];
            }),
        ),
    ]
}

fn crl_der(_fx: &Fixture, this: OffsetDateTime, issuer: &Issuer<'_, KeyPair>) -> Vec<u8> {
    crl_params(this).signed_by(issuer).unwrap().der().to_vec()
}

/// The parameters of the fixture CA's CRL at `this`.
fn crl_params(this: OffsetDateTime) -> CertificateRevocationListParams {
    CertificateRevocationListParams {
        this_update: this,
        next_update: this + Duration::hours(24),
        crl_number: SerialNumber::from_slice(&[7]),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from_slice(&[0x5a; 16]),
            revocation_time: this,
            reason_code: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    }
}

#[test]
fn fixture_chain_is_clean() {
    let mut fx = Fixture::new();
    let issued = fx
        .ca
        .issue(
            &IssueRequest::new(Sii::parse("+15551234567").unwrap()),
            now(),
        )
        .unwrap();
    for der in [&issued.leaf_der, &fx.ca_der, &fx.root_der] {
        assert_eq!(
            ids(der),
            Vec::<&str>::new(),
            "issuer output must lint clean"
        );
    }
    let crl = crl_der(&fx, now(), &fx.issuer());
    assert!(lint_crl(&crl).unwrap().is_empty());
    // Built the same way as the issuer: clean too (the base of every case below).
    for kind in [Kind::Leaf, Kind::Ca, Kind::Root] {
        assert_eq!(
            ids(&build(&fx, kind, |_| {})),
            Vec::<&str>::new(),
            "{kind:?}"
        );
    }
}

#[test]
fn every_certificate_lint_fires_on_its_case_and_stays_quiet_on_clean_certificates() {
    let fx = Fixture::new();
    let clean: Vec<Vec<u8>> = [Kind::Leaf, Kind::Ca, Kind::Root]
        .into_iter()
        .map(|k| build(&fx, k, |_| {}))
        .collect();
    let cases = firing_cases();
    for (id, make) in &cases {
        let der = make(&fx);
        assert!(fires(&der, id), "{id} did not fire; got {:?}", ids(&der));
        for c in &clean {
            assert!(!fires(c, id), "{id} fired on a clean certificate");
        }
    }
    // Every certificate lint of the catalogue has a case.
    for l in catalogue() {
        if l.applies_to.contains(&mimi_attest::LintTarget::Crl)
            || l.applies_to.contains(&mimi_attest::LintTarget::Chain)
            || l.applies_to.contains(&mimi_attest::LintTarget::Csr)
        {
            continue;
        }
        assert!(
            cases.iter().any(|(id, _)| *id == l.id),
            "no firing case for {}",
            l.id
        );
    }
}

/// The severity-limited run (what pre-issuance linting uses) reports exactly the findings of
/// the full run at that severity or above, details included, on every lint's firing case and
/// on clean certificates, whatever role the certificate is linted as.
#[test]
fn severity_limited_run_reports_exactly_the_full_runs_findings_at_that_severity() {
    let fx = Fixture::new();
    let mut ders: Vec<Vec<u8>> = [Kind::Leaf, Kind::Ca, Kind::Root]
        .into_iter()
        .map(|k| build(&fx, k, |_| {}))
        .collect();
    ders.extend(firing_cases().iter().map(|(_, make)| make(&fx)));
    let mut errors_seen = 0;
    for der in &ders {
        for role in [
            None,
            Some(Role::Leaf),
            Some(Role::IssuingCa),
            Some(Role::Root),
        ] {
            let (full_role, full) = lint_certificate(der, role).unwrap();
            for min in [Severity::Notice, Severity::Warning, Severity::Error] {
                let (r, limited) = lint_certificate_min(der, role, min).unwrap();
                let want: Vec<_> = full.iter().filter(|f| f.severity >= min).cloned().collect();
                assert_eq!((r, &limited), (full_role, &want), "{role:?} at {min}");
            }
            errors_seen += full
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count();
        }
    }
    assert!(errors_seen > 50, "the corpus must exercise error lints");
}

#[test]
fn crl_lints_fire_and_stay_quiet() {
    let fx = Fixture::new();
    let t = now();
    let good = crl_der(&fx, t, &fx.issuer());
    assert!(lint_crl(&good).unwrap().is_empty());
    let (_, parsed) = x509_parser::parse_x509_crl(&good).unwrap();
    let ext_value = |dotted: &str| {
        parsed
            .extensions()
            .iter()
            .find(|e| oids::dotted(e.oid.as_bytes()) == dotted)
            .unwrap()
            .value
            .to_vec()
    };
    let number = ext_tlv(&[0x55, 0x1d, 0x14], &ext_value("2.5.29.20"));
    let aki = ext_tlv(&[0x55, 0x1d, 0x23], &ext_value("2.5.29.35"));
    let k384 = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
    let p384_issuer = Issuer::new(ca_params(t, 0), k384);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("e_crl_missing_number", der_edit(&good, &number, &[])),
        ("e_crl_aki_missing", der_edit(&good, &aki, &[])),
        (
            "e_crl_next_update_missing",
            der_edit(&good, &utc_time(t + Duration::hours(24)), &[]),
        ),
        ("e_crl_not_v2", der_edit(&good, &[0x02, 0x01, 0x01], &[])),
        (
            "e_crl_signature_not_ecdsa_sha256",
            crl_der(&fx, t, &p384_issuer),
        ),
        (
            "e_crl_number_critical",
            der_edit(
                &good,
                &number,
                &crit_ext_tlv(&[0x55, 0x1d, 0x14], &ext_value("2.5.29.20")),
            ),
        ),
        (
            "e_crl_number_invalid",
            der_edit(
                &good,
                &number,
                &ext_tlv(&[0x55, 0x1d, 0x14], &[0x02, 0x01, 0xff]),
            ),
        ),
        (
            "e_crl_issuer_empty",
            crl_der(&fx, t, &{
                let mut p = CertificateParams::default();
                p.distinguished_name = DistinguishedName::new();
                Issuer::new(p, common::key())
            }),
        ),
        (
            "e_crl_next_update_before_this_update",
            der_edit(
                &good,
                &utc_time(t + Duration::hours(24)),
                &utc_time(t - Duration::hours(1)),
            ),
        ),
        (
            "e_crl_not_full",
            CertificateRevocationListParams {
                issuing_distribution_point: Some(CrlIssuingDistributionPoint {
                    distribution_point: CrlDistributionPoint {
                        uris: vec!["http://crl.chat-a.example/mapping.crl".into()],
                    },
                    scope: Some(CrlScope::UserCertsOnly),
                }),
                ..crl_params(t)
            }
            .signed_by(&fx.issuer())
            .unwrap()
            .der()
            .to_vec(),
        ),
    ];
    // A negative number and a 21-octet one are both refused, a 20-octet one is fine.
    let with_number = |value: &[u8]| {
        let der = der_edit(&good, &number, &ext_tlv(&[0x55, 0x1d, 0x14], value));
        lint_crl(&der)
            .unwrap()
            .iter()
            .map(|f| f.id)
            .collect::<Vec<_>>()
    };
    let mut long = vec![0x02, 21, 0x01];
    long.extend([0; 20]);
    assert!(with_number(&long).contains(&"e_crl_number_invalid"));
    let mut twenty = vec![0x02, 20, 0x01];
    twenty.extend([0; 19]);
    assert_eq!(with_number(&twenty), Vec::<&str>::new());
    assert!(with_number(&[0x02, 0x02, 0x00, 0x01]).contains(&"e_crl_number_invalid"));
    for (id, der) in &cases {
        let f = lint_crl(der).unwrap();
        assert!(f.iter().any(|x| x.id == *id), "{id} did not fire: {f:?}");
    }
    for l in catalogue()
        .iter()
        .filter(|l| l.applies_to.contains(&mimi_attest::LintTarget::Crl))
    {
        assert!(
            cases.iter().any(|(id, _)| *id == l.id),
            "no case for {}",
            l.id
        );
    }
}

fn chain_pem(ders: &[&[u8]]) -> Vec<u8> {
    ders.iter()
        .map(|d| pem::encode(&pem::Pem::new("CERTIFICATE", d.to_vec())))
        .collect::<String>()
        .into_bytes()
}

fn chain_ids(ders: &[&[u8]], index: usize) -> Vec<&'static str> {
    let report = lint_objects(&read_objects(&chain_pem(ders)).unwrap());
    report.objects[index]
        .findings
        .iter()
        .map(|f| f.id)
        .collect()
}

/// The chain lints (a certificate checked against its issuer in the same input) fire on
/// their case and stay quiet on the issuer's own chain and when the issuer is absent.
#[test]
fn chain_lints_fire_on_their_case_and_stay_quiet() {
    let mut fx = Fixture::new();
    let issued = fx
        .ca
        .issue(
            &IssueRequest::new(Sii::parse("+15551234567").unwrap()),
            now(),
        )
        .unwrap();
    // The issuer's own chain, with and without the root: clean.
    for chain in [
        vec![
            issued.leaf_der.as_slice(),
            fx.ca_der.as_slice(),
            fx.root_der.as_slice(),
        ],
        vec![issued.leaf_der.as_slice(), fx.ca_der.as_slice()],
    ] {
        for i in 0..chain.len() {
            assert_eq!(chain_ids(&chain, i), Vec::<&str>::new(), "object {i}");
        }
    }
    // Leaf for a number outside the fixture CA's scope (+1, +44), signed by that CA.
    let outside = build(&fx, Kind::Leaf, |p| {
        p.subject_alt_names = vec![SanType::URI("tel:+33612345678".try_into().unwrap())];
    });
    assert!(chain_ids(&[&outside, &fx.ca_der], 0).contains(&"e_chain_sii_outside_issuer_scope"));
    assert!(
        !fires(&outside, "e_chain_sii_outside_issuer_scope"),
        "needs the issuer"
    );
    // Leaf outliving its issuing CA.
    let long = build(&fx, Kind::Leaf, |p| {
        p.not_after = p.not_before + Duration::days(400)
    });
    assert!(chain_ids(&[&long, &fx.ca_der], 0).contains(&"e_chain_outlives_issuer"));
    // A CA whose scope is wider than its root's (the fixture root allows +1, +44).
    let wide = build(&fx, Kind::Ca, |p| {
        let s = mimi_attest::Scope::new(&["+"], &[] as &[&str]).unwrap();
        p.custom_extensions = vec![
            policies_ext(),
            CustomExtension::from_oid_content(oids::ID_PE_MIMI_SCOPE.arcs(), s.to_der().unwrap()),
        ];
    });
    assert!(chain_ids(&[&wide, &fx.root_der], 0).contains(&"e_chain_scope_widened"));
    // A leaf naming a CA as issuer but signed by another key: AKI and signature both wrong.
    let named_ca = build(&fx, Kind::Ca, |_| {});
    let impostor = Issuer::new(ca_params(now(), 0), common::key());
    let forged = leaf_params(now())
        .signed_by(&common::key(), &impostor)
        .unwrap()
        .der()
        .to_vec();
    let found = chain_ids(&[&forged, &named_ca], 0);
    assert!(found.contains(&"e_chain_aki_mismatch"), "{found:?}");
    assert!(found.contains(&"e_chain_signature_invalid"), "{found:?}");
    // A leaf from the right CA with one bit of its signature flipped.
    let mut tampered = build(&fx, Kind::Leaf, |_| {});
    let n = tampered.len();
    tampered[n - 5] ^= 0x01;
    let found = chain_ids(&[&tampered, &fx.ca_der], 0);
    assert_eq!(found, vec!["e_chain_signature_invalid"]);
    // Every chain lint of the catalogue is covered above.
    for l in catalogue()
        .iter()
        .filter(|l| l.applies_to.contains(&mimi_attest::LintTarget::Chain))
    {
        assert!(
            [
                "e_chain_sii_outside_issuer_scope",
                "e_chain_outlives_issuer",
                "e_chain_scope_widened",
                "e_chain_signature_invalid",
                "e_chain_aki_mismatch",
            ]
            .contains(&l.id),
            "untested chain lint {}",
            l.id
        );
    }
}

#[test]
fn catalogue_is_well_formed() {
    let c = catalogue();
    assert!(c.len() >= 25, "{}", c.len());
    let mut seen = std::collections::HashSet::new();
    for l in c {
        assert!(seen.insert(l.id), "duplicate id {}", l.id);
        let prefix = match l.severity {
            Severity::Error => "e_",
            Severity::Warning => "w_",
            Severity::Notice => "n_",
        };
        assert!(l.id.starts_with(prefix), "{} vs {:?}", l.id, l.severity);
        assert!(!l.message.contains('\n') && !l.message.is_empty());
        assert!(
            l.citation.starts_with("docs/spec.md#") || l.citation.starts_with("RFC 5280"),
            "{}",
            l.citation
        );
        assert!(!l.applies_to.is_empty());
    }
}

#[test]
fn inspect_decodes_every_field_of_a_fixture_chain() {
    let mut fx = Fixture::new();
    let t = now();
    // A CSR from the user's client, naming the SII.
    let user_key = common::key();
    let mut csr_params = CertificateParams::default();
    csr_params.distinguished_name = DistinguishedName::new();
    csr_params.subject_alt_names = vec![SanType::URI("tel:+15551234567".try_into().unwrap())];
    let csr = csr_params.serialize_request(&user_key).unwrap();
    let csr_der = csr.der().to_vec();
    let validated = t - Duration::hours(2);
    let req = IssueRequest::new(Sii::parse("+1 555 123 4567").unwrap())
        .with_handle("mimi://chat-a.example/u/alice")
        .with_method(Method::VoiceOtp)
        .with_validated_at(validated)
        .with_validity("3d".parse::<Span>().unwrap())
        .with_flags(
            MappingFlags::default()
                .with_preferred(true)
                .with_new_holder(true),
        )
        .with_key(SubjectKey::Csr(csr_der.clone()));
    let issued = fx.ca.issue(&req, t).unwrap();
    // Input in the "wrong" order (root first), PEM, with a CSR and a CRL mixed in.
    let mut input = String::new();
    input.push_str(fx.ca.root_pem());
    input.push_str("some comment between blocks\n");
    input.push_str(&issued.chain_pem);
    input.push_str(&csr.pem().unwrap());
    let crl = crl_der(&fx, t, &fx.issuer());
    input.push_str(&pem::encode(&pem::Pem::new("X509 CRL", crl.clone())));
    let objects = read_objects(input.as_bytes()).unwrap();
    let kinds: Vec<ObjectKind> = objects.iter().map(|o| o.kind).collect();
    assert_eq!(
        kinds,
        [
            ObjectKind::Certificate,
            ObjectKind::Certificate,
            ObjectKind::Certificate,
            ObjectKind::Csr,
            ObjectKind::Crl
        ]
    );
    let r = inspect(&objects, t + Duration::hours(1)).unwrap();
    assert_eq!(r.certificates.len(), 3);
    let roles: Vec<Role> = r.certificates.iter().map(|c| c.role).collect();
    assert_eq!(roles, [Role::Leaf, Role::IssuingCa, Role::Root]);
    assert_eq!(r.certificates[0].input_index, 1);
    assert_eq!(r.certificates[0].issuer_index, Some(1));
    assert_eq!(r.certificates[1].issuer_index, Some(2));
    assert_eq!(r.certificates[2].issuer_index, None);
    assert!(r.certificates[2].self_issued);
    let tree = r.tree();
    assert!(
        tree.starts_with("[0] leaf tel:+15551234567\n└─ issued by [1] issuing-ca"),
        "{tree}"
    );

    let leaf = &r.certificates[0];
    assert_eq!(leaf.subject, "");
    assert_eq!(
        leaf.issuer,
        "O=Chat A Inc., CN=Chat A Inc. Mapping Issuing CA 1"
    );
    assert_eq!(leaf.serial, issued.serial);
    assert_eq!(leaf.version, 3);
    assert_eq!(leaf.signature_algorithm.oid, "1.2.840.10045.4.3.2");
    assert_eq!(leaf.signature_algorithm.name, Some("ecdsa-with-SHA256"));
    assert_eq!(leaf.validity.not_before, audit_time(t));
    assert_eq!(leaf.validity.not_after, audit_time(t + Duration::days(3)));
    assert_eq!(leaf.validity.state, "valid");
    assert_eq!(
        leaf.validity.seconds_left,
        (Duration::days(3) - Duration::hours(1)).whole_seconds()
    );
    assert_eq!(leaf.validity.time_left, "2d 23h 0m left");
    assert_eq!(
        leaf.sha256_fingerprint,
        mimi_attest::hex(&mimi_attest::sha256(&issued.leaf_der))
    );
    let (_, pc) = x509_parser::parse_x509_certificate(&issued.leaf_der).unwrap();
    assert_eq!(
        leaf.public_key.spki_sha256,
        mimi_attest::hex(&mimi_attest::sha256(pc.public_key().raw))
    );
    assert_eq!(
        leaf.public_key.spki_sha256,
        mimi_attest::hex(&mimi_attest::sha256(
            &rcgen::PublicKeyData::subject_public_key_info(&user_key)
        ))
    );
    assert_eq!(leaf.public_key.algorithm.name, Some("id-ecPublicKey"));
    assert_eq!(
        leaf.public_key.curve.as_ref().unwrap().oid,
        "1.2.840.10045.3.1.7"
    );
    let san = leaf.subject_alt_names.as_ref().unwrap();
    assert!(san.critical);
    assert_eq!(san.names.len(), 1);
    assert_eq!(san.names[0].kind, "uniformResourceIdentifier");
    assert_eq!(san.names[0].value, "tel:+15551234567");
    let ku = leaf.key_usage.as_ref().unwrap();
    assert!(ku.critical);
    assert_eq!(ku.usages, ["digitalSignature"]);
    assert_eq!(ku.extension.oid, "2.5.29.15");
    let eku = leaf.extended_key_usage.as_ref().unwrap();
    assert!(!eku.critical);
    assert_eq!(eku.purposes.len(), 1);
    assert_eq!(eku.purposes[0].oid, "2.999.6464.1.1");
    assert_eq!(eku.purposes[0].name, Some("id-kp-mimiMapping"));
    let bc = leaf.basic_constraints.as_ref().unwrap();
    assert!(bc.critical && !bc.ca && bc.path_len.is_none());
    let pol = leaf.policies.as_ref().unwrap();
    assert_eq!(pol.policies[0].oid, "2.999.6464.3.1");
    assert_eq!(pol.policies[0].name, Some("id-cp-mimiMappingV1"));
    assert_eq!(leaf.authority_key_id, r.certificates[1].subject_key_id);
    assert!(leaf.subject_key_id.is_some());
    assert_eq!(
        leaf.crl_distribution_points,
        ["http://crl.chat-a.example/mapping.crl"]
    );
    let m = leaf.mimi_mapping.as_ref().unwrap();
    assert!(!m.critical);
    assert_eq!(m.sii.as_deref(), Some("tel:+15551234567"));
    assert_eq!(m.provider, "chat-a.example");
    assert_eq!(m.handle.as_deref(), Some("mimi://chat-a.example/u/alice"));
    assert_eq!(m.method, "voice-otp");
    assert_eq!(m.validated_at, audit_time(validated));
    assert!(m.flags.preferred && m.flags.new_holder);
    assert_eq!(
        m.consent_sha256.as_deref(),
        Some(mimi_attest::hex(&mimi_attest::sha256(&csr_der)).as_str())
    );
    assert!(leaf.mimi_mapping_error.is_none() && leaf.mimi_scope.is_none());
    assert!(
        leaf.other_extensions.is_empty(),
        "{:?}",
        leaf.other_extensions
    );

    let ca = &r.certificates[1];
    assert_eq!(
        ca.subject,
        "O=Chat A Inc., CN=Chat A Inc. Mapping Issuing CA 1"
    );
    assert_eq!(
        ca.key_usage.as_ref().unwrap().usages,
        ["keyCertSign", "cRLSign"]
    );
    assert_eq!(ca.basic_constraints.as_ref().unwrap().path_len, Some(0));
    let scope = ca.mimi_scope.as_ref().unwrap();
    assert_eq!(scope.tel, ["+1", "+44"]);
    assert_eq!(scope.email, ["chat-a.example"]);
    assert!(ca.mimi_mapping.is_none());
    let root = &r.certificates[2];
    assert_eq!(root.basic_constraints.as_ref().unwrap().path_len, Some(1));
    assert!(root.authority_key_id.is_none());
    assert_eq!(
        root.sha256_fingerprint,
        mimi_attest::hex(&mimi_attest::sha256(&fx.root_der))
    );

    let c = &r.csrs[0];
    assert_eq!(c.input_index, 3);
    assert!(c.signature_valid);
    assert_eq!(c.requested_names[0].value, "tel:+15551234567");
    assert_eq!(c.sha256, m.consent_sha256.clone().unwrap());
    assert_eq!(c.public_key.spki_sha256, leaf.public_key.spki_sha256);

    let l = &r.crls[0];
    assert_eq!(l.version, 2);
    assert_eq!(l.issuer, ca.subject);
    assert_eq!(l.crl_number.as_deref(), Some("7"));
    assert_eq!(l.this_update, audit_time(t));
    assert_eq!(l.next_update, Some(audit_time(t + Duration::hours(24))));
    assert_eq!(l.authority_key_id, ca.subject_key_id);
    assert_eq!(l.entries.len(), 1);
    assert_eq!(l.entries[0].serial.to_string(), "5a".repeat(16));
    assert_eq!(l.entries[0].reason.as_deref(), Some("keyCompromise"));

    // Text rendering names every section.
    let text = r.render_text();
    for needle in [
        "path (3 certificates, leaf first)",
        "mimiMapping",
        "voice-otp",
        "mimiScope",
        "csr [input 3]",
        "crl [input 4]",
        "keyCompromise",
        "id-kp-mimiMapping (2.999.6464.1.1)",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

fn audit_time(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[test]
fn other_extensions_are_shown_raw_and_malformed_mapping_reported() {
    let fx = Fixture::new();
    let der = build(&fx, Kind::Leaf, |p| {
        p.custom_extensions = vec![
            policies_ext(),
            CustomExtension::from_oid_content(oids::ID_PE_MIMI_MAPPING.arcs(), vec![0x30, 0]),
            custom(&[1, 2, 3, 4], vec![0x05, 0x00], true),
        ]
    });
    let r = inspect(&read_objects(&der).unwrap(), now()).unwrap();
    let c = &r.certificates[0];
    assert!(c.mimi_mapping.is_none());
    assert!(c.mimi_mapping_error.is_some());
    let raw: Vec<(&str, bool, usize, &str)> = c
        .other_extensions
        .iter()
        .map(|e| {
            (
                e.extension.oid.as_str(),
                e.critical,
                e.length,
                e.hex.as_str(),
            )
        })
        .collect();
    assert_eq!(
        raw,
        [
            ("2.999.6464.2.1", false, 2, "3000"),
            ("1.2.3.4", true, 2, "0500")
        ]
    );
}

#[test]
fn inspect_json_schema_is_stable() {
    let mut fx = Fixture::new();
    let issued = fx
        .ca
        .issue(
            &IssueRequest::new(Sii::parse("alice@chat-a.example").unwrap()),
            now(),
        )
        .unwrap();
    let r = inspect(&read_objects(issued.chain_pem.as_bytes()).unwrap(), now()).unwrap();
    let v = serde_json::to_value(&r).unwrap();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&v), ["certificates", "crls", "csrs"]);
    let cert = &v["certificates"][0];
    assert_eq!(
        keys(cert),
        [
            "authority_info_access",
            "authority_key_id",
            "basic_constraints",
            "crl_distribution_points",
            "extended_key_usage",
            "input_index",
            "issuer",
            "issuer_index",
            "key_usage",
            "mimi_mapping",
            "mimi_mapping_error",
            "mimi_scope",
            "mimi_scope_error",
            "name_constraints",
            "other_extensions",
            "policies",
            "public_key",
            "role",
            "self_issued",
            "serial",
            "sha256_fingerprint",
            "signature_algorithm",
            "subject",
            "subject_alt_names",
            "subject_key_id",
            "tn_auth_list",
            "tn_auth_list_error",
            "validity",
            "version"
        ]
    );
    assert_eq!(
        keys(&cert["mimi_mapping"]),
        [
            "consent_sha256",
            "critical",
            "flags",
            "handle",
            "method",
            "provider",
            "sii",
            "validated_at"
        ]
    );
    assert_eq!(
        keys(&cert["validity"]),
        [
            "not_after",
            "not_before",
            "seconds_left",
            "state",
            "time_left"
        ]
    );
    assert_eq!(
        keys(&cert["public_key"]),
        ["algorithm", "bits", "curve", "description", "spki_sha256"]
    );
    assert_eq!(cert["public_key"]["bits"], 256);
    assert_eq!(cert["public_key"]["description"], "EC P-256");
    assert_eq!(
        keys(&cert["extended_key_usage"]),
        ["critical", "extension", "purposes"]
    );
    assert_eq!(
        keys(&cert["extended_key_usage"]["purposes"][0]),
        ["name", "oid"]
    );
    assert_eq!(cert["role"], "leaf");
    assert_eq!(cert["mimi_mapping"]["sii"], "mailto:alice@chat-a.example");
    assert_eq!(cert["subject_alt_names"]["names"][0]["kind"], "rfc822Name");
    assert_eq!(v["certificates"][1]["role"], "issuing-ca");
    assert_eq!(
        keys(&v["certificates"][1]["mimi_scope"]),
        ["critical", "email", "tel"]
    );
}

#[test]
fn input_detection() {
    let fx = Fixture::new();
    // DER: one certificate, and two concatenated.
    assert_eq!(read_objects(&fx.ca_der).unwrap().len(), 1);
    let mut two = fx.ca_der.clone();
    two.extend(&fx.root_der);
    assert_eq!(read_objects(&two).unwrap().len(), 2);
    // DER CRL and CSR.
    let crl = crl_der(&fx, now(), &fx.issuer());
    assert_eq!(read_objects(&crl).unwrap()[0].kind, ObjectKind::Crl);
    let csr = CertificateParams::default()
        .serialize_request(&common::key())
        .unwrap();
    assert_eq!(read_objects(csr.der()).unwrap()[0].kind, ObjectKind::Csr);
    let pem_csr = csr
        .pem()
        .unwrap()
        .replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST");
    assert_eq!(
        read_objects(pem_csr.as_bytes()).unwrap()[0].kind,
        ObjectKind::Csr
    );
    // Errors that say what is wrong.
    let err = |b: &[u8]| read_objects(b).unwrap_err().to_string();
    assert!(err(b"hello").contains("neither PEM nor"));
    assert!(err(b"").contains("neither PEM nor"));
    assert!(err(common::key().serialize_pem().as_bytes()).contains("PRIVATE KEY"));
    let mislabelled = fx.ca.ca_pem().replace("CERTIFICATE", "X509 CRL");
    assert!(
        err(mislabelled.as_bytes()).contains("labelled as a crl"),
        "{}",
        err(mislabelled.as_bytes())
    );
    let mut trailing = fx.ca_der.clone();
    trailing.extend([0x30, 0x00]);
    assert!(err(&trailing).contains("not a certificate"));
}

#[test]
fn lint_report_threshold() {
    let fx = Fixture::new();
    let warn = build(&fx, Kind::Leaf, |p| {
        p.not_after = p.not_before + Duration::days(10)
    });
    let report = lint_objects(&read_objects(&warn).unwrap());
    assert!(!report.fails(Severity::Error));
    assert!(report.fails(Severity::Warning));
    assert_eq!(report.count(Severity::Warning), 1);
    assert_eq!(report.objects[0].role, Some(Role::Leaf));
}

#[test]
fn pre_issuance_lint_refuses_and_stores_nothing_as_issued() {
    // leaf_max and max_validation_age 180d let the issuer produce a 100-day leaf; the profile lint
    // e_leaf_validity_over_90d refuses it.
    let mut fx = Fixture::new();
    let req = IssueRequest::new(Sii::parse("+15551234567").unwrap())
        .with_validity("100d".parse::<Span>().unwrap());
    match fx.ca.issue(&req, now()) {
        Err(IssueError::LintFailed { findings }) => {
            assert!(findings.contains("e_leaf_validity_over_90d"), "{findings}")
        }
        other => panic!("expected LintFailed, got {other:?}"),
    }
    let leaves: Vec<_> = fx
        .ca
        .store()
        .all()
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == mimi_attest::CertKind::Leaf)
        .collect();
    assert_eq!(leaves.len(), 1);
    assert_eq!(leaves[0].status, CertStatus::Abandoned);
    assert!(leaves[0].der.is_none());
    // A batch: the bad request fails alone, the good one is issued (and lints clean).
    let good = IssueRequest::new(Sii::parse("+15551234568").unwrap());
    let out = fx.ca.issue_many(&[req, good], now()).unwrap();
    assert!(matches!(out[0], Err(IssueError::LintFailed { .. })));
    let ok = out[1].as_ref().unwrap();
    assert!(lint_certificate(&ok.leaf_der, None).unwrap().1.is_empty());
}

#[test]
fn store_listing_and_export() {
    let mut fx = Fixture::new();
    let t = now();
    let a = fx
        .ca
        .issue(&IssueRequest::new(Sii::parse("+15551234567").unwrap()), t)
        .unwrap();
    let short = IssueRequest::new(Sii::parse("bob@chat-a.example").unwrap())
        .with_validity("1h".parse::<Span>().unwrap());
    fx.ca.issue(&short, t).unwrap();
    let dir = fx.ca.dir().to_path_buf();
    let all = store_records(&dir, &StoreQuery::default(), t).unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(
        all.iter().map(|r| r.kind).collect::<Vec<_>>(),
        ["root", "ca", "leaf", "leaf"]
    );
    let later = t + Duration::hours(2);
    let expired = store_records(
        &dir,
        &StoreQuery::default().with_state(RecordState::Expired),
        later,
    )
    .unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].sii.as_deref(), Some("mailto:bob@chat-a.example"));
    let by_sii = store_records(
        &dir,
        &StoreQuery::default()
            .with_sii(Sii::parse("+1 (555) 123-4567").unwrap())
            .with_state(RecordState::Valid),
        later,
    )
    .unwrap();
    assert_eq!(by_sii.len(), 1);
    assert_eq!(by_sii[0].serial, a.serial);
    assert_eq!(
        by_sii[0].sha256_fingerprint.as_deref(),
        Some(mimi_attest::hex(&mimi_attest::sha256(&a.leaf_der)).as_str())
    );
    assert_eq!(by_sii[0].method.as_deref(), Some("sms-otp"));
    // Export: every certificate with its record; inspect reads it back.
    let export = export_pem(&dir, t).unwrap();
    assert_eq!(export.matches("-----BEGIN CERTIFICATE-----").count(), 4);
    assert!(export.contains(&format!("# serial: {}\n", a.serial)));
    assert!(export.contains("# sii: tel:+15551234567\n"));
    let back = read_objects(export.as_bytes()).unwrap();
    assert_eq!(back.len(), 4);
    assert!(back.iter().any(|o| o.der == a.leaf_der));
}

#[test]
fn openssl_agrees_on_serial_fingerprint_and_validity() {
    if no_openssl("the inspect cross-check") {
        return;
    }
    let mut fx = Fixture::new();
    let issued = fx
        .ca
        .issue(
            &IssueRequest::new(Sii::parse("+15551234567").unwrap()),
            now(),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for der in [
        issued.leaf_der.clone(),
        fx.ca_der.clone(),
        fx.root_der.clone(),
    ] {
        let path = dir.path().join("c.der");
        std::fs::write(&path, &der).unwrap();
        let out = std::process::Command::new("openssl")
            .args([
                "x509",
                "-inform",
                "DER",
                "-noout",
                "-serial",
                "-fingerprint",
                "-sha256",
                "-startdate",
                "-enddate",
                "-in",
            ])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k))
                .unwrap_or_else(|| panic!("{k} missing in {text}"))
                .trim()
                .to_owned()
        };
        let r = inspect(&read_objects(&der).unwrap(), now()).unwrap();
        let c = &r.certificates[0];
        assert_eq!(field("serial=").to_lowercase(), c.serial.to_string());
        let fp = text.lines().find(|l| l.contains("Fingerprint=")).unwrap();
        let fp = fp
            .split('=')
            .nth(1)
            .unwrap()
            .replace(':', "")
            .to_lowercase();
        assert_eq!(fp, c.sha256_fingerprint);
        // openssl: "Nov 26 09:00:00 2026 GMT"
        let fmt = time::macros::format_description!(
            "[month repr:short] [day padding:space] [hour]:[minute]:[second] [year] GMT"
        );
        let parse = |s: &str| {
            time::PrimitiveDateTime::parse(s, &fmt)
                .unwrap()
                .assume_utc()
        };
        assert_eq!(
            audit_time(parse(&field("notBefore="))),
            c.validity.not_before
        );
        assert_eq!(audit_time(parse(&field("notAfter="))), c.validity.not_after);
    }
}

// --- CSRs, and certificates of other profiles ------------------------------------------

fn csr_with(key: &KeyPair, names: Vec<SanType>) -> Vec<u8> {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.subject_alt_names = names;
    p.serialize_request(key).unwrap().der().to_vec()
}

fn csr_ids(der: &[u8]) -> Vec<&'static str> {
    mimi_attest::lint_csr(der)
        .unwrap()
        .iter()
        .map(|f| f.id)
        .collect()
}

/// Every CSR lint fires on its case and stays quiet on the CSRs a mapping client makes.
#[test]
fn csr_lints_fire_and_stay_quiet() {
    let key = common::key();
    let tel = csr_with(
        &key,
        vec![SanType::URI("tel:+15551234567".try_into().unwrap())],
    );
    let email = csr_with(
        &key,
        vec![SanType::Rfc822Name(
            "alice@chat-a.example".try_into().unwrap(),
        )],
    );
    assert_eq!(csr_ids(&tel), Vec::<&str>::new());
    assert_eq!(csr_ids(&email), Vec::<&str>::new());
    let mut bad_sig = tel.clone();
    let n = bad_sig.len();
    bad_sig[n - 5] ^= 0x01;
    let p384 = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
    let ed = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "e_csr_version_not_v1",
            der_edit(&tel, &[0x02, 0x01, 0x00], &[0x02, 0x01, 0x01]),
        ),
        ("e_csr_signature_invalid", bad_sig),
        (
            "e_csr_key_not_p256",
            csr_with(
                &p384,
                vec![SanType::URI("tel:+15551234567".try_into().unwrap())],
            ),
        ),
        (
            "e_csr_key_not_p256",
            csr_with(
                &ed,
                vec![SanType::URI("tel:+15551234567".try_into().unwrap())],
            ),
        ),
        ("e_csr_sii_count", csr_with(&key, vec![])),
        (
            "e_csr_sii_count",
            csr_with(
                &key,
                vec![
                    SanType::URI("tel:+15551234567".try_into().unwrap()),
                    SanType::Rfc822Name("alice@chat-a.example".try_into().unwrap()),
                ],
            ),
        ),
        (
            "e_csr_sii_invalid",
            csr_with(
                &key,
                vec![SanType::DnsName("chat-a.example".try_into().unwrap())],
            ),
        ),
        (
            "e_csr_sii_invalid",
            csr_with(
                &key,
                vec![SanType::URI("tel:5551234567".try_into().unwrap())],
            ),
        ),
        (
            "w_csr_sii_not_canonical",
            csr_with(
                &key,
                vec![SanType::URI("tel:+1-555-123-4567".try_into().unwrap())],
            ),
        ),
        (
            "w_csr_sii_not_canonical",
            csr_with(
                &key,
                vec![SanType::Rfc822Name(
                    "Alice@Chat-A.example".try_into().unwrap(),
                )],
            ),
        ),
    ];
    for (id, der) in &cases {
        let found = csr_ids(der);
        assert!(found.contains(id), "{id} did not fire: {found:?}");
    }
    // The signature and version cases break nothing else; a P-384 key's CSR still verifies.
    assert_eq!(csr_ids(&cases[1].1), ["e_csr_signature_invalid"]);
    assert_eq!(csr_ids(&cases[2].1), ["e_csr_key_not_p256"]);
    // The warning names the form the certificate would carry.
    let w = mimi_attest::lint_csr(&cases[8].1).unwrap();
    assert!(w[0].detail.contains("tel:+15551234567"), "{}", w[0].detail);
    // Every CSR lint of the catalogue has a case.
    for l in catalogue()
        .iter()
        .filter(|l| l.applies_to.contains(&mimi_attest::LintTarget::Csr))
    {
        assert!(
            cases.iter().any(|(id, _)| *id == l.id),
            "no case for {}",
            l.id
        );
    }
    // In a mixed input, the CSR is linted too and named by its subject.
    let pem = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", cases[4].1.clone()));
    let report = lint_objects(&read_objects(pem.as_bytes()).unwrap());
    assert_eq!(report.objects[0].kind, ObjectKind::Csr);
    assert_eq!(report.objects[0].findings[0].id, "e_csr_sii_count");
    assert!(report.fails(Severity::Error));
}

/// DER of an authorityInfoAccess value: (access method arcs, URI) pairs.
fn aia_der(entries: &[(&[u64], &str)]) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence_of(|w| {
            for (method, uri) in entries {
                w.next().write_sequence(|w| {
                    w.next()
                        .write_oid(&yasna::models::ObjectIdentifier::from_slice(method));
                    w.next()
                        .write_tagged_implicit(yasna::Tag::context(6), |w| w.write_ia5_string(uri));
                });
            }
        })
    })
}

const OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];
const CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];
const TN_AUTH_LIST: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 26];

/// DER of a TNAuthList (RFC 8226, explicit tags): an SPC, a range and one number.
fn tn_auth_list_der() -> Vec<u8> {
    use yasna::Tag;
    yasna::construct_der(|w| {
        w.write_sequence_of(|w| {
            w.next()
                .write_tagged(Tag::context(0), |w| w.write_ia5_string("707J"));
            w.next().write_tagged(Tag::context(1), |w| {
                w.write_sequence(|w| {
                    w.next().write_ia5_string("15551230000");
                    w.next().write_u64(100);
                })
            });
            w.next()
                .write_tagged(Tag::context(2), |w| w.write_ia5_string("15551234567"));
        })
    })
}

/// A web PKI intermediate (name constraints, AIA) and the TLS server certificate it signs.
fn tls_chain() -> (Vec<u8>, Vec<u8>) {
    let t = now();
    let mut ca = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Example Web CA");
    dn.push(DnType::CommonName, "Example TLS Issuing CA");
    ca.distinguished_name = dn;
    ca.not_before = t - Duration::days(1);
    ca.not_after = t + Duration::days(365);
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![
            GeneralSubtree::DnsName("example.com".into()),
            GeneralSubtree::Rfc822Name("example.com".into()),
        ],
        excluded_subtrees: vec![GeneralSubtree::IpAddress(CidrSubnet::V4(
            [10, 0, 0, 0],
            [255, 0, 0, 0],
        ))],
    });
    let ca_key = common::key();
    let ca_der = ca.self_signed(&ca_key).unwrap().der().to_vec();
    let mut leaf = CertificateParams::new(vec!["www.example.com".into()]).unwrap();
    leaf.distinguished_name = DistinguishedName::new();
    leaf.distinguished_name
        .push(DnType::CommonName, "www.example.com");
    leaf.not_before = t - Duration::hours(1);
    leaf.not_after = t + Duration::days(90);
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    leaf.custom_extensions = vec![CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 5, 5, 7, 1, 1],
        aia_der(&[
            (OCSP, "http://ocsp.example.com"),
            (CA_ISSUERS, "http://ca.example.com/tls-ca.der"),
        ]),
    )];
    let leaf_der = leaf
        .signed_by(&common::key(), &Issuer::new(ca, ca_key))
        .unwrap()
        .der()
        .to_vec();
    (leaf_der, ca_der)
}

/// A STIR/SHAKEN-like certificate: TNAuthList (here `tn` as given), no EKU.
fn shaken_cert(tn: Vec<u8>) -> Vec<u8> {
    let t = now();
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "SHAKEN 707J");
    p.distinguished_name = dn;
    p.not_before = t - Duration::hours(1);
    p.not_after = t + Duration::days(365);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.custom_extensions = vec![CustomExtension::from_oid_content(TN_AUTH_LIST, tn)];
    p.self_signed(&common::key()).unwrap().der().to_vec()
}

/// A certificate of another profile is said to be one, once and first, with a guess at
/// what it is; what it lacks as a mapping-v1 certificate follows.
#[test]
fn foreign_certificates_lead_with_one_note() {
    let (tls, web_ca) = tls_chain();
    let shaken = shaken_cert(tn_auth_list_der());
    for (der, looks) in [
        (&tls, "TLS server certificate"),
        (&web_ca, ""),
        (&shaken, "STIR/SHAKEN"),
    ] {
        let (_, f) = lint_certificate(der, None).unwrap();
        assert_eq!(f[0].id, "n_not_mapping_v1", "{f:?}");
        assert!(f[0].detail.contains(looks), "{}", f[0].detail);
        assert_eq!(f.iter().filter(|x| x.id == "n_not_mapping_v1").count(), 1);
        assert!(f[1].severity == Severity::Error, "{f:?}");
        assert!(f.iter().any(|x| x.id == "e_policy_missing"));
    }
    // In a chain, too: the pair lints are sorted in after the note.
    let report = lint_objects(&read_objects(&chain_pem(&[&tls, &web_ca])).unwrap());
    for o in &report.objects {
        assert_eq!(o.findings[0].id, "n_not_mapping_v1");
    }
    // Each of the profile's marks alone makes a certificate mapping-v1 (then no note).
    let fx = Fixture::new();
    for keep in 0..3 {
        let der = build(&fx, Kind::Leaf, |p| {
            p.extended_key_usages = if keep == 0 { vec![mimi_eku()] } else { vec![] };
            p.custom_extensions = match keep {
                1 => vec![mapping_ext(&mapping("chat-a.example", now()))],
                2 => vec![policies_ext()],
                _ => vec![],
            };
        });
        assert!(!fires(&der, "n_not_mapping_v1"), "mark {keep}");
    }
}

#[test]
fn inspect_decodes_name_constraints_aia_and_tn_auth_list() {
    let (tls, web_ca) = tls_chain();
    let shaken = shaken_cert(tn_auth_list_der());
    let r = inspect(
        &read_objects(&chain_pem(&[&tls, &web_ca, &shaken])).unwrap(),
        now(),
    )
    .unwrap();
    let leaf = &r.certificates[0];
    let aia = leaf.authority_info_access.as_ref().unwrap();
    assert!(!aia.critical);
    let got: Vec<(&str, Option<&str>, &str, &str)> = aia
        .descriptions
        .iter()
        .map(|d| {
            (
                d.method.oid.as_str(),
                d.method.name,
                d.kind,
                d.value.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "1.3.6.1.5.5.7.48.1",
                Some("ocsp"),
                "uniformResourceIdentifier",
                "http://ocsp.example.com"
            ),
            (
                "1.3.6.1.5.5.7.48.2",
                Some("caIssuers"),
                "uniformResourceIdentifier",
                "http://ca.example.com/tls-ca.der"
            ),
        ]
    );
    assert!(
        leaf.other_extensions.is_empty(),
        "{:?}",
        leaf.other_extensions
    );
    assert_eq!(leaf.public_key.description.as_deref(), Some("EC P-256"));
    let ca = &r.certificates[1];
    let nc = ca.name_constraints.as_ref().unwrap();
    assert!(nc.critical);
    let permitted: Vec<(&str, &str)> = nc
        .permitted
        .iter()
        .map(|e| (e.kind, e.value.as_str()))
        .collect();
    assert_eq!(
        permitted,
        [("dNSName", "example.com"), ("rfc822Name", "example.com")]
    );
    let excluded: Vec<(&str, &str)> = nc
        .excluded
        .iter()
        .map(|e| (e.kind, e.value.as_str()))
        .collect();
    assert_eq!(excluded, [("iPAddress", "10.0.0.0/8")]);
    assert!(ca.other_extensions.is_empty(), "{:?}", ca.other_extensions);
    let s = &r.certificates[2];
    let tn = s.tn_auth_list.as_ref().unwrap();
    assert!(!tn.critical);
    let entries: Vec<(&str, &str, Option<u64>)> = tn
        .entries
        .iter()
        .map(|e| (e.kind, e.value.as_str(), e.count))
        .collect();
    assert_eq!(
        entries,
        [
            ("spc", "707J", None),
            ("range", "15551230000", Some(100)),
            ("one", "15551234567", None)
        ]
    );
    assert!(s.tn_auth_list_error.is_none() && s.other_extensions.is_empty());
    // Text.
    let text = r.render_text();
    for needle in [
        "nameConstraints [critical] permitted dNSName: example.com\n",
        "excluded iPAddress: 10.0.0.0/8\n",
        "authorityInfoAccess       ocsp (1.3.6.1.5.5.7.48.1) uniformResourceIdentifier: http://ocsp.example.com\n",
        "caIssuers (1.3.6.1.5.5.7.48.2) uniformResourceIdentifier: http://ca.example.com/tls-ca.der\n",
        "TNAuthList                spc 707J\n",
        "range 15551230000 (count 100)\n",
        "one 15551234567\n",
        "EC P-256\n",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    // JSON.
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(
        v["certificates"][0]["authority_info_access"]["descriptions"][1]["method"]["name"],
        "caIssuers"
    );
    assert_eq!(
        v["certificates"][1]["name_constraints"]["excluded"][0]["value"],
        "10.0.0.0/8"
    );
    assert_eq!(
        v["certificates"][2]["tn_auth_list"]["entries"][1]["count"],
        100
    );
    assert_eq!(
        v["certificates"][2]["tn_auth_list"]["entries"][0]["kind"],
        "spc"
    );

    // Malformed TNAuthLists are reported and shown raw: implicit tags, an empty list, a
    // number with a letter, a range of one.
    let implicit = vec![0x30, 0x06, 0x80, 0x04, b'7', b'0', b'7', b'J'];
    let one_letter = yasna::construct_der(|w| {
        w.write_sequence_of(|w| {
            w.next()
                .write_tagged(yasna::Tag::context(2), |w| w.write_ia5_string("1555A"))
        })
    });
    let range_of_one = yasna::construct_der(|w| {
        w.write_sequence_of(|w| {
            w.next().write_tagged(yasna::Tag::context(1), |w| {
                w.write_sequence(|w| {
                    w.next().write_ia5_string("15551230000");
                    w.next().write_u64(1);
                })
            })
        })
    });
    for (bad, says) in [
        (implicit, "explicitly tagged"),
        (vec![0x30, 0x00], "empty"),
        (one_letter, "1555A"),
        (range_of_one, "count 1"),
    ] {
        let der = shaken_cert(bad.clone());
        let r = inspect(&read_objects(&der).unwrap(), now()).unwrap();
        let c = &r.certificates[0];
        assert!(c.tn_auth_list.is_none());
        let e = c.tn_auth_list_error.as_deref().unwrap();
        assert!(e.contains(says), "{e}");
        assert_eq!(c.other_extensions[0].hex, mimi_attest::hex(&bad));
        assert!(r
            .render_text()
            .contains("TNAuthList                MALFORMED: "));
    }
}
