//! The inspection report: every field an auditor needs, typed (serde-serialisable; the JSON
//! form is documented in docs/auditor.md and stays stable) and rendered as text.

use std::fmt::Write as _;

use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::prelude::{
    CertificateRevocationList, FromDer, ParsedExtension, X509Certificate, X509CertificationRequest,
    X509Name,
};

use super::input::{Object, ObjectKind};
use super::{rfc3339, AuditError};
use crate::profile::lint::{self, Role};
use crate::profile::{self, oids, Serial};

/// id-pe-TNAuthList (dotted, for matching).
const OID_TN_AUTH_LIST: &str = oids::TN_AUTH_LIST.dotted;

/// An OID with its name, when known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NamedOid {
    /// Dotted form.
    pub oid: String,
    /// ASN.1 name (`null` when unknown).
    pub name: Option<&'static str>,
}

impl NamedOid {
    fn new(dotted: String) -> Self {
        let name = oids::name(&dotted).or(match dotted.as_str() {
            lint::OID_ECDSA_SHA256 => Some(oids::ECDSA_WITH_SHA256.name),
            lint::OID_EC_PUBLIC_KEY => Some(oids::EC_PUBLIC_KEY.name),
            lint::OID_P256 => Some(oids::PRIME256V1.name),
            "1.2.840.113549.1.1.1" => Some("rsaEncryption"),
            "1.2.840.113549.1.1.11" => Some("sha256WithRSAEncryption"),
            "1.3.101.112" => Some("Ed25519"),
            "1.3.132.0.34" => Some("secp384r1"),
            "1.2.840.10045.4.3.3" => Some("ecdsa-with-SHA384"),
            // Other algorithms auditors meet on foreign certificates.
            "1.2.840.113549.1.1.4" => Some("md5WithRSAEncryption"),
            "1.2.840.113549.1.1.5" => Some("sha1WithRSAEncryption"),
            "1.2.840.113549.1.1.8" => Some("id-mgf1"),
            "1.2.840.113549.1.1.10" => Some("RSASSA-PSS"),
            "1.2.840.113549.1.1.12" => Some("sha384WithRSAEncryption"),
            "1.2.840.113549.1.1.13" => Some("sha512WithRSAEncryption"),
            "1.2.840.113549.1.1.14" => Some("sha224WithRSAEncryption"),
            "1.2.840.10045.4.1" => Some("ecdsa-with-SHA1"),
            "1.2.840.10045.4.3.4" => Some("ecdsa-with-SHA512"),
            "1.3.132.0.35" => Some("secp521r1"),
            "1.3.101.113" => Some("Ed448"),
            "1.2.840.10040.4.1" => Some("id-dsa"),
            "1.3.14.3.2.26" => Some("sha1"),
            "2.16.840.1.101.3.4.2.1" => Some("sha256"),
            "2.16.840.1.101.3.4.2.2" => Some("sha384"),
            "2.16.840.1.101.3.4.2.3" => Some("sha512"),
            "1.3.6.1.5.5.7.48.1" => Some("ocsp"),
            "1.3.6.1.5.5.7.48.2" => Some("caIssuers"),
            OID_TN_AUTH_LIST => Some(oids::TN_AUTH_LIST.name),
            "1.3.6.1.4.1.11129.2.4.2" => Some("signedCertificateTimestampList"),
            _ => None,
        });
        NamedOid { oid: dotted, name }
    }

    fn from_der(value: &[u8]) -> Self {
        NamedOid::new(oids::dotted(value))
    }

    fn text(&self) -> String {
        match self.name {
            Some(n) => format!("{n} ({})", self.oid),
            None => self.oid.clone(),
        }
    }
}

/// Validity with the time left at inspection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ValidityReport {
    /// notBefore, RFC 3339 UTC.
    pub not_before: String,
    /// notAfter, RFC 3339 UTC.
    pub not_after: String,
    /// `valid`, `expired` or `not-yet-valid` at inspection time.
    pub state: &'static str,
    /// Seconds until notAfter (negative once expired).
    pub seconds_left: i64,
    /// The same for people, e.g. `6d 23h 59m`.
    pub time_left: String,
}

/// A subject public key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct KeyReport {
    /// Algorithm.
    pub algorithm: NamedOid,
    /// Named curve, for EC keys.
    pub curve: Option<NamedOid>,
    /// Key size in bits (RSA modulus, EC field, 256 for Ed25519), when known.
    pub bits: Option<u32>,
    /// The key for people: `EC P-256`, `RSA 2048 bits`, `Ed25519`, ...; null when unknown.
    pub description: Option<String>,
    /// SHA-256 (hex) of the whole SubjectPublicKeyInfo DER.
    pub spki_sha256: String,
}

/// One subjectAltName entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SanEntry {
    /// ASN.1 kind: `uniformResourceIdentifier`, `rfc822Name`, `dNSName`, ...
    pub kind: &'static str,
    /// The value.
    pub value: String,
}

/// subjectAltName.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SanReport {
    /// Critical flag.
    pub critical: bool,
    /// The names, in order.
    pub names: Vec<SanEntry>,
}

/// keyUsage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct KeyUsageReport {
    /// The extension's OID (2.5.29.15) and name.
    pub extension: NamedOid,
    /// Critical flag.
    pub critical: bool,
    /// Bits set, by RFC 5280 name (`digitalSignature`, `keyCertSign`, ...).
    pub usages: Vec<&'static str>,
}

/// extKeyUsage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EkuReport {
    /// The extension's OID (2.5.29.37) and name.
    pub extension: NamedOid,
    /// Critical flag.
    pub critical: bool,
    /// Purposes by name and OID, in order.
    pub purposes: Vec<NamedOid>,
}

/// basicConstraints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BasicConstraintsReport {
    /// Critical flag.
    pub critical: bool,
    /// cA.
    pub ca: bool,
    /// pathLenConstraint.
    pub path_len: Option<u32>,
}

/// certificatePolicies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PoliciesReport {
    /// Critical flag.
    pub critical: bool,
    /// Policy OIDs.
    pub policies: Vec<NamedOid>,
}

/// The mapping flags.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FlagsReport {
    /// `preferred` bit.
    pub preferred: bool,
    /// `newHolder` bit.
    pub new_holder: bool,
}

/// The decoded `id-pe-mimiMapping`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MappingReport {
    /// Critical flag.
    pub critical: bool,
    /// The leaf's SII (canonical), from its subjectAltName; `null` when the SAN holds no
    /// valid canonical SII (lint says why).
    pub sii: Option<String>,
    /// Provider domain.
    pub provider: String,
    /// Handle (SSI).
    pub handle: Option<String>,
    /// Method (`sms-otp`, ...).
    pub method: &'static str,
    /// validatedAt, RFC 3339 UTC.
    pub validated_at: String,
    /// Flags.
    pub flags: FlagsReport,
    /// consent: SHA-256 (hex) of the user's CSR DER.
    pub consent_sha256: Option<String>,
}

/// The decoded `id-pe-mimiScope`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ScopeReport {
    /// Critical flag.
    pub critical: bool,
    /// Phone prefixes with `+` (`"+"` = every number).
    pub tel: Vec<String>,
    /// Email domain patterns (`.example.com` = subdomains).
    pub email: Vec<String>,
}

/// nameConstraints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NameConstraintsReport {
    /// Critical flag.
    pub critical: bool,
    /// permittedSubtrees bases (an iPAddress as `address/prefix`).
    pub permitted: Vec<SanEntry>,
    /// excludedSubtrees bases.
    pub excluded: Vec<SanEntry>,
}

/// One authorityInfoAccess AccessDescription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AccessDescriptionReport {
    /// accessMethod (`ocsp`, `caIssuers`, ...).
    pub method: NamedOid,
    /// accessLocation kind (`uniformResourceIdentifier`, ...).
    pub kind: &'static str,
    /// accessLocation value.
    pub value: String,
}

/// authorityInfoAccess.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AuthorityInfoAccessReport {
    /// Critical flag.
    pub critical: bool,
    /// The access descriptions, in order.
    pub descriptions: Vec<AccessDescriptionReport>,
}

/// One TNEntry of a TNAuthList (RFC 8226).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TnEntryReport {
    /// `spc` (service provider code), `range` (telephone number range) or `one`
    /// (one telephone number).
    pub kind: &'static str,
    /// The service provider code, the range's first number, or the number.
    pub value: String,
    /// How many numbers the range holds (`range` only).
    pub count: Option<u64>,
}

/// The decoded TNAuthList (id-pe-TNAuthList, 1.3.6.1.5.5.7.1.26) of a STIR/SHAKEN
/// certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TnAuthListReport {
    /// Critical flag.
    pub critical: bool,
    /// The entries, in order.
    pub entries: Vec<TnEntryReport>,
}

/// Any extension shown raw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RawExtension {
    /// OID and name.
    pub extension: NamedOid,
    /// Critical flag.
    pub critical: bool,
    /// Length of the value in bytes.
    pub length: usize,
    /// The value (extnValue contents), hex.
    pub hex: String,
}

/// Everything about one certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CertificateReport {
    /// Position in the input (0-based).
    pub input_index: usize,
    /// Leaf, issuing CA or root.
    pub role: Role,
    /// Subject DN (`""` when empty).
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Index (in `certificates`) of the certificate in this input whose subject is this
    /// one's issuer, if any.
    pub issuer_index: Option<usize>,
    /// Subject equals issuer.
    pub self_issued: bool,
    /// X.509 version (3).
    pub version: u32,
    /// Serial, shown as lower-case hex.
    pub serial: Serial,
    /// Signature algorithm.
    pub signature_algorithm: NamedOid,
    /// Validity.
    pub validity: ValidityReport,
    /// SHA-256 (hex) of the certificate DER.
    pub sha256_fingerprint: String,
    /// Subject public key.
    pub public_key: KeyReport,
    /// subjectAltName.
    pub subject_alt_names: Option<SanReport>,
    /// keyUsage.
    pub key_usage: Option<KeyUsageReport>,
    /// extKeyUsage.
    pub extended_key_usage: Option<EkuReport>,
    /// basicConstraints.
    pub basic_constraints: Option<BasicConstraintsReport>,
    /// certificatePolicies.
    pub policies: Option<PoliciesReport>,
    /// subjectKeyIdentifier, hex.
    pub subject_key_id: Option<String>,
    /// authorityKeyIdentifier keyIdentifier, hex.
    pub authority_key_id: Option<String>,
    /// cRLDistributionPoints URIs.
    pub crl_distribution_points: Vec<String>,
    /// nameConstraints.
    pub name_constraints: Option<NameConstraintsReport>,
    /// authorityInfoAccess.
    pub authority_info_access: Option<AuthorityInfoAccessReport>,
    /// Decoded TNAuthList (STIR/SHAKEN certificates).
    pub tn_auth_list: Option<TnAuthListReport>,
    /// Why the TNAuthList could not be decoded, when present but malformed.
    pub tn_auth_list_error: Option<String>,
    /// Decoded id-pe-mimiMapping.
    pub mimi_mapping: Option<MappingReport>,
    /// Why id-pe-mimiMapping could not be decoded, when present but malformed.
    pub mimi_mapping_error: Option<String>,
    /// Decoded id-pe-mimiScope.
    pub mimi_scope: Option<ScopeReport>,
    /// Why id-pe-mimiScope could not be decoded, when present but malformed.
    pub mimi_scope_error: Option<String>,
    /// Every other extension, raw.
    pub other_extensions: Vec<RawExtension>,
}

/// A PKCS#10 request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CsrReport {
    /// Position in the input (0-based).
    pub input_index: usize,
    /// Subject DN.
    pub subject: String,
    /// Subject public key.
    pub public_key: KeyReport,
    /// Signature algorithm.
    pub signature_algorithm: NamedOid,
    /// Whether the CSR's self-signature verifies.
    pub signature_valid: bool,
    /// Requested subjectAltName entries.
    pub requested_names: Vec<SanEntry>,
    /// SHA-256 (hex) of the CSR DER: the `consent` hash of a leaf issued from it.
    pub sha256: String,
}

/// One revoked certificate in a CRL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CrlEntryReport {
    /// Serial, shown as lower-case hex.
    pub serial: Serial,
    /// revocationDate, RFC 3339 UTC.
    pub revocation_date: String,
    /// reasonCode, if any (RFC 5280 name, e.g. `keyCompromise`).
    pub reason: Option<String>,
}

/// A CRL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CrlReport {
    /// Position in the input (0-based).
    pub input_index: usize,
    /// Issuer DN.
    pub issuer: String,
    /// Version (1 or 2).
    pub version: u32,
    /// Signature algorithm.
    pub signature_algorithm: NamedOid,
    /// thisUpdate, RFC 3339 UTC.
    pub this_update: String,
    /// nextUpdate, RFC 3339 UTC.
    pub next_update: Option<String>,
    /// cRLNumber, decimal.
    pub crl_number: Option<String>,
    /// authorityKeyIdentifier keyIdentifier, hex.
    pub authority_key_id: Option<String>,
    /// Revoked certificates.
    pub entries: Vec<CrlEntryReport>,
    /// SHA-256 (hex) of the CRL DER.
    pub sha256: String,
}

/// Everything in one input: certificates (leaf first, each followed by its issuer when the
/// input holds it), CSRs and CRLs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Inspection {
    /// Certificates, chain order (leaf first).
    pub certificates: Vec<CertificateReport>,
    /// CSRs, input order.
    pub csrs: Vec<CsrReport>,
    /// CRLs, input order.
    pub crls: Vec<CrlReport>,
}

/// A distinguished name as text (`""` when empty); RFC 4514-style as x509-parser prints it.
pub(crate) fn name_string(n: &X509Name<'_>) -> String {
    n.to_string()
}

fn human_duration(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if d > 0 {
        format!("{d}d {h}h {m}m")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{m}m {}s", s % 60)
    }
}

fn validity(nb: OffsetDateTime, na: OffsetDateTime, now: OffsetDateTime) -> ValidityReport {
    let seconds_left = (na - now).whole_seconds();
    let (state, time_left) = if now < nb {
        (
            "not-yet-valid",
            format!(
                "not valid for another {}",
                human_duration((nb - now).whole_seconds())
            ),
        )
    } else if now >= na {
        (
            "expired",
            format!("expired {} ago", human_duration(seconds_left)),
        )
    } else {
        ("valid", format!("{} left", human_duration(seconds_left)))
    };
    ValidityReport {
        not_before: rfc3339(nb),
        not_after: rfc3339(na),
        state,
        seconds_left,
        time_left,
    }
}

fn key_report(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> KeyReport {
    let algorithm = NamedOid::from_der(spki.algorithm.algorithm.as_bytes());
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .filter(|p| p.tag().0 == 6)
        .map(|p| NamedOid::from_der(p.data));
    let (bits, description) = key_size(spki, &algorithm, curve.as_ref());
    KeyReport {
        algorithm,
        curve,
        bits,
        description,
        spki_sha256: profile::hex(&profile::sha256(spki.raw)),
    }
}

/// The key's size in bits and its name for people (`EC P-256`, `RSA 2048 bits`).
fn key_size(
    spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>,
    algorithm: &NamedOid,
    curve: Option<&NamedOid>,
) -> (Option<u32>, Option<String>) {
    use x509_parser::public_key::PublicKey;
    let known = |bits: u32, name: &str| (Some(bits), Some(name.to_owned()));
    match algorithm.oid.as_str() {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => match spki.parsed() {
            Ok(PublicKey::RSA(k)) => {
                // The modulus INTEGER may carry a leading zero byte; count significant bits.
                let m = k.modulus;
                let start = m.iter().position(|b| *b != 0).unwrap_or(m.len());
                let bits = match &m[start..] {
                    [] => 0,
                    [first, rest @ ..] => 8 * rest.len() as u32 + (8 - first.leading_zeros()),
                };
                (Some(bits), Some(format!("RSA {bits} bits")))
            }
            _ => (None, None),
        },
        lint::OID_EC_PUBLIC_KEY => match curve.map(|c| c.oid.as_str()) {
            Some(lint::OID_P256) => known(256, "EC P-256"),
            Some("1.3.132.0.34") => known(384, "EC P-384"),
            Some("1.3.132.0.35") => known(521, "EC P-521"),
            _ => (None, None),
        },
        "1.3.101.112" => known(256, "Ed25519"),
        "1.3.101.113" => known(448, "Ed448"),
        _ => (None, None),
    }
}

/// A name-constraint base for reports: an iPAddress base is an address and a mask
/// (RFC 5280 4.2.1.10), shown as `address/prefix`.
fn subtree_entry(n: &x509_parser::extensions::GeneralName<'_>) -> SanEntry {
    use x509_parser::extensions::GeneralName;
    let value = match n {
        GeneralName::IPAddress(b) if b.len() == 8 || b.len() == 32 => {
            let (addr, mask) = b.split_at(b.len() / 2);
            let prefix: u32 = mask.iter().map(|m| m.count_ones()).sum();
            let addr = if addr.len() == 4 {
                std::net::IpAddr::from(<[u8; 4]>::try_from(addr).expect("4 bytes"))
            } else {
                std::net::IpAddr::from(<[u8; 16]>::try_from(addr).expect("16 bytes"))
            };
            format!("{addr}/{prefix}")
        }
        other => super::lint::general_name_value(other),
    };
    SanEntry {
        kind: profile::general_name_kind(n),
        value,
    }
}

/// Decodes a TNAuthList (RFC 8226 section 9; its module uses EXPLICIT tags):
///
/// ```text
/// TNAuthorizationList ::= SEQUENCE SIZE (1..MAX) OF TNEntry
/// TNEntry ::= CHOICE { spc [0] ServiceProviderCode, range [1] TelephoneNumberRange,
///                      one [2] TelephoneNumber }
/// ServiceProviderCode ::= IA5String
/// TelephoneNumberRange ::= SEQUENCE { start TelephoneNumber, count INTEGER (2..MAX), ... }
/// TelephoneNumber ::= IA5String (SIZE (1..15)) (FROM ("0123456789#*"))
/// ```
fn tn_auth_list(value: &[u8]) -> Result<Vec<TnEntryReport>, String> {
    use yasna::{ASN1Error, ASN1ErrorKind, Tag, TagClass};
    let entries = yasna::parse_der(value, |r| {
        r.collect_sequence_of(|r| {
            let tag = r.lookahead_tag()?;
            if tag.tag_class != TagClass::ContextSpecific {
                return Err(ASN1Error::new(ASN1ErrorKind::Invalid));
            }
            match tag.tag_number {
                0 => r
                    .read_tagged(Tag::context(0), |r| r.read_ia5_string())
                    .map(|v| ("spc", v, None)),
                1 => r.read_tagged(Tag::context(1), |r| {
                    r.read_sequence(|r| {
                        let start = r.next().read_ia5_string()?;
                        let count = r.next().read_u64()?;
                        Ok(("range", start, Some(count)))
                    })
                }),
                2 => r
                    .read_tagged(Tag::context(2), |r| r.read_ia5_string())
                    .map(|v| ("one", v, None)),
                _ => Err(ASN1Error::new(ASN1ErrorKind::Invalid)),
            }
        })
    })
    .map_err(|e| {
        format!("not a DER TNAuthorizationList (RFC 8226: SEQUENCE OF [0] spc / [1] range / [2] one, explicitly tagged): {e}")
    })?;
    if entries.is_empty() {
        return Err("the TNAuthorizationList is empty (RFC 8226: SIZE (1..MAX))".into());
    }
    let number_ok = |n: &str| {
        (1..=15).contains(&n.len())
            && n.bytes()
                .all(|b| b.is_ascii_digit() || b == b'#' || b == b'*')
    };
    entries
        .into_iter()
        .map(|(kind, value, count)| {
            if kind != "spc" && !number_ok(&value) {
                return Err(format!(
                    "TelephoneNumber {value:?} is not 1 to 15 of 0-9, # and *"
                ));
            }
            if count.is_some_and(|c| c < 2) {
                return Err(format!(
                    "the range starting at {value} has count {}: at least 2",
                    count.unwrap_or_default()
                ));
            }
            Ok(TnEntryReport { kind, value, count })
        })
        .collect()
}

fn ku_names(k: &x509_parser::extensions::KeyUsage) -> Vec<&'static str> {
    [
        (k.digital_signature(), "digitalSignature"),
        (k.non_repudiation(), "contentCommitment"),
        (k.key_encipherment(), "keyEncipherment"),
        (k.data_encipherment(), "dataEncipherment"),
        (k.key_agreement(), "keyAgreement"),
        (k.key_cert_sign(), "keyCertSign"),
        (k.crl_sign(), "cRLSign"),
        (k.encipher_only(), "encipherOnly"),
        (k.decipher_only(), "decipherOnly"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

fn reason_name(code: u8) -> String {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        other => return format!("unknown({other})"),
    }
    .to_owned()
}

fn aki_of(ext: &x509_parser::extensions::X509Extension<'_>) -> Option<String> {
    match ext.parsed_extension() {
        ParsedExtension::AuthorityKeyIdentifier(a) => {
            a.key_identifier.as_ref().map(|k| profile::hex(k.0))
        }
        _ => None,
    }
}

fn cert_report(
    input_index: usize,
    der: &[u8],
    now: OffsetDateTime,
) -> Result<CertificateReport, AuditError> {
    let (_, c) = X509Certificate::from_der(der)
        .map_err(|e| AuditError::Input(format!("not a valid certificate: {e}")))?;
    let v = c.validity();
    let mut r = CertificateReport {
        input_index,
        role: Role::of(&c),
        subject: name_string(c.subject()),
        issuer: name_string(c.issuer()),
        issuer_index: None,
        self_issued: c.subject().as_raw() == c.issuer().as_raw(),
        version: c.version().0 + 1,
        serial: Serial::from_contents(c.raw_serial()),
        signature_algorithm: NamedOid::from_der(c.signature_algorithm.algorithm.as_bytes()),
        validity: validity(v.not_before.to_datetime(), v.not_after.to_datetime(), now),
        sha256_fingerprint: profile::hex(&profile::sha256(der)),
        public_key: key_report(c.public_key()),
        subject_alt_names: None,
        key_usage: None,
        extended_key_usage: None,
        basic_constraints: None,
        policies: None,
        subject_key_id: None,
        authority_key_id: None,
        crl_distribution_points: Vec::new(),
        name_constraints: None,
        authority_info_access: None,
        tn_auth_list: None,
        tn_auth_list_error: None,
        mimi_mapping: None,
        mimi_mapping_error: None,
        mimi_scope: None,
        mimi_scope_error: None,
        other_extensions: Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    for ext in c.extensions() {
        let dotted = oids::dotted(ext.oid.as_bytes());
        let first = seen.insert(dotted.clone());
        let raw = || RawExtension {
            extension: NamedOid::new(dotted.clone()),
            critical: ext.critical,
            length: ext.value.len(),
            hex: profile::hex(ext.value),
        };
        if !first {
            // A duplicate (lint e_duplicate_extension): show it raw.
            r.other_extensions.push(raw());
            continue;
        }
        match (dotted.as_str(), ext.parsed_extension()) {
            ("2.5.29.17", ParsedExtension::SubjectAlternativeName(san)) => {
                r.subject_alt_names = Some(SanReport {
                    critical: ext.critical,
                    names: san
                        .general_names
                        .iter()
                        .map(|n| SanEntry {
                            kind: profile::general_name_kind(n),
                            value: super::lint::general_name_value(n),
                        })
                        .collect(),
                })
            }
            ("2.5.29.15", ParsedExtension::KeyUsage(k)) => {
                r.key_usage = Some(KeyUsageReport {
                    extension: NamedOid::new(dotted.clone()),
                    critical: ext.critical,
                    usages: ku_names(k),
                })
            }
            ("2.5.29.37", _) => match lint::oid_sequence(ext.value) {
                Some(list) => {
                    r.extended_key_usage = Some(EkuReport {
                        extension: NamedOid::new(dotted.clone()),
                        critical: ext.critical,
                        purposes: list.into_iter().map(NamedOid::new).collect(),
                    })
                }
                None => r.other_extensions.push(raw()),
            },
            ("2.5.29.19", ParsedExtension::BasicConstraints(bc)) => {
                r.basic_constraints = Some(BasicConstraintsReport {
                    critical: ext.critical,
                    ca: bc.ca,
                    path_len: bc.path_len_constraint,
                })
            }
            ("2.5.29.32", ParsedExtension::CertificatePolicies(p)) => {
                r.policies = Some(PoliciesReport {
                    critical: ext.critical,
                    policies: p
                        .iter()
                        .map(|i| NamedOid::from_der(i.policy_id.as_bytes()))
                        .collect(),
                })
            }
            ("2.5.29.14", ParsedExtension::SubjectKeyIdentifier(k)) => {
                r.subject_key_id = Some(profile::hex(k.0))
            }
            ("2.5.29.35", ParsedExtension::AuthorityKeyIdentifier(_)) => {
                r.authority_key_id = aki_of(ext)
            }
            ("2.5.29.31", ParsedExtension::CRLDistributionPoints(points)) => {
                use x509_parser::extensions::DistributionPointName;
                for p in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                        r.crl_distribution_points
                            .extend(names.iter().map(super::lint::general_name_value));
                    }
                }
            }
            ("2.5.29.30", ParsedExtension::NameConstraints(nc)) => {
                let bases = |t: &Option<Vec<x509_parser::extensions::GeneralSubtree<'_>>>| {
                    t.iter().flatten().map(|s| subtree_entry(&s.base)).collect()
                };
                r.name_constraints = Some(NameConstraintsReport {
                    critical: ext.critical,
                    permitted: bases(&nc.permitted_subtrees),
                    excluded: bases(&nc.excluded_subtrees),
                })
            }
            ("1.3.6.1.5.5.7.1.1", ParsedExtension::AuthorityInfoAccess(aia)) => {
                r.authority_info_access = Some(AuthorityInfoAccessReport {
                    critical: ext.critical,
                    descriptions: aia
                        .accessdescs
                        .iter()
                        .map(|a| AccessDescriptionReport {
                            method: NamedOid::from_der(a.access_method.as_bytes()),
                            kind: profile::general_name_kind(&a.access_location),
                            value: super::lint::general_name_value(&a.access_location),
                        })
                        .collect(),
                })
            }
            (OID_TN_AUTH_LIST, _) => match tn_auth_list(ext.value) {
                Ok(entries) => {
                    r.tn_auth_list = Some(TnAuthListReport {
                        critical: ext.critical,
                        entries,
                    })
                }
                Err(e) => {
                    r.tn_auth_list_error = Some(e);
                    r.other_extensions.push(raw());
                }
            },
            (d, _) if d == oids::ID_PE_MIMI_MAPPING.dotted => {
                match profile::MimiMapping::from_der(ext.value) {
                    Ok(m) => {
                        r.mimi_mapping = Some(MappingReport {
                            critical: ext.critical,
                            sii: profile::leaf_sii(&c).ok().map(|s| s.canonical()),
                            provider: m.provider,
                            handle: m.handle,
                            method: m.method.as_str(),
                            validated_at: rfc3339(m.validated_at),
                            flags: FlagsReport {
                                preferred: m.flags.preferred,
                                new_holder: m.flags.new_holder,
                            },
                            consent_sha256: m.consent.map(|h| profile::hex(&h)),
                        })
                    }
                    Err(e) => {
                        r.mimi_mapping_error = Some(e.to_string());
                        r.other_extensions.push(raw());
                    }
                }
            }
            (d, _) if d == oids::ID_PE_MIMI_SCOPE.dotted => {
                match profile::Scope::from_der(ext.value) {
                    Ok(s) => {
                        let spec = s.to_spec();
                        r.mimi_scope = Some(ScopeReport {
                            critical: ext.critical,
                            tel: spec.tel,
                            email: spec.email,
                        })
                    }
                    Err(e) => {
                        r.mimi_scope_error = Some(e.to_string());
                        r.other_extensions.push(raw());
                    }
                }
            }
            _ => r.other_extensions.push(raw()),
        }
    }
    Ok(r)
}

fn csr_report(input_index: usize, der: &[u8]) -> Result<CsrReport, AuditError> {
    let (_, csr) = X509CertificationRequest::from_der(der)
        .map_err(|e| AuditError::Input(format!("not a valid CSR: {e}")))?;
    let info = &csr.certification_request_info;
    let mut requested_names = Vec::new();
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext {
            requested_names.extend(san.general_names.iter().map(|n| SanEntry {
                kind: profile::general_name_kind(n),
                value: super::lint::general_name_value(n),
            }));
        }
    }
    Ok(CsrReport {
        input_index,
        subject: name_string(&info.subject),
        public_key: key_report(&info.subject_pki),
        signature_algorithm: NamedOid::from_der(csr.signature_algorithm.algorithm.as_bytes()),
        signature_valid: csr.verify_signature().is_ok(),
        requested_names,
        sha256: profile::hex(&profile::sha256(der)),
    })
}

fn crl_report(input_index: usize, der: &[u8]) -> Result<CrlReport, AuditError> {
    let (_, crl) = CertificateRevocationList::from_der(der)
        .map_err(|e| AuditError::Input(format!("not a valid CRL: {e}")))?;
    let aki = crl
        .extensions()
        .iter()
        .find(|e| oids::dotted(e.oid.as_bytes()) == oids::AUTHORITY_KEY_IDENTIFIER.dotted)
        .and_then(aki_of);
    Ok(CrlReport {
        input_index,
        issuer: name_string(crl.issuer()),
        version: crl.version().map(|v| v.0 + 1).unwrap_or(1),
        signature_algorithm: NamedOid::from_der(crl.signature_algorithm.algorithm.as_bytes()),
        this_update: rfc3339(crl.last_update().to_datetime()),
        next_update: crl.next_update().map(|t| rfc3339(t.to_datetime())),
        crl_number: crl.crl_number().map(|n| n.to_string()),
        authority_key_id: aki,
        entries: crl
            .iter_revoked_certificates()
            .map(|e| CrlEntryReport {
                serial: Serial::from_contents(e.raw_serial()),
                revocation_date: rfc3339(e.revocation_date.to_datetime()),
                reason: e.reason_code().map(|(_, r)| reason_name(r.0)),
            })
            .collect(),
        sha256: profile::hex(&profile::sha256(der)),
    })
}

/// Orders certificates leaf first: each chain starts at a certificate that issued none of
/// the others and follows issuer names upwards; anything left keeps input order.
fn chain_order(certs: &[(Vec<u8>, Vec<u8>)]) -> Vec<usize> {
    let issuer_of = |i: usize| {
        let (_, issuer) = &certs[i];
        (0..certs.len()).find(|&j| j != i && &certs[j].0 == issuer)
    };
    let issues_something = |j: usize| (0..certs.len()).any(|i| i != j && issuer_of(i) == Some(j));
    let mut order = Vec::new();
    for start in (0..certs.len()).filter(|&i| !issues_something(i)) {
        let mut cur = Some(start);
        while let Some(i) = cur {
            if order.contains(&i) {
                break;
            }
            order.push(i);
            cur = issuer_of(i);
        }
    }
    for i in 0..certs.len() {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    order
}

/// Inspects every object of one input at time `now` (for the time left).
pub fn inspect(objects: &[Object], now: OffsetDateTime) -> Result<Inspection, AuditError> {
    let mut out = Inspection::default();
    let mut certs = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        match o.kind {
            ObjectKind::Certificate => certs.push((i, &o.der)),
            ObjectKind::Csr => out.csrs.push(csr_report(i, &o.der)?),
            ObjectKind::Crl => out.crls.push(crl_report(i, &o.der)?),
        }
    }
    let names: Vec<(Vec<u8>, Vec<u8>)> = certs
        .iter()
        .map(|(_, der)| {
            X509Certificate::from_der(der)
                .map(|(_, c)| (c.subject().as_raw().to_vec(), c.issuer().as_raw().to_vec()))
                .map_err(|e| AuditError::Input(format!("not a valid certificate: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let order = chain_order(&names);
    for &k in &order {
        let (i, der) = certs[k];
        out.certificates.push(cert_report(i, der, now)?);
    }
    for (pos, &k) in order.iter().enumerate() {
        let (subject, issuer) = &names[k];
        if subject == issuer {
            continue;
        }
        out.certificates[pos].issuer_index =
            order.iter().position(|&j| j != k && &names[j].0 == issuer);
    }
    Ok(out)
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|x| x.to_string())
        .unwrap_or_else(|| "(none)".into())
}

fn dn(s: &str) -> &str {
    if s.is_empty() {
        "(empty)"
    } else {
        s
    }
}

impl KeyReport {
    /// Algorithm and curve by name and OID, then the size when it says more.
    fn text(&self) -> String {
        let mut s = match &self.curve {
            Some(curve) => format!("{} {}", self.algorithm.text(), curve.text()),
            None => self.algorithm.text(),
        };
        if let Some(d) = self
            .description
            .as_deref()
            .filter(|d| Some(*d) != self.algorithm.name)
        {
            s.push_str(", ");
            s.push_str(d);
        }
        s
    }
}

impl CertificateReport {
    /// A short label for trees: the SII for leaves, the subject otherwise.
    fn label(&self) -> String {
        match (&self.role, &self.mimi_mapping) {
            (Role::Leaf, Some(MappingReport { sii: Some(s), .. })) => s.clone(),
            _ => dn(&self.subject).to_owned(),
        }
    }
}

impl Inspection {
    /// The certification path(s) as a small tree, leaf first.
    pub fn tree(&self) -> String {
        let mut out = String::new();
        let mut shown = vec![false; self.certificates.len()];
        for start in 0..self.certificates.len() {
            if shown[start] {
                continue;
            }
            let mut cur = Some(start);
            let mut depth = 0;
            while let Some(i) = cur {
                if shown[i] {
                    break;
                }
                shown[i] = true;
                let c = &self.certificates[i];
                let prefix = if depth == 0 {
                    String::new()
                } else {
                    format!("{}└─ issued by ", "   ".repeat(depth - 1))
                };
                let tail = if c.self_issued {
                    " (self-issued)"
                } else if c.issuer_index.is_none() {
                    " (issuer not in this input)"
                } else {
                    ""
                };
                let _ = writeln!(out, "{prefix}[{i}] {} {}{tail}", c.role, c.label());
                cur = c.issuer_index;
                depth += 1;
            }
        }
        out
    }

    /// The whole report as text for people.
    pub fn render_text(&self) -> String {
        let mut o = String::new();
        if self.certificates.len() > 1 {
            let _ = writeln!(
                o,
                "path ({} certificates, leaf first):",
                self.certificates.len()
            );
            for line in self.tree().lines() {
                let _ = writeln!(o, "  {line}");
            }
            o.push('\n');
        }
        for (i, c) in self.certificates.iter().enumerate() {
            render_cert(&mut o, i, c);
        }
        for r in &self.csrs {
            render_csr(&mut o, r);
        }
        for r in &self.crls {
            render_crl(&mut o, r);
        }
        o
    }
}

fn render_cert(o: &mut String, i: usize, c: &CertificateReport) {
    let _ = writeln!(o, "certificate [{i}] {}", c.role);
    let w = |o: &mut String, k: &str, v: &str| {
        let _ = writeln!(o, "  {k:<26}{v}");
    };
    w(o, "subject", dn(&c.subject));
    w(o, "issuer", dn(&c.issuer));
    w(o, "serial", &c.serial.to_string());
    w(o, "version", &format!("v{}", c.version));
    w(o, "signature", &c.signature_algorithm.text());
    w(o, "not before", &c.validity.not_before);
    w(
        o,
        "not after",
        &format!("{} ({})", c.validity.not_after, c.validity.time_left),
    );
    w(o, "sha-256 fingerprint", &c.sha256_fingerprint);
    w(o, "public key", &c.public_key.text());
    w(o, "spki sha-256", &c.public_key.spki_sha256);
    let crit = |b: bool| if b { " [critical]" } else { "" };
    if let Some(san) = &c.subject_alt_names {
        for (n, e) in san.names.iter().enumerate() {
            let k = if n == 0 {
                format!("subjectAltName{}", crit(san.critical))
            } else {
                String::new()
            };
            let _ = writeln!(o, "  {k:<26}{}: {}", e.kind, e.value);
        }
    }
    if let Some(k) = &c.key_usage {
        w(
            o,
            "keyUsage",
            &format!(
                "{} ({}){}",
                k.usages.join(", "),
                k.extension.oid,
                crit(k.critical)
            ),
        );
    }
    if let Some(e) = &c.extended_key_usage {
        let list: Vec<String> = e.purposes.iter().map(NamedOid::text).collect();
        w(
            o,
            "extKeyUsage",
            &format!("{}{}", list.join(", "), crit(e.critical)),
        );
    }
    if let Some(b) = &c.basic_constraints {
        let pl = b
            .path_len
            .map(|n| format!(", pathLen {n}"))
            .unwrap_or_default();
        w(
            o,
            "basicConstraints",
            &format!(
                "cA={}{pl}{}",
                b.ca.to_string().to_uppercase(),
                crit(b.critical)
            ),
        );
    }
    if let Some(p) = &c.policies {
        let list: Vec<String> = p.policies.iter().map(NamedOid::text).collect();
        w(
            o,
            "policies",
            &format!("{}{}", list.join(", "), crit(p.critical)),
        );
    }
    w(o, "subjectKeyId", &opt(&c.subject_key_id));
    w(o, "authorityKeyId", &opt(&c.authority_key_id));
    if !c.crl_distribution_points.is_empty() {
        w(
            o,
            "cRLDistributionPoints",
            &c.crl_distribution_points.join(", "),
        );
    }
    // Keys that may fill the column keep one space before their value.
    let lines = |o: &mut String, k: &str, values: &[String]| {
        for (n, v) in values.iter().enumerate() {
            let k = if n == 0 { k } else { "" };
            let _ = writeln!(o, "  {k:<25} {v}");
        }
    };
    if let Some(nc) = &c.name_constraints {
        let mut v: Vec<String> = nc
            .permitted
            .iter()
            .map(|e| format!("permitted {}: {}", e.kind, e.value))
            .collect();
        v.extend(
            nc.excluded
                .iter()
                .map(|e| format!("excluded {}: {}", e.kind, e.value)),
        );
        if v.is_empty() {
            v.push("(no subtrees)".into());
        }
        lines(o, &format!("nameConstraints{}", crit(nc.critical)), &v);
    }
    if let Some(a) = &c.authority_info_access {
        let v: Vec<String> = a
            .descriptions
            .iter()
            .map(|d| format!("{} {}: {}", d.method.text(), d.kind, d.value))
            .collect();
        lines(o, &format!("authorityInfoAccess{}", crit(a.critical)), &v);
    }
    if let Some(t) = &c.tn_auth_list {
        let v: Vec<String> = t
            .entries
            .iter()
            .map(|e| match e.count {
                Some(n) => format!("{} {} (count {n})", e.kind, e.value),
                None => format!("{} {}", e.kind, e.value),
            })
            .collect();
        lines(o, &format!("TNAuthList{}", crit(t.critical)), &v);
    }
    if let Some(e) = &c.tn_auth_list_error {
        w(o, "TNAuthList", &format!("MALFORMED: {e}"));
    }
    if let Some(m) = &c.mimi_mapping {
        let _ = writeln!(o, "  mimiMapping{}", crit(m.critical));
        let w2 = |o: &mut String, k: &str, v: &str| {
            let _ = writeln!(o, "    {k:<24}{v}");
        };
        w2(o, "sii", &opt(&m.sii));
        w2(o, "provider", &m.provider);
        w2(o, "handle", &opt(&m.handle));
        w2(o, "method", m.method);
        w2(o, "validatedAt", &m.validated_at);
        w2(
            o,
            "flags",
            &format!(
                "preferred={} newHolder={}",
                m.flags.preferred, m.flags.new_holder
            ),
        );
        w2(o, "consent sha-256", &opt(&m.consent_sha256));
    }
    if let Some(e) = &c.mimi_mapping_error {
        w(o, "mimiMapping", &format!("MALFORMED: {e}"));
    }
    if let Some(s) = &c.mimi_scope {
        let _ = writeln!(o, "  mimiScope{}", crit(s.critical));
        let _ = writeln!(
            o,
            "    {:<24}{}",
            "tel",
            if s.tel.is_empty() {
                "(none permitted)".into()
            } else {
                s.tel.join(", ")
            }
        );
        let _ = writeln!(
            o,
            "    {:<24}{}",
            "email",
            if s.email.is_empty() {
                "(none permitted)".into()
            } else {
                s.email.join(", ")
            }
        );
    }
    if let Some(e) = &c.mimi_scope_error {
        w(o, "mimiScope", &format!("MALFORMED: {e}"));
    }
    for x in &c.other_extensions {
        w(
            o,
            "extension",
            &format!(
                "{}{} {} bytes: {}",
                x.extension.text(),
                crit(x.critical),
                x.length,
                x.hex
            ),
        );
    }
    o.push('\n');
}

fn render_csr(o: &mut String, r: &CsrReport) {
    let _ = writeln!(o, "csr [input {}]", r.input_index);
    let _ = writeln!(o, "  {:<26}{}", "subject", dn(&r.subject));
    let _ = writeln!(o, "  {:<26}{}", "public key", r.public_key.text());
    let _ = writeln!(o, "  {:<26}{}", "spki sha-256", r.public_key.spki_sha256);
    let _ = writeln!(o, "  {:<26}{}", "signature", r.signature_algorithm.text());
    let _ = writeln!(
        o,
        "  {:<26}{}",
        "signature valid",
        if r.signature_valid { "yes" } else { "NO" }
    );
    if r.requested_names.is_empty() {
        let _ = writeln!(o, "  {:<26}(none)", "requested names");
    }
    for (n, e) in r.requested_names.iter().enumerate() {
        let k = if n == 0 { "requested names" } else { "" };
        let _ = writeln!(o, "  {k:<26}{}: {}", e.kind, e.value);
    }
    let _ = writeln!(o, "  {:<26}{}", "sha-256 (consent)", r.sha256);
    o.push('\n');
}

fn render_crl(o: &mut String, r: &CrlReport) {
    let _ = writeln!(o, "crl [input {}]", r.input_index);
    let _ = writeln!(o, "  {:<26}{}", "issuer", dn(&r.issuer));
    let _ = writeln!(o, "  {:<26}v{}", "version", r.version);
    let _ = writeln!(o, "  {:<26}{}", "signature", r.signature_algorithm.text());
    let _ = writeln!(o, "  {:<26}{}", "this update", r.this_update);
    let _ = writeln!(o, "  {:<26}{}", "next update", opt(&r.next_update));
    let _ = writeln!(o, "  {:<26}{}", "crl number", opt(&r.crl_number));
    let _ = writeln!(o, "  {:<26}{}", "authorityKeyId", opt(&r.authority_key_id));
    let _ = writeln!(o, "  {:<26}{}", "entries", r.entries.len());
    for e in &r.entries {
        let _ = writeln!(
            o,
            "    {}  revoked {}  {}",
            e.serial,
            e.revocation_date,
            e.reason.as_deref().unwrap_or("(no reason)")
        );
    }
    let _ = writeln!(o, "  {:<26}{}", "sha-256", r.sha256);
    o.push('\n');
}
