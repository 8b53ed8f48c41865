//! Resolving one SII from several attestations (one person on several providers).

use std::collections::BTreeMap;

use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use super::{VerifiedMapping, Verifier, VerifyError};
use crate::sii::Sii;

/// One accepted attestation, with the position of its chain in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resolved {
    /// Index of the chain in the input.
    pub index: usize,
    /// What it attests.
    pub mapping: VerifiedMapping,
}

/// One rejected attestation, with the position of its chain in the input and why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejected {
    /// Index of the chain in the input.
    pub index: usize,
    /// Why it was rejected.
    pub error: VerifyError,
}

/// Accepted attestations that disagree. Reported, never resolved silently.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Conflict {
    /// More than one provider is flagged as preferred.
    SeveralPreferred {
        /// The providers flagged preferred, in resolution order.
        providers: Vec<String>,
    },
    /// One provider attests different handles for the SII.
    HandleMismatch {
        /// The provider.
        provider: String,
        /// The distinct handles (`None` = an attestation without a handle).
        handles: Vec<Option<String>>,
    },
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conflict::SeveralPreferred { providers } => write!(
                f,
                "several providers are flagged preferred: {}",
                providers.join(", ")
            ),
            Conflict::HandleMismatch { provider, handles } => {
                let hs: Vec<String> = handles
                    .iter()
                    .map(|h| h.clone().unwrap_or_else(|| "(no handle)".into()))
                    .collect();
                write!(f, "{provider} attests different handles: {}", hs.join(", "))
            }
        }
    }
}

/// The outcome of resolving one SII.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resolution {
    /// The SII resolved.
    pub sii: Sii,
    /// Accepted attestations: preferred first, then newest `validatedAt`, then provider
    /// name and chain hash (so the order never depends on input order).
    pub mappings: Vec<Resolved>,
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
    /// Verify every chain as evidence for `sii` at `now` and order the accepted ones.
    pub fn resolve<C: AsRef<[CertificateDer<'static>]>>(
        &self,
        sii: &Sii,
        chains: &[C],
        now: OffsetDateTime,
    ) -> Resolution {
        let mut mappings = Vec::new();
        let mut rejected = Vec::new();
        for (index, chain) in chains.iter().enumerate() {
            match self.verify_sii(chain.as_ref(), now, sii) {
                Ok(mapping) => mappings.push(Resolved { index, mapping }),
                Err(error) => rejected.push(Rejected { index, error }),
            }
        }
        mappings.sort_by(|a, b| {
            let (a, b) = (&a.mapping, &b.mapping);
            b.flags
                .preferred
                .cmp(&a.flags.preferred)
                .then(b.validated_at.cmp(&a.validated_at))
                .then(a.provider.cmp(&b.provider))
                .then(a.chain_sha256.cmp(&b.chain_sha256))
        });
        let mut conflicts = Vec::new();
        let mut preferred: Vec<String> = Vec::new();
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
        let mut handles: BTreeMap<&str, Vec<Option<String>>> = BTreeMap::new();
        for r in &mappings {
            let hs = handles.entry(&r.mapping.provider).or_default();
            if !hs.contains(&r.mapping.handle) {
                hs.push(r.mapping.handle.clone());
            }
        }
        for (provider, hs) in handles {
            if hs.len() > 1 {
                conflicts.push(Conflict::HandleMismatch {
                    provider: provider.to_owned(),
                    handles: hs,
                });
            }
        }
        Resolution {
            sii: sii.clone(),
            mappings,
            rejected,
            conflicts,
        }
    }
}
