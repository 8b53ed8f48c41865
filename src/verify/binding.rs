//! Checks 6 and 7 (docs/spec.md#verification): the attestation is bound to the anchor's
//! provider (its provider is the anchor's, its handle one of that provider's own, by the
//! mapping-v1 handle rule), and it attests the SII asked for.

use super::{err, Code, VerifyError};
use crate::profile::{check_handle, MimiMapping};
use crate::sii::Sii;

/// Check 6: `mapping` names `provider`, the only provider the anchor `anchor` may speak
/// for, and a handle (if any) on that provider's domain.
pub(super) fn check_provider(
    mapping: &MimiMapping,
    anchor: &str,
    provider: &str,
) -> Result<(), VerifyError> {
    if mapping.provider != provider {
        return Err(err(
            Code::ProviderMismatch,
            0,
            format!(
                "the attestation claims provider {:?}, but it chains to anchor {anchor:?}, which may speak only for {provider:?}",
                mapping.provider,
            ),
        ));
    }
    // ... and its handle must be one of that provider's own (mapping-v1 handle rule).
    if let Some(handle) = &mapping.handle {
        if let Err(e) = check_handle(handle, provider) {
            return Err(err(Code::ProviderMismatch, 0, e.to_string()));
        }
    }
    Ok(())
}

/// Check 7: the attested `sii` is the one `expected`, when one is.
pub(super) fn check_expected(sii: &Sii, expected: Option<&Sii>) -> Result<(), VerifyError> {
    match expected {
        Some(expected) if expected != sii => Err(err(
            Code::SiiMismatch,
            0,
            format!("the attestation is for {sii}, not for {expected}"),
        )),
        _ => Ok(()),
    }
}
