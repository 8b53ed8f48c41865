//! What a relying platform writes: load its trust list once, then verify the attestation
//! chains it receives and resolve an SII to the providers that serve it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::Path;

use mimi_attest::{
    chain_from_pem, Resolution, Sii, TrustList, TrustListError, VerifiedMapping, Verifier,
    VerifyError, VerifyOptions,
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
    let chain = chain_from_pem(pem)?;
    verifier
        .verify_with(&chain, &VerifyOptions::at(now).expect_sii(sii))
        .result
}

/// Resolve `sii` from every PEM chain received for it; fails if one is not a PEM chain.
pub fn resolve(
    verifier: &Verifier,
    chains: &[&[u8]],
    sii: &Sii,
    now: OffsetDateTime,
) -> Result<Resolution, VerifyError> {
    let chains = chains
        .iter()
        .map(|pem| chain_from_pem(pem))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(verifier.resolve(sii, &chains, now))
}
