//! Resolving one SII from several attestations (one person on several providers).
//!
//! Order: `preferred` first, then newest `validatedAt`. Reassignment: an attestation flagged
//! `newHolder` supersedes every attestation of the SII (on any provider) whose `validatedAt`
//! is earlier than its own; those are listed apart, never ranked, whatever their `preferred`
//! flag, and a [`Conflict::Reassigned`] names them.

use std::collections::BTreeMap;

use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use super::{VerifiedMapping, Verifier, VerifyError, VerifyOptions};
use crate::profile::ProviderDomain;
use crate::sii::Sii;

/// One accepted attestation, with the position of its chain in the input. Serialized as
/// `{"index", ...}` with the mapping's keys ([`VerifiedMapping`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Resolved {
    /// Index of the chain in the input.
    pub index: usize,
    /// What it attests.
    #[serde(flatten)]
    pub mapping: VerifiedMapping,
}

/// One rejected attestation, with the position of its chain in the input and why. Serialized
/// as `{"index", "code", "message", "depth"}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Rejected {
    /// Index of the chain in the input.
    pub index: usize,
    /// Why it was rejected.
    #[serde(flatten)]
    pub error: VerifyError,
}

/// Accepted attestations that disagree. Reported, never resolved silently.
///
/// Serialized with its kind as `"kind"`: `{"kind": "several-preferred", "providers"}`,
/// `{"kind": "handle-mismatch", "provider", "handles"}`, `{"kind": "reassigned", "index",
/// "provider", "validated_at", "superseded"}` (chains by input index).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Conflict {
    /// More than one provider is flagged as preferred.
    SeveralPreferred {
        /// The providers flagged preferred, in resolution order.
        providers: Vec<ProviderDomain>,
    },
    /// One provider attests different handles for the SII.
    HandleMismatch {
        /// The provider.
        provider: ProviderDomain,
        /// The distinct handles (`None` = an attestation without a handle).
        handles: Vec<Option<String>>,
    },
    /// The SII changed hands: an attestation flagged `newHolder` supersedes every earlier
    /// attestation (by `validatedAt`, on any provider), which were the previous holder's.
    Reassigned {
        /// Input index of the newest attestation flagged `newHolder`.
        index: usize,
        /// Its provider.
        provider: ProviderDomain,
        /// Its `validatedAt`: when the new holder proved possession.
        #[serde(serialize_with = "super::ser::time")]
        validated_at: OffsetDateTime,
        /// Input indexes of the superseded attestations, in the order of
        /// [`Resolution::superseded`].
        superseded: Vec<usize>,
    },
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conflict::SeveralPreferred { providers } => write!(
                f,
                "several providers are flagged preferred: {}",
                providers
                    .iter()
                    .map(ProviderDomain::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Conflict::HandleMismatch { provider, handles } => {
                let hs: Vec<String> = handles
                    .iter()
                    .map(|h| h.clone().unwrap_or_else(|| "(no handle)".into()))
                    .collect();
                write!(f, "{provider} attests different handles: {}", hs.join(", "))
            }
            Conflict::Reassigned {
                index,
                provider,
                validated_at,
                superseded,
            } => {
                let ids: Vec<String> = superseded.iter().map(|i| format!("#{i}")).collect();
                write!(
                    f,
                    "reassigned: {provider} attests a new holder (chain #{index}, possession proven at {}), superseding {} earlier attestation(s): {}",
                    crate::profile::rfc3339(*validated_at),
                    superseded.len(),
                    ids.join(", ")
                )
            }
        }
    }
}

/// The outcome of resolving one SII. Serialized as `{"sii", "mappings", "superseded",
/// "rejected", "conflicts"}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Resolution {
    /// The SII resolved.
    #[serde(serialize_with = "super::ser::sii")]
    pub sii: Sii,
    /// Accepted attestations of the current holder: preferred first, then newest
    /// `validatedAt`, then provider name and chain hash (so the order never depends on input
    /// order).
    pub mappings: Vec<Resolved>,
    /// Valid attestations superseded by a newer `newHolder` one (the previous holder's),
    /// in the same order; never ranked in [`Resolution::mappings`].
    pub superseded: Vec<Resolved>,
    /// Rejected attestations, in input order.
    pub rejected: Vec<Rejected>,
    /// Disagreements among the accepted ones.
    pub conflicts: Vec<Conflict>,
}

impl Resolution {
    /// The first (most preferred) mapping, if any was accepted.
    pub fn best(&self) -> Option<&VerifiedMapping> {
        self.mappings.first().map(|r| &r.mapping)
    }
}

impl Verifier {
    /// Verify every chain as evidence for `sii` at `now` and order the accepted ones. PEM
    /// goes through [`crate::chain_from_pem`] first. Chains carry no log proof here: under a
    /// policy with `log_proof: required` give each its proof with [`Verifier::resolve_with`].
    pub fn resolve<C: AsRef<[CertificateDer<'static>]>>(
        &self,
        sii: &Sii,
        chains: &[C],
        now: OffsetDateTime,
    ) -> Resolution {
        let options = VerifyOptions::at(now);
        let chains: Vec<_> = chains
            .iter()
            .map(|c| (c.as_ref(), options.clone()))
            .collect();
        self.resolve_with(sii, &chains)
    }

    /// [`Verifier::resolve`] with each chain's own options: its time and its log proof
    /// ([`VerifyOptions::log_proof`] and its siblings), as [`Verifier::verify_with`] takes
    /// them. Every chain is required to attest `sii`, whatever its options say.
    pub fn resolve_with<'a, C: AsRef<[CertificateDer<'static>]>>(
        &self,
        sii: &'a Sii,
        chains: &[(C, VerifyOptions<'a>)],
    ) -> Resolution {
        let results = chains.iter().map(|(chain, options)| {
            self.verify_with(chain.as_ref(), &options.clone().expect_sii(sii))
                .result
        });
        order(sii, results)
    }
}

/// Rank verification results (in input order) for `sii`; see the module documentation.
fn order(
    sii: &Sii,
    results: impl Iterator<Item = Result<VerifiedMapping, VerifyError>>,
) -> Resolution {
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    for (index, result) in results.enumerate() {
        match result {
            Ok(mapping) => accepted.push(Resolved { index, mapping }),
            Err(error) => rejected.push(Rejected { index, error }),
        }
    }
    let rank = |a: &Resolved, b: &Resolved| {
        let (a, b) = (&a.mapping, &b.mapping);
        b.flags
            .preferred
            .cmp(&a.flags.preferred)
            .then(b.validated_at.cmp(&a.validated_at))
            .then(a.provider.cmp(&b.provider))
            .then(a.chain_sha256.cmp(&b.chain_sha256))
    };
    accepted.sort_by(rank);
    // The newest newHolder attestation decides: everything proven before it is the previous
    // holder's (an older newHolder attestation included).
    let new_holder = accepted
        .iter()
        .filter(|r| r.mapping.flags.new_holder)
        .max_by(|a, b| {
            a.mapping
                .validated_at
                .cmp(&b.mapping.validated_at)
                .then(rank(a, b).reverse())
        })
        .map(|r| (r.index, r.mapping.provider.clone(), r.mapping.validated_at));
    let (mappings, superseded): (Vec<Resolved>, Vec<Resolved>) = match &new_holder {
        Some((_, _, since)) => accepted
            .into_iter()
            .partition(|r| r.mapping.validated_at >= *since),
        None => (accepted, Vec::new()),
    };
    let mut conflicts = Vec::new();
    if let Some((index, provider, validated_at)) = new_holder {
        if !superseded.is_empty() {
            conflicts.push(Conflict::Reassigned {
                index,
                provider,
                validated_at,
                superseded: superseded.iter().map(|r| r.index).collect(),
            });
        }
    }
    // Disagreements among the current holder's attestations only: the previous holder's
    // preference or handle is no conflict with the new one's.
    let mut preferred: Vec<ProviderDomain> = Vec::new();
    for r in &mappings {
        if r.mapping.flags.preferred && !preferred.contains(&r.mapping.provider) {
            preferred.push(r.mapping.provider.clone());
        }
    }
    if preferred.len() > 1 {
        conflicts.push(Conflict::SeveralPreferred {
            providers: preferred,
        });
    }
    let mut handles: BTreeMap<&ProviderDomain, Vec<Option<String>>> = BTreeMap::new();
    for r in &mappings {
        let hs = handles.entry(&r.mapping.provider).or_default();
        if !hs.contains(&r.mapping.handle) {
            hs.push(r.mapping.handle.clone());
        }
    }
    for (provider, hs) in handles {
        if hs.len() > 1 {
            conflicts.push(Conflict::HandleMismatch {
                provider: provider.clone(),
                handles: hs,
            });
        }
    }
    Resolution {
        sii: sii.clone(),
        mappings,
        superseded,
        rejected,
        conflicts,
    }
}
