//! Revocation reasons: the names `revoke --reason` takes and the store keeps, and their RFC
//! 5280 (5.3.1) CRLReason codes (the table is in the `issue` module's revocation docs).

use std::fmt;
use std::str::FromStr;

use super::ProfileError;

/// Why an attestation is revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevokeReason {
    /// The user's private key is compromised.
    KeyCompromise,
    /// The SII now belongs to someone else.
    SiiReassigned,
    /// The user's account was closed.
    AccountClosed,
    /// Replaced by a newer attestation.
    Superseded,
    /// No reason given.
    Unspecified,
}

impl RevokeReason {
    /// Every reason.
    pub const ALL: [RevokeReason; 5] = [
        RevokeReason::KeyCompromise,
        RevokeReason::SiiReassigned,
        RevokeReason::AccountClosed,
        RevokeReason::Superseded,
        RevokeReason::Unspecified,
    ];

    /// The CLI name.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::KeyCompromise => "key-compromise",
            RevokeReason::SiiReassigned => "sii-reassigned",
            RevokeReason::AccountClosed => "account-closed",
            RevokeReason::Superseded => "superseded",
            RevokeReason::Unspecified => "unspecified",
        }
    }

    /// The RFC 5280 reason code put in an attestation's CRL entry (`None`: no reasonCode
    /// extension).
    pub fn crl_reason_code(self) -> Option<u8> {
        self.crl_reason_code_for(RevocationTarget::Attestation)
    }

    /// The RFC 5280 reason code put in the CRL entry of a certificate of this kind
    /// (`None`: no reasonCode extension). `key-compromise` of an issuing CA is
    /// cACompromise (2).
    pub fn crl_reason_code_for(self, target: RevocationTarget) -> Option<u8> {
        // RFC 5280 5.3.1 CRLReason values.
        match self {
            RevokeReason::KeyCompromise if target == RevocationTarget::IssuingCa => Some(2),
            RevokeReason::KeyCompromise => Some(1),
            RevokeReason::SiiReassigned => Some(3),
            RevokeReason::AccountClosed => Some(5),
            RevokeReason::Superseded => Some(4),
            RevokeReason::Unspecified => None,
        }
    }

    /// Whether this reason can be given for that kind of certificate: `sii-reassigned` and
    /// `account-closed` describe a user, not a CA.
    pub fn applies_to(self, target: RevocationTarget) -> bool {
        match target {
            RevocationTarget::Attestation => true,
            RevocationTarget::IssuingCa => matches!(
                self,
                RevokeReason::KeyCompromise | RevokeReason::Superseded | RevokeReason::Unspecified
            ),
        }
    }
}

impl fmt::Display for RevokeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevokeReason {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, ProfileError> {
        RevokeReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ProfileError::UnknownReason {
                given: s.to_owned(),
            })
    }
}

/// What a revocation may touch. An explicit policy rather than a flag deep in the call: an
/// issuing CA (and with it every attestation it signed) is never revoked by a mistyped serial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevocationTarget {
    /// Mapping attestations (leaves) only: what `revoke` does unless told otherwise.
    Attestation,
    /// An issuing CA under this provider's root (`revoke --issuing-ca`); it goes on the root
    /// CRL (`crl --root`).
    IssuingCa,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_map_to_rfc5280() {
        assert_eq!(RevokeReason::KeyCompromise.crl_reason_code(), Some(1));
        assert_eq!(RevokeReason::SiiReassigned.crl_reason_code(), Some(3));
        assert_eq!(RevokeReason::Superseded.crl_reason_code(), Some(4));
        assert_eq!(RevokeReason::AccountClosed.crl_reason_code(), Some(5));
        assert_eq!(RevokeReason::Unspecified.crl_reason_code(), None);
        for r in RevokeReason::ALL {
            assert_eq!(r.as_str().parse::<RevokeReason>().unwrap(), r);
            assert!(r.applies_to(RevocationTarget::Attestation));
        }
    }

    #[test]
    fn ca_reasons_map_to_rfc5280() {
        let ca = RevocationTarget::IssuingCa;
        assert_eq!(RevokeReason::KeyCompromise.crl_reason_code_for(ca), Some(2));
        assert_eq!(RevokeReason::Superseded.crl_reason_code_for(ca), Some(4));
        assert_eq!(RevokeReason::Unspecified.crl_reason_code_for(ca), None);
        let allowed: Vec<_> = RevokeReason::ALL
            .into_iter()
            .filter(|r| r.applies_to(ca))
            .collect();
        assert_eq!(
            allowed,
            [
                RevokeReason::KeyCompromise,
                RevokeReason::Superseded,
                RevokeReason::Unspecified
            ]
        );
    }
}
