//! The issuance rules: whether a leaf may be issued, and with what validity, validatedAt
//! and method. Pure functions over plain values (the request, the CA config, the issuing
//! CA's validity, the time): no threads, no store, no files, no randomness. The pipeline
//! calls [`check_request`] for every request before it chooses a serial, and
//! [`check_parsed_leaf`] on every leaf it signed before storing it.

use time::{Duration, OffsetDateTime};
use x509_parser::prelude::X509Certificate;

use super::error::IssueError;
use super::numbers::check_number;
use super::request::IssueRequest;
use super::{CaConfig, ValidityConfig};
use crate::profile::{self, Method, Scope, Span};
use crate::sii::{Sii, SiiKind};
use crate::store::{CertStatus, StoredCert};

/// Longest handle accepted, in bytes.
const MAX_HANDLE_LEN: usize = 1024;
/// Longest request id accepted, in bytes.
const MAX_REQUEST_ID_LEN: usize = 256;

/// When the issuing CA is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IssuerValidity {
    /// Its notBefore.
    pub(crate) not_before: OffsetDateTime,
    /// Its notAfter.
    pub(crate) not_after: OffsetDateTime,
}

/// What the rules decided for a leaf that may be issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LeafPlan {
    /// notAfter (notBefore is `now`).
    pub(crate) not_after: OffsetDateTime,
    /// validatedAt, in whole seconds.
    pub(crate) validated_at: OffsetDateTime,
    /// How possession was proven.
    pub(crate) method: Method,
}

/// Every rule for one request at `now` (whole seconds), in the order their refusals are
/// reported.
pub(crate) fn check_request(
    req: &IssueRequest,
    config: &CaConfig,
    issuer: IssuerValidity,
    now: OffsetDateTime,
) -> Result<LeafPlan, IssueError> {
    check_sii(&req.sii, config)?;
    let not_after = not_after(req.validity, &config.validity, issuer, now)?;
    let validated_at = validated_at(req.validated_at, &config.validity, not_after, now)?;
    if let Some(h) = &req.handle {
        check_handle(h, config.provider.as_str())?;
    }
    if let Some(id) = &req.request_id {
        check_request_id(id)?;
    }
    Ok(LeafPlan {
        not_after,
        validated_at,
        method: method(req.method, &req.sii),
    })
}

/// The SII must be a possible number (when it is one) and inside the CA's scope.
pub(crate) fn check_sii(sii: &Sii, config: &CaConfig) -> Result<(), IssueError> {
    // First: for a number no country has, "outside the scope" would not say what is wrong.
    check_number(sii, config.numbers)?;
    check_scope(sii, &config.scope)
}

/// The SII must lie inside what this CA may attest.
pub(crate) fn check_scope(sii: &Sii, scope: &Scope) -> Result<(), IssueError> {
    if scope.permits(sii) {
        Ok(())
    } else {
        Err(IssueError::OutOfScope {
            sii: sii.clone(),
            scope: scope.clone(),
        })
    }
}

/// The leaf's notAfter: `requested` (or the CA's default) from `now`, at least a second, at
/// most the CA's maximum, and inside the issuing CA's validity, which must include `now`.
pub(crate) fn not_after(
    requested: Option<Span>,
    limits: &ValidityConfig,
    issuer: IssuerValidity,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, IssueError> {
    if now < issuer.not_before || now >= issuer.not_after {
        return Err(IssueError::IssuerNotValid {
            now,
            not_before: issuer.not_before,
            not_after: issuer.not_after,
        });
    }
    let validity = requested.unwrap_or(limits.leaf_default);
    if validity > limits.leaf_max {
        return Err(IssueError::ValidityTooLong {
            requested: validity,
            max: limits.leaf_max,
        });
    }
    if validity.duration() < Duration::SECOND {
        return Err(IssueError::ValidityTooShort {
            requested: validity,
        });
    }
    let not_after = now + validity.duration();
    if not_after > issuer.not_after {
        return Err(IssueError::OutlivesIssuer {
            not_after,
            ca_not_after: issuer.not_after,
        });
    }
    Ok(not_after)
}

/// The leaf's validatedAt (`given`, or `now`), in whole seconds: never in the future, and
/// recent enough that the proof of possession stays good until `not_after`.
pub(crate) fn validated_at(
    given: Option<OffsetDateTime>,
    limits: &ValidityConfig,
    not_after: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, IssueError> {
    let validated_at = given.unwrap_or(now);
    let validated_at = validated_at.replace_nanosecond(0).unwrap_or(validated_at);
    if validated_at > now {
        return Err(IssueError::ValidatedInFuture {
            given: validated_at,
            now,
        });
    }
    let max_age = limits.max_validation_age.duration();
    if validated_at + max_age < not_after {
        let fits = validated_at + max_age - now;
        return Err(IssueError::ValidationTooOld {
            validated_at,
            max_age: limits.max_validation_age,
            stale_at: validated_at + max_age,
            fits: fits.is_positive().then(|| Span::new(fits)),
        });
    }
    Ok(validated_at)
}

/// A handle is short text naming a user of `provider` (the profile's handle rule).
pub(crate) fn check_handle(handle: &str, provider: &str) -> Result<(), IssueError> {
    if handle.is_empty() || handle.len() > MAX_HANDLE_LEN || handle.chars().any(char::is_control) {
        return Err(IssueError::Request(format!(
            "handle {handle:?} must be 1 to {MAX_HANDLE_LEN} bytes of text without control characters"
        )));
    }
    Ok(profile::check_handle(handle, provider)?)
}

/// A request id is 1 to 256 bytes.
pub(crate) fn check_request_id(id: &str) -> Result<(), IssueError> {
    if id.is_empty() || id.len() > MAX_REQUEST_ID_LEN {
        return Err(IssueError::Request(format!(
            "a request id must be 1 to {MAX_REQUEST_ID_LEN} bytes"
        )));
    }
    Ok(())
}

/// How possession was proven: as given, else the one-time code usual for the SII's kind.
pub(crate) fn method(given: Option<Method>, sii: &Sii) -> Method {
    given.unwrap_or(match sii.kind() {
        SiiKind::Email => Method::EmailOtp,
        _ => Method::SmsOtp,
    })
}

/// A revoked issuing CA (its store row `row`) signs nothing more.
pub(crate) fn check_issuer_not_revoked(row: Option<&StoredCert>) -> Result<(), IssueError> {
    match row {
        Some(row) if row.status == CertStatus::Revoked => Err(IssueError::IssuerRevoked {
            serial: row.serial.clone(),
            revoked_at: row.revoked_at,
            reason: row
                .revocation_reason
                .map(|r| r.as_str().to_owned())
                .unwrap_or_default(),
        }),
        _ => Ok(()),
    }
}

/// A leaf just signed, parsed (once, for [`check_parsed_leaf`] and its log entry).
pub(crate) fn parse_signed_leaf(der: &[u8]) -> Result<X509Certificate<'_>, IssueError> {
    crate::log::parse_leaf(der)
        .map_err(|e| IssueError::Sign(format!("produced an unparsable certificate: {e}")))
}

/// What every signed leaf passes before it is stored as issued and handed out: the leaf
/// lints of [`crate::profile::lint`] run on it, and any error-level finding refuses it.
pub(crate) fn check_parsed_leaf(cert: &X509Certificate<'_>) -> Result<(), IssueError> {
    use crate::profile::lint::{run_cert, Role, Severity};
    let findings = run_cert(cert, Role::Leaf, Severity::Error);
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("{}: {} ({})", f.id, f.message, f.detail))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(IssueError::LintFailed {
            findings: errors.join("\n"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-26 09:00:00 UTC);

    fn config() -> CaConfig {
        CaConfig::from_yaml(
            "provider: chat-a.example\norganization: Chat A Inc.\nscope:\n  tel: [\"+1\"]\n  email: [chat-a.example]\n",
            "test",
        )
        .unwrap()
    }

    fn issuer() -> IssuerValidity {
        IssuerValidity {
            not_before: NOW - Duration::days(1),
            not_after: NOW + Duration::days(365),
        }
    }

    fn span(s: &str) -> Option<Span> {
        Some(s.parse().unwrap())
    }

    fn sii(s: &str) -> Sii {
        Sii::parse(s).unwrap()
    }

    #[test]
    fn the_sii_must_be_possible_and_in_scope() {
        let c = config();
        assert!(check_sii(&sii("+15555550100"), &c).is_ok());
        assert!(check_sii(&sii("alice@chat-a.example"), &c).is_ok());
        let e = check_sii(&sii("+33612345678"), &c).unwrap_err();
        assert!(matches!(e, IssueError::OutOfScope { .. }), "{e}");
        // An impossible number is refused as such, even outside the scope.
        let e = check_sii(&sii("+1555"), &c).unwrap_err();
        assert!(matches!(e, IssueError::ImpossibleNumber { .. }), "{e}");
        let e = check_sii(&sii("bob@chat-b.example"), &c).unwrap_err();
        assert!(matches!(e, IssueError::OutOfScope { .. }), "{e}");
    }

    #[test]
    fn not_after_is_the_validity_capped_by_the_ca() {
        let v = &config().validity;
        assert_eq!(
            not_after(None, v, issuer(), NOW).unwrap(),
            NOW + Duration::days(7)
        );
        assert_eq!(
            not_after(span("90d"), v, issuer(), NOW).unwrap(),
            NOW + Duration::days(90)
        );
        let e = not_after(span("91d"), v, issuer(), NOW).unwrap_err();
        assert!(matches!(e, IssueError::ValidityTooLong { .. }), "{e}");
        let e = not_after(span("0s"), v, issuer(), NOW).unwrap_err();
        assert!(matches!(e, IssueError::ValidityTooShort { .. }), "{e}");
        let ending = IssuerValidity {
            not_after: NOW + Duration::days(3),
            ..issuer()
        };
        let e = not_after(None, v, ending, NOW).unwrap_err();
        assert!(matches!(e, IssueError::OutlivesIssuer { .. }), "{e}");
        assert!(not_after(span("3d"), v, ending, NOW).is_ok());
        for at in [issuer().not_before - Duration::SECOND, issuer().not_after] {
            let e = not_after(None, v, issuer(), at).unwrap_err();
            assert!(matches!(e, IssueError::IssuerNotValid { .. }), "{e}");
        }
    }

    #[test]
    fn validated_at_is_past_and_fresh_enough() {
        let v = &config().validity;
        let end = NOW + Duration::days(7);
        assert_eq!(validated_at(None, v, end, NOW).unwrap(), NOW);
        let given = datetime!(2026-11-25 09:00:00.5 UTC);
        assert_eq!(
            validated_at(Some(given), v, end, NOW).unwrap(),
            datetime!(2026-11-25 09:00:00 UTC)
        );
        let e = validated_at(Some(NOW + Duration::SECOND), v, end, NOW).unwrap_err();
        assert!(matches!(e, IssueError::ValidatedInFuture { .. }), "{e}");
        // 26 days old: good for 4 more days, not for a 7-day leaf.
        let e = validated_at(Some(NOW - Duration::days(26)), v, end, NOW).unwrap_err();
        match e {
            IssueError::ValidationTooOld { fits, .. } => {
                assert_eq!(fits.map(|f| f.to_string()).as_deref(), Some("4d"))
            }
            other => panic!("{other}"),
        }
        let e = validated_at(Some(NOW - Duration::days(31)), v, end, NOW).unwrap_err();
        match e {
            IssueError::ValidationTooOld { fits, .. } => assert_eq!(fits, None),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn handles_and_request_ids_have_bounds() {
        assert!(check_handle("mimi://chat-a.example/u/alice", "chat-a.example").is_ok());
        for bad in ["", "mimi://chat-a.example/u/a\n", &"h".repeat(1025)] {
            assert!(matches!(
                check_handle(bad, "chat-a.example"),
                Err(IssueError::Request(_))
            ));
        }
        assert!(check_handle("mimi://chat-b.example/u/alice", "chat-a.example").is_err());
        assert!(check_request_id("r-1").is_ok());
        assert!(check_request_id("").is_err());
        assert!(check_request_id(&"i".repeat(257)).is_err());
    }

    #[test]
    fn the_method_defaults_by_kind() {
        assert_eq!(method(None, &sii("+15555550100")), Method::SmsOtp);
        assert_eq!(method(None, &sii("a@chat-a.example")), Method::EmailOtp);
        assert_eq!(
            method(Some(Method::EmailLink), &sii("+15555550100")),
            Method::EmailLink
        );
    }

    #[test]
    fn a_request_is_checked_in_order() {
        let c = config();
        let mut req = IssueRequest::new(sii("+15555550100"));
        let plan = check_request(&req, &c, issuer(), NOW).unwrap();
        assert_eq!(
            plan,
            LeafPlan {
                not_after: NOW + Duration::days(7),
                validated_at: NOW,
                method: Method::SmsOtp
            }
        );
        // Out of scope is reported before a bad validity or handle.
        req.sii = sii("+33612345678");
        req.validity = span("1y");
        req.handle = Some(String::new());
        let e = check_request(&req, &c, issuer(), NOW).unwrap_err();
        assert!(matches!(e, IssueError::OutOfScope { .. }), "{e}");
    }

    #[test]
    fn a_revoked_issuer_signs_nothing() {
        assert!(check_issuer_not_revoked(None).is_ok());
    }

    #[test]
    fn a_leaf_that_is_not_a_certificate_fails_the_check() {
        assert!(parse_signed_leaf(&[0x30, 0x00]).is_err());
    }
}
