//! What a provider may attest: the `id-pe-mimiScope` CA extension, and the same shape in
//! provider configs and trust lists.
//!
//! ```text
//! MimiScope ::= SEQUENCE {
//!   tel    [0] IMPLICIT SEQUENCE OF PrintableString OPTIONAL,  -- E.164 digit prefixes without "+"; "" = every number
//!   email  [1] IMPLICIT SEQUENCE OF IA5String OPTIONAL         -- "example.com" exact; ".example.com" any subdomain
//! }
//! ```
//!
//! An absent (or empty) list permits nothing of that kind. In YAML, phone prefixes are
//! written with their `+` (`"+44"`, `"+"` for every number).

use std::fmt;

use der::asn1::{Ia5String, PrintableString};
use der::{Decode, Encode, Sequence};
use serde::{Deserialize, Serialize};

use super::ProfileError;
use crate::sii::Sii;

/// A validated scope: phone-number prefixes and email domain patterns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "ScopeSpec")]
pub struct Scope {
    /// E.164 digit prefixes without `+`; `""` permits every number.
    tel: Vec<String>,
    /// ASCII lower-case domains; a leading `.` means "any subdomain of".
    email: Vec<String>,
}

/// The YAML form of a scope, as written by people (`tel: ["+1"]`, `email: [".example.com"]`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ScopeSpec {
    /// E.164 prefixes with their `+`; `"+"` = every number.
    #[serde(default)]
    pub tel: Vec<String>,
    /// Domains; `".example.com"` = any subdomain of example.com.
    #[serde(default)]
    pub email: Vec<String>,
}

impl TryFrom<ScopeSpec> for Scope {
    type Error = ProfileError;

    fn try_from(spec: ScopeSpec) -> Result<Self, ProfileError> {
        let tel = spec
            .tel
            .iter()
            .map(|p| {
                let digits = p.trim().strip_prefix('+').ok_or_else(|| ProfileError::BadScope {
                    entry: p.clone(),
                    reason: "a phone prefix starts with '+', e.g. \"+44\" (\"+\" alone = every number)".into(),
                })?;
                check_tel_prefix(digits).map_err(|reason| ProfileError::BadScope {
                    entry: p.clone(),
                    reason,
                })?;
                Ok(digits.to_owned())
            })
            .collect::<Result<_, ProfileError>>()?;
        let email = spec
            .email
            .iter()
            .map(|d| normalize_domain_pattern(d))
            .collect::<Result<_, _>>()?;
        Ok(Scope { tel, email })
    }
}

fn check_tel_prefix(digits: &str) -> Result<(), String> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a phone prefix holds only digits after '+'".into());
    }
    if digits.len() > 15 {
        return Err("a phone prefix has at most 15 digits".into());
    }
    if digits.starts_with('0') {
        return Err("E.164 country codes never start with 0".into());
    }
    Ok(())
}

/// Normalise a domain (IDNA to ASCII, lower-case) through the one SII parser, so scopes and
/// identifiers can never disagree on a domain's form.
pub(crate) fn normalize_domain(domain: &str) -> Result<String, String> {
    let domain = domain.trim();
    if is_plain_canonical_domain(domain) {
        return Ok(domain.to_owned());
    }
    match Sii::parse(&format!("x@{domain}")) {
        Ok(sii) => sii
            .email_domain()
            .map(str::to_owned)
            .ok_or_else(|| "not a domain".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether `domain` is, without a doubt, already what [`normalize_domain`] makes of it:
/// lower-case ASCII letter-digit-hyphen labels that IDNA passes through untouched (a
/// letter first, no hyphen last, no `--` at the third and fourth place, so no `xn--`),
/// at least two of them, each 1 to 63 characters, 253 at most in all. A quick test for
/// the common case; `false` says nothing (the SII parser then decides).
pub(crate) fn is_plain_canonical_domain(domain: &str) -> bool {
    let b = domain.as_bytes();
    b.len() <= 253
        && b.contains(&b'.')
        && b.split(|c| *c == b'.').all(|label| {
            matches!(label, [first, .., last] | [first @ last]
                if first.is_ascii_lowercase()
                    && *last != b'-'
                    && label.len() <= 63
                    && !(label.len() >= 4 && label[2] == b'-' && label[3] == b'-')
                    && label
                        .iter()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-'))
        })
}

fn normalize_domain_pattern(pattern: &str) -> Result<String, ProfileError> {
    let (dot, domain) = match pattern.trim().strip_prefix('.') {
        Some(rest) => (".", rest),
        None => ("", pattern.trim()),
    };
    let ascii = normalize_domain(domain).map_err(|reason| ProfileError::BadScope {
        entry: pattern.to_owned(),
        reason,
    })?;
    Ok(format!("{dot}{ascii}"))
}

/// Whether `domain` (no leading dot) matches `pattern`.
fn domain_matches(domain: &str, pattern: &str) -> bool {
    match pattern.strip_prefix('.') {
        Some(_) => domain.len() > pattern.len() && domain.ends_with(pattern),
        None => domain == pattern,
    }
}

/// Whether pattern `inner` permits nothing that `outer` does not.
fn pattern_within(inner: &str, outer: &str) -> bool {
    match (inner.starts_with('.'), outer.starts_with('.')) {
        (false, _) => domain_matches(inner, outer),
        (true, true) => inner.ends_with(outer),
        (true, false) => false,
    }
}

#[derive(Sequence)]
struct MimiScopeAsn1 {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    tel: Option<Vec<PrintableString>>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    email: Option<Vec<Ia5String>>,
}

impl Scope {
    /// A scope from YAML-style entries (`"+44"`, `".example.com"`).
    pub fn new<T: AsRef<str>, E: AsRef<str>>(tel: &[T], email: &[E]) -> Result<Self, ProfileError> {
        Scope::try_from(ScopeSpec {
            tel: tel.iter().map(|t| t.as_ref().to_owned()).collect(),
            email: email.iter().map(|e| e.as_ref().to_owned()).collect(),
        })
    }

    /// Digit prefixes (no `+`); `""` = every number.
    pub fn tel_prefixes(&self) -> &[String] {
        &self.tel
    }

    /// Domain patterns (ASCII, lower-case; leading `.` = subdomains).
    pub fn email_domains(&self) -> &[String] {
        &self.email
    }

    /// The YAML form (prefixes with `+`).
    pub fn to_spec(&self) -> ScopeSpec {
        ScopeSpec {
            tel: self.tel.iter().map(|p| format!("+{p}")).collect(),
            email: self.email.clone(),
        }
    }

    /// Whether this scope permits asserting `sii`.
    pub fn permits(&self, sii: &Sii) -> bool {
        match (sii.tel_digits(), sii.email_domain()) {
            (Some(digits), _) => self.tel.iter().any(|p| digits.starts_with(p.as_str())),
            (_, Some(domain)) => self.email.iter().any(|p| domain_matches(domain, p)),
            (None, None) => false,
        }
    }

    /// Whether everything this scope permits is also permitted by `outer` (delegation must
    /// never widen a scope).
    pub fn is_within(&self, outer: &Scope) -> bool {
        self.tel
            .iter()
            .all(|p| outer.tel.iter().any(|q| p.starts_with(q.as_str())))
            && self
                .email
                .iter()
                .all(|p| outer.email.iter().any(|q| pattern_within(p, q)))
    }

    /// The DER encoding (the `id-pe-mimiScope` `extnValue` contents). An empty list is
    /// omitted, which means the same: nothing of that kind.
    pub fn to_der(&self) -> Result<Vec<u8>, ProfileError> {
        let der_err = |e: der::Error| ProfileError::Der(e.to_string());
        let tel = self
            .tel
            .iter()
            .map(|p| PrintableString::new(p).map_err(der_err))
            .collect::<Result<Vec<_>, _>>()?;
        let email = self
            .email
            .iter()
            .map(|p| Ia5String::new(p).map_err(der_err))
            .collect::<Result<Vec<_>, _>>()?;
        MimiScopeAsn1 {
            tel: (!tel.is_empty()).then_some(tel),
            email: (!email.is_empty()).then_some(email),
        }
        .to_der()
        .map_err(der_err)
    }

    /// Strict DER decoding; every entry must already be in normal form.
    pub fn from_der(bytes: &[u8]) -> Result<Self, ProfileError> {
        let asn1 = MimiScopeAsn1::from_der(bytes).map_err(|e| ProfileError::Der(e.to_string()))?;
        let tel: Vec<String> = asn1
            .tel
            .unwrap_or_default()
            .iter()
            .map(|p| p.to_string())
            .collect();
        for p in &tel {
            check_tel_prefix(p).map_err(|reason| ProfileError::BadScope {
                entry: p.clone(),
                reason,
            })?;
        }
        let email: Vec<String> = asn1
            .email
            .unwrap_or_default()
            .iter()
            .map(|p| p.to_string())
            .collect();
        for p in &email {
            if normalize_domain_pattern(p)? != *p {
                return Err(ProfileError::BadScope {
                    entry: p.clone(),
                    reason: "domain is not in ASCII lower-case normal form".into(),
                });
            }
        }
        Ok(Scope { tel, email })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tel: Vec<String> = self.tel.iter().map(|p| format!("+{p}")).collect();
        let tel = if tel.is_empty() {
            "none".into()
        } else {
            tel.join(" ")
        };
        let email = if self.email.is_empty() {
            "none".into()
        } else {
            self.email.join(" ")
        };
        write!(f, "tel: {tel}; email: {email}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The quick test never says yes where the SII parser would normalise differently.
    fn quick_agrees(d: &str) {
        if is_plain_canonical_domain(d) {
            let slow = Sii::parse(&format!("x@{d}"))
                .ok()
                .and_then(|s| s.email_domain().map(str::to_owned));
            assert_eq!(slow.as_deref(), Some(d), "{d:?}");
        }
    }

    #[test]
    fn plain_canonical_domain_is_what_the_sii_parser_makes() {
        for d in [
            "chat-a.example",
            "a.b",
            "x1.example",
            "ab--c.example",
            "xn--bcher-kva.example",
            "xn--.example",
            "1a.example",
            "a-.example",
            "-a.example",
            "Chat-A.example",
            "chat-a.example.",
            ".example",
            "a..example",
            "example",
            "",
            "bücher.example",
            &format!("{}.example", "a".repeat(63)),
            &format!("{}.example", "a".repeat(64)),
            &format!(
                "{}.ab",
                [
                    "a".repeat(62),
                    "a".repeat(62),
                    "a".repeat(62),
                    "a".repeat(62)
                ]
                .join(".")
            ),
        ] {
            quick_agrees(d);
        }
        assert!(is_plain_canonical_domain("chat-a.example"));
        assert!(!is_plain_canonical_domain("xn--bcher-kva.example"));
        assert!(!is_plain_canonical_domain("Chat-A.example"));
    }

    proptest! {
        #[test]
        fn plain_canonical_domain_never_disagrees(d in "[a-zA-Z0-9.\\-]{0,20}") {
            quick_agrees(&d);
        }
    }

    fn sii(s: &str) -> Sii {
        Sii::parse(s).unwrap()
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn permits() {
        let s = Scope::new(&["+1", "+44"], &["chat-a.example", ".corp.example"]).unwrap();
        assert!(s.permits(&sii("+15551234567")));
        assert!(s.permits(&sii("+447700900123")));
        assert!(!s.permits(&sii("+33612345678")));
        assert!(s.permits(&sii("bob@chat-a.example")));
        assert!(!s.permits(&sii("bob@sub.chat-a.example")));
        assert!(s.permits(&sii("bob@eu.corp.example")));
        assert!(!s.permits(&sii("bob@corp.example")));
        assert!(!s.permits(&sii("bob@evilcorp.example")));
        let all = Scope::new(&["+"], &[] as &[&str]).unwrap();
        assert!(all.permits(&sii("+33612345678")));
        assert!(!all.permits(&sii("a@b.example")));
    }

    #[test]
    fn within() {
        let root = Scope::new(&["+1", "+44"], &["a.example", ".a.example"]).unwrap();
        assert!(Scope::new(&["+1555"], &["x.a.example"])
            .unwrap()
            .is_within(&root));
        assert!(Scope::new(&["+44"], &[".eu.a.example"])
            .unwrap()
            .is_within(&root));
        assert!(!Scope::new(&["+"], &[] as &[&str]).unwrap().is_within(&root));
        assert!(!Scope::new(&["+3"], &[] as &[&str])
            .unwrap()
            .is_within(&root));
        assert!(!Scope::new(&[] as &[&str], &["b.example"])
            .unwrap()
            .is_within(&root));
        let exact_only = Scope::new(&[] as &[&str], &["a.example"]).unwrap();
        assert!(!Scope::new(&[] as &[&str], &[".a.example"])
            .unwrap()
            .is_within(&exact_only));
        assert!(Scope::default().is_within(&exact_only));
        assert!(root.is_within(&root));
    }

    #[test]
    fn normalises_and_rejects() {
        let s = Scope::new(&[" +44 "], &["Bücher.Example", ".CHAT.example"]).unwrap();
        assert_eq!(s.tel_prefixes(), ["44"]);
        assert_eq!(
            s.email_domains(),
            ["xn--bcher-kva.example", ".chat.example"]
        );
        assert!(Scope::new(&["44"], &[] as &[&str]).is_err());
        assert!(Scope::new(&["+4a"], &[] as &[&str]).is_err());
        assert!(Scope::new(&["+0"], &[] as &[&str]).is_err());
        assert!(Scope::new(&[] as &[&str], &["not a domain"]).is_err());
    }

    /// Fixed vector, checked by hand against the ASN.1 in docs/spec.md#asn1-module.
    #[test]
    fn der_fixed_vector_and_round_trip() {
        let s = Scope::new(&["+1", "+44"], &["chat-a.example"]).unwrap();
        let der = s.to_der().unwrap();
        assert_eq!(
            hex(&der),
            concat!(
                "301b",
                "a007",
                "130131",
                "13023434",
                "a110",
                "160e",
                "636861742d612e6578616d706c65",
            )
        );
        assert_eq!(Scope::from_der(&der).unwrap(), s);
        // everything: tel [""] encodes an empty PrintableString
        let all = Scope::new(&["+"], &[] as &[&str]).unwrap();
        assert_eq!(hex(&all.to_der().unwrap()), "3004a0021300");
        assert_eq!(Scope::from_der(&all.to_der().unwrap()).unwrap(), all);
        // nothing at all
        assert_eq!(hex(&Scope::default().to_der().unwrap()), "3000");
    }

    #[test]
    fn der_rejects_non_normal_entries() {
        // email [1] { IA5String "A.example" } (upper case)
        let bad = [
            0x30, 0x0d, 0xa1, 0x0b, 0x16, 0x09, b'A', b'.', b'e', b'x', b'a', b'm', b'p', b'l',
            b'e',
        ];
        assert!(Scope::from_der(&bad).is_err());
        assert!(Scope::from_der(&[0x30, 0x00, 0x00]).is_err());
    }

    #[test]
    fn yaml_rejects_unknown_keys() {
        let e = serde_yaml::from_str::<Scope>("tel: [\"+1\"]\nfax: [\"+1\"]\n").unwrap_err();
        assert!(e.to_string().contains("fax"), "{e}");
        let s: Scope = serde_yaml::from_str("tel: [\"+1\"]\n").unwrap();
        assert_eq!(s.tel_prefixes(), ["1"]);
    }
}
