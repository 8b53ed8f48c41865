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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::testing::{mapping, now};

    #[test]
    fn the_mapping_names_the_anchors_provider() {
        let m = mapping(now());
        assert_eq!(check_provider(&m, "chat-a", "chat-a.example"), Ok(()));
        let e = check_provider(&m, "chat-b", "chat-b.example").unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::ProviderMismatch, 0));
        assert_eq!(
            e.message(),
            "the attestation claims provider \"chat-a.example\", but it chains to anchor \"chat-b\", which may speak only for \"chat-b.example\""
        );
    }

    #[test]
    fn the_handle_is_on_the_providers_domain() {
        let mut m = mapping(now());
        m.handle = None;
        assert_eq!(check_provider(&m, "chat-a", "chat-a.example"), Ok(()));
        m.handle = Some("xmpp:alice@eu.chat-a.example".into());
        assert_eq!(check_provider(&m, "chat-a", "chat-a.example"), Ok(()));
        for handle in ["mimi://chat-b.example/u/alice", "alice", "mimi:///u/alice"] {
            m.handle = Some(handle.into());
            let e = check_provider(&m, "chat-a", "chat-a.example").unwrap_err();
            assert_eq!(
                (e.code(), e.depth()),
                (Code::ProviderMismatch, 0),
                "{handle}"
            );
        }
    }

    #[test]
    fn the_sii_asked_for() {
        let sii = Sii::parse("+15551234567").unwrap();
        assert_eq!(check_expected(&sii, None), Ok(()));
        assert_eq!(check_expected(&sii, Some(&sii.clone())), Ok(()));
        let other = Sii::parse("+15559999999").unwrap();
        let e = check_expected(&sii, Some(&other)).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::SiiMismatch, 0));
        assert_eq!(
            e.message(),
            "the attestation is for tel:+15551234567, not for tel:+15559999999"
        );
    }
}
