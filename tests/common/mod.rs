//! The helpers every test binary shares. Here: building mapping chains directly with rcgen,
//! bypassing the issuer's guards, so tests can make every kind of hostile certificate;
//! [`ca`]: a provider CA through the library; [`cli`]: running the real binary; [`logged`]: a CA that writes a transparency log;
//! [`trust`]: a federation signing trust lists through the CLI; [`tls`]: TLS certificates for the exchange service;
//! [`pg`]: a throwaway PostgreSQL cluster.
// Each binary uses its own part of these helpers; the rest is unused there, not dead.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mimi_attest::{certificate_policies_der, oids, Method, MimiMapping};
use mimi_attest::{Scope, TrustList, Verifier};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

pub mod ca;
pub mod cli;
pub mod logged;
pub mod pg;
pub mod tls;
pub mod trust;

/// Now, in whole seconds.
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap()
}

pub fn mimi_eku() -> ExtendedKeyUsagePurpose {
    ExtendedKeyUsagePurpose::Other(oids::ID_KP_MIMI_MAPPING.arcs().to_vec())
}

pub fn scope(tel: &[&str], email: &[&str]) -> Scope {
    Scope::new(tel, email).unwrap()
}

pub fn scope_ext(s: &Scope) -> CustomExtension {
    CustomExtension::from_oid_content(oids::ID_PE_MIMI_SCOPE.arcs(), s.to_der().unwrap())
}

pub fn mapping_ext(m: &MimiMapping) -> CustomExtension {
    CustomExtension::from_oid_content(oids::ID_PE_MIMI_MAPPING.arcs(), m.to_der().unwrap())
}

pub fn policies_ext() -> CustomExtension {
    CustomExtension::from_oid_content(&[2, 5, 29, 32], certificate_policies_der())
}

pub fn mapping(provider: &str, validated_at: OffsetDateTime) -> MimiMapping {
    MimiMapping::new(provider, Method::SmsOtp, validated_at)
        .with_handle(format!("mimi://{provider}/u/alice"))
}

/// CA parameters as the profile wants them.
pub fn ca_params(
    cn: &str,
    path_len: u8,
    s: Option<&Scope>,
    now: OffsetDateTime,
) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Test Org");
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.not_before = now - Duration::days(1);
    p.not_after = now + Duration::days(365);
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.extended_key_usages = vec![mimi_eku()];
    p.use_authority_key_identifier_extension = path_len == 0;
    p.custom_extensions = vec![policies_ext()];
    if let Some(s) = s {
        p.custom_extensions.push(scope_ext(s));
    }
    p
}

pub fn tel_san(s: &str) -> SanType {
    SanType::URI(s.try_into().unwrap())
}

pub fn email_san(s: &str) -> SanType {
    SanType::Rfc822Name(s.try_into().unwrap())
}

/// Leaf parameters as the profile wants them.
pub fn leaf_params(
    san: SanType,
    m: Option<&MimiMapping>,
    now: OffsetDateTime,
) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.not_before = now - Duration::hours(1);
    p.not_after = now + Duration::days(7);
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![mimi_eku()];
    p.use_authority_key_identifier_extension = true;
    p.subject_alt_names = vec![san];
    p.custom_extensions = vec![policies_ext()];
    if let Some(m) = m {
        p.custom_extensions.push(mapping_ext(m));
    }
    p
}

pub fn key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
}

/// The parameters of a whole chain: root → issuing CA → leaf, and the trust list.
pub struct Spec {
    pub now: OffsetDateTime,
    pub root: CertificateParams,
    pub ca: CertificateParams,
    pub leaf: CertificateParams,
    pub provider: String,
    pub anchor_scope: Scope,
    pub policy_yaml: String,
}

impl Spec {
    /// A good chain for tel:+15551234567 on chat-a.example.
    pub fn good() -> Spec {
        let now = now();
        let s = scope(&["+1", "+44"], &["chat-a.example"]);
        let mut root = ca_params("Test Root", 1, Some(&s), now);
        root.not_after = now + Duration::days(3650);
        let ca = ca_params("Test Issuing CA", 0, Some(&s), now);
        let m = mapping("chat-a.example", now - Duration::hours(2));
        let leaf = leaf_params(tel_san("tel:+15551234567"), Some(&m), now);
        Spec {
            now,
            root,
            ca,
            leaf,
            provider: "chat-a.example".into(),
            anchor_scope: s,
            policy_yaml: String::new(),
        }
    }

    /// Replace the leaf's mapping extension.
    pub fn set_mapping(&mut self, m: &MimiMapping) {
        self.leaf
            .custom_extensions
            .retain(|e| e.oid_components().collect::<Vec<_>>() != oids::ID_PE_MIMI_MAPPING.arcs());
        self.leaf.custom_extensions.push(mapping_ext(m));
    }

    pub fn build(&self) -> Built {
        let root_key = key();
        let ca_key = key();
        let leaf_key = key();
        let root = self.root.self_signed(&root_key).unwrap();
        let root_issuer = Issuer::from_params(&self.root, &root_key);
        let ca = self.ca.signed_by(&ca_key, &root_issuer).unwrap();
        let ca_issuer = Issuer::from_params(&self.ca, &ca_key);
        let leaf = self.leaf.signed_by(&leaf_key, &ca_issuer).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("root.pem"), root.pem()).unwrap();
        let trust_list = dir.path().join("trust-list.yaml");
        std::fs::write(&trust_list, self.trust_list_yaml("root.pem")).unwrap();
        Built {
            chain: vec![leaf.der().clone(), ca.der().clone()],
            root: root.der().clone(),
            root_key,
            ca_key,
            trust_list,
            dir,
        }
    }

    pub fn trust_list_yaml(&self, cert: &str) -> String {
        let spec = self.anchor_scope.to_spec();
        let q = |v: &[String]| {
            v.iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "version: 1\nanchors:\n  - name: test\n    provider: {}\n    certificate: {cert}\n    scope:\n      tel: [{}]\n      email: [{}]\n{}",
            self.provider,
            q(&spec.tel),
            q(&spec.email),
            self.policy_yaml
        )
    }
}

pub struct Built {
    pub chain: Vec<CertificateDer<'static>>,
    pub root: CertificateDer<'static>,
    pub root_key: KeyPair,
    pub ca_key: KeyPair,
    pub trust_list: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Built {
    pub fn verifier(&self) -> Verifier {
        Verifier::new(TrustList::from_file(&self.trust_list).unwrap())
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The chain as PEM (leaf first).
    pub fn pem(&self) -> String {
        pem_of(&self.chain)
    }
}

pub fn pem_of(chain: &[CertificateDer<'_>]) -> String {
    chain
        .iter()
        .map(|c| pem::encode(&pem::Pem::new("CERTIFICATE", c.as_ref().to_vec())))
        .collect()
}

/// One DER element: `tag`, the shortest length, `content`.
pub fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    match n {
        0..=0x7f => out.push(n as u8),
        0x80..=0xff => out.extend([0x81, n as u8]),
        _ => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// The DER elements one after another in `content`: (tag, whole element, its contents).
pub fn der_elements(mut content: &[u8]) -> Vec<(u8, Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let tag = content[0];
        let (len, header) = match content[1] {
            l @ 0..=0x7f => (usize::from(l), 2),
            0x81 => (usize::from(content[2]), 3),
            0x82 => ((usize::from(content[2]) << 8) | usize::from(content[3]), 4),
            other => panic!("length form {other:#x} not expected in a test certificate"),
        };
        let (whole, rest) = content.split_at(header + len);
        out.push((tag, whole.to_vec(), whole[header..].to_vec()));
        content = rest;
    }
    out
}

/// One extension of a [`Tbs`].
pub struct Ext {
    /// The OID's contents octets.
    pub oid: Vec<u8>,
    pub critical: bool,
    /// The extnValue contents (the extension's own DER).
    pub value: Vec<u8>,
}

/// A certificate taken apart so that a test can change what rcgen cannot make (a key of
/// another algorithm, damage inside a standard extension, a critical SKI) and sign it again
/// with the issuer's real key: the result is a genuinely signed hostile certificate.
pub struct Tbs {
    /// tbsCertificate's fields before the extensions, as whole DER elements:
    /// version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo.
    pub fields: Vec<Vec<u8>>,
    pub extensions: Vec<Ext>,
    sig_alg: Vec<u8>,
    /// The tag of the explicit extensions field: [3] in a certificate, [0] in a CRL.
    ext_tag: u8,
}

impl Tbs {
    pub fn of(cert: &[u8]) -> Tbs {
        Tbs::read(cert, 0xa3)
    }

    /// A CRL taken apart the same way (`fields`: version, signature, issuer, thisUpdate,
    /// nextUpdate and the revoked certificates, if any).
    pub fn of_crl(crl: &[u8]) -> Tbs {
        Tbs::read(crl, 0xa0)
    }

    fn read(cert: &[u8], ext_tag: u8) -> Tbs {
        let outer = der_elements(cert);
        let parts = der_elements(&outer[0].2);
        let tbs = der_elements(&parts[0].2);
        let mut fields = Vec::new();
        let mut extensions = Vec::new();
        for (tag, whole, content) in tbs {
            if tag != ext_tag {
                fields.push(whole);
                continue;
            }
            for (_, _, ext) in der_elements(&der_elements(&content)[0].2) {
                let items = der_elements(&ext);
                let critical = items.len() == 3 && items[1].2 == [0xff];
                extensions.push(Ext {
                    oid: items[0].2.clone(),
                    critical,
                    value: items.last().unwrap().2.clone(),
                });
            }
        }
        Tbs {
            fields,
            extensions,
            sig_alg: parts[1].1.clone(),
            ext_tag,
        }
    }

    /// The extension with this OID (contents octets, e.g. `[0x55, 0x1d, 0x0e]` for SKI).
    pub fn ext(&mut self, oid: &[u8]) -> &mut Ext {
        self.extensions
            .iter_mut()
            .find(|e| e.oid == oid)
            .unwrap_or_else(|| panic!("no extension {oid:02x?}"))
    }

    /// Replace subjectPublicKeyInfo (whole DER).
    pub fn set_spki(&mut self, spki: &[u8]) {
        self.fields[6] = spki.to_vec();
    }

    /// The certificate (or CRL), signed by `issuer` (ecdsa-with-SHA256, as the original).
    pub fn sign(&self, issuer: &KeyPair) -> CertificateDer<'static> {
        let mut tbs: Vec<u8> = self.fields.concat();
        let exts: Vec<u8> = self
            .extensions
            .iter()
            .flat_map(|e| {
                let mut body = der_tlv(0x06, &e.oid);
                if e.critical {
                    body.extend([0x01, 0x01, 0xff]);
                }
                body.extend(der_tlv(0x04, &e.value));
                der_tlv(0x30, &body)
            })
            .collect();
        if !exts.is_empty() {
            tbs.extend(der_tlv(self.ext_tag, &der_tlv(0x30, &exts)));
        }
        let tbs = der_tlv(0x30, &tbs);
        let sig = rcgen::SigningKey::sign(issuer, &tbs).unwrap();
        let mut bits = vec![0u8];
        bits.extend(sig);
        let mut cert = tbs;
        cert.extend(&self.sig_alg);
        cert.extend(der_tlv(0x03, &bits));
        CertificateDer::from(der_tlv(0x30, &cert))
    }
}

/// The DER of a real public key of an algorithm the profile forbids
/// (tests/data/weak-keys, made by its gen.sh): `dsa-2048`, `p192`, `rsa-1024`, `rsa-2052`,
/// `p384`, `ed25519`.
pub fn weak_spki(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/weak-keys")
        .join(format!("{name}.spki.der"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
