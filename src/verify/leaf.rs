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

#[cfg(test)]
mod tests {
    use rcgen::{DnType, SanType};
    use time::Duration;

    use super::*;
    use crate::profile::Span;
    use crate::verify::testing::{der, leaf_params, mapping, mapping_ext, now, parsed};

    fn check(
        p: &rcgen::CertificateParams,
        policy: &Policy,
        now: OffsetDateTime,
    ) -> Result<(Sii, MimiMapping), VerifyError> {
        let der = der(p);
        check_leaf(&parsed(&der), policy, now)
    }

    fn code(r: Result<(Sii, MimiMapping), VerifyError>) -> (Code, usize) {
        let e = r.unwrap_err();
        (e.code(), e.depth())
    }

    #[test]
    fn a_profile_leaf_gives_its_sii_and_mapping() {
        let now = now();
        let (sii, m) = check(&leaf_params(now), &Policy::default(), now).unwrap();
        assert_eq!(sii.canonical(), "tel:+15551234567");
        assert_eq!(m, mapping(now));
    }

    #[test]
    fn the_subject_must_be_empty() {
        let now = now();
        let mut p = leaf_params(now);
        p.distinguished_name
            .push(DnType::CommonName, "+15551234567");
        let e = check(&p, &Policy::default(), now).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::SiiCount, 0));
        assert!(e.message().contains("requires an empty subject"), "{e}");
    }

    #[test]
    fn exactly_one_canonical_sii() {
        let now = now();
        let mut p = leaf_params(now);
        p.subject_alt_names.clear();
        assert_eq!(
            code(check(&p, &Policy::default(), now)),
            (Code::SiiCount, 0)
        );
        let mut p = leaf_params(now);
        p.subject_alt_names
            .push(SanType::URI("tel:+15559999999".try_into().unwrap()));
        assert_eq!(
            code(check(&p, &Policy::default(), now)),
            (Code::SiiCount, 0)
        );
        let mut p = leaf_params(now);
        p.subject_alt_names = vec![SanType::URI("tel:+1 555 123 4567".try_into().unwrap())];
        assert_eq!(code(check(&p, &Policy::default(), now)), (Code::BadSii, 0));
        let mut p = leaf_params(now);
        p.subject_alt_names = vec![SanType::DnsName("chat-a.example".try_into().unwrap())];
        assert_eq!(code(check(&p, &Policy::default(), now)), (Code::BadSii, 0));
    }

    #[test]
    fn the_mapping_must_be_present_and_well_formed() {
        let now = now();
        let mut p = leaf_params(now);
        p.custom_extensions.clear();
        assert_eq!(
            code(check(&p, &Policy::default(), now)),
            (Code::MappingMissing, 0)
        );
        let mut p = leaf_params(now);
        p.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
            crate::profile::oids::ID_PE_MIMI_MAPPING.arcs(),
            vec![0x30, 0x00],
        )];
        let e = check(&p, &Policy::default(), now).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::Malformed, 0));
        assert!(
            e.message()
                .contains("id-pe-mimiMapping extension is malformed"),
            "{e}"
        );
    }

    #[test]
    fn validity_no_longer_than_the_policy_allows() {
        let now = now();
        let mut p = leaf_params(now);
        p.not_after = p.not_before + Duration::days(90);
        assert!(check(&p, &Policy::default(), now).is_ok());
        p.not_after += Duration::seconds(1);
        let e = check(&p, &Policy::default(), now).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::ValidityTooLong, 0));
        assert!(
            e.message().contains("longer than the policy maximum 90d"),
            "{e}"
        );
        let policy = Policy::default().with_max_leaf_validity(Span::new(Duration::days(91)));
        assert!(check(&p, &policy, now).is_ok());
    }

    #[test]
    fn validated_at_not_after_not_before_and_not_too_old() {
        let now = now();
        let skew = Policy::default().clock_skew.duration();
        let with = |validated_at: OffsetDateTime| {
            let mut p = leaf_params(now);
            let mut m = mapping(now);
            m.validated_at = validated_at;
            p.custom_extensions = vec![mapping_ext(&m)];
            p
        };
        let nb = leaf_params(now).not_before;
        // Within the clock skew after notBefore: accepted; beyond it: not.
        assert!(check(&with(nb + skew), &Policy::default(), now).is_ok());
        let e = check(
            &with(nb + skew + Duration::seconds(1)),
            &Policy::default(),
            now,
        )
        .unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::StaleValidation, 0));
        assert!(e.message().contains("after the leaf's notBefore"), "{e}");
        // At most 30 days (plus the skew) before `now`.
        let oldest = now - Duration::days(30) - skew;
        assert!(check(&with(oldest), &Policy::default(), now).is_ok());
        let e = check(
            &with(oldest - Duration::seconds(1)),
            &Policy::default(),
            now,
        )
        .unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::StaleValidation, 0));
        assert!(e.message().contains("must re-validate the SII"), "{e}");
        let policy = Policy::default().with_max_validation_age(Span::new(Duration::days(31)));
        assert!(check(&with(oldest - Duration::seconds(1)), &policy, now).is_ok());
    }
}
