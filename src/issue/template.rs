//! The certificate templates of a provider CA: the rcgen parameters of its root and issuing
//! CAs, and the 128-bit serials every certificate gets.

use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

use super::error::IssueError;
use super::CaConfig;
use crate::profile::{certificate_policies_der, oids, Serial};
use crate::sii::{Sii, SiiKind};
use crate::store::{CertKind, CertStatus, StoredCert};
use x509_parser::prelude::{FromDer, X509Certificate};

/// 128 random bits, positive, first byte non-zero (so every serial has the same length).
/// With a shared store (`store:` in `config`) the first byte is the instance's number
/// (1..127) and the other 120 bits are random: instances never draw the same serial, and
/// a serial tells which instance issued it.
pub(super) fn random_serial(config: &CaConfig) -> Result<Vec<u8>, IssueError> {
    let rng = SystemRandom::new();
    let mut b = [0u8; 16];
    loop {
        rng.fill(&mut b)
            .map_err(|_| IssueError::Sign("the system random generator failed".into()))?;
        if let Some(store) = &config.store {
            b[0] = store.instance;
        }
        if b[0] != 0 {
            return Ok(b.to_vec());
        }
    }
}

fn mimi_eku() -> ExtendedKeyUsagePurpose {
    ExtendedKeyUsagePurpose::Other(oids::ID_KP_MIMI_MAPPING.arcs().to_vec())
}

fn policies_ext() -> CustomExtension {
    CustomExtension::from_oid_content(&[2, 5, 29, 32], certificate_policies_der())
}

/// The rcgen parameters of a mapping leaf for `sii` as profile mapping-v1 wants it: empty
/// subject, the SII as its one critical subjectAltName, digitalSignature, extKeyUsage
/// `id-kp-mimiMapping`, cA=FALSE, AKI, the certificate policy, the `MimiMapping` extension
/// (`mapping_der`)
/// and, with `crl_url`, a cRLDistributionPoint. The issuer writes the same bytes from its
/// per-CA template (a test compares them); this form is for signing a leaf with rcgen
/// outside the issuer (the demo's forgeries, tests). The serial is left to the caller.
pub fn leaf_params(
    sii: &Sii,
    mapping_der: &[u8],
    crl_url: Option<&str>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, IssueError> {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.not_before = not_before;
    p.not_after = not_after;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![mimi_eku()];
    p.use_authority_key_identifier_extension = true;
    let san = sii
        .san_value()
        .try_into()
        .map_err(|e: rcgen::Error| IssueError::Sign(e.to_string()))?;
    p.subject_alt_names = vec![match sii.kind() {
        SiiKind::Email => SanType::Rfc822Name(san),
        _ => SanType::URI(san),
    }];
    if let Some(url) = crl_url {
        p.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![url.to_owned()],
        }];
    }
    p.custom_extensions = vec![
        policies_ext(),
        CustomExtension::from_oid_content(oids::ID_PE_MIMI_MAPPING.arcs(), mapping_der.to_vec()),
    ];
    Ok(p)
}

/// The rcgen parameters of a provider CA certificate (root: `path_len` 1, issuing CA: 0).
pub(super) fn ca_params(
    config: &CaConfig,
    common_name: String,
    path_len: u8,
    serial: &[u8],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, IssueError> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, config.organization.as_str());
    dn.push(DnType::CommonName, common_name);
    p.distinguished_name = dn;
    p.serial_number = Some(SerialNumber::from_slice(serial));
    p.not_before = not_before;
    p.not_after = not_after;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.extended_key_usages = vec![mimi_eku()];
    p.use_authority_key_identifier_extension = path_len == 0;
    p.custom_extensions = vec![
        policies_ext(),
        CustomExtension::from_oid_content(oids::ID_PE_MIMI_SCOPE.arcs(), config.scope.to_der()?),
    ];
    Ok(p)
}

/// The CA certificate's validity and serial, read back from its DER.
fn cert_facts(der: &[u8]) -> Result<(Serial, OffsetDateTime, OffsetDateTime), String> {
    let (_, c) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    Ok((
        Serial::from_contents(c.raw_serial()),
        c.validity().not_before.to_datetime(),
        c.validity().not_after.to_datetime(),
    ))
}

/// The store row of a CA certificate just made.
pub(super) fn ca_row(
    kind: CertKind,
    der: &[u8],
    issuer_serial: Option<Serial>,
    now: OffsetDateTime,
) -> Result<StoredCert, IssueError> {
    let (serial, not_before, not_after) = cert_facts(der).map_err(IssueError::Sign)?;
    Ok(StoredCert {
        serial,
        kind,
        request_id: None,
        request_sha256: None,
        sii: None,
        handle: None,
        method: None,
        validated_at: None,
        not_before,
        not_after,
        issuer_serial,
        der: Some(der.to_vec()),
        csr_sha256: None,
        status: CertStatus::Issued,
        created_at: now,
        revoked_at: None,
        revocation_reason: None,
    })
}
