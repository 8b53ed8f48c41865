//! What a relying platform writes: load its trust list once, then verify the attestation
//! chains it receives and resolve an SII to the providers that serve it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::Path;

use mimi_attest::{
    Resolution, Sii, TrustList, TrustListError, VerifiedMapping, Verifier, VerifyError,
};
use time::OffsetDateTime;

/// A platform's verifier, made once from its trust list file and shared by every lookup.
pub fn load(trust_list: &Path) -> Result<Verifier, TrustListError> {
    Ok(Verifier::new(TrustList::from_file(trust_list)?))
}

/// Verify one PEM chain as received, requiring that it attests `sii`.
pub fn check(
    verifier: &Verifier,
    pem: &[u8],
    sii: &Sii,
    now: OffsetDateTime,
) -> Result<VerifiedMapping, VerifyError> {
    verifier.verify_pem(pem, now, Some(sii))
}

/// Resolve `sii` from every chain received for it.
pub fn resolve(
    verifier: &Verifier,
    chains: &[&[u8]],
    sii: &Sii,
    now: OffsetDateTime,
) -> Resolution {
    verifier.resolve_pem(sii, chains, now)
}
