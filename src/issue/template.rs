//! The certificate templates of a provider CA: the rcgen parameters of its root and issuing
//! CAs, and the 128-bit serials every certificate gets.

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

use super::error::IssueError;
use super::CaConfig;
use crate::profile::{certificate_policies_der, oids, serial_hex};
use crate::store::{CertKind, CertStatus, StoredCert};
use x509_parser::prelude::{FromDer, X509Certificate};

/// 128 random bits, positive, first byte non-zero (so every serial has the same length).
pub(super) fn random_serial() -> Result<Vec<u8>, IssueError> {
    let rng = SystemRandom::new();
    let mut b = [0u8; 16];
    loop {
        rng.fill(&mut b)
            .map_err(|_| IssueError::Sign("the system random generator failed".into()))?;
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
fn cert_facts(der: &[u8]) -> Result<(String, OffsetDateTime, OffsetDateTime), String> {
    let (_, c) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    Ok((
        serial_hex(c.raw_serial()),
        c.validity().not_before.to_datetime(),
        c.validity().not_after.to_datetime(),
    ))
}

/// The store row of a CA certificate just made.
pub(super) fn ca_row(
    kind: CertKind,
    der: &[u8],
    issuer_serial: Option<String>,
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
