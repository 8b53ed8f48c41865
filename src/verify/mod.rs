//! The relying platform's side: a [`Verifier`] that checks a mapping attestation chain
//! offline against a trust list ([`crate::trust`]) (fail-closed, docs/spec.md#verification
//! steps 1 to 8), and a resolver for several attestations of one SII.
//!
//! Every rejection is a [`VerifyError`] carrying a stable [`Code`] (`E_*`), a message saying
//! what is wrong, and the depth of the offending certificate (0 = leaf, counting up the
//! verified path; the trust anchor's root certificate is one above the topmost intermediate).

mod binding;
mod cache;
mod leaf;
mod logproof;
mod parse;
mod path;
mod reload;
mod resolve;
mod revocation;
mod scope;
mod ser;
#[cfg(test)]
mod testing;
mod verifier;

use std::fmt;

pub use logproof::LogInclusion;
pub use parse::chain_from_pem;
pub use path::CertNote;
pub use reload::{Reload, ReloadingVerifier, TrustListWatch};
pub use resolve::{Conflict, Rejected, Resolution, Resolved};
pub use revocation::{crls_from_pem, CrlError, CrlNote};
pub use verifier::{Verification, VerifiedMapping, Verifier, VerifyOptions};

/// Most certificates a chain may hold (leaf and intermediates, optionally the root).
pub const MAX_CHAIN_LEN: usize = 8;

/// The stable rejection codes. Their strings (`E_*`) never change; new ones may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// Not a well-formed chain: bad DER or PEM, trailing bytes, too many or too large
    /// certificates, a malformed extension.
    Malformed,
    /// No path to an anchor of the trust list.
    UnknownIssuer,
    /// A signature does not verify (or uses an algorithm the profile does not allow).
    BadSignature,
    /// A certificate's notAfter is past (beyond the clock skew).
    Expired,
    /// A certificate's notBefore is in the future (beyond the clock skew).
    NotYetValid,
    /// A CA certificate without cA=TRUE, or a leaf with cA=TRUE.
    NotCa,
    /// A pathLenConstraint is exceeded.
    PathLen,
    /// keyUsage missing or wrong (digitalSignature on leaves, keyCertSign on CAs).
    KeyUsage,
    /// extendedKeyUsage missing `id-kp-mimiMapping`, or holding other purposes.
    Eku,
    /// A critical extension this verifier does not process.
    UnknownCriticalExtension,
    /// A certificate on the path is listed on a valid, fresh CRL of its issuer.
    Revoked,
    /// The policy requires a revocation check, but no fresh CRL signed by the certificate's
    /// issuer was given (none at all, only stale or expired ones, only ones whose signature
    /// does not verify, only ones without a non-critical CRL number, or an issuer without
    /// keyUsage cRLSign): fail closed.
    RevocationUnknown,
    /// The leaf's SII is invalid or not in canonical form.
    BadSii,
    /// The leaf does not name exactly one SII.
    SiiCount,
    /// The leaf has no `id-pe-mimiMapping` extension.
    MappingMissing,
    /// The SII is outside the anchor's trust-list scope or a CA's `MimiScope`.
    OutOfScope,
    /// A CA's `MimiScope` is wider than its issuer's or the trust-list scope.
    ScopeWidened,
    /// The mapping names another provider than the anchor's.
    ProviderMismatch,
    /// The SII is not the one asked for.
    SiiMismatch,
    /// `validatedAt` is too old, or after notBefore.
    StaleValidation,
    /// The leaf's validity period is longer than the policy allows.
    ValidityTooLong,
    /// A key on the path (the leaf's own subject key, an issuing CA's or the root's) is not
    /// ECDSA P-256.
    KeyAlgorithm,
    /// The policy requires a log proof (`log_proof: required`) and none was given.
    LogProofMissing,
    /// The log proof does not verify for this chain: unreadable or malformed, a VRF proof
    /// that does not verify for the leaf's SII, an entry not included in the checkpoint, a
    /// checkpoint not signed by the listed log, or a bad cosignature of a listed witness.
    LogProofInvalid,
    /// The proof's checkpoint is from a log the trust list does not name.
    LogUnknown,
    /// Fewer listed witnesses validly cosigned the proof's checkpoint than the policy's
    /// `witness_quorum`.
    WitnessQuorum,
    /// The trust list's `expires` has passed: it must not be used until a newer list is
    /// accepted (fail closed).
    TrustListExpired,
}

impl Code {
    /// Every code.
    pub const ALL: [Code; 27] = [
        Code::Malformed,
        Code::UnknownIssuer,
        Code::BadSignature,
        Code::Expired,
        Code::NotYetValid,
        Code::NotCa,
        Code::PathLen,
        Code::KeyUsage,
        Code::Eku,
        Code::UnknownCriticalExtension,
        Code::Revoked,
        Code::RevocationUnknown,
        Code::BadSii,
        Code::SiiCount,
        Code::MappingMissing,
        Code::OutOfScope,
        Code::ScopeWidened,
        Code::ProviderMismatch,
        Code::SiiMismatch,
        Code::StaleValidation,
        Code::ValidityTooLong,
        Code::KeyAlgorithm,
        Code::LogProofMissing,
        Code::LogProofInvalid,
        Code::LogUnknown,
        Code::WitnessQuorum,
        Code::TrustListExpired,
    ];

    /// The stable string, e.g. `E_OUT_OF_SCOPE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Malformed => "E_MALFORMED",
            Code::UnknownIssuer => "E_UNKNOWN_ISSUER",
            Code::BadSignature => "E_BAD_SIGNATURE",
            Code::Expired => "E_EXPIRED",
            Code::NotYetValid => "E_NOT_YET_VALID",
            Code::NotCa => "E_NOT_CA",
            Code::PathLen => "E_PATH_LEN",
            Code::KeyUsage => "E_KEY_USAGE",
            Code::Eku => "E_EKU",
            Code::UnknownCriticalExtension => "E_UNKNOWN_CRITICAL_EXTENSION",
            Code::Revoked => "E_REVOKED",
            Code::RevocationUnknown => "E_REVOCATION_UNKNOWN",
            Code::BadSii => "E_BAD_SII",
            Code::SiiCount => "E_SII_COUNT",
            Code::MappingMissing => "E_MAPPING_MISSING",
            Code::OutOfScope => "E_OUT_OF_SCOPE",
            Code::ScopeWidened => "E_SCOPE_WIDENED",
            Code::ProviderMismatch => "E_PROVIDER_MISMATCH",
            Code::SiiMismatch => "E_SII_MISMATCH",
            Code::StaleValidation => "E_STALE_VALIDATION",
            Code::ValidityTooLong => "E_VALIDITY_TOO_LONG",
            Code::KeyAlgorithm => "E_KEY_ALGORITHM",
            Code::LogProofMissing => "E_LOG_PROOF_MISSING",
            Code::LogProofInvalid => "E_LOG_PROOF_INVALID",
            Code::LogUnknown => "E_LOG_UNKNOWN",
            Code::WitnessQuorum => "E_WITNESS_QUORUM",
            Code::TrustListExpired => "E_TRUST_LIST_EXPIRED",
        }
    }
}

/// A code serializes as its stable string, e.g. `"E_OUT_OF_SCOPE"`.
impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a chain was rejected: a stable code, a message saying what is wrong, and the depth of
/// the offending certificate (0 = leaf). Serialized as `{"code", "message", "depth"}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{code} at depth {depth}: {message}")]
#[non_exhaustive]
pub struct VerifyError {
    code: Code,
    message: String,
    depth: usize,
}

impl VerifyError {
    pub(crate) fn new(code: Code, depth: usize, message: impl Into<String>) -> Self {
        VerifyError {
            code,
            depth,
            message: message.into(),
        }
    }

    /// The stable code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The depth of the offending certificate: 0 = leaf, then up the path to the root.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// What is wrong, for people.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Shorthand for [`VerifyError::new`], used by every check.
fn err(code: Code, depth: usize, message: impl Into<String>) -> VerifyError {
    VerifyError::new(code, depth, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes are an interface: docs/spec.md#codes lists them; they never change.
    #[test]
    fn codes_are_stable() {
        let strings: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            strings,
            [
                "E_MALFORMED",
                "E_UNKNOWN_ISSUER",
                "E_BAD_SIGNATURE",
                "E_EXPIRED",
                "E_NOT_YET_VALID",
                "E_NOT_CA",
                "E_PATH_LEN",
                "E_KEY_USAGE",
                "E_EKU",
                "E_UNKNOWN_CRITICAL_EXTENSION",
                "E_REVOKED",
                "E_REVOCATION_UNKNOWN",
                "E_BAD_SII",
                "E_SII_COUNT",
                "E_MAPPING_MISSING",
                "E_OUT_OF_SCOPE",
                "E_SCOPE_WIDENED",
                "E_PROVIDER_MISMATCH",
                "E_SII_MISMATCH",
                "E_STALE_VALIDATION",
                "E_VALIDITY_TOO_LONG",
                "E_KEY_ALGORITHM",
                "E_LOG_PROOF_MISSING",
                "E_LOG_PROOF_INVALID",
                "E_LOG_UNKNOWN",
                "E_WITNESS_QUORUM",
                "E_TRUST_LIST_EXPIRED",
            ]
        );
        let e = VerifyError::new(Code::Expired, 1, "x");
        assert_eq!(e.to_string(), "E_EXPIRED at depth 1: x");
    }
}
