//! Certificates for the check modules' unit tests, built with rcgen. Only what a check
//! reads matters, so every certificate is self-signed with a fresh P-256 key.

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::profile::{oids, MappingFlags, Method, MimiMapping};

/// Now, in whole seconds (certificate times have no fractions).
pub(super) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

pub(super) fn mimi_eku() -> ExtendedKeyUsagePurpose {
    ExtendedKeyUsagePurpose::Other(oids::ID_KP_MIMI_MAPPING.arcs().to_vec())
}

/// A mapping for chat-a.example, possession proven two hours before `now`.
pub(super) fn mapping(now: OffsetDateTime) -> MimiMapping {
    MimiMapping {
        provider: "chat-a.example".into(),
        handle: Some("mimi://chat-a.example/u/alice".into()),
        method: Method::SmsOtp,
        validated_at: now - Duration::hours(2),
        flags: MappingFlags::default(),
        consent: None,
    }
}

pub(super) fn mapping_ext(m: &MimiMapping) -> CustomExtension {
    CustomExtension::from_oid_content(oids::ID_PE_MIMI_MAPPING.arcs(), m.to_der().unwrap())
}

/// Leaf parameters as the profile wants them: tel:+15551234567 on chat-a.example, valid
/// from an hour before `now` for seven days.
pub(super) fn leaf_params(now: OffsetDateTime) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.not_before = now - Duration::hours(1);
    p.not_after = now + Duration::days(7);
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![mimi_eku()];
    p.subject_alt_names = vec![SanType::URI("tel:+15551234567".try_into().unwrap())];
    p.custom_extensions = vec![mapping_ext(&mapping(now))];
    p
}

/// CA parameters as the profile wants them, with a pathLenConstraint.
pub(super) fn ca_params(now: OffsetDateTime, path_len: u8) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.not_before = now - Duration::days(1);
    p.not_after = now + Duration::days(365);
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.extended_key_usages = vec![mimi_eku()];
    p
}

/// The DER of a certificate with these parameters.
pub(super) fn der(p: &CertificateParams) -> Vec<u8> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    p.self_signed(&key).unwrap().der().to_vec()
}

/// Parse DER made by [`der`].
pub(super) fn parsed(der: &[u8]) -> x509_parser::prelude::X509Certificate<'_> {
    use x509_parser::prelude::FromDer;
    x509_parser::prelude::X509Certificate::from_der(der)
        .unwrap()
        .1
}
