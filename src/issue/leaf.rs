//! Mapping leaves written from a per-CA template.
//!
//! Every leaf of one issuing CA shares most of its TBSCertificate: the signature algorithm,
//! the issuer name, the authority key identifier, keyUsage, extKeyUsage, the CRL
//! distribution point, basicConstraints and the certificate policy. [`LeafTemplate`] encodes
//! those once, when the CA is opened, and writes each leaf by filling in what varies: the
//! serial, the validity, the subject key (and its key identifier), the subjectAltName and the
//! mapping extension. The bytes are those rcgen writes for the same parameters (a test
//! compares them), without rebuilding the shared parts for every leaf. Every leaf written
//! here still goes through the pre-issuance lint before it is stored or handed out.

use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{CaConfig, IssueError};
use crate::profile::{certificate_policies_der, oids};
use crate::sii::{Sii, SiiKind};

/// DER tags used below.
const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// AlgorithmIdentifier ecdsa-with-SHA256 (RFC 5758: no parameters).
const ECDSA_WITH_SHA256: &[u8] = &{
    let a = oids::ECDSA_WITH_SHA256.der_value();
    [
        0x30, 0x0a, 0x06, 0x08, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7],
    ]
};
/// SubjectPublicKeyInfo of a P-256 key up to its uncompressed point (65 bytes follow).
const P256_SPKI_PREFIX: &[u8] = &{
    let (k, c) = (
        oids::EC_PUBLIC_KEY.der_value(),
        oids::PRIME256V1.der_value(),
    );
    [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, k[0], k[1], k[2], k[3], k[4], k[5], k[6], 0x06, 0x08,
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], 0x03, 0x42, 0x00,
    ]
};
/// Length of an uncompressed P-256 point.
const P256_POINT_LEN: usize = 65;
/// version `[0] EXPLICIT INTEGER 2` (v3).
const VERSION_3: &[u8] = &[0xa0, 0x03, 0x02, 0x01, 0x02];
/// The empty subject name of a mapping leaf.
const EMPTY_NAME: &[u8] = &[0x30, 0x00];

/// Extension OIDs (DER contents octets), from the one table.
const ID_CE_SUBJECT_KEY_IDENTIFIER: &[u8] = oids::SUBJECT_KEY_IDENTIFIER.der_value();
const ID_CE_KEY_USAGE: &[u8] = oids::KEY_USAGE.der_value();
const ID_CE_SUBJECT_ALT_NAME: &[u8] = oids::SUBJECT_ALT_NAME.der_value();
const ID_CE_BASIC_CONSTRAINTS: &[u8] = oids::BASIC_CONSTRAINTS.der_value();
const ID_CE_CRL_DISTRIBUTION_POINTS: &[u8] = oids::CRL_DISTRIBUTION_POINTS.der_value();
const ID_CE_CERTIFICATE_POLICIES: &[u8] = oids::CERTIFICATE_POLICIES.der_value();
const ID_CE_AUTHORITY_KEY_IDENTIFIER: &[u8] = oids::AUTHORITY_KEY_IDENTIFIER.der_value();
const ID_CE_EXT_KEY_USAGE: &[u8] = oids::EXT_KEY_USAGE.der_value();

/// What varies from one leaf to the next.
pub(crate) struct LeafFields<'a> {
    /// The serial's magnitude, big-endian (a leading 0x00 is added when its top bit is set).
    pub serial: &'a [u8],
    /// notBefore (whole seconds are encoded).
    pub not_before: OffsetDateTime,
    /// notAfter (whole seconds are encoded).
    pub not_after: OffsetDateTime,
    /// The subject's uncompressed P-256 point.
    pub point: &'a [u8],
    /// The attested SII (the subjectAltName).
    pub sii: &'a Sii,
    /// The DER of the leaf's `MimiMapping`.
    pub mapping: &'a [u8],
}

/// The parts every leaf of one issuing CA shares, DER-encoded once.
#[derive(Clone, Debug)]
pub(crate) struct LeafTemplate {
    /// The issuing CA's subject name, byte for byte (the leaves' issuer).
    issuer: Vec<u8>,
    /// authorityKeyIdentifier (the CA's subjectKeyIdentifier).
    aki: Vec<u8>,
    /// keyUsage, extKeyUsage and (if configured) cRLDistributionPoints, in that order.
    middle: Vec<u8>,
    /// basicConstraints and certificatePolicies.
    tail: Vec<u8>,
}

impl LeafTemplate {
    /// The template for leaves signed by the issuing CA `ca_der` (whose subjectKeyIdentifier
    /// is `ca_ski`) under `config`.
    pub(crate) fn new(ca_der: &[u8], ca_ski: &[u8], config: &CaConfig) -> Result<Self, IssueError> {
        let (_, ca) = X509Certificate::from_der(ca_der).map_err(|e| {
            IssueError::Sign(format!("the issuing CA certificate does not parse: {e}"))
        })?;
        let issuer = ca.subject().as_raw().to_vec();
        let aki = extension(
            ID_CE_AUTHORITY_KEY_IDENTIFIER,
            false,
            &tlv(SEQUENCE, &[&tlv(0x80, &[ca_ski])]),
        );
        // digitalSignature only: a BIT STRING of one byte, seven unused bits.
        let mut middle = extension(ID_CE_KEY_USAGE, true, &[BIT_STRING, 0x02, 0x07, 0x80]);
        middle.extend(extension(
            ID_CE_EXT_KEY_USAGE,
            false,
            &tlv(
                SEQUENCE,
                &[&tlv(OID, &[oids::ID_KP_MIMI_MAPPING.der_value()])],
            ),
        ));
        if let Some(crl) = &config.crl {
            if !crl.url.is_ascii() {
                return Err(IssueError::Sign(format!(
                    "the CRL URL {:?} is not ASCII: write it with percent-escapes or punycode",
                    crl.url
                )));
            }
            // DistributionPoint { distributionPoint [0] { fullName [0] { [6] URI } } }
            let uri = tlv(0x86, &[crl.url.as_bytes()]);
            let point = tlv(SEQUENCE, &[&tlv(0xa0, &[&tlv(0xa0, &[&uri])])]);
            middle.extend(extension(
                ID_CE_CRL_DISTRIBUTION_POINTS,
                false,
                &tlv(SEQUENCE, &[&point]),
            ));
        }
        let mut tail = extension(ID_CE_BASIC_CONSTRAINTS, true, EMPTY_NAME);
        tail.extend(extension(
            ID_CE_CERTIFICATE_POLICIES,
            false,
            &certificate_policies_der(),
        ));
        Ok(LeafTemplate {
            issuer,
            aki,
            middle,
            tail,
        })
    }

    /// The TBSCertificate of one leaf.
    pub(crate) fn tbs(&self, f: &LeafFields<'_>) -> Result<Vec<u8>, IssueError> {
        if f.point.len() != P256_POINT_LEN || f.point[0] != 0x04 {
            return Err(IssueError::SubjectKey(
                "the subject key is not an uncompressed P-256 point".into(),
            ));
        }
        let san_value = f.sii.san_value();
        if !san_value.is_ascii() {
            return Err(IssueError::Sign(format!(
                "the subjectAltName {san_value:?} is not ASCII (IA5String)"
            )));
        }
        // [1] rfc822Name for an email address, [6] uniformResourceIdentifier for a number.
        let name_tag = match f.sii.kind() {
            SiiKind::Email => 0x81,
            _ => 0x86,
        };
        let san = extension(
            ID_CE_SUBJECT_ALT_NAME,
            true,
            &tlv(SEQUENCE, &[&tlv(name_tag, &[san_value.as_bytes()])]),
        );
        let mut spki = Vec::with_capacity(P256_SPKI_PREFIX.len() + P256_POINT_LEN);
        spki.extend_from_slice(P256_SPKI_PREFIX);
        spki.extend_from_slice(f.point);
        // The key identifier rcgen derives: SHA-256 of the SubjectPublicKeyInfo, 20 bytes.
        let ski = extension(
            ID_CE_SUBJECT_KEY_IDENTIFIER,
            false,
            &tlv(OCTET_STRING, &[&crate::profile::sha256(&spki)[..20]]),
        );
        let mapping = extension(oids::ID_PE_MIMI_MAPPING.der_value(), false, f.mapping);
        let extensions = tlv(
            0xa3,
            &[&tlv(
                SEQUENCE,
                &[&self.aki, &san, &self.middle, &ski, &self.tail, &mapping],
            )],
        );
        let serial = positive_integer(f.serial);
        let validity = tlv(SEQUENCE, &[&time(f.not_before)?, &time(f.not_after)?]);
        Ok(tlv(
            SEQUENCE,
            &[
                VERSION_3,
                &serial,
                ECDSA_WITH_SHA256,
                &self.issuer,
                &validity,
                EMPTY_NAME,
                &spki,
                &extensions,
            ],
        ))
    }
}

/// The Certificate: `tbs`, the algorithm, and `signature` (ECDSA, DER) as a BIT STRING.
pub(crate) fn certificate(tbs: &[u8], signature: &[u8]) -> Vec<u8> {
    tlv(
        SEQUENCE,
        &[tbs, ECDSA_WITH_SHA256, &tlv(BIT_STRING, &[&[0], signature])],
    )
}

/// One Extension: `extnID`, `critical` when true, `extnValue` wrapping `value`.
fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let critical: &[u8] = if critical { &[0x01, 0x01, 0xff] } else { &[] };
    tlv(
        SEQUENCE,
        &[&tlv(OID, &[oid]), critical, &tlv(OCTET_STRING, &[value])],
    )
}

/// A positive INTEGER of the big-endian magnitude `bytes` (leading zero bytes dropped, one
/// added when the top bit is set).
fn positive_integer(bytes: &[u8]) -> Vec<u8> {
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    let magnitude = &bytes[start..];
    match magnitude.first() {
        Some(b) if b & 0x80 == 0 => tlv(INTEGER, &[magnitude]),
        _ => tlv(INTEGER, &[&[0], magnitude]),
    }
}

/// A validity time as RFC 5280 asks: UTCTime for 1950 to 2049, GeneralizedTime otherwise;
/// whole seconds, UTC.
fn time(t: OffsetDateTime) -> Result<Vec<u8>, IssueError> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return Err(IssueError::Sign(format!(
            "the year {year} cannot be written in a certificate"
        )));
    }
    let rest = format!(
        "{:02}{:02}{:02}{:02}{:02}Z",
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    Ok(if (1950..2050).contains(&year) {
        tlv(
            UTC_TIME,
            &[format!("{:02}", year % 100).as_bytes(), rest.as_bytes()],
        )
    } else {
        tlv(
            GENERALIZED_TIME,
            &[format!("{year:04}").as_bytes(), rest.as_bytes()],
        )
    })
}

/// A DER TLV of `tag` whose contents are `parts`, in order.
fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(len + 1 + 1 + std::mem::size_of::<usize>());
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        // Long form: the length's big-endian bytes without leading zeros.
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::cadir::{CaDir, CaSigner};
    use crate::issue::template::leaf_params;
    use crate::issue::ProviderCa;
    use crate::profile::{MappingFlags, Method, MimiMapping};
    use rcgen::SerialNumber;
    use time::macros::datetime;

    /// The issuing CA of a CA directory, and the template of its leaves.
    struct Opened {
        config: CaConfig,
        issuing: CaSigner,
        leaf_template: LeafTemplate,
    }

    fn opened(ca: &ProviderCa) -> Opened {
        let dir = CaDir::open(ca.dir()).unwrap();
        let config = dir.config().unwrap();
        let (_, issuing) = dir.issuing_ca(None).unwrap();
        let leaf_template = LeafTemplate::new(&issuing.der, &issuing.ski, &config).unwrap();
        Opened {
            config,
            issuing,
            leaf_template,
        }
    }

    /// A subject key as rcgen takes it.
    struct Point(Vec<u8>);

    impl rcgen::PublicKeyData for Point {
        fn der_bytes(&self) -> &[u8] {
            &self.0
        }

        fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
            &rcgen::PKCS_ECDSA_P256_SHA256
        }
    }

    /// The TBSCertificate rcgen writes for the same leaf from the library's one rcgen leaf
    /// template ([`leaf_params`]), read back from the certificate it signs.
    fn rcgen_tbs(ca: &Opened, f: &LeafFields<'_>) -> Vec<u8> {
        let crl = ca.config.crl.as_ref().map(|c| c.url.as_str());
        let mut p = leaf_params(f.sii, f.mapping, crl, f.not_before, f.not_after).unwrap();
        p.serial_number = Some(SerialNumber::from_slice(f.serial));
        let cert = p
            .signed_by(&Point(f.point.to_vec()), &ca.issuing.issuer)
            .unwrap();
        let (_, parsed) = X509Certificate::from_der(cert.der()).unwrap();
        parsed.tbs_certificate.as_ref().to_vec()
    }

    #[test]
    fn leaves_are_byte_for_byte_what_rcgen_writes() {
        let dir = tempfile::tempdir().unwrap();
        let point =
            || rcgen::PublicKeyData::der_bytes(&rcgen::KeyPair::generate().unwrap()).to_vec();
        let mapping = |handle: Option<&str>, consent| {
            MimiMapping {
                provider: "chat-a.example".into(),
                handle: handle.map(str::to_owned),
                method: Method::SmsOtp,
                validated_at: datetime!(2026-11-26 09:00:00 UTC),
                flags: MappingFlags {
                    preferred: true,
                    new_holder: false,
                },
                consent,
            }
            .to_der()
            .unwrap()
        };
        let mut compared = 0;
        for (name, config) in [
            (
                "with a CRL",
                "provider: chat-a.example\norganization: Chat A Inc.\nscope:\n  tel: [\"+1\"]\n  email: [chat-a.example]\ncrl:\n  url: http://crl.chat-a.example/mapping.crl\n",
            ),
            (
                "without a CRL",
                "provider: chat-a.example\norganization: Ç Inc.\nscope:\n  tel: [\"+44\"]\n  email: [chat-a.example]\n",
            ),
        ] {
            let ca = ProviderCa::init(
                config,
                name,
                &dir.path().join(name.replace(' ', "-")),
                datetime!(2026-11-26 09:00:00 UTC),
            )
            .unwrap();
            let ca = opened(&ca);
            let tel = Sii::parse(if name == "with a CRL" { "+15555550100" } else { "+447700900123" }).unwrap();
            let email = Sii::parse("Alice.Example@chat-a.example").unwrap();
            let long_handle = format!("mimi://chat-a.example/u/{}", "h".repeat(300));
            for (sii, serial, not_before, not_after, map) in [
                (
                    &tel,
                    &[0x01; 16][..],
                    datetime!(2026-11-26 09:00:00.123 UTC),
                    datetime!(2026-12-03 09:00:00 UTC),
                    mapping(None, None),
                ),
                (
                    &email,
                    &[0x80, 0x00, 0xff, 0x7f, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c][..],
                    datetime!(2049-12-31 23:59:59 UTC),
                    datetime!(2050-01-01 00:00:00 UTC),
                    mapping(Some("mimi://chat-a.example/u/alice"), Some([7; 32])),
                ),
                (
                    &tel,
                    &[0x7f, 0xff, 0x00, 0x01][..],
                    datetime!(2026-01-02 03:04:05 UTC),
                    datetime!(2126-01-02 03:04:05 UTC),
                    mapping(Some(&long_handle), Some([0xff; 32])),
                ),
            ] {
                let p = point();
                let fields = LeafFields {
                    serial,
                    not_before,
                    not_after,
                    point: &p,
                    sii,
                    mapping: &map,
                };
                assert_eq!(
                    ca.leaf_template.tbs(&fields).unwrap(),
                    rcgen_tbs(&ca, &fields),
                    "{name}: {sii} serial {serial:02x?}"
                );
                compared += 1;
            }
        }
        assert_eq!(compared, 6);
    }

    #[test]
    fn a_point_that_is_not_uncompressed_p256_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ProviderCa::init(
            "provider: chat-a.example\norganization: Chat A Inc.\nscope:\n  tel: [\"+1\"]\n",
            "test",
            &dir.path().join("ca"),
            datetime!(2026-11-26 09:00:00 UTC),
        )
        .unwrap();
        let ca = opened(&ca);
        let sii = Sii::parse("+15555550100").unwrap();
        for point in [vec![0x04; 64], vec![0x02; 33], vec![0x03; 65]] {
            let err = ca
                .leaf_template
                .tbs(&LeafFields {
                    serial: &[1; 16],
                    not_before: datetime!(2026-11-26 09:00:00 UTC),
                    not_after: datetime!(2026-12-03 09:00:00 UTC),
                    point: &point,
                    sii: &sii,
                    mapping: &[0x30, 0x00],
                })
                .unwrap_err();
            assert!(matches!(err, IssueError::SubjectKey(_)), "{err}");
        }
    }

    #[test]
    fn der_lengths_use_the_shortest_form() {
        assert_eq!(tlv(0x04, &[&[0; 0x7f]])[..2], [0x04, 0x7f]);
        assert_eq!(tlv(0x04, &[&[0; 0x80]])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(tlv(0x04, &[&[0; 0x100]])[..4], [0x04, 0x82, 0x01, 0x00]);
        assert_eq!(
            tlv(0x04, &[&[0; 0x1_0000]])[..5],
            [0x04, 0x83, 0x01, 0x00, 0x00]
        );
        assert_eq!(positive_integer(&[0x00, 0x00, 0x05]), [0x02, 0x01, 0x05]);
        assert_eq!(positive_integer(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(positive_integer(&[0x00]), [0x02, 0x01, 0x00]);
    }
}
