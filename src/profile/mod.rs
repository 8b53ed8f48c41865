//! Certificate profile "mapping-v1": object identifiers, the `MimiMapping` and `MimiScope`
//! extensions, and reading them (and the SII) back out of a parsed certificate.

pub mod extensions;
#[cfg(feature = "ca")]
pub mod lint;
pub mod mapping;
pub mod oids;
mod provider;
#[cfg(feature = "ca")]
mod revocation;
pub mod scope;
mod serial;
pub mod span;

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, X509Extension};

pub use mapping::{check_handle, MappingFlags, Method, MimiMapping};
pub use provider::ProviderDomain;
#[cfg(feature = "ca")]
pub use revocation::{RevocationTarget, RevokeReason};
pub use scope::{Scope, ScopeSpec};
pub use serial::Serial;
pub use span::Span;

use crate::sii::{Sii, SiiError};

/// Largest DER certificate accepted, in bytes (a chain's certificates, a trust-list root).
pub const MAX_CERT_LEN: usize = 16 * 1024;

/// The leaf validity a CA gives when a request names none (`validity.leaf_default`):
/// 7 days (docs/spec.md#leaf-validity). `lint` warns about a longer leaf.
#[cfg(feature = "ca")]
pub const DEFAULT_LEAF_VALIDITY: Span = Span::new(time::Duration::days(7));

/// The longest leaf validity relying platforms accept by default (`max_leaf_validity`,
/// docs/spec.md#trust-list-policy), and so the longest a CA issues by default
/// (`validity.leaf_max`): 90 days. `lint` rejects a longer leaf.
pub const MAX_LEAF_VALIDITY: Span = Span::new(time::Duration::days(90));

/// The oldest proof of possession (`validatedAt`) relying platforms accept by default
/// (`max_validation_age`, docs/spec.md#trust-list-policy), and a CA's default too: 30 days.
/// `lint` warns about an older one.
pub const MAX_VALIDATION_AGE: Span = Span::new(time::Duration::days(30));

/// What is wrong with a profile value or a certificate's use of the profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The DER is malformed.
    #[error("malformed DER: {0}")]
    Der(String),
    /// The `MimiMapping` version is not v1.
    #[error("MimiMapping version {version} is not supported (this implementation reads v1)")]
    UnsupportedVersion {
        /// The version found.
        version: i64,
    },
    /// A method name that is not one of the profile's.
    #[error("unknown validation method {given:?}: use one of sms-otp, voice-otp, email-link, email-otp, operator-token, oauth, other")]
    UnknownMethod {
        /// What was given.
        given: String,
    },
    /// A provider that is not a lower-case ASCII domain name.
    #[error(
        "provider {given:?} is not a domain name: give the provider's domain, e.g. chat-a.example"
    )]
    BadProvider {
        /// What was given.
        given: String,
    },
    /// A provider (CA config, trust-list anchor) that is not a domain name.
    #[error("provider {given:?} is not a domain name ({reason})")]
    ProviderNotDomain {
        /// What was given.
        given: String,
        /// Why it is not one.
        reason: String,
    },
    /// A provider that is a domain name but not written in its lower-case ASCII (A-label)
    /// form, which configs, trust lists and certificates all use.
    #[error("provider {given:?} must be written in lower-case ASCII form: {canonical:?}")]
    ProviderNotCanonical {
        /// What was given.
        given: String,
        /// The form to write instead.
        canonical: String,
    },
    /// A revocation reason that is not one of the profile's.
    #[error("unknown revocation reason {given:?}: use one of key-compromise, sii-reassigned, account-closed, superseded, unspecified")]
    UnknownReason {
        /// What was given.
        given: String,
    },
    /// A serial number given as text that is not hexadecimal (or is longer than the 20
    /// octets RFC 5280 allows).
    #[error("serial {given:?} is not a hexadecimal serial number: copy it from `issue` output or `store list`")]
    BadSerial {
        /// What was given.
        given: String,
    },
    /// A handle that is not an absolute URI (mapping-v1 handle binding rule).
    #[error("handle {handle:?} is not an absolute URI: a handle must be a URI on the provider's own domain, e.g. mimi://{provider}/u/alice or xmpp:alice@{provider}")]
    HandleNotUri {
        /// The handle.
        handle: String,
        /// The provider it was checked against.
        provider: String,
    },
    /// A handle URI from which no domain can be read (no host, and no single '@' before a
    /// domain).
    #[error("handle {handle:?} names no domain (a URI needs a host, or, without one, a single '@' followed by the domain): give a handle on {provider}, e.g. mimi://{provider}/u/alice")]
    HandleNoDomain {
        /// The handle.
        handle: String,
        /// The provider it was checked against.
        provider: String,
    },
    /// A handle on another domain than the provider's: a provider names only its own users.
    #[error("handle {handle:?} is on {domain:?}, which is neither the provider {provider:?} nor a subdomain of it: a provider may name only its own users; give a handle on {provider}, e.g. mimi://{provider}/u/alice")]
    HandleOtherDomain {
        /// The handle.
        handle: String,
        /// The domain it names (lower-cased).
        domain: String,
        /// The provider it was checked against.
        provider: String,
    },
    /// A scope entry that is not valid.
    #[error("scope entry {entry:?} is invalid: {reason}")]
    BadScope {
        /// The entry.
        entry: String,
        /// Why.
        reason: String,
    },
    /// A duration such as `7d` that cannot be read.
    #[error("duration {given:?} is invalid: write a number and a unit (s, m, h, d, w, y), e.g. 7d, 24h, 1y")]
    BadSpan {
        /// What was given.
        given: String,
    },
    /// A well-formed duration longer than any the tool accepts.
    #[error("duration {given:?} is too long: the longest accepted is {max}; give a shorter one")]
    SpanTooLong {
        /// What was given.
        given: String,
        /// The cap, e.g. `1000y`.
        max: String,
    },
    /// A time outside what the profile encodes (before 1970 or far future).
    #[error("time is out of the range this profile encodes")]
    TimeOutOfRange,
    /// The leaf does not hold exactly one SII in its subjectAltName.
    #[error("the leaf must name exactly one SII in subjectAltName, found {found}")]
    SiiCount {
        /// How many names the SAN held (0 when the extension is absent).
        found: usize,
    },
    /// The SII in the SAN is invalid or not canonical.
    #[error("the SII in subjectAltName is invalid: {0}")]
    BadSii(#[from] SiiError),
    /// The leaf's one subjectAltName is of a kind that cannot hold an SII.
    #[error("the subjectAltName holds a {kind}, but an SII must be a tel: URI or an rfc822Name")]
    NotAnSii {
        /// The kind of name found (e.g. `dNSName`).
        kind: &'static str,
    },
    /// The leaf lacks the `id-pe-mimiMapping` extension.
    #[error("the leaf has no id-pe-mimiMapping extension (2.999.6464.2.1)")]
    MappingMissing,
    /// An extension appears more than once.
    #[error("extension {oid} appears more than once")]
    DuplicateExtension {
        /// Its dotted OID.
        oid: String,
    },
}

/// The one extension with this OID, if any; two of them is an error (RFC 5280 4.2).
pub fn find_extension<'a>(
    cert: &'a X509Certificate<'_>,
    oid: &oids::ProfileOid,
) -> Result<Option<&'a X509Extension<'a>>, ProfileError> {
    let mut found = cert
        .extensions()
        .iter()
        .filter(|e| e.oid.as_bytes() == oid.der_value());
    let first = found.next();
    if found.next().is_some() {
        return Err(ProfileError::DuplicateExtension {
            oid: oid.dotted.to_owned(),
        });
    }
    Ok(first)
}

/// The leaf's one SII, from its subjectAltName; it must already be canonical.
pub fn leaf_sii(cert: &X509Certificate<'_>) -> Result<Sii, ProfileError> {
    let san = cert
        .subject_alternative_name()
        .map_err(|_| ProfileError::DuplicateExtension {
            oid: oids::SUBJECT_ALT_NAME.dotted.into(),
        })?;
    let names = match san {
        Some(san) => &san.value.general_names,
        None => return Err(ProfileError::SiiCount { found: 0 }),
    };
    match names.as_slice() {
        [GeneralName::URI(uri)] => Ok(Sii::from_san_uri(uri)?),
        [GeneralName::RFC822Name(addr)] => Ok(Sii::from_san_rfc822(addr)?),
        [other] => Err(ProfileError::NotAnSii {
            kind: general_name_kind(other),
        }),
        other => Err(ProfileError::SiiCount { found: other.len() }),
    }
}

/// The ASN.1 name of a GeneralName's kind, for messages and reports.
pub fn general_name_kind(name: &GeneralName<'_>) -> &'static str {
    match name {
        GeneralName::OtherName(..) => "otherName",
        GeneralName::RFC822Name(_) => "rfc822Name",
        GeneralName::DNSName(_) => "dNSName",
        GeneralName::X400Address(_) => "x400Address",
        GeneralName::DirectoryName(_) => "directoryName",
        GeneralName::EDIPartyName(_) => "ediPartyName",
        GeneralName::URI(_) => "uniformResourceIdentifier",
        GeneralName::IPAddress(_) => "iPAddress",
        GeneralName::RegisteredID(_) => "registeredID",
        GeneralName::Invalid(..) => "invalid name",
    }
}

/// The leaf's decoded `id-pe-mimiMapping`.
pub fn leaf_mapping(cert: &X509Certificate<'_>) -> Result<MimiMapping, ProfileError> {
    match find_extension(cert, &oids::ID_PE_MIMI_MAPPING)? {
        Some(ext) => MimiMapping::from_der(ext.value),
        None => Err(ProfileError::MappingMissing),
    }
}

/// A CA certificate's decoded `id-pe-mimiScope`; `None` when absent (no limit from this cert).
pub fn ca_scope(cert: &X509Certificate<'_>) -> Result<Option<Scope>, ProfileError> {
    find_extension(cert, &oids::ID_PE_MIMI_SCOPE)?
        .map(|ext| Scope::from_der(ext.value))
        .transpose()
}

/// Why a subject public key is not the profile's (ECDSA P-256, a valid uncompressed or
/// compressed point), or `None` when it is. Every key on a mapping path must be P-256.
pub fn key_problem(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Option<String> {
    let alg = &spki.algorithm;
    if alg.algorithm.as_bytes() != oids::EC_PUBLIC_KEY.der_value() {
        let dotted = oids::dotted(alg.algorithm.as_bytes());
        return Some(match (key_algorithm_name(&dotted), spki.parsed()) {
            (_, Ok(x509_parser::public_key::PublicKey::RSA(rsa))) => {
                // x509-parser's `key_size` rounds to whole bytes; count the bits.
                let m = rsa.modulus;
                let m = &m[m.iter().position(|b| *b != 0).unwrap_or(m.len())..];
                let bits = m
                    .first()
                    .map_or(0, |b| 8 * m.len() - b.leading_zeros() as usize);
                format!("key is RSA-{bits} ({dotted}), not EC P-256")
            }
            (Some(name), _) => format!("key is {name} ({dotted}), not EC P-256"),
            (None, _) => format!("key algorithm is {dotted}, not EC P-256"),
        });
    }
    let named = |p: &x509_parser::der_parser::asn1_rs::Any<'_>| {
        p.tag() == x509_parser::der_parser::asn1_rs::Tag::Oid
    };
    // The profile's curve in its DER form is recognised without writing out dotted text:
    // the verifier asks this of every key on every path.
    let p256_der = matches!(alg.parameters.as_ref(), Some(p) if named(p) && p.data == oids::PRIME256V1.der_value());
    if !p256_der {
        let curve = match alg.parameters.as_ref() {
            Some(p) if named(p) => oids::dotted(p.data),
            Some(_) => "(parameters that are not a named curve)".into(),
            None => "(none)".into(),
        };
        if curve != oids::PRIME256V1.dotted {
            return Some(format!(
                "EC key on curve {curve}, not P-256 (1.2.840.10045.3.1.7)"
            ));
        }
    }
    p256::PublicKey::from_sec1_bytes(&spki.subject_public_key.data)
        .err()
        .map(|_| "the EC key is not a valid P-256 point".into())
}

/// Names of the key algorithms a foreign certificate may carry, for messages.
fn key_algorithm_name(dotted: &str) -> Option<&'static str> {
    Some(match dotted {
        "1.2.840.113549.1.1.1" => "RSA",
        "1.2.840.10040.4.1" => "DSA",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.2.840.10046.2.1" => "Diffie-Hellman",
        _ => return None,
    })
}

/// DER of a certificatePolicies extension value naming `id-cp-mimiMappingV1` only.
pub fn certificate_policies_der() -> Vec<u8> {
    let oid = yasna::models::ObjectIdentifier::from_slice(oids::ID_CP_MIMI_MAPPING_V1.arcs());
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| w.next().write_oid(&oid));
        })
    })
}

/// How an input file is encoded, as every command that takes PEM or DER tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputForm<'a> {
    /// UTF-8 text with a `-----BEGIN ` line (the text, for the PEM parser); text before or
    /// between blocks is allowed.
    Pem(&'a str),
    /// Binary starting with a DER SEQUENCE tag (0x30), as every certificate, CSR, CRL and
    /// key structure does.
    Der,
    /// Neither.
    Neither,
}

/// Tell PEM from DER: PEM when the bytes are UTF-8 text holding a `-----BEGIN ` line,
/// else DER when they start with a SEQUENCE tag.
pub fn input_form(bytes: &[u8]) -> InputForm<'_> {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.contains("-----BEGIN ") => InputForm::Pem(text),
        _ if bytes.first() == Some(&0x30) => InputForm::Der,
        _ => InputForm::Neither,
    }
}

/// A time as RFC 3339 in UTC (`2026-11-26T09:00:00Z`), the one form every report, JSON
/// field and store column uses.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// An RFC 3339 time (`2026-11-26T09:00:00Z`); the message says how to write one.
pub(crate) fn parse_rfc3339(s: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|e| {
        format!("{s:?} is not an RFC 3339 time ({e}); write e.g. 2026-11-26T09:00:00Z")
    })
}

/// The bytes of a hex string (either case), or `None` when it is not hex of whole bytes.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// Lower-case hex of any byte string (fingerprints, hashes).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Append the PEM of one certificate to `out`: LF line endings, 64 characters a line, as
/// OpenSSL writes it. Appends in place (one reservation, no intermediate strings): it runs
/// once for every issued leaf.
#[cfg(feature = "ca")]
pub(crate) fn push_pem_certificate(out: &mut String, der: &[u8]) {
    use base64::Engine;
    out.reserve(pem_certificate_len(der.len()));
    out.push_str(PEM_BEGIN);
    for line in der.chunks(48) {
        base64::engine::general_purpose::STANDARD.encode_string(line, out);
        out.push('\n');
    }
    out.push_str(PEM_END);
}

#[cfg(feature = "ca")]
const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----\n";
#[cfg(feature = "ca")]
const PEM_END: &str = "-----END CERTIFICATE-----\n";

/// The length of [`push_pem_certificate`]'s output for a certificate of `der_len` bytes.
#[cfg(feature = "ca")]
pub(crate) fn pem_certificate_len(der_len: usize) -> usize {
    let lines = der_len.div_ceil(48);
    PEM_BEGIN.len() + der_len.div_ceil(3) * 4 + lines + PEM_END.len()
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_forms() {
        let pem = "# comment\n-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n";
        assert_eq!(input_form(pem.as_bytes()), InputForm::Pem(pem));
        assert_eq!(input_form(&[0x30, 0x82, 0xff]), InputForm::Der);
        assert_eq!(input_form(b"hello"), InputForm::Neither);
        assert_eq!(input_form(&[0xff, 0x30]), InputForm::Neither);
        assert_eq!(input_form(b""), InputForm::Neither);
    }

    #[test]
    fn policies_fixed_vector() {
        // SEQUENCE { SEQUENCE { OID 2.999.6464.3.1 } }
        assert_eq!(hex(&certificate_policies_der()), "300a300806068837b2400301");
    }

    #[test]
    fn certificate_pem_is_what_the_pem_crate_writes() {
        // Every length around the 48-byte line boundary, and a leaf-sized one.
        for len in (0..=200).chain([601, 1024]) {
            let der: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let expected = pem::encode_config(
                &pem::Pem::new("CERTIFICATE", der.clone()),
                pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
            );
            let mut out = String::from("before\n");
            push_pem_certificate(&mut out, &der);
            assert_eq!(out, format!("before\n{expected}"), "{len} bytes");
            assert_eq!(pem_certificate_len(len), expected.len(), "{len} bytes");
        }
    }
}
