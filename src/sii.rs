//! Service-independent identifiers (SIIs) and their canonical form "sii-v1".
//!
//! An SII is a phone number or an email address. User input is parsed leniently with
//! [`Sii::parse`]; the canonical string ([`Sii::canonical`]) is what goes into certificates,
//! the store and every comparison. Values read back from certificates or the store are parsed
//! strictly with [`Sii::parse_canonical`], [`Sii::from_san_uri`] and [`Sii::from_san_rfc822`].
//!
//! - Phone: `tel:+<E.164 digits>`, 2 to 15 digits, the first not `0`.
//! - Email: `mailto:<local>@<domain>`, lower-cased; the domain in its ASCII (punycode) form and
//!   the local part ASCII only.

use std::fmt;
use std::str::FromStr;

/// Maximum number of digits in an E.164 number.
const TEL_MAX_DIGITS: usize = 15;
/// Minimum number of digits we accept (country code plus at least one more digit).
const TEL_MIN_DIGITS: usize = 2;
/// Maximum length of an email local part (RFC 5321).
const LOCAL_MAX_LEN: usize = 64;
/// Maximum length of a DNS label.
const LABEL_MAX_LEN: usize = 63;
/// Maximum length of a domain name in text form, without a trailing dot.
const DOMAIN_MAX_LEN: usize = 253;
/// Characters that may visually separate groups of digits in a phone number.
const TEL_SEPARATORS: &[char] = &[' ', '-', '.', '(', ')'];
/// RFC 5322 "specials" (other than '.' and '@', handled separately) not allowed in a local part.
const LOCAL_FORBIDDEN: &[char] = &['<', '>', '(', ')', '[', ']', '\\', ',', ';', ':', '"'];

/// A service-independent identifier in canonical form "sii-v1".
///
/// Made only by parsing ([`Sii::parse`], [`Sii::parse_canonical`], [`Sii::from_san_uri`],
/// [`Sii::from_san_rfc822`]), so every value is valid and canonical. Ordered phone numbers
/// first, then email addresses.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sii(Repr);

/// The parsed parts, private so that no invalid identifier can be built.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Repr {
    /// E.164 number; `digits` holds only the digits (no '+'), 2..=15 of them, first not '0'.
    Tel { digits: String },
    /// Email address; `local` ASCII lower-case, `domain` ASCII (punycode) lower-case,
    /// without a trailing dot.
    Email { local: String, domain: String },
}

/// The kind of an [`Sii`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SiiKind {
    /// A phone number.
    Tel,
    /// An email address.
    Email,
}

impl SiiKind {
    /// The kind's name: `"tel"` or `"email"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SiiKind::Tel => "tel",
            SiiKind::Email => "email",
        }
    }
}

impl fmt::Display for SiiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a (canonical) SII. Every message says what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SiiError {
    /// The input was empty or only whitespace.
    #[error(
        "the identifier is empty: give a phone number like +15551234567 or an email address \
         like alice@example.com"
    )]
    Empty,
    /// The input is neither recognisably a phone number nor an email address.
    #[error(
        "{input:?} is not a phone number or an email address: it must be a phone number in \
         international form like +15551234567 or an email address like alice@example.com"
    )]
    Unrecognised {
        /// The input (trimmed).
        input: String,
    },
    /// A phone number without the leading '+' and country code.
    #[error(
        "phone number {input:?} has no country code: write it in international form with a \
         leading '+', e.g. +15551234567"
    )]
    TelNoCountryCode {
        /// The input (trimmed).
        input: String,
    },
    /// A phone number written with an international call prefix (`00`, or `011` from North
    /// America) instead of the '+': the prefix is how a call leaves a country, not part of the
    /// number.
    #[error(
        "phone number {input:?} has no '+': {prefix} is the international call prefix {from}, \
         not part of the number; write '+' in its place, e.g. {suggestion}{caveat}"
    )]
    TelInternationalPrefix {
        /// The input (trimmed).
        input: String,
        /// The prefix found: `00` or `011`.
        prefix: &'static str,
        /// Where that prefix is dialled (for the message).
        from: &'static str,
        /// The number with '+' in place of the prefix.
        suggestion: String,
        /// A caution when the digits could also be a national number (for the message).
        caveat: &'static str,
    },
    /// A phone number with tel URI parameters (`;ext=...`, `;phone-context=...`).
    #[error(
        "phone number {input:?} has tel URI parameters (after ';'): remove them and give only \
         the number, e.g. tel:+15551234567"
    )]
    TelParameters {
        /// The input (trimmed).
        input: String,
    },
    /// A phone number containing a character that is neither a digit nor a visual separator.
    #[error(
        "phone number {input:?} contains {ch:?}, which is not a digit: write the number with a \
         leading '+' followed by digits only (spaces, '-', '.', '(' and ')' may separate them), \
         e.g. +1 555 123 4567"
    )]
    TelInvalidChar {
        /// The input (trimmed).
        input: String,
        /// The first offending character.
        ch: char,
    },
    /// A phone number with fewer than 2 digits.
    #[error(
        "phone number {input:?} has {digits} digit(s), but an E.164 number has 2 to 15: give \
         the full number with its country code, e.g. +15551234567"
    )]
    TelTooShort {
        /// The input (trimmed).
        input: String,
        /// How many digits it has.
        digits: usize,
    },
    /// A phone number with more than 15 digits.
    #[error(
        "phone number {input:?} has {digits} digits, but an E.164 number has at most 15: check \
         the number and remove any extension or trunk prefix"
    )]
    TelTooLong {
        /// The input (trimmed).
        input: String,
        /// How many digits it has.
        digits: usize,
    },
    /// A phone number whose first digit (the country code) is 0.
    #[error(
        "phone number {input:?} starts with 0 after the '+', but country codes never start with \
         0: drop any trunk prefix and write the country code first, e.g. +441234567890"
    )]
    TelLeadingZero {
        /// The input (trimmed).
        input: String,
    },
    /// An email address without exactly one '@'.
    #[error(
        "email address {input:?} contains {count} '@' sign(s), but it must contain exactly one: \
         write it as local@domain, e.g. alice@example.com"
    )]
    EmailAtSigns {
        /// The input (trimmed).
        input: String,
        /// How many '@' it contains.
        count: usize,
    },
    /// An email address with nothing before the '@'.
    #[error(
        "email address {input:?} has an empty local part: write the part before the '@', e.g. \
         alice@example.com"
    )]
    EmailLocalEmpty {
        /// The input (trimmed).
        input: String,
    },
    /// An email local part with non-ASCII characters.
    #[error(
        "email address {input:?} has a non-ASCII local part: internationalised local parts are \
         not supported in sii-v1; use an ASCII address for this user"
    )]
    EmailLocalNotAscii {
        /// The input (trimmed).
        input: String,
    },
    /// An email local part longer than 64 characters.
    #[error(
        "email address {input:?} has a local part of {len} characters, but at most 64 are \
         allowed: check the address"
    )]
    EmailLocalTooLong {
        /// The input (trimmed).
        input: String,
        /// The length of the local part.
        len: usize,
    },
    /// An email local part with a space, control character or one of `<>()[]\,;:"`.
    #[error(
        "email address {input:?} contains {ch:?} in its local part, which is not allowed (no \
         spaces, control characters or any of <>()[]\\,;:\"): check the address"
    )]
    EmailLocalInvalidChar {
        /// The input (trimmed).
        input: String,
        /// The first offending character.
        ch: char,
    },
    /// An email local part starting or ending with '.', or containing "..".
    #[error(
        "email address {input:?} has a local part that starts or ends with '.' or contains \
         \"..\": check the address"
    )]
    EmailLocalDots {
        /// The input (trimmed).
        input: String,
    },
    /// An email address with nothing after the '@'.
    #[error(
        "email address {input:?} has an empty domain: write the domain after the '@', e.g. \
         alice@example.com"
    )]
    EmailDomainEmpty {
        /// The input (trimmed).
        input: String,
    },
    /// An email domain that IDNA (UTS 46) processing rejects.
    #[error(
        "email address {input:?} has domain {domain:?}, which is not a valid (internationalised) \
         domain name: check the spelling of the domain"
    )]
    EmailDomainIdna {
        /// The input (trimmed).
        input: String,
        /// The domain as given.
        domain: String,
    },
    /// An email domain ending with '.'.
    #[error(
        "email address {input:?} has a domain ending with '.': remove the trailing dot, e.g. \
         alice@example.com"
    )]
    EmailDomainTrailingDot {
        /// The input (trimmed).
        input: String,
    },
    /// An email domain that is a single label.
    #[error(
        "email address {input:?} has domain {domain:?} without any '.': use the fully qualified \
         domain, e.g. alice@example.com"
    )]
    EmailDomainNoDot {
        /// The input (trimmed).
        input: String,
        /// The domain in ASCII form.
        domain: String,
    },
    /// An email domain longer than 253 characters in ASCII form.
    #[error(
        "email address {input:?} has a domain of {len} characters in ASCII form, but at most 253 \
         are allowed: check the domain"
    )]
    EmailDomainTooLong {
        /// The input (trimmed).
        input: String,
        /// The length of the domain in ASCII form.
        len: usize,
    },
    /// An email domain with an empty label (a leading '.' or "..").
    #[error(
        "email address {input:?} has domain {domain:?} with an empty label (a leading '.' or \
         \"..\"): check the domain"
    )]
    EmailDomainEmptyLabel {
        /// The input (trimmed).
        input: String,
        /// The domain in ASCII form.
        domain: String,
    },
    /// An email domain label longer than 63 characters in ASCII form.
    #[error(
        "email address {input:?} has domain label {label:?} of {len} characters in ASCII form, \
         but at most 63 are allowed: check the domain"
    )]
    EmailDomainLabelTooLong {
        /// The input (trimmed).
        input: String,
        /// The offending label in ASCII form.
        label: String,
        /// Its length.
        len: usize,
    },
    /// An email domain label that is not letters, digits and inner hyphens.
    #[error(
        "email address {input:?} has domain label {label:?}, but labels may only hold letters, \
         digits and '-' (not at the start or end): check the domain"
    )]
    EmailDomainInvalidLabel {
        /// The input (trimmed).
        input: String,
        /// The offending label in ASCII form.
        label: String,
    },
    /// A valid identifier that is not written in its canonical form where that is required.
    #[error(
        "{input:?} is not in canonical form: write it exactly as {canonical:?} (canonical \
         identifiers are produced by this tool; do not edit them by hand)"
    )]
    NotCanonical {
        /// The input as given.
        input: String,
        /// What the input should have been: the canonical string, or the canonical
        /// subjectAltName value for [`Sii::from_san_uri`] / [`Sii::from_san_rfc822`].
        canonical: String,
    },
    /// An identifier of the wrong kind for where it was found (e.g. an email address in a
    /// subjectAltName URI).
    #[error(
        "{input:?} is an identifier of kind {found}, but one of kind {expected} was expected \
         here: in a subjectAltName, phone numbers go in a URI (tel:+15551234567) and email \
         addresses in an rfc822Name (alice@example.com)"
    )]
    WrongKind {
        /// The input as given.
        input: String,
        /// The kind that was expected.
        expected: SiiKind,
        /// The kind that was found.
        found: SiiKind,
    },
}

impl Sii {
    /// Parses lenient user input (e.g. `+1 (555) 123-4567`, `tel:+1-555-123-4567`,
    /// `Alice@Bücher.example`, `mailto:alice@example.com`) into its canonical value.
    ///
    /// Surrounding whitespace is ignored. A `tel:` or `mailto:` prefix (any case) selects the
    /// kind; otherwise input with an '@' is an email address and input starting with '+', a
    /// digit or '(' is a phone number.
    pub fn parse(input: &str) -> Result<Sii, SiiError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(SiiError::Empty);
        }
        if let Some(rest) = strip_prefix_ignore_case(input, "tel:") {
            parse_tel(input, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(input, "mailto:") {
            parse_email(input, rest)
        } else if input.contains('@') {
            parse_email(input, input)
        } else if input.starts_with(['+', '(']) || input.starts_with(|c: char| c.is_ascii_digit()) {
            parse_tel(input, input)
        } else {
            Err(SiiError::Unrecognised {
                input: input.to_owned(),
            })
        }
    }

    /// Parses a string that must already be canonical (`tel:+...` or `mailto:...`, exactly as
    /// produced by [`Sii::canonical`]).
    ///
    /// Valid but non-canonical input yields [`SiiError::NotCanonical`] carrying the canonical
    /// form; invalid input yields the error [`Sii::parse`] would give.
    pub fn parse_canonical(input: &str) -> Result<Sii, SiiError> {
        let sii = Sii::parse(input)?;
        require_exact(input, sii.canonical(), sii)
    }

    /// The kind of this identifier.
    pub fn kind(&self) -> SiiKind {
        match self.0 {
            Repr::Tel { .. } => SiiKind::Tel,
            Repr::Email { .. } => SiiKind::Email,
        }
    }

    /// The canonical string: `tel:+15551234567` or `mailto:alice@example.com`.
    pub fn canonical(&self) -> String {
        match &self.0 {
            Repr::Tel { digits } => format!("tel:+{digits}"),
            Repr::Email { local, domain } => format!("mailto:{local}@{domain}"),
        }
    }

    /// The value for the certificate's subjectAltName: for a phone number the URI
    /// `tel:+15551234567`, for an email address the rfc822Name `alice@example.com`.
    pub fn san_value(&self) -> String {
        match &self.0 {
            Repr::Tel { .. } => self.canonical(),
            Repr::Email { local, domain } => format!("{local}@{domain}"),
        }
    }

    /// A phone number's digits, country code first, without the leading '+'
    /// (`15551234567`); `None` for an email address.
    pub fn tel_digits(&self) -> Option<&str> {
        match &self.0 {
            Repr::Tel { digits } => Some(digits),
            Repr::Email { .. } => None,
        }
    }

    /// An email address's local part (before the '@'), ASCII lower-case; `None` for a
    /// phone number.
    pub fn email_local(&self) -> Option<&str> {
        match &self.0 {
            Repr::Email { local, .. } => Some(local),
            Repr::Tel { .. } => None,
        }
    }

    /// An email address's domain, ASCII (punycode) lower-case, without a trailing dot;
    /// `None` for a phone number.
    pub fn email_domain(&self) -> Option<&str> {
        match &self.0 {
            Repr::Email { domain, .. } => Some(domain),
            Repr::Tel { .. } => None,
        }
    }

    /// Reads a subjectAltName URI, which must be exactly a canonical `tel:+<digits>`.
    ///
    /// Email addresses belong in an rfc822Name, so a `mailto:` URI is rejected with
    /// [`SiiError::WrongKind`]; a valid but non-canonical number with
    /// [`SiiError::NotCanonical`].
    pub fn from_san_uri(uri: &str) -> Result<Sii, SiiError> {
        let sii = Sii::parse(uri)?;
        if sii.kind() != SiiKind::Tel {
            return Err(SiiError::WrongKind {
                input: uri.to_owned(),
                expected: SiiKind::Tel,
                found: sii.kind(),
            });
        }
        require_exact(uri, sii.san_value(), sii)
    }

    /// Reads a subjectAltName rfc822Name, which must be exactly a canonical `local@domain`
    /// (lower-case, ASCII domain, no `mailto:`).
    pub fn from_san_rfc822(addr: &str) -> Result<Sii, SiiError> {
        let sii = Sii::parse(addr)?;
        if sii.kind() != SiiKind::Email {
            return Err(SiiError::WrongKind {
                input: addr.to_owned(),
                expected: SiiKind::Email,
                found: sii.kind(),
            });
        }
        require_exact(addr, sii.san_value(), sii)
    }
}

impl fmt::Display for Sii {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl FromStr for Sii {
    type Err = SiiError;

    fn from_str(s: &str) -> Result<Sii, SiiError> {
        Sii::parse(s)
    }
}

/// Returns `sii` if `input` is exactly `expected`, else [`SiiError::NotCanonical`].
fn require_exact(input: &str, expected: String, sii: Sii) -> Result<Sii, SiiError> {
    if input == expected {
        Ok(sii)
    } else {
        Err(SiiError::NotCanonical {
            input: input.to_owned(),
            canonical: expected,
        })
    }
}

/// `s` without `prefix`, compared ASCII case-insensitively.
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Parses the phone number `rest` (the `tel:` prefix removed); `input` is for messages.
fn parse_tel(input: &str, rest: &str) -> Result<Sii, SiiError> {
    if rest.contains(';') {
        return Err(SiiError::TelParameters {
            input: input.to_owned(),
        });
    }
    let compact: String = rest
        .chars()
        .filter(|c| !TEL_SEPARATORS.contains(c))
        .collect();
    let (has_plus, digits) = match compact.strip_prefix('+') {
        Some(digits) => (true, digits),
        None => (false, compact.as_str()),
    };
    if let Some(ch) = digits.chars().find(|c| !c.is_ascii_digit()) {
        return Err(SiiError::TelInvalidChar {
            input: input.to_owned(),
            ch,
        });
    }
    if !has_plus {
        // 00 and 011 (exit codes) are not '+', but say what the user most likely meant.
        let exit = [
            ("00", "dialled from most countries", ""),
            (
                "011",
                "dialled from North America",
                " (if it is instead a national number, write it with its country code)",
            ),
        ]
        .into_iter()
        .find(|(p, ..)| {
            digits
                .strip_prefix(p)
                .is_some_and(|r| r.starts_with(|c: char| c != '0'))
        });
        if let Some((prefix, from, caveat)) = exit {
            return Err(SiiError::TelInternationalPrefix {
                input: input.to_owned(),
                prefix,
                from,
                suggestion: format!("+{}", &digits[prefix.len()..]),
                caveat,
            });
        }
    }
    if !has_plus && !digits.is_empty() {
        return Err(SiiError::TelNoCountryCode {
            input: input.to_owned(),
        });
    }
    let count = digits.len();
    if count < TEL_MIN_DIGITS {
        return Err(SiiError::TelTooShort {
            input: input.to_owned(),
            digits: count,
        });
    }
    if count > TEL_MAX_DIGITS {
        return Err(SiiError::TelTooLong {
            input: input.to_owned(),
            digits: count,
        });
    }
    if digits.starts_with('0') {
        return Err(SiiError::TelLeadingZero {
            input: input.to_owned(),
        });
    }
    Ok(Sii(Repr::Tel {
        digits: digits.to_owned(),
    }))
}

/// Parses the email address `rest` (the `mailto:` prefix removed); `input` is for messages.
fn parse_email(input: &str, rest: &str) -> Result<Sii, SiiError> {
    let err_input = || input.to_owned();
    let (local, domain) = match rest.split_once('@') {
        Some((local, domain)) if !domain.contains('@') => (local, domain),
        _ => {
            return Err(SiiError::EmailAtSigns {
                input: err_input(),
                count: rest.matches('@').count(),
            })
        }
    };
    Ok(Sii(Repr::Email {
        local: parse_local(input, local)?,
        domain: parse_domain(input, domain)?,
    }))
}

/// Validates and lower-cases an email local part.
fn parse_local(input: &str, local: &str) -> Result<String, SiiError> {
    let input = input.to_owned();
    if local.is_empty() {
        return Err(SiiError::EmailLocalEmpty { input });
    }
    if !local.is_ascii() {
        return Err(SiiError::EmailLocalNotAscii { input });
    }
    if local.len() > LOCAL_MAX_LEN {
        let len = local.len();
        return Err(SiiError::EmailLocalTooLong { input, len });
    }
    if let Some(ch) = local
        .chars()
        .find(|c| !c.is_ascii_graphic() || LOCAL_FORBIDDEN.contains(c))
    {
        return Err(SiiError::EmailLocalInvalidChar { input, ch });
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(SiiError::EmailLocalDots { input });
    }
    Ok(local.to_ascii_lowercase())
}

/// Converts an email domain to its lower-case ASCII (punycode) form and validates it.
fn parse_domain(input: &str, domain: &str) -> Result<String, SiiError> {
    let input = input.to_owned();
    if domain.is_empty() {
        return Err(SiiError::EmailDomainEmpty { input });
    }
    let ascii = idna::domain_to_ascii(domain)
        .map_err(|_| SiiError::EmailDomainIdna {
            input: input.clone(),
            domain: domain.to_owned(),
        })?
        .to_ascii_lowercase();
    if ascii.is_empty() {
        return Err(SiiError::EmailDomainEmpty { input });
    }
    if ascii.ends_with('.') {
        return Err(SiiError::EmailDomainTrailingDot { input });
    }
    if !ascii.contains('.') {
        return Err(SiiError::EmailDomainNoDot {
            input,
            domain: ascii,
        });
    }
    if ascii.len() > DOMAIN_MAX_LEN {
        let len = ascii.len();
        return Err(SiiError::EmailDomainTooLong { input, len });
    }
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err(SiiError::EmailDomainEmptyLabel {
                input,
                domain: ascii,
            });
        }
        if label.len() > LABEL_MAX_LEN {
            return Err(SiiError::EmailDomainLabelTooLong {
                input,
                label: label.to_owned(),
                len: label.len(),
            });
        }
        let ldh = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ldh || label.starts_with('-') || label.ends_with('-') {
            return Err(SiiError::EmailDomainInvalidLabel {
                input,
                label: label.to_owned(),
            });
        }
    }
    Ok(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tel(digits: &str) -> Sii {
        Sii(Repr::Tel {
            digits: digits.to_owned(),
        })
    }

    fn email(local: &str, domain: &str) -> Sii {
        Sii(Repr::Email {
            local: local.to_owned(),
            domain: domain.to_owned(),
        })
    }

    fn err(input: &str) -> SiiError {
        Sii::parse(input).expect_err(input)
    }

    // ---- dispatch ----

    #[test]
    fn empty_and_whitespace_rejected() {
        assert_eq!(err(""), SiiError::Empty);
        assert_eq!(err(" \t\n "), SiiError::Empty);
    }

    #[test]
    fn surrounding_whitespace_trimmed() {
        assert_eq!(Sii::parse("  +15551234567\n"), Ok(tel("15551234567")));
        assert_eq!(
            Sii::parse("\talice@example.com "),
            Ok(email("alice", "example.com"))
        );
    }

    #[test]
    fn unrecognised_input_rejected_with_guidance() {
        let e = err("alice");
        assert_eq!(
            e,
            SiiError::Unrecognised {
                input: "alice".into()
            }
        );
        let msg = e.to_string();
        assert!(
            msg.contains("+15551234567") && msg.contains("email address"),
            "{msg}"
        );
        assert!(matches!(err("sip:alice"), SiiError::Unrecognised { .. }));
    }

    #[test]
    fn prefixes_in_any_case() {
        for p in ["tel:", "TEL:", "Tel:", "tEl:"] {
            assert_eq!(
                Sii::parse(&format!("{p}+15551234567")),
                Ok(tel("15551234567"))
            );
        }
        for p in ["mailto:", "MAILTO:", "MailTo:", "mAiLtO:"] {
            assert_eq!(
                Sii::parse(&format!("{p}alice@example.com")),
                Ok(email("alice", "example.com"))
            );
        }
    }

    #[test]
    fn dispatch_without_prefix() {
        assert!(matches!(
            err("(555) 123"),
            SiiError::TelNoCountryCode { .. }
        ));
        assert_eq!(Sii::parse("+44 20 7946 0958"), Ok(tel("442079460958")));
        assert_eq!(
            Sii::parse("bob@example.org"),
            Ok(email("bob", "example.org"))
        );
    }

    // ---- phone ----

    #[test]
    fn design_examples_accepted() {
        for input in ["+1 (555) 123-4567", "tel:+1-555-123-4567", "+15551234567"] {
            let sii = Sii::parse(input).unwrap();
            assert_eq!(sii, tel("15551234567"), "{input}");
            assert_eq!(sii.canonical(), "tel:+15551234567");
            assert_eq!(sii.kind(), SiiKind::Tel);
        }
    }

    #[test]
    fn all_separators_stripped() {
        assert_eq!(Sii::parse("+1.555 (123)-45-67"), Ok(tel("15551234567")));
    }

    #[test]
    fn tel_without_plus_asks_for_country_code() {
        let e = err("5551234567");
        assert_eq!(
            e,
            SiiError::TelNoCountryCode {
                input: "5551234567".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "phone number \"5551234567\" has no country code: write it in international form \
             with a leading '+', e.g. +15551234567"
        );
        assert!(matches!(
            err("(555) 123-4567"),
            SiiError::TelNoCountryCode { .. }
        ));
        assert!(matches!(
            err("tel:5551234567"),
            SiiError::TelNoCountryCode { .. }
        ));
    }

    #[test]
    fn international_call_prefix_suggests_the_plus_form() {
        for (input, prefix, suggestion) in [
            ("0044 20 7946 0958", "00", "+442079460958"),
            ("tel:0044-20-7946-0958", "00", "+442079460958"),
            ("011 44 20 7946 0958", "011", "+442079460958"),
            ("00 1 555 123 4567", "00", "+15551234567"),
        ] {
            let e = err(input);
            assert!(
                matches!(&e, SiiError::TelInternationalPrefix { prefix: p, suggestion: s, .. }
                    if *p == prefix && s == suggestion),
                "{input}: {e:?}"
            );
            let msg = e.to_string();
            assert!(msg.contains(&format!("e.g. {suggestion}")), "{msg}");
            assert!(msg.contains("not part of the number"), "{msg}");
        }
        assert!(err("0115551234").to_string().contains("national number"));
        // Not an exit code: still the plain request for a country code.
        for input in ["0207 946 0958", "000", "00", "0"] {
            assert!(
                matches!(err(input), SiiError::TelNoCountryCode { .. }),
                "{input}"
            );
        }
        // The '+' form is never affected.
        assert_eq!(Sii::parse("+442079460958"), Ok(tel("442079460958")));
    }

    #[test]
    fn tel_too_many_digits() {
        assert_eq!(Sii::parse("+123456789012345"), Ok(tel("123456789012345")));
        assert_eq!(
            err("+1234567890123456"),
            SiiError::TelTooLong {
                input: "+1234567890123456".into(),
                digits: 16
            }
        );
    }

    #[test]
    fn tel_too_few_digits() {
        assert_eq!(Sii::parse("+12"), Ok(tel("12")));
        assert_eq!(
            err("+1"),
            SiiError::TelTooShort {
                input: "+1".into(),
                digits: 1
            }
        );
        assert!(matches!(
            err("tel:+"),
            SiiError::TelTooShort { digits: 0, .. }
        ));
        assert!(matches!(
            err("tel:"),
            SiiError::TelTooShort { digits: 0, .. }
        ));
    }

    #[test]
    fn tel_leading_zero() {
        let e = err("+0155512345");
        assert_eq!(
            e,
            SiiError::TelLeadingZero {
                input: "+0155512345".into()
            }
        );
        assert!(e.to_string().contains("country code"));
    }

    #[test]
    fn tel_letters_rejected_naming_the_char() {
        let e = err("+1555CALLNOW");
        assert_eq!(
            e,
            SiiError::TelInvalidChar {
                input: "+1555CALLNOW".into(),
                ch: 'C'
            }
        );
        assert!(e.to_string().contains("'C'"));
        assert!(matches!(
            err("+1+555"),
            SiiError::TelInvalidChar { ch: '+', .. }
        ));
        assert!(matches!(
            err("+1_555"),
            SiiError::TelInvalidChar { ch: '_', .. }
        ));
        // Non-ASCII digits are not digits here.
        assert!(matches!(
            err("+١٢٣"),
            SiiError::TelInvalidChar { ch: '١', .. }
        ));
    }

    #[test]
    fn tel_parameters_rejected() {
        let e = err("tel:+15551234567;ext=12");
        assert!(matches!(e, SiiError::TelParameters { .. }));
        assert!(e.to_string().contains("parameters"));
        assert!(matches!(
            err("+15551234567;phone-context=x"),
            SiiError::TelParameters { .. }
        ));
    }

    // ---- email ----

    #[test]
    fn email_basic_and_canonical() {
        let sii = Sii::parse("alice@example.com").unwrap();
        assert_eq!(sii, email("alice", "example.com"));
        assert_eq!(sii.kind(), SiiKind::Email);
        assert_eq!(sii.canonical(), "mailto:alice@example.com");
        assert_eq!(sii.san_value(), "alice@example.com");
        assert_eq!(sii.to_string(), "mailto:alice@example.com");
    }

    #[test]
    fn email_uppercase_folded() {
        assert_eq!(
            Sii::parse("Alice.Smith+Tag@EXAMPLE.Com"),
            Ok(email("alice.smith+tag", "example.com"))
        );
    }

    #[test]
    fn email_idna_domain_converted() {
        assert_eq!(
            Sii::parse("alice@bücher.example"),
            Ok(email("alice", "xn--bcher-kva.example"))
        );
        assert_eq!(
            Sii::parse("Alice@BÜCHER.example").unwrap().canonical(),
            "mailto:alice@xn--bcher-kva.example"
        );
        assert!(matches!(
            err("alice@xn--a.example"),
            SiiError::EmailDomainIdna { .. }
        ));
    }

    #[test]
    fn email_non_ascii_local_rejected() {
        let e = err("jörg@example.com");
        assert_eq!(
            e,
            SiiError::EmailLocalNotAscii {
                input: "jörg@example.com".into()
            }
        );
        assert!(e
            .to_string()
            .contains("internationalised local parts are not supported in sii-v1"));
    }

    #[test]
    fn email_empty_local_rejected() {
        assert_eq!(
            err("@example.com"),
            SiiError::EmailLocalEmpty {
                input: "@example.com".into()
            }
        );
    }

    #[test]
    fn email_empty_domain_rejected() {
        assert_eq!(
            err("alice@"),
            SiiError::EmailDomainEmpty {
                input: "alice@".into()
            }
        );
    }

    #[test]
    fn email_at_sign_count() {
        assert_eq!(
            err("alice@bob@example.com"),
            SiiError::EmailAtSigns {
                input: "alice@bob@example.com".into(),
                count: 2
            }
        );
        assert!(matches!(
            err("mailto:alice"),
            SiiError::EmailAtSigns { count: 0, .. }
        ));
    }

    #[test]
    fn email_domain_without_dot_rejected() {
        assert_eq!(
            err("alice@localhost"),
            SiiError::EmailDomainNoDot {
                input: "alice@localhost".into(),
                domain: "localhost".into()
            }
        );
    }

    #[test]
    fn email_domain_trailing_dot_rejected() {
        assert!(matches!(
            err("alice@example.com."),
            SiiError::EmailDomainTrailingDot { .. }
        ));
        assert!(matches!(
            err("alice@example。com。"),
            SiiError::EmailDomainTrailingDot { .. }
        ));
    }

    #[test]
    fn email_domain_labels() {
        assert!(matches!(
            err("alice@example..com"),
            SiiError::EmailDomainEmptyLabel { .. }
        ));
        assert!(matches!(
            err("alice@.example.com"),
            SiiError::EmailDomainEmptyLabel { .. }
        ));
        let long = "a".repeat(64);
        assert!(matches!(
            err(&format!("alice@{long}.com")),
            SiiError::EmailDomainLabelTooLong { len: 64, .. }
        ));
        assert!(Sii::parse(&format!("alice@{}.com", "a".repeat(63))).is_ok());
        let total = format!("alice@{}.com", vec!["a".repeat(63); 4].join("."));
        assert!(matches!(
            err(&total),
            SiiError::EmailDomainTooLong { len: 259, .. }
        ));
        for bad in [
            "alice@ex_ample.com",
            "alice@-example.com",
            "alice@example-.com",
            "a@ex ample.com",
        ] {
            assert!(
                matches!(err(bad), SiiError::EmailDomainInvalidLabel { .. }),
                "{bad}"
            );
        }
    }

    #[test]
    fn email_local_part_rules() {
        assert_eq!(
            Sii::parse("!#$%&'*+-/=?^_`{|}~@example.com").unwrap(),
            email("!#$%&'*+-/=?^_`{|}~", "example.com")
        );
        let local64 = "a".repeat(64);
        assert!(Sii::parse(&format!("{local64}@example.com")).is_ok());
        assert!(matches!(
            err(&format!("a{local64}@example.com")),
            SiiError::EmailLocalTooLong { len: 65, .. }
        ));
        for ch in [
            '<', '>', '(', ')', '[', ']', '\\', ',', ';', ':', '"', ' ', '\t', '\u{7f}',
        ] {
            let input = format!("al{ch}ice@example.com");
            assert_eq!(
                err(&input),
                SiiError::EmailLocalInvalidChar {
                    input: input.clone(),
                    ch
                },
                "{input:?}"
            );
        }
        for bad in [
            ".alice@example.com",
            "alice.@example.com",
            "al..ice@example.com",
        ] {
            assert!(matches!(err(bad), SiiError::EmailLocalDots { .. }), "{bad}");
        }
    }

    // ---- strict parsing ----

    #[test]
    fn parse_canonical_accepts_canonical() {
        for c in [
            "tel:+15551234567",
            "mailto:alice@example.com",
            "mailto:a@xn--bcher-kva.example",
        ] {
            assert_eq!(Sii::parse_canonical(c).unwrap().canonical(), c);
        }
    }

    #[test]
    fn parse_canonical_rejects_non_canonical() {
        for (input, canonical) in [
            ("+15551234567", "tel:+15551234567"),
            ("TEL:+15551234567", "tel:+15551234567"),
            ("tel:+1-555-123-4567", "tel:+15551234567"),
            (" tel:+15551234567", "tel:+15551234567"),
            ("alice@example.com", "mailto:alice@example.com"),
            ("MAILTO:alice@example.com", "mailto:alice@example.com"),
            ("mailto:Alice@example.com", "mailto:alice@example.com"),
            (
                "mailto:alice@bücher.example",
                "mailto:alice@xn--bcher-kva.example",
            ),
        ] {
            let e = Sii::parse_canonical(input).unwrap_err();
            assert_eq!(
                e,
                SiiError::NotCanonical {
                    input: input.into(),
                    canonical: canonical.into()
                }
            );
            assert!(e.to_string().contains(canonical));
        }
        assert!(matches!(
            Sii::parse_canonical("tel:5551234567"),
            Err(SiiError::TelNoCountryCode { .. })
        ));
    }

    #[test]
    fn from_san_uri_rules() {
        assert_eq!(
            Sii::from_san_uri("tel:+15551234567"),
            Ok(tel("15551234567"))
        );
        assert_eq!(
            Sii::from_san_uri("+15551234567"),
            Err(SiiError::NotCanonical {
                input: "+15551234567".into(),
                canonical: "tel:+15551234567".into()
            })
        );
        assert!(matches!(
            Sii::from_san_uri("TEL:+1 555 123 4567"),
            Err(SiiError::NotCanonical { .. })
        ));
        assert_eq!(
            Sii::from_san_uri("mailto:alice@example.com"),
            Err(SiiError::WrongKind {
                input: "mailto:alice@example.com".into(),
                expected: SiiKind::Tel,
                found: SiiKind::Email
            })
        );
        assert!(Sii::from_san_uri("mailto:alice@example.com")
            .unwrap_err()
            .to_string()
            .contains("rfc822Name"));
        assert!(matches!(
            Sii::from_san_uri("https://example.com"),
            Err(SiiError::Unrecognised { .. })
        ));
        assert!(matches!(
            Sii::from_san_uri("tel:+0123"),
            Err(SiiError::TelLeadingZero { .. })
        ));
    }

    #[test]
    fn from_san_rfc822_rules() {
        assert_eq!(
            Sii::from_san_rfc822("alice@xn--bcher-kva.example"),
            Ok(email("alice", "xn--bcher-kva.example"))
        );
        for (input, canonical) in [
            ("Alice@example.com", "alice@example.com"),
            ("alice@bücher.example", "alice@xn--bcher-kva.example"),
            ("mailto:alice@example.com", "alice@example.com"),
        ] {
            assert_eq!(
                Sii::from_san_rfc822(input),
                Err(SiiError::NotCanonical {
                    input: input.into(),
                    canonical: canonical.into()
                })
            );
        }
        assert!(matches!(
            Sii::from_san_rfc822("+15551234567"),
            Err(SiiError::WrongKind {
                expected: SiiKind::Email,
                found: SiiKind::Tel,
                ..
            })
        ));
        assert!(matches!(
            Sii::from_san_rfc822("alice@localhost"),
            Err(SiiError::EmailDomainNoDot { .. })
        ));
    }

    #[test]
    fn traits_and_kind() {
        let sii: Sii = "+1 555 123 4567".parse().unwrap();
        assert_eq!(sii.to_string(), "tel:+15551234567");
        assert_eq!(sii.san_value(), "tel:+15551234567");
        assert_eq!(SiiKind::Tel.as_str(), "tel");
        assert_eq!(SiiKind::Email.as_str(), "email");
        assert_eq!(SiiKind::Email.to_string(), "email");
        assert_eq!(
            "x".parse::<Sii>(),
            Err(SiiError::Unrecognised { input: "x".into() })
        );
    }

    #[test]
    fn every_error_message_says_what_to_do() {
        let long_local = format!("{}@a.com", "a".repeat(65));
        let inputs = [
            "",
            "x",
            "5551234567",
            "tel:+1;ext=2",
            "+1a",
            "+1",
            "+1234567890123456",
            "+01",
            "a@b@c.d",
            "@a.com",
            "jörg@a.com",
            &long_local,
            "a b@a.com",
            ".a@a.com",
            "a@",
            "a@xn--a.com",
            "a@a.com.",
            "a@com",
            "a@a..com",
            "a@_.com",
        ];
        for input in inputs {
            let msg = err(input).to_string();
            assert!(msg.contains(": "), "{input:?}: {msg}");
        }
        let nc = Sii::parse_canonical("+15551234567")
            .unwrap_err()
            .to_string();
        assert!(nc.contains("write it exactly as"), "{nc}");
    }

    // ---- properties ----

    /// Strings that look a bit like identifiers, so that many of them parse.
    fn sii_like() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "(?i:tel:)?[+]?[0-9 ().-]{0,20}",
            "(?i:mailto:)?[a-zA-Z0-9.+_!#-]{0,10}@[a-zA-Z0-9üßÄ.-]{0,20}",
            "[a-z]{1,8}@[a-zß-ü]{1,10}\\.[a-z]{2,5}",
        ]
    }

    proptest! {
        #[test]
        fn canonicalisation_is_idempotent(input in sii_like()) {
            if let Ok(s) = Sii::parse(&input) {
                let c = s.canonical();
                prop_assert_eq!(Sii::parse(&c), Ok(s.clone()));
                prop_assert_eq!(Sii::parse_canonical(&c), Ok(s.clone()));
                match s.kind() {
                    SiiKind::Tel => prop_assert_eq!(Sii::from_san_uri(&s.san_value()), Ok(s)),
                    SiiKind::Email => prop_assert_eq!(Sii::from_san_rfc822(&s.san_value()), Ok(s)),
                }
            }
        }

        #[test]
        fn separators_do_not_change_phone_numbers(
            first in 1u8..=9,
            rest in proptest::collection::vec(0u8..=9, 1..=14),
            seps in proptest::collection::vec("[ .()-]{0,2}", 16),
            prefix in "(?i:tel:)?",
            sep_after_plus in "[ .()-]{0,2}",
        ) {
            let digits: String = std::iter::once(first)
                .chain(rest)
                .map(|d| char::from(b'0' + d))
                .collect();
            let mut input = format!("{prefix}+{sep_after_plus}");
            for (d, sep) in digits.chars().zip(&seps) {
                input.push(d);
                input.push_str(sep);
            }
            let parsed = Sii::parse(&input);
            prop_assert_eq!(&parsed, &Ok(tel(&digits)), "input {:?}", input);
            prop_assert_eq!(parsed.unwrap().canonical(), format!("tel:+{digits}"));
        }

        #[test]
        fn parse_never_panics(input in any::<String>(), prefix in "(?i:tel:|mailto:)?") {
            let with_prefix = format!("{prefix}{input}");
            let _ = Sii::parse(&input);
            let _ = Sii::parse(&with_prefix);
            let _ = Sii::parse_canonical(&with_prefix);
            let _ = Sii::from_san_uri(&with_prefix);
            let _ = Sii::from_san_rfc822(&input);
        }
    }
}
