//! The verification policy a trust list carries (its `policy:`): clock skew, maximum leaf
//! validity and validation age, the scope rule, revocation and log proofs.

use std::fmt;

use crate::profile::Span;

/// Which certificates of a path must be shown not revoked by a fresh CRL (docs/spec.md#verify-revocation).
/// Trust-list YAML: `policy: { revocation: off | leaf | chain }`, default `off` so that trust
/// lists written before revocation checking existed keep their meaning.
///
/// Under `leaf` and `chain` the check fails closed: a certificate whose issuer has no fresh
/// CRL among those given to the verifier (`Verifier::with_crls`) is rejected with
/// `E_REVOCATION_UNKNOWN`. A CRL is fresh when its signature verifies with the issuer's
/// key, its thisUpdate is not older than [`Policy::max_crl_age`] (nor in the future beyond the
/// clock skew) and the verification time is before its nextUpdate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RevocationPolicy {
    /// Revocation is not checked; CRLs given are not consulted.
    #[default]
    Off,
    /// The leaf must be covered by a fresh CRL of its issuing CA (the provider's `crl`
    /// command writes these).
    Leaf,
    /// The leaf and every CA below the trust anchor must be covered by a fresh CRL of their
    /// issuer: for the profile's root → issuing CA → leaf chains that means a CRL from the
    /// issuing CA *and* one signed by the provider root covering the issuing CA.
    Chain,
}

impl RevocationPolicy {
    /// The trust-list spelling: `off`, `leaf` or `chain`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationPolicy::Off => "off",
            RevocationPolicy::Leaf => "leaf",
            RevocationPolicy::Chain => "chain",
        }
    }
}

impl fmt::Display for RevocationPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a chain must come with a proof that it is in a transparency log the trust list
/// names (docs/spec.md#verify-log). Trust-list YAML: `policy: { log_proof: off | optional |
/// required }`, default `off` so that trust lists written before logs existed keep their
/// meaning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LogProofPolicy {
    /// Proofs are not checked; one given with the chain is ignored.
    #[default]
    Off,
    /// A proof given with the chain must be valid (with [`Policy::witness_quorum`] valid
    /// cosignatures); a chain without one is accepted.
    Optional,
    /// Every chain must come with a valid proof (`E_LOG_PROOF_MISSING` otherwise).
    Required,
}

impl LogProofPolicy {
    /// The trust-list spelling: `off`, `optional` or `required`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogProofPolicy::Off => "off",
            LogProofPolicy::Optional => "optional",
            LogProofPolicy::Required => "required",
        }
    }
}

impl fmt::Display for LogProofPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the trust-list scope of an anchor constrains the CA scopes on a path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ScopeRule {
    /// The trust-list scope narrows which SIIs are accepted: the SII must lie inside it and
    /// inside every CA's `MimiScope`, and each CA's scope within its issuer's
    /// (docs/spec.md#verify-scope). A provider's CAs may claim more than this platform grants
    /// it, so a platform can accept one provider for part of its scope (e.g. one country).
    #[default]
    TrustListNarrows,
    /// Also require every CA's `MimiScope` (the root's included) to lie within the anchor's
    /// trust-list scope: a provider whose CAs claim more than the platform grants is
    /// rejected outright (E_SCOPE_WIDENED), whatever the SII.
    Strict,
}

/// What a relying platform accepts: clock skew, maximum leaf validity, maximum age of the
/// possession proof, scope rule, revocation and log proofs. Read from the trust list's `policy:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// How far clocks may disagree (default 5m): applied to validity and `validatedAt`.
    pub clock_skew: Span,
    /// The longest leaf validity accepted (default 90d).
    pub max_leaf_validity: Span,
    /// The oldest possession proof (`validatedAt`) accepted (default 30d).
    pub max_validation_age: Span,
    /// How trust-list scopes constrain CA scopes (default: the trust list narrows).
    pub scope_rule: ScopeRule,
    /// Which certificates must be covered by a fresh CRL (default `off`).
    pub revocation: RevocationPolicy,
    /// The oldest CRL accepted, measured from its thisUpdate to the verification time
    /// (default 2d; a CRL past its nextUpdate is never fresh, whatever this says).
    pub max_crl_age: Span,
    /// Whether chains need a log proof (default `off`).
    pub log_proof: LogProofPolicy,
    /// How many of the trust list's witnesses must have validly cosigned a proof's
    /// checkpoint (default 0). A trust list refuses a quorum larger than its witnesses.
    pub witness_quorum: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            clock_skew: Span::new(time::Duration::minutes(5)),
            max_leaf_validity: crate::profile::MAX_LEAF_VALIDITY,
            max_validation_age: crate::profile::MAX_VALIDATION_AGE,
            scope_rule: ScopeRule::TrustListNarrows,
            revocation: RevocationPolicy::Off,
            max_crl_age: Span::new(time::Duration::days(2)),
            log_proof: LogProofPolicy::Off,
            witness_quorum: 0,
        }
    }
}

impl Policy {
    /// This policy with another clock skew.
    pub fn with_clock_skew(mut self, skew: Span) -> Self {
        self.clock_skew = skew;
        self
    }

    /// This policy with another maximum leaf validity.
    pub fn with_max_leaf_validity(mut self, max: Span) -> Self {
        self.max_leaf_validity = max;
        self
    }

    /// This policy with another maximum validation age.
    pub fn with_max_validation_age(mut self, max: Span) -> Self {
        self.max_validation_age = max;
        self
    }

    /// This policy with another revocation policy.
    pub fn with_revocation(mut self, revocation: RevocationPolicy) -> Self {
        self.revocation = revocation;
        self
    }

    /// This policy with another maximum CRL age.
    pub fn with_max_crl_age(mut self, max: Span) -> Self {
        self.max_crl_age = max;
        self
    }

    /// This policy with another log-proof policy.
    pub fn with_log_proof(mut self, log_proof: LogProofPolicy) -> Self {
        self.log_proof = log_proof;
        self
    }

    /// This policy with another witness quorum.
    pub fn with_witness_quorum(mut self, quorum: u32) -> Self {
        self.witness_quorum = quorum;
        self
    }

    /// This policy with another scope rule.
    pub fn with_scope_rule(mut self, rule: ScopeRule) -> Self {
        self.scope_rule = rule;
        self
    }
}
