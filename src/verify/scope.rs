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

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(tel: &[&str], email: &[&str]) -> Scope {
        Scope::new(tel, email).unwrap()
    }

    fn sii(s: &str) -> Sii {
        Sii::parse(s).unwrap()
    }

    fn check(
        listed: &Scope,
        rule: ScopeRule,
        cas: &[Option<&Scope>],
        delegation: bool,
        s: &str,
    ) -> Result<(), (Code, usize)> {
        check_scope(listed, "chat-a", rule, cas, delegation, &sii(s))
            .map_err(|e| (e.code(), e.depth()))
    }

    const NARROWS: ScopeRule = ScopeRule::TrustListNarrows;

    #[test]
    fn the_sii_inside_the_trust_list_scope_and_every_ca_scope() {
        let listed = scope(&["+1"], &["chat-a.example"]);
        let (ca, root) = (scope(&["+1555"], &[]), scope(&["+1", "+44"], &[]));
        let cas = [Some(&ca), Some(&root)];
        assert_eq!(check(&listed, NARROWS, &cas, true, "+15551234567"), Ok(()));
        // Outside the issuing CA's scope (depth 1), inside the root's and the listed.
        assert_eq!(
            check(&listed, NARROWS, &cas, true, "+16171234567"),
            Err((Code::OutOfScope, 1))
        );
        // Outside the trust-list scope: reported at the root's depth.
        assert_eq!(
            check(
                &listed,
                NARROWS,
                &[None, Some(&root)],
                true,
                "+447700900123"
            ),
            Err((Code::OutOfScope, 2))
        );
        // A CA without a scope does not limit.
        assert_eq!(
            check(
                &listed,
                NARROWS,
                &[None, None],
                true,
                "alice@chat-a.example"
            ),
            Ok(())
        );
        let e = check_scope(
            &listed,
            "chat-a",
            NARROWS,
            &cas,
            true,
            &sii("+447700900123"),
        )
        .unwrap_err();
        assert!(
            e.message()
                .contains("outside what the trust list lets anchor \"chat-a\" assert"),
            "{e}"
        );
    }

    #[test]
    fn no_ca_widens_its_issuers_scope() {
        let listed = scope(&["+1"], &[]);
        let (ca, root) = (scope(&["+1", "+44"], &[]), scope(&["+1"], &[]));
        assert_eq!(
            check(
                &listed,
                NARROWS,
                &[Some(&ca), Some(&root)],
                true,
                "+15551234567"
            ),
            Err((Code::ScopeWidened, 1))
        );
        // Delegation is not checked again for a cached issuing CA.
        assert_eq!(
            check(
                &listed,
                NARROWS,
                &[Some(&ca), Some(&root)],
                false,
                "+15551234567"
            ),
            Ok(())
        );
        // Three CAs: the one at depth 1 within depth 2's scope but not the root's.
        let (mid, top) = (scope(&["+1", "+44"], &[]), scope(&["+1"], &[]));
        let low = scope(&["+44"], &[]);
        assert_eq!(
            check(
                &listed,
                NARROWS,
                &[Some(&low), Some(&mid), Some(&top)],
                true,
                "+15551234567"
            ),
            Err((Code::ScopeWidened, 2))
        );
    }

    #[test]
    fn strict_also_bounds_every_ca_by_the_trust_list() {
        let listed = scope(&["+1"], &[]);
        let root = scope(&["+1", "+44"], &[]);
        let cas = [None, Some(&root)];
        assert_eq!(check(&listed, NARROWS, &cas, true, "+15551234567"), Ok(()));
        assert_eq!(
            check(&listed, ScopeRule::Strict, &cas, true, "+15551234567"),
            Err((Code::ScopeWidened, 2))
        );
    }

    #[test]
    fn a_malformed_root_scope_is_malformed_at_the_root() {
        let e = root_scope(&Err("bad".into()), 2).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::Malformed, 2));
        assert_eq!(
            e.message(),
            "the id-pe-mimiScope extension is malformed: bad"
        );
        let s = scope(&["+1"], &[]);
        assert_eq!(root_scope(&Ok(Some(s.clone())), 2).unwrap(), Some(&s));
        assert_eq!(root_scope(&Ok(None), 2).unwrap(), None);
    }
}
