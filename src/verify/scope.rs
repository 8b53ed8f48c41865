//! Check 5 (docs/spec.md#verify-scope): the SII lies inside the anchor's trust-list scope
//! and inside the `MimiScope` of every CA on the path, and no CA widens what it was
//! delegated (its issuers' scopes, and under [`ScopeRule::Strict`] the trust-list scope).

use x509_parser::prelude::X509Certificate;

use super::{err, Code, VerifyError};
use crate::profile::{ca_scope, Scope};
use crate::sii::Sii;
use crate::trust::ScopeRule;

/// Check 5: the SII inside `listed`, the trust-list scope of the anchor named `anchor`, and
/// inside every CA's `MimiScope`; with `delegation`, also no CA widening its issuers' scopes
/// (or, under [`ScopeRule::Strict`], the trust-list scope). `cas` holds the scopes of the
/// CAs on the path, depth 1 first and the root's last.
pub(super) fn check_scope(
    listed: &Scope,
    anchor: &str,
    rule: ScopeRule,
    cas: &[Option<&Scope>],
    delegation: bool,
    sii: &Sii,
) -> Result<(), VerifyError> {
    let root_depth = cas.len();
    let scopes: Vec<Option<&Scope>> = std::iter::once(None).chain(cas.iter().copied()).collect();
    for depth in (1..=root_depth).rev().filter(|_| delegation) {
        let Some(scope) = &scopes[depth] else {
            continue;
        };
        for (outer_depth, outer) in scopes.iter().enumerate().skip(depth + 1) {
            if let Some(outer) = outer {
                if !scope.is_within(outer) {
                    return Err(err(
                        Code::ScopeWidened,
                        depth,
                        format!(
                            "the CA's scope ({scope}) is wider than that of its issuer at depth {outer_depth} ({outer}): a CA may not widen what it was delegated"
                        ),
                    ));
                }
            }
        }
        if rule == ScopeRule::Strict && !scope.is_within(listed) {
            return Err(err(
                Code::ScopeWidened,
                depth,
                format!(
                    "the CA's scope ({scope}) is wider than what the trust list allows anchor {anchor:?} ({listed})"
                ),
            ));
        }
    }
    if !listed.permits(sii) {
        return Err(err(
            Code::OutOfScope,
            root_depth,
            format!(
                "{sii} is outside what the trust list lets anchor {anchor:?} assert ({listed})"
            ),
        ));
    }
    for depth in (1..=root_depth).rev() {
        if let Some(scope) = &scopes[depth] {
            if !scope.permits(sii) {
                return Err(err(
                    Code::OutOfScope,
                    depth,
                    format!("{sii} is outside the scope of the CA at depth {depth} ({scope})"),
                ));
            }
        }
    }
    Ok(())
}

fn malformed_scope(depth: usize, e: &dyn std::fmt::Display) -> VerifyError {
    err(
        Code::Malformed,
        depth,
        format!("the id-pe-mimiScope extension is malformed: {e}"),
    )
}

/// The `id-pe-mimiScope` of each CA below the root (`certs` is the path, leaf first).
pub(super) fn ca_scopes(certs: &[&X509Certificate<'_>]) -> Result<Vec<Option<Scope>>, VerifyError> {
    certs
        .iter()
        .enumerate()
        .skip(1)
        .map(|(depth, c)| ca_scope(c).map_err(|e| malformed_scope(depth, &e)))
        .collect()
}

/// The root's `id-pe-mimiScope` (read with the trust list), or why it is malformed, as
/// the error of the root at `root_depth`.
pub(super) fn root_scope(
    scope: &Result<Option<Scope>, String>,
    root_depth: usize,
) -> Result<Option<&Scope>, VerifyError> {
    scope
        .as_ref()
        .map(Option::as_ref)
        .map_err(|e| malformed_scope(root_depth, e))
}
