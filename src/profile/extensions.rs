//! The one table of extensions profile mapping-v1 processes, and the one strict reading of
//! their values. The verifier and the lint both use it, so a certificate the pre-issuance
//! lint passes is not rejected by the verifier for an extension's criticality or encoding.

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{ParsedExtension, X509Extension};

use super::oids;

/// Whether a processed extension may be marked critical.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Criticality {
    /// It may be critical: the verifier (with rustls-webpki) processes it. (Where the profile
    /// requires it critical — keyUsage, a leaf's subjectAltName and basicConstraints — the
    /// lint says so; verifiers accept either.)
    May,
    /// It must not be critical: RFC 5280 says so (subjectKeyIdentifier,
    /// authorityKeyIdentifier), or relying parties in general do not process it
    /// (certificatePolicies: no policy processing; the profile's own extensions, so that
    /// generic tools can still read the chains). Verifiers reject it when critical.
    MustNot,
}

/// An extension the profile processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessedExtension {
    /// Its ASN.1 name, e.g. `keyUsage`.
    pub name: &'static str,
    /// Its dotted OID, e.g. `2.5.29.15`.
    pub dotted: &'static str,
    /// Its OID's DER contents octets (as x509-parser holds them).
    pub oid: &'static [u8],
    /// Whether it may be critical.
    pub criticality: Criticality,
}

const fn ext(oid: oids::ProfileOid, criticality: Criticality) -> ProcessedExtension {
    ProcessedExtension {
        name: oid.name,
        dotted: oid.dotted,
        oid: oid.der_value(),
        criticality,
    }
}

/// Every extension the profile processes. Any other extension marked critical is rejected
/// by the verifier (`E_UNKNOWN_CRITICAL_EXTENSION`) and reported by the lint.
pub const PROCESSED: [ProcessedExtension; 11] = [
    ext(oids::SUBJECT_KEY_IDENTIFIER, Criticality::MustNot),
    ext(oids::KEY_USAGE, Criticality::May),
    ext(oids::SUBJECT_ALT_NAME, Criticality::May),
    ext(oids::BASIC_CONSTRAINTS, Criticality::May),
    ext(oids::NAME_CONSTRAINTS, Criticality::May),
    ext(oids::CRL_DISTRIBUTION_POINTS, Criticality::May),
    ext(oids::CERTIFICATE_POLICIES, Criticality::MustNot),
    ext(oids::AUTHORITY_KEY_IDENTIFIER, Criticality::MustNot),
    ext(oids::EXT_KEY_USAGE, Criticality::May),
    ext(oids::ID_PE_MIMI_MAPPING, Criticality::MustNot),
    ext(oids::ID_PE_MIMI_SCOPE, Criticality::MustNot),
];

/// The table entry for an extension OID (DER contents octets), if the profile processes it.
pub fn processed(oid: &[u8]) -> Option<&'static ProcessedExtension> {
    PROCESSED.iter().find(|e| e.oid == oid)
}

/// What is wrong with one extension of a certificate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtensionError {
    /// A critical extension the profile does not process.
    #[error("critical extension {dotted} is not one this profile processes")]
    UnknownCritical {
        /// Its dotted OID.
        dotted: String,
    },
    /// A processed extension marked critical that must not be.
    #[error("{name} ({dotted}) is marked critical, but it must not be: verifiers reject it")]
    MustNotBeCritical {
        /// Its ASN.1 name.
        name: &'static str,
        /// Its dotted OID.
        dotted: &'static str,
    },
    /// A processed extension whose value is not strict DER of its type.
    #[error("the {name} extension ({dotted}) is not strict DER: {reason}")]
    NotDer {
        /// Its ASN.1 name.
        name: &'static str,
        /// Its dotted OID.
        dotted: &'static str,
        /// What exactly is wrong.
        reason: String,
    },
}

/// The criticality rule for one extension: `Err` when it is critical and the table does
/// not allow that.
pub fn check_criticality(e: &X509Extension<'_>) -> Result<(), ExtensionError> {
    if !e.critical {
        return Ok(());
    }
    match processed(e.oid.as_bytes()) {
        None => Err(ExtensionError::UnknownCritical {
            dotted: oids::dotted(e.oid.as_bytes()),
        }),
        Some(p) if p.criticality == Criticality::MustNot => {
            Err(ExtensionError::MustNotBeCritical {
                name: p.name,
                dotted: p.dotted,
            })
        }
        Some(_) => Ok(()),
    }
}

/// The strict reading of one extension value: for an extension the profile processes, the
/// value must be exactly one DER element (no trailing bytes), every length minimal and
/// definite, every nested element well-formed, and — for the RFC 5280 extensions — of the
/// type x509-parser reads. Other extensions are not read, so not judged.
pub fn check_value(e: &X509Extension<'_>) -> Result<(), ExtensionError> {
    let Some(p) = processed(e.oid.as_bytes()) else {
        return Ok(());
    };
    let not_der = |reason: String| ExtensionError::NotDer {
        name: p.name,
        dotted: p.dotted,
        reason,
    };
    let rest = der_element(e.value, 0).map_err(not_der)?;
    if !rest.is_empty() {
        return Err(not_der(format!(
            "{} trailing byte(s) after the value",
            rest.len()
        )));
    }
    match e.parsed_extension() {
        ParsedExtension::ParseError { error } => Err(not_der(error.to_string())),
        // Ours are read (strictly) by `MimiMapping::from_der` and `Scope::from_der`.
        ParsedExtension::UnsupportedExtension { .. } if !is_ours(p) => {
            Err(not_der("not the type the extension holds".into()))
        }
        _ => Ok(()),
    }
}

fn is_ours(p: &ProcessedExtension) -> bool {
    p.oid == oids::ID_PE_MIMI_MAPPING.der_value() || p.oid == oids::ID_PE_MIMI_SCOPE.der_value()
}

/// The first problem with any of the certificate's extensions, in certificate order:
/// criticality (the table) and strict DER ([`check_value`]).
pub fn check_extensions(cert: &X509Certificate<'_>) -> Result<(), ExtensionError> {
    for e in cert.extensions() {
        check_criticality(e)?;
        check_value(e)?;
    }
    Ok(())
}

/// Deepest nesting read; the profile's values nest four or five levels.
const MAX_DEPTH: usize = 16;

/// One strict DER element at the start of `input`; returns what follows it.
fn der_element(input: &[u8], depth: usize) -> Result<&[u8], String> {
    if depth > MAX_DEPTH {
        return Err(format!("nested more than {MAX_DEPTH} levels deep"));
    }
    let (&tag, mut rest) = input
        .split_first()
        .ok_or_else(|| "an element is missing (empty value)".to_owned())?;
    if tag & 0x1f == 0x1f {
        // High tag number form: base 128, no leading 0x80, at least 31.
        let mut n: u32 = 0;
        let mut first = true;
        loop {
            let (&b, r) = rest
                .split_first()
                .ok_or_else(|| "a tag is cut short".to_owned())?;
            rest = r;
            if first && b == 0x80 {
                return Err("a tag number is not minimally encoded".into());
            }
            first = false;
            n = n
                .checked_mul(128)
                .map(|n| n | u32::from(b & 0x7f))
                .filter(|n| *n < 1 << 24)
                .ok_or_else(|| "a tag number is too large".to_owned())?;
            if b & 0x80 == 0 {
                break;
            }
        }
        if n < 31 {
            return Err("a tag number is not minimally encoded".into());
        }
    }
    let (&l0, r) = rest
        .split_first()
        .ok_or_else(|| "a length is missing".to_owned())?;
    rest = r;
    let len = match l0 {
        0..=0x7f => usize::from(l0),
        0x80 => return Err("an indefinite length (BER, not DER)".into()),
        _ => {
            let n = usize::from(l0 & 0x7f);
            if n > 3 || rest.len() < n {
                return Err("a length is cut short or too large".into());
            }
            let (bytes, r) = rest.split_at(n);
            rest = r;
            if bytes[0] == 0 {
                return Err("an over-long length (leading zero byte)".into());
            }
            let len = bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b));
            if len < 0x80 {
                return Err(format!(
                    "an over-long length ({len} written in {} bytes)",
                    n + 1
                ));
            }
            len
        }
    };
    if rest.len() < len {
        return Err(format!(
            "an element's length is {len} bytes, but only {} follow",
            rest.len()
        ));
    }
    let (content, after) = rest.split_at(len);
    let universal = tag & 0xc0 == 0;
    if tag & 0x20 != 0 {
        if universal && !matches!(tag & 0x1f, 0x10 | 0x11) {
            return Err(format!(
                "a constructed string (tag {tag:#04x}), which DER forbids"
            ));
        }
        let mut inner = content;
        while !inner.is_empty() {
            inner = der_element(inner, depth + 1)?;
        }
    } else if universal {
        primitive(tag, content)?;
    }
    Ok(after)
}

/// The DER rules for the universal primitive types the profile's extensions hold.
fn primitive(tag: u8, content: &[u8]) -> Result<(), String> {
    match (tag, content) {
        (0x01, [0x00] | [0xff]) => Ok(()),
        (0x01, _) => Err("a BOOLEAN that is not 00 or ff".into()),
        (0x02 | 0x0a, []) => Err("an empty INTEGER".into()),
        (0x02 | 0x0a, [0x00, b, ..]) if b & 0x80 == 0 => {
            Err("an INTEGER with a superfluous leading zero".into())
        }
        (0x02 | 0x0a, [0xff, b, ..]) if b & 0x80 != 0 => {
            Err("an INTEGER with a superfluous leading ff".into())
        }
        (0x03, []) => Err("an empty BIT STRING".into()),
        (0x03, [unused, ..]) if *unused > 7 => {
            Err("a BIT STRING with more than 7 unused bits".into())
        }
        (0x03, [unused]) if *unused != 0 => Err("an empty BIT STRING with unused bits".into()),
        (0x03, [unused, .., last]) if last & ((1u8 << unused) - 1) != 0 => {
            Err("a BIT STRING whose unused bits are not zero".into())
        }
        (0x05, [_, ..]) => Err("a NULL with contents".into()),
        (0x06, []) => Err("an empty OBJECT IDENTIFIER".into()),
        (0x06, [.., last]) if last & 0x80 != 0 => Err("an OBJECT IDENTIFIER cut short".into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: &[u8]) -> Result<(), String> {
        let rest = der_element(v, 0)?;
        if rest.is_empty() {
            Ok(())
        } else {
            Err("trailing".into())
        }
    }

    #[test]
    fn table_oids_are_their_dotted_forms() {
        for p in PROCESSED {
            assert_eq!(oids::dotted(p.oid), p.dotted, "{}", p.name);
            assert_eq!(oids::name(p.dotted), Some(p.name));
        }
    }

    #[test]
    fn strict_der_accepts_the_profiles_values() {
        // keyUsage digitalSignature; keyCertSign+cRLSign; SKI; certificatePolicies.
        for v in [
            &[0x03, 0x02, 0x07, 0x80][..],
            &[0x03, 0x02, 0x01, 0x06],
            &[0x04, 0x02, 0xab, 0xcd],
            &super::super::certificate_policies_der(),
            &[0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00],
        ] {
            assert_eq!(one(v), Ok(()), "{v:02x?}");
        }
    }

    #[test]
    fn strict_der_rejects_damage() {
        for v in [
            &[0x03, 0x02, 0x07, 0x80, 0x00][..],   // trailing byte
            &[0x03, 0x81, 0x02, 0x07, 0x80],       // over-long length
            &[0x03, 0x82, 0x00, 0x02, 0x07, 0x80], // leading zero in length
            &[0x30, 0x80, 0x04, 0x00, 0x00, 0x00], // indefinite
            &[0x30, 0x03, 0x04, 0x81, 0x00],       // over-long inside
            &[0x30, 0x04, 0x04, 0x01, 0xab, 0x00], // cut short inside
            &[0x24, 0x03, 0x04, 0x01, 0xab],       // constructed OCTET STRING
            &[0x01, 0x01, 0x01],                   // BOOLEAN 01
            &[0x02, 0x02, 0x00, 0x01],             // INTEGER leading zero
            &[0x03, 0x02, 0x07, 0x81],             // unused bits set
            &[0x04, 0x03, 0xab],                   // length past the end
        ] {
            assert!(one(v).is_err(), "{v:02x?}");
        }
    }
}
