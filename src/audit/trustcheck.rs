//! `trust-list check`: a trust list linted as its operator writes it, each finding with its
//! line. What loading refuses (unknown keys, bad scopes, roots that are not P-256 CAs,
//! duplicate anchors or roots) is one error finding; a list that loads is then checked for
//! what loading accepts but is probably wrong: a provider domain that looks like a typo,
//! scopes that differ from the roots' own `MimiScope`, a provider listed twice, expiry soon.

use std::path::Path;

use serde::Serialize;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::profile::lint::Severity;
use crate::profile::{self, Scope};
use crate::trust::{
    anchor_line, read_list_file, LogProofPolicy, SignedTrustList, TrustList, TrustListError,
};

/// A list expiring sooner than this is reported.
const LIST_EXPIRY_WARNING: Duration = Duration::days(7);
/// A root expiring sooner than this is reported.
const ROOT_EXPIRY_WARNING: Duration = Duration::days(30);

/// One finding of [`check_trust_list`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ListFinding {
    /// A stable id, e.g. `provider-typo`.
    pub id: &'static str,
    /// How serious it is.
    pub severity: Severity,
    /// The 1-based line of the entry it is about, when known.
    pub line: Option<usize>,
    /// What was found and what to do.
    pub message: String,
}

/// Lint the trust list at `path` (plain or signed) as of `now`. `Err` only when the file
/// cannot be read; everything wrong with its contents is a finding.
pub fn check_trust_list(
    path: &Path,
    now: OffsetDateTime,
) -> Result<Vec<ListFinding>, TrustListError> {
    let origin = path.display().to_string();
    let mut out = Vec::new();
    let bytes = match read_list_file(path) {
        Ok(b) => b,
        // Too large: platforms refuse it unread, and so does the check.
        Err(e @ TrustListError::Invalid { .. }) => {
            out.push(ListFinding {
                id: "list-too-large",
                severity: Severity::Error,
                line: None,
                message: e.to_string(),
            });
            return Ok(out);
        }
        Err(e) => return Err(e),
    };
    let loaded = if SignedTrustList::is_signed(&bytes) {
        SignedTrustList::parse(&bytes, &origin).and_then(|s| {
            let text = s.text().to_owned();
            TrustList::from_signed_text(&text, &origin).map(|l| (l, text))
        })
    } else {
        match String::from_utf8(bytes.clone()) {
            Ok(text) => TrustList::from_file_bytes(bytes, path).map(|l| (l, text)),
            Err(_) => Err(TrustListError::Io {
                path: origin.clone(),
                message: "the trust list is not UTF-8 text".into(),
            }),
        }
    };
    let (list, text) = match loaded {
        Ok(l) => l,
        Err(TrustListError::Io { message, .. }) if message.contains("cannot read") => {
            return Err(TrustListError::Io {
                path: origin,
                message,
            })
        }
        Err(e) => {
            let line = match &e {
                TrustListError::Invalid { line, .. } => *line,
                _ => None,
            };
            out.push(ListFinding {
                id: "list-invalid",
                severity: Severity::Error,
                line,
                message: e.to_string(),
            });
            return Ok(out);
        }
    };
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).map(|i| i + 1);
    let mut push = |id, severity, line, message| {
        out.push(ListFinding {
            id,
            severity,
            line,
            message,
        })
    };
    match list.expires() {
        None => push(
            "list-version-1",
            Severity::Notice,
            line_of("version"),
            "a version 1 list has no sequence or expiry and cannot be signed: write version: 2 to publish it to platforms".into(),
        ),
        Some(exp) if now >= exp => push(
            "list-expired",
            Severity::Error,
            line_of("expires"),
            format!(
                "the list expired at {}: platforms refuse it (E_TRUST_LIST_EXPIRED); publish a new version",
                profile::rfc3339(exp)
            ),
        ),
        Some(exp) if exp - now < LIST_EXPIRY_WARNING => push(
            "list-expires-soon",
            Severity::Warning,
            line_of("expires"),
            format!(
                "the list expires at {}, within 7 days: publish the next version before then",
                profile::rfc3339(exp)
            ),
        ),
        Some(_) => {}
    }
    if list.version() == 2 && list.signers().is_none() {
        push(
            "no-signers",
            Severity::Notice,
            line_of("version"),
            "the list names no signers: the signer set platforms trust now also signs the next version".into(),
        );
    }
    // Names the roots' certificates carry: their own MimiScope domains, subject and SANs.
    let roots: Vec<RootNames> = list
        .anchors()
        .iter()
        .map(|a| RootNames::read(a.certificate_der()))
        .collect();
    let known: Vec<&str> = roots
        .iter()
        .flat_map(|r| r.names.iter().map(String::as_str))
        .collect();
    for (i, (a, root)) in list.anchors().iter().zip(&roots).enumerate() {
        let line = anchor_line(&text, a.name());
        let provider = a.provider().as_str();
        if !root.names.iter().any(|n| related(provider, n)) {
            match known
                .iter()
                .filter(|k| !related(provider, k))
                .find(|k| edit_distance(provider, k) <= 2)
            {
                Some(close) => push(
                    "provider-typo",
                    Severity::Error,
                    line,
                    format!(
                        "anchor {:?}: provider {provider:?} looks like a typo of {close:?}, which a root certificate names: every chain of this anchor would be rejected E_PROVIDER_MISMATCH",
                        a.name()
                    ),
                ),
                None => push(
                    "provider-unnamed",
                    Severity::Notice,
                    line,
                    format!(
                        "anchor {:?}: the root certificate does not name provider {provider:?} (in its MimiScope, subject or SANs): check it is the domain the provider's leaves carry",
                        a.name()
                    ),
                ),
            }
        }
        if let Some(other) = list.anchors()[..i]
            .iter()
            .find(|o| o.provider() == a.provider())
        {
            push(
                "provider-twice",
                Severity::Warning,
                line,
                format!(
                    "anchor {:?} is for provider {provider:?}, as anchor {:?} is: keep two roots of one provider only while one replaces the other",
                    a.name(),
                    other.name()
                ),
            );
        }
        match &root.scope {
            Some(scope) => {
                if !scope.is_within(a.scope()) {
                    push(
                        "root-scope-wider",
                        Severity::Warning,
                        line,
                        format!(
                            "anchor {:?}: the root's own MimiScope ({scope}) is wider than the anchor scope ({}): the list accepts only the anchor scope, and chains outside it are rejected E_OUT_OF_SCOPE",
                            a.name(),
                            a.scope()
                        ),
                    );
                }
                if !a.scope().is_within(scope) {
                    push(
                        "anchor-scope-wider",
                        Severity::Warning,
                        line,
                        format!(
                            "anchor {:?}: the anchor scope ({}) permits more than the root's own MimiScope ({scope}): no chain of this root can use the difference",
                            a.name(),
                            a.scope()
                        ),
                    );
                }
            }
            None => push(
                "root-unscoped",
                Severity::Notice,
                line,
                format!(
                    "anchor {:?}: the root has no MimiScope: only the anchor scope limits what it may assert",
                    a.name()
                ),
            ),
        }
        if let Some(not_after) = root.not_after {
            if now >= not_after {
                push(
                    "root-expired",
                    Severity::Error,
                    line,
                    format!(
                        "anchor {:?}: the root certificate expired at {}: no chain verifies; list the provider's current root",
                        a.name(),
                        profile::rfc3339(not_after)
                    ),
                );
            } else if not_after - now < ROOT_EXPIRY_WARNING {
                push(
                    "root-expires-soon",
                    Severity::Warning,
                    line,
                    format!(
                        "anchor {:?}: the root certificate expires at {}, within 30 days",
                        a.name(),
                        profile::rfc3339(not_after)
                    ),
                );
            }
        }
    }
    let policy = list.policy();
    if policy.log_proof == LogProofPolicy::Off && !list.logs().is_empty() {
        push(
            "logs-unused",
            Severity::Notice,
            line_of("logs"),
            "logs are listed but policy log_proof is off: proofs are not checked; set log_proof: optional or required".into(),
        );
    }
    Ok(out)
}

/// What a root certificate says about itself.
struct RootNames {
    /// Domain-like names: MimiScope email domains, subject CN/O words, SAN dNSNames.
    names: Vec<String>,
    scope: Option<Scope>,
    not_after: Option<OffsetDateTime>,
}

impl RootNames {
    fn read(der: &[u8]) -> RootNames {
        let Ok((_, cert)) = X509Certificate::from_der(der) else {
            return RootNames {
                names: Vec::new(),
                scope: None,
                not_after: None,
            };
        };
        let scope = profile::ca_scope(&cert).ok().flatten();
        let mut names: Vec<String> = scope
            .iter()
            .flat_map(|s| s.email_domains())
            .map(|d| d.trim_start_matches('.').to_owned())
            .collect();
        for attr in cert
            .subject()
            .iter_common_name()
            .chain(cert.subject().iter_organization())
        {
            if let Ok(v) = attr.as_str() {
                names.extend(
                    v.split_whitespace()
                        .filter(|w| w.contains('.'))
                        .map(|w| w.to_ascii_lowercase()),
                );
            }
        }
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for n in &san.value.general_names {
                if let GeneralName::DNSName(d) = n {
                    names.push(d.to_ascii_lowercase());
                }
            }
        }
        RootNames {
            names,
            scope,
            not_after: Some(cert.validity().not_after.to_datetime()),
        }
    }
}

/// `a` and `b` are the same domain or one is a subdomain of the other.
fn related(a: &str, b: &str) -> bool {
    a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
}

/// Levenshtein distance (domains are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("chat-a.example", "chat-a.example"), 0);
        assert_eq!(edit_distance("chat-a.exmple", "chat-a.example"), 1);
        assert_eq!(edit_distance("chta-a.example", "chat-a.example"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn related_domains_are_equal_or_nested() {
        assert!(related("chat-a.example", "chat-a.example"));
        assert!(related("mail.chat-a.example", "chat-a.example"));
        assert!(!related("chat-b.example", "chat-a.example"));
        assert!(!related("xchat-a.example", "chat-a.example"));
    }
}
