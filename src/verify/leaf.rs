//! Check 4 (docs/spec.md#verification): the leaf's profile. An empty subject, exactly one
//! SII in subjectAltName (canonical), an `id-pe-mimiMapping` extension, a validity no longer
//! than the policy allows, and a possession proof (`validatedAt`) neither after the leaf's
//! notBefore nor older than the policy allows.

use time::OffsetDateTime;
use x509_parser::prelude::X509Certificate;

use super::parse::{not_after, not_before};
use super::{err, Code, VerifyError};
use crate::profile::{
    self, leaf_mapping, leaf_sii, rfc3339 as fmt_time, MimiMapping, ProfileError,
};
use crate::sii::Sii;
use crate::trust::Policy;

/// The leaf's SII and mapping, if the leaf meets the profile and `policy` at `now`.
pub(super) fn check_leaf(
    leaf: &X509Certificate<'_>,
    policy: &Policy,
    now: OffsetDateTime,
) -> Result<(Sii, MimiMapping), VerifyError> {
    let skew = policy.clock_skew.duration();
    if leaf.subject().iter_attributes().next().is_some() {
        return Err(err(
            Code::SiiCount,
            0,
            format!(
                "the leaf's subject is {:?}, but profile mapping-v1 requires an empty subject: the SII belongs in subjectAltName only",
                leaf.subject().to_string()
            ),
        ));
    }
    let sii = leaf_sii(leaf).map_err(|e| match e {
        ProfileError::SiiCount { .. } => err(Code::SiiCount, 0, e.to_string()),
        ProfileError::BadSii(_) | ProfileError::NotAnSii { .. } => {
            err(Code::BadSii, 0, e.to_string())
        }
        other => err(Code::Malformed, 0, other.to_string()),
    })?;
    let mapping = leaf_mapping(leaf).map_err(|e| match e {
        ProfileError::MappingMissing => err(Code::MappingMissing, 0, e.to_string()),
        other => err(
            Code::Malformed,
            0,
            format!("the leaf's id-pe-mimiMapping extension is malformed: {other}"),
        ),
    })?;
    let (nb, na) = (not_before(leaf), not_after(leaf));
    let max_validity = policy.max_leaf_validity;
    if na - nb > max_validity.duration() {
        return Err(err(
            Code::ValidityTooLong,
            0,
            format!(
                "the leaf is valid for {} ({} to {}), longer than the policy maximum {max_validity}",
                profile::Span::new(na - nb),
                fmt_time(nb),
                fmt_time(na)
            ),
        ));
    }
    if mapping.validated_at > nb + skew {
        return Err(err(
            Code::StaleValidation,
            0,
            format!(
                "validatedAt {} is after the leaf's notBefore {}: possession cannot be proven after issuance",
                fmt_time(mapping.validated_at),
                fmt_time(nb)
            ),
        ));
    }
    let max_age = policy.max_validation_age;
    if now - mapping.validated_at > max_age.duration() + skew {
        return Err(err(
            Code::StaleValidation,
            0,
            format!(
                "possession of {sii} was last proven at {}, longer ago than the policy maximum {max_age}: the provider must re-validate the SII",
                fmt_time(mapping.validated_at)
            ),
        ));
    }
    Ok((sii, mapping))
}
