//! The `id-pe-mimiMapping` leaf extension.
//!
//! ```text
//! MimiMapping ::= SEQUENCE {
//!   version      INTEGER { v1(1) },
//!   provider     IA5String,
//!   handle       [0] IMPLICIT UTF8String OPTIONAL,
//!   method       ENUMERATED { smsOtp(1), voiceOtp(2), emailLink(3), emailOtp(4),
//!                             operatorToken(5), oauth(6), other(7) },
//!   validatedAt  GeneralizedTime,
//!   flags        [1] IMPLICIT BIT STRING { preferred(0), newHolder(1) } OPTIONAL,
//!   consent      [2] IMPLICIT OCTET STRING (SIZE(32)) OPTIONAL
//! }
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use der::asn1::{BitStringRef, GeneralizedTime, Ia5StringRef, OctetStringRef, Utf8StringRef};
use der::{Decode, Encode, Enumerated, Sequence};
use time::OffsetDateTime;

use super::ProfileError;

/// How possession of the SII was last proven.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Enumerated)]
#[repr(u32)]
#[non_exhaustive]
pub enum Method {
    /// A one-time code sent by SMS.
    SmsOtp = 1,
    /// A one-time code read out in a voice call.
    VoiceOtp = 2,
    /// A link sent by email.
    EmailLink = 3,
    /// A one-time code sent by email.
    EmailOtp = 4,
    /// A token from the mobile operator (e.g. network-based number verification).
    OperatorToken = 5,
    /// An OAuth/OpenID login at the email or phone provider.
    Oauth = 6,
    /// Anything else.
    Other = 7,
}

impl Method {
    /// Every method, in code order.
    pub const ALL: [Method; 7] = [
        Method::SmsOtp,
        Method::VoiceOtp,
        Method::EmailLink,
        Method::EmailOtp,
        Method::OperatorToken,
        Method::Oauth,
        Method::Other,
    ];

    /// The CLI and JSON name (`sms-otp`, `voice-otp`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::SmsOtp => "sms-otp",
            Method::VoiceOtp => "voice-otp",
            Method::EmailLink => "email-link",
            Method::EmailOtp => "email-otp",
            Method::OperatorToken => "operator-token",
            Method::Oauth => "oauth",
            Method::Other => "other",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| ProfileError::UnknownMethod {
                given: s.to_owned(),
            })
    }
}

/// The `flags` bits of a mapping. Serialized as `{"preferred", "new_holder"}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[non_exhaustive]
pub struct MappingFlags {
    /// The user prefers to be reached on this provider for this SII.
    pub preferred: bool,
    /// The SII changed hands recently (e.g. a recycled phone number); relying platforms
    /// should not carry over trust from an earlier holder.
    pub new_holder: bool,
}

impl MappingFlags {
    /// These flags with `preferred` set as given.
    pub const fn with_preferred(mut self, preferred: bool) -> Self {
        self.preferred = preferred;
        self
    }

    /// These flags with `new_holder` set as given.
    pub const fn with_new_holder(mut self, new_holder: bool) -> Self {
        self.new_holder = new_holder;
        self
    }

    fn is_empty(self) -> bool {
        !self.preferred && !self.new_holder
    }

    /// The named bit list as (unused bits, its one byte): trailing zero bits removed
    /// (X.690 11.2.2); `None` when no bit is set.
    fn to_bits(self) -> Option<(u8, [u8; 1])> {
        if self.is_empty() {
            return None;
        }
        let byte = (u8::from(self.preferred) << 7) | (u8::from(self.new_holder) << 6);
        let unused = if self.new_holder { 6 } else { 7 };
        Some((unused, [byte]))
    }

    fn from_bit_string(bits: &BitStringRef<'_>) -> Self {
        let bit = |n: usize| bits.bits().nth(n).unwrap_or(false);
        MappingFlags {
            preferred: bit(0),
            new_holder: bit(1),
        }
    }
}

/// The decoded `id-pe-mimiMapping` extension (version v1).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MimiMapping {
    /// The provider domain, lower-case, e.g. `chat-a.example`.
    pub provider: String,
    /// The service-specific identifier (SSI), e.g. `mimi://chat-a.example/u/alice`.
    pub handle: Option<String>,
    /// How possession of the SII was proven.
    pub method: Method,
    /// When possession of the SII was last proven (whole seconds, UTC).
    pub validated_at: OffsetDateTime,
    /// Preference and new-holder bits.
    pub flags: MappingFlags,
    /// SHA-256 of the user's signed CSR (DER), when the leaf was issued from one.
    pub consent: Option<[u8; 32]>,
}

/// The ASN.1 shape; every field borrows from the DER (decoding allocates nothing here).
#[derive(Sequence)]
struct MimiMappingAsn1<'a> {
    version: u8,
    provider: Ia5StringRef<'a>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    handle: Option<Utf8StringRef<'a>>,
    method: Method,
    validated_at: GeneralizedTime,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    flags: Option<BitStringRef<'a>>,
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT", optional = "true")]
    consent: Option<OctetStringRef<'a>>,
}

fn der_err(e: der::Error) -> ProfileError {
    ProfileError::Der(e.to_string())
}

/// `OffsetDateTime` → `GeneralizedTime` (whole seconds, 1970 onwards).
pub(crate) fn to_generalized_time(t: OffsetDateTime) -> Result<GeneralizedTime, ProfileError> {
    let secs = u64::try_from(t.unix_timestamp()).map_err(|_| ProfileError::TimeOutOfRange)?;
    GeneralizedTime::from_unix_duration(Duration::from_secs(secs)).map_err(der_err)
}

fn from_generalized_time(t: GeneralizedTime) -> Result<OffsetDateTime, ProfileError> {
    let secs =
        i64::try_from(t.to_unix_duration().as_secs()).map_err(|_| ProfileError::TimeOutOfRange)?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| ProfileError::TimeOutOfRange)
}

impl MimiMapping {
    /// A mapping for `provider`, proven by `method` at `validated_at`: no handle, no flags,
    /// no consent (set the fields, or use the `with_` methods, for more).
    pub fn new(provider: impl Into<String>, method: Method, validated_at: OffsetDateTime) -> Self {
        MimiMapping {
            provider: provider.into(),
            handle: None,
            method,
            validated_at,
            flags: MappingFlags::default(),
            consent: None,
        }
    }

    /// This mapping with `handle`.
    pub fn with_handle(mut self, handle: impl Into<String>) -> Self {
        self.handle = Some(handle.into());
        self
    }

    /// This mapping with `flags`.
    pub fn with_flags(mut self, flags: MappingFlags) -> Self {
        self.flags = flags;
        self
    }

    /// The DER encoding (the extension's `extnValue` contents).
    pub fn to_der(&self) -> Result<Vec<u8>, ProfileError> {
        let provider =
            Ia5StringRef::new(&self.provider).map_err(|_| ProfileError::BadProvider {
                given: self.provider.clone(),
            })?;
        let consent = match &self.consent {
            Some(h) => Some(OctetStringRef::new(h).map_err(der_err)?),
            None => None,
        };
        let bits = self.flags.to_bits();
        let flags = match &bits {
            Some((unused, byte)) => Some(BitStringRef::new(*unused, byte).map_err(der_err)?),
            None => None,
        };
        let asn1 = MimiMappingAsn1 {
            version: 1,
            provider,
            handle: match &self.handle {
                Some(h) => Some(Utf8StringRef::new(h).map_err(der_err)?),
                None => None,
            },
            method: self.method,
            validated_at: to_generalized_time(self.validated_at)?,
            flags,
            consent,
        };
        asn1.to_der().map_err(der_err)
    }

    /// Strict DER decoding; rejects other versions, trailing bytes and a consent hash that
    /// is not 32 bytes.
    pub fn from_der(bytes: &[u8]) -> Result<Self, ProfileError> {
        let asn1 = MimiMappingAsn1::from_der(bytes).map_err(der_err)?;
        if asn1.version != 1 {
            return Err(ProfileError::UnsupportedVersion {
                version: asn1.version.into(),
            });
        }
        let consent = match asn1.consent {
            None => None,
            Some(c) => Some(<[u8; 32]>::try_from(c.as_bytes()).map_err(|_| {
                ProfileError::Der(format!(
                    "consent must be a 32-byte SHA-256 hash, found {} bytes",
                    c.as_bytes().len()
                ))
            })?),
        };
        Ok(MimiMapping {
            provider: asn1.provider.to_string(),
            handle: asn1.handle.map(|h| h.as_str().to_owned()),
            method: asn1.method,
            validated_at: from_generalized_time(asn1.validated_at)?,
            flags: asn1
                .flags
                .as_ref()
                .map(MappingFlags::from_bit_string)
                .unwrap_or_default(),
            consent,
        })
    }
}

/// The mapping-v1 handle binding rule: `handle` must be an absolute URI whose host is
/// `provider` or a subdomain of it (`mimi://chat-a.example/u/alice`,
/// `https://chat-a.example/@alice`); for a URI without an authority, the domain after its one
/// `@` (`xmpp:alice@chat-a.example`). Issuance, the lint and the verifier all apply this one
/// function, so a provider can no more name another provider's user than claim to be it.
pub fn check_handle(handle: &str, provider: &str) -> Result<(), ProfileError> {
    let not_uri = || ProfileError::HandleNotUri {
        handle: handle.to_owned(),
        provider: provider.to_owned(),
    };
    let no_domain = || ProfileError::HandleNoDomain {
        handle: handle.to_owned(),
        provider: provider.to_owned(),
    };
    // RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ':'.
    let (scheme, rest) = handle.split_once(':').ok_or_else(not_uri)?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || rest.is_empty() || handle.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(not_uri());
    }
    let domain = match rest.strip_prefix("//") {
        Some(after) => {
            let authority = after.split(['/', '?', '#']).next().unwrap_or_default();
            // A second '@' would make the host ambiguous: refuse rather than guess.
            let host_port = match authority.split('@').collect::<Vec<_>>()[..] {
                [host] | [_, host] => host,
                _ => return Err(no_domain()),
            };
            match host_port.rsplit_once(':') {
                Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
                Some(_) => return Err(no_domain()),
                None => host_port,
            }
        }
        None => {
            let path = rest.split(['?', '#']).next().unwrap_or_default();
            match path.split('@').collect::<Vec<_>>()[..] {
                [_, after] => after.split(['/', ';']).next().unwrap_or_default(),
                _ => return Err(no_domain()),
            }
        }
    };
    if domain.is_empty() {
        return Err(no_domain());
    }
    let domain = domain.to_ascii_lowercase();
    let bound = domain == provider
        || domain
            .strip_suffix(provider)
            .and_then(|sub| sub.strip_suffix('.'))
            .is_some_and(|sub| !sub.is_empty() && sub.split('.').all(|l| !l.is_empty()));
    if bound {
        Ok(())
    } else {
        Err(ProfileError::HandleOtherDomain {
            handle: handle.to_owned(),
            domain,
            provider: provider.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn sample() -> MimiMapping {
        MimiMapping {
            provider: "chat-a.example".into(),
            handle: Some("mimi://chat-a.example/u/alice".into()),
            method: Method::SmsOtp,
            validated_at: OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap(), // 2026-01-01T00:00:00Z
            flags: MappingFlags {
                preferred: true,
                new_holder: false,
            },
            consent: Some([0xab; 32]),
        }
    }

    #[test]
    fn round_trip_full() {
        let m = sample();
        assert_eq!(MimiMapping::from_der(&m.to_der().unwrap()).unwrap(), m);
    }

    #[test]
    fn round_trip_minimal_and_all_flags() {
        for (preferred, new_holder) in [(false, false), (true, false), (false, true), (true, true)]
        {
            let m = MimiMapping {
                handle: None,
                consent: None,
                flags: MappingFlags {
                    preferred,
                    new_holder,
                },
                ..sample()
            };
            assert_eq!(MimiMapping::from_der(&m.to_der().unwrap()).unwrap(), m);
        }
    }

    /// Fixed vector, checked by hand against the ASN.1 in docs/spec.md#asn1-module:
    /// 30 6c | 02 01 01 | 16 0e "chat-a.example" | 80 1d "mimi://chat-a.example/u/alice"
    /// | 0a 01 01 | 18 0f "20260101000000Z" | 81 02 07 80 | 82 20 ab*32
    #[test]
    fn fixed_vector_full() {
        let expected = concat!(
            "306c",
            "020101",
            "160e",
            "636861742d612e6578616d706c65",
            "801d",
            "6d696d693a2f2f636861742d612e6578616d706c652f752f616c696365",
            "0a0101",
            "180f",
            "32303236303130313030303030305a",
            "81020780",
            "8220",
            "abababababababababababababababababababababababababababababababab",
        );
        assert_eq!(hex(&sample().to_der().unwrap()), expected);
    }

    #[test]
    fn fixed_vector_minimal() {
        let m = MimiMapping {
            provider: "b.example".into(),
            handle: None,
            method: Method::EmailLink,
            validated_at: OffsetDateTime::from_unix_timestamp(0).unwrap(),
            flags: MappingFlags::default(),
            consent: None,
        };
        let expected = concat!(
            "3022",
            "020101",
            "1609",
            "622e6578616d706c65",
            "0a0103",
            "180f",
            "31393730303130313030303030305a",
        );
        assert_eq!(hex(&m.to_der().unwrap()), expected);
        // new-holder only: one unused-bits byte of 6 and 0x40.
        let m2 = MimiMapping {
            flags: MappingFlags {
                preferred: false,
                new_holder: true,
            },
            ..m
        };
        assert!(hex(&m2.to_der().unwrap()).ends_with("81020640"));
    }

    #[test]
    fn rejects_bad_input() {
        let good = sample().to_der().unwrap();
        // trailing byte
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(MimiMapping::from_der(&trailing).is_err());
        // truncated
        assert!(MimiMapping::from_der(&good[..good.len() - 1]).is_err());
        // version 2
        let mut v2 = good.clone();
        v2[4] = 2;
        assert!(matches!(
            MimiMapping::from_der(&v2),
            Err(ProfileError::UnsupportedVersion { version: 2 })
        ));
        // unknown method 9
        let minimal = hex(&MimiMapping {
            handle: None,
            consent: None,
            flags: MappingFlags::default(),
            ..sample()
        }
        .to_der()
        .unwrap());
        let bad_method = minimal.replace("0a0101", "0a0109");
        let bytes: Vec<u8> = (0..bad_method.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&bad_method[i..i + 2], 16).unwrap())
            .collect();
        assert!(MimiMapping::from_der(&bytes).is_err());
        assert!(MimiMapping::from_der(&[]).is_err());
    }

    #[test]
    fn method_names() {
        for m in Method::ALL {
            assert_eq!(m.as_str().parse::<Method>().unwrap(), m);
        }
        assert!("sms".parse::<Method>().is_err());
    }

    #[test]
    fn handle_binding_rule() {
        let p = "chat-a.example";
        for ok in [
            "mimi://chat-a.example/u/alice",
            "MIMI://Chat-A.Example/u/alice",
            "xmpp:alice@chat-a.example",
            "xmpp:alice@chat-a.example/phone",
            "https://chat-a.example/@alice",
            "https://alice@chat-a.example:8443/x?y#z",
            "mimi://eu.chat-a.example/u/alice",
            "mimi://chat-a.example",
        ] {
            assert_eq!(check_handle(ok, p), Ok(()), "{ok}");
        }
        for (other, domain) in [
            ("mimi://chat-b.example/u/x", "chat-b.example"),
            ("xmpp:alice@chat-b.example", "chat-b.example"),
            ("https://chat-b.example/@chat-a.example", "chat-b.example"),
            ("mimi://evilchat-a.example/u/x", "evilchat-a.example"),
            ("mimi://chat-a.example.evil/u/x", "chat-a.example.evil"),
            ("mimi://.chat-a.example/u/x", ".chat-a.example"),
            ("mimi://a..chat-a.example/u/x", "a..chat-a.example"),
            ("mimi://[::1]:80/u/x", "[::1]"),
        ] {
            match check_handle(other, p) {
                Err(ProfileError::HandleOtherDomain { domain: d, .. }) => assert_eq!(d, domain),
                r => panic!("{other}: {r:?}"),
            }
        }
        for not_uri in [
            "alice",
            "@alice",
            "",
            "1mimi://chat-a.example/u/x",
            "mimi:",
            "mimi://chat-a.example/u/a b",
        ] {
            assert!(
                matches!(
                    check_handle(not_uri, p),
                    Err(ProfileError::HandleNotUri { .. })
                ),
                "{not_uri:?}"
            );
        }
        for no_domain in [
            "urn:alice",
            "file:///u/alice",
            "xmpp:a@b@chat-a.example",
            "mimi://x@chat-b.example@chat-a.example/u",
            "mimi://chat-a.example:http/u",
        ] {
            assert!(
                matches!(
                    check_handle(no_domain, p),
                    Err(ProfileError::HandleNoDomain { .. })
                ),
                "{no_domain:?}"
            );
        }
        let msg = check_handle("mimi://chat-b.example/u/x", p)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("may name only its own users"), "{msg}");
        assert!(msg.contains("mimi://chat-a.example/u/alice"), "{msg}");
    }
}
