//! The provider's domain: the name a provider CA puts into every `MimiMapping` and the one a
//! trust-list anchor may speak for.

use std::fmt;

use serde::Deserialize;

use super::scope::normalize_domain;
use super::ProfileError;

/// A provider's domain name, e.g. `chat-a.example`: a valid DNS name already in its
/// lower-case ASCII (A-label, punycode) form, as the CA config and the trust list require.
///
/// Made only by [`ProviderDomain::parse`] (or deserializing, which parses), so every value
/// is canonical and two providers compare equal exactly when their strings do.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct ProviderDomain(String);

impl ProviderDomain {
    /// Parse a provider domain written in its canonical form. A name that is a domain but
    /// not written canonically (upper case, Unicode, a trailing dot, spaces) is refused with
    /// the form to write instead, rather than silently changed, so that configs, trust lists
    /// and certificates all spell a provider the same way.
    pub fn parse(given: &str) -> Result<Self, ProfileError> {
        match normalize_domain(given) {
            Ok(domain) if domain == given => Ok(Self(domain)),
            Ok(canonical) => Err(ProfileError::ProviderNotCanonical {
                given: given.to_owned(),
                canonical,
            }),
            Err(reason) => Err(ProfileError::ProviderNotDomain {
                given: given.to_owned(),
                reason,
            }),
        }
    }

    /// The domain name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProviderDomain {
    type Error = ProfileError;

    fn try_from(s: String) -> Result<Self, ProfileError> {
        Self::parse(&s)
    }
}

impl std::str::FromStr for ProviderDomain {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, ProfileError> {
        Self::parse(s)
    }
}

impl fmt::Display for ProviderDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ProviderDomain {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<ProviderDomain> for String {
    fn from(p: ProviderDomain) -> String {
        p.0
    }
}

impl serde::Serialize for ProviderDomain {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl PartialEq<str> for ProviderDomain {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ProviderDomain {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for ProviderDomain {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

impl PartialEq<ProviderDomain> for str {
    fn eq(&self, other: &ProviderDomain) -> bool {
        self == other.0
    }
}

impl PartialEq<ProviderDomain> for String {
    fn eq(&self, other: &ProviderDomain) -> bool {
        *self == other.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_the_canonical_form() {
        let p = ProviderDomain::parse("chat-a.example").unwrap();
        assert_eq!(p, "chat-a.example");
        assert_eq!(p.as_str(), "chat-a.example");
        assert_eq!(p.to_string(), "chat-a.example");
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"chat-a.example\"");
        assert!(ProviderDomain::parse("xn--bcher-kva.example").is_ok());
        for (given, canonical) in [
            ("Chat-A.example", "chat-a.example"),
            ("bücher.example", "xn--bcher-kva.example"),
            (" chat-a.example", "chat-a.example"),
        ] {
            let e = ProviderDomain::parse(given).unwrap_err();
            assert_eq!(
                e,
                ProfileError::ProviderNotCanonical {
                    given: given.into(),
                    canonical: canonical.into()
                }
            );
            assert!(e.to_string().contains("lower-case ASCII form"), "{e}");
        }
        for given in ["", "chat a.example", "-x.example", "a..example"] {
            let e = ProviderDomain::parse(given).unwrap_err();
            assert!(
                matches!(e, ProfileError::ProviderNotDomain { .. }),
                "{given:?}: {e:?}"
            );
            assert!(e.to_string().contains("is not a domain name"), "{e}");
        }
    }

    #[test]
    fn deserializing_parses() {
        let p: ProviderDomain = serde_yaml::from_str("chat-a.example").unwrap();
        assert_eq!(p, "chat-a.example");
        let e = serde_yaml::from_str::<ProviderDomain>("Chat-A.example").unwrap_err();
        assert!(e.to_string().contains("lower-case"), "{e}");
    }
}
