//! The relying platform's trust list (YAML): which provider roots are accepted, which
//! provider each may speak for, what each may assert, and the verification policy.
//!
//! ```yaml
//! version: 1
//! anchors:
//!   - name: chat-a                  # label shown in results
//!     provider: chat-a.example      # the only provider this anchor may speak for
//!     certificate: chat-a-root.pem  # path relative to this file
//!     scope:
//!       tel: ["+1", "+44"]
//!       email: ["chat-a.example"]
//! policy:                           # optional; these are the defaults
//!   clock_skew: 5m
//!   max_leaf_validity: 90d
//!   max_validation_age: 30d
//!   scope_rule: trust-list-narrows  # or strict
//!   revocation: off                 # or leaf, chain (see RevocationPolicy)
//!   max_crl_age: 2d                 # oldest CRL thisUpdate accepted
//! ```

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use rustls_pki_types::{CertificateDer, TrustAnchor};
use serde::Deserialize;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{Policy, RevocationPolicy, ScopeRule};
use crate::profile::{scope::normalize_domain, Scope, Span, MAX_CERT_LEN};

/// Why a trust list could not be loaded. Messages name the file and, where known, the line
/// and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustListError {
    /// A file could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong and what to do.
        message: String,
    },
    /// The YAML is invalid, has unknown keys or bad values.
    #[error("{path}{}: {message}", location(*line, *column))]
    Invalid {
        /// The trust-list file (or origin).
        path: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What is wrong and what to do.
        message: String,
    },
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustListSpec {
    version: u32,
    anchors: Vec<AnchorSpec>,
    #[serde(default)]
    policy: PolicySpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnchorSpec {
    name: String,
    provider: String,
    certificate: PathBuf,
    scope: Scope,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    clock_skew: Option<Span>,
    max_leaf_validity: Option<Span>,
    max_validation_age: Option<Span>,
    scope_rule: Option<ScopeRule>,
    revocation: Option<RevocationPolicy>,
    max_crl_age: Option<Span>,
}

/// One accepted provider root.
#[derive(Clone, Debug)]
pub struct Anchor {
    name: String,
    provider: String,
    certificate_path: PathBuf,
    scope: Scope,
    pub(crate) root_der: CertificateDer<'static>,
    pub(crate) trust_anchor: TrustAnchor<'static>,
}

impl Anchor {
    /// The label shown in results.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The only provider (domain) this anchor may speak for.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// What this anchor may assert (the trust-list scope).
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Where the root certificate was read from.
    pub fn certificate_path(&self) -> &Path {
        &self.certificate_path
    }

    /// The root certificate (DER).
    pub fn certificate_der(&self) -> &CertificateDer<'static> {
        &self.root_der
    }
}

/// A loaded and checked trust list.
#[derive(Clone, Debug)]
pub struct TrustList {
    anchors: Vec<Anchor>,
    policy: Policy,
}

impl TrustList {
    /// Read a trust list file; certificate paths are relative to its directory.
    /// Files larger than [`MAX_TRUST_LIST_LEN`] are refused before they are read.
    pub fn from_file(path: &Path) -> Result<TrustList, TrustListError> {
        let bytes =
            read_bounded(path, MAX_TRUST_LIST_LEN).map_err(|message| TrustListError::Io {
                path: path.display().to_string(),
                message: format!("cannot read the trust list: {message}"),
            })?;
        let text = String::from_utf8(bytes).map_err(|_| TrustListError::Io {
            path: path.display().to_string(),
            message: "the trust list is not UTF-8 text".into(),
        })?;
        let base = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Self::parse(&text, &base, &path.display().to_string())
    }

    /// Parse a trust list from YAML text; certificate paths are relative to `base_dir`.
    pub fn from_yaml(text: &str, base_dir: &Path) -> Result<TrustList, TrustListError> {
        Self::parse(text, base_dir, "trust list")
    }

    /// The anchors, in file order.
    pub fn anchors(&self) -> &[Anchor] {
        &self.anchors
    }

    /// The verification policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// This trust list with another policy.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    pub(crate) fn into_parts(self) -> (Vec<Anchor>, Policy) {
        (self.anchors, self.policy)
    }

    fn parse(text: &str, base: &Path, origin: &str) -> Result<TrustList, TrustListError> {
        let spec: TrustListSpec = serde_yaml::from_str(text).map_err(|e| {
            let loc = e.location();
            TrustListError::Invalid {
                path: origin.to_owned(),
                line: loc.as_ref().map(|l| l.line()),
                column: loc.as_ref().map(|l| l.column()),
                message: e.to_string(),
            }
        })?;
        let invalid = |needle: Option<&str>, message: String| TrustListError::Invalid {
            path: origin.to_owned(),
            line: needle.and_then(|n| line_of(text, n)),
            column: None,
            message,
        };
        if spec.version != 1 {
            return Err(invalid(
                Some("version"),
                format!(
                    "version {} is not supported: this tool reads trust lists of version 1",
                    spec.version
                ),
            ));
        }
        if spec.anchors.is_empty() {
            return Err(invalid(
                Some("anchors"),
                "the trust list has no anchors: list at least one provider root under anchors"
                    .into(),
            ));
        }
        let defaults = Policy::default();
        let policy = Policy {
            clock_skew: spec.policy.clock_skew.unwrap_or(defaults.clock_skew),
            max_leaf_validity: spec
                .policy
                .max_leaf_validity
                .unwrap_or(defaults.max_leaf_validity),
            max_validation_age: spec
                .policy
                .max_validation_age
                .unwrap_or(defaults.max_validation_age),
            scope_rule: spec.policy.scope_rule.unwrap_or(defaults.scope_rule),
            revocation: spec.policy.revocation.unwrap_or(defaults.revocation),
            max_crl_age: spec.policy.max_crl_age.unwrap_or(defaults.max_crl_age),
        };
        let mut names = HashSet::new();
        let mut roots = HashSet::new();
        let mut anchors = Vec::with_capacity(spec.anchors.len());
        for a in spec.anchors {
            if a.name.trim().is_empty() {
                return Err(invalid(
                    Some("name:"),
                    "an anchor has an empty name: give each anchor a label".into(),
                ));
            }
            if !names.insert(a.name.clone()) {
                return Err(invalid(
                    Some(&a.name),
                    format!(
                        "anchor name {:?} appears twice: give each anchor its own name",
                        a.name
                    ),
                ));
            }
            match normalize_domain(&a.provider) {
                Ok(p) if p == a.provider => {}
                Ok(p) => {
                    return Err(invalid(
                        Some(&a.provider),
                        format!(
                            "anchor {:?}: provider {:?} must be written in lower-case ASCII form: {p:?}",
                            a.name, a.provider
                        ),
                    ))
                }
                Err(e) => {
                    return Err(invalid(
                        Some(&a.provider),
                        format!(
                            "anchor {:?}: provider {:?} is not a domain name ({e})",
                            a.name, a.provider
                        ),
                    ))
                }
            }
            if a.scope.tel_prefixes().is_empty() && a.scope.email_domains().is_empty() {
                return Err(invalid(
                    Some(&a.name),
                    format!(
                        "anchor {:?}: scope permits nothing: list phone prefixes under scope.tel and/or domains under scope.email",
                        a.name
                    ),
                ));
            }
            let cert_path = base.join(&a.certificate);
            let needle = a.certificate.display().to_string();
            let root_der = read_root(&cert_path)
                .map_err(|m| invalid(Some(&needle), format!("anchor {:?}: {m}", a.name)))?;
            if !roots.insert(root_der.as_ref().to_vec()) {
                return Err(invalid(
                    Some(&needle),
                    format!(
                        "anchor {:?}: the same root certificate is listed twice: one root may speak for one provider only",
                        a.name
                    ),
                ));
            }
            let trust_anchor = webpki::anchor_from_trusted_cert(&root_der)
                .map_err(|e| {
                    invalid(
                        Some(&needle),
                        format!(
                            "anchor {:?}: {} cannot be used as a trust anchor: {e:?}",
                            a.name,
                            cert_path.display()
                        ),
                    )
                })?
                .to_owned();
            anchors.push(Anchor {
                name: a.name,
                provider: a.provider,
                certificate_path: cert_path,
                scope: a.scope,
                root_der,
                trust_anchor,
            });
        }
        Ok(TrustList { anchors, policy })
    }
}

impl fmt::Display for TrustList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for a in &self.anchors {
            writeln!(f, "{} ({}): {}", a.name, a.provider, a.scope)?;
        }
        Ok(())
    }
}

/// The 1-based number of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

/// One root certificate from a PEM (exactly one CERTIFICATE block) or DER file, checked to
/// be a well-formed CA certificate.
fn read_root(path: &Path) -> Result<CertificateDer<'static>, String> {
    // A PEM certificate is about 4/3 of its DER, plus header lines and comments.
    let bytes = read_bounded(path, 4 * MAX_CERT_LEN as u64)
        .map_err(|e| format!("cannot read the root certificate {}: {e}", path.display()))?;
    let der = match std::str::from_utf8(&bytes) {
        Ok(t) if t.trim_start().starts_with("-----BEGIN") => {
            let blocks = pem::parse_many(t)
                .map_err(|e| format!("{} is not valid PEM: {e}", path.display()))?;
            match blocks.as_slice() {
                [b] if b.tag() == "CERTIFICATE" => b.contents().to_vec(),
                _ => {
                    return Err(format!(
                        "{} must hold exactly one CERTIFICATE (the provider root), found {} PEM block(s)",
                        path.display(),
                        blocks.len()
                    ))
                }
            }
        }
        _ => bytes,
    };
    if der.len() > MAX_CERT_LEN {
        return Err(format!(
            "{} is {} bytes, larger than the {MAX_CERT_LEN} bytes a certificate may have",
            path.display(),
            der.len()
        ));
    }
    let (rest, cert) = X509Certificate::from_der(&der)
        .map_err(|e| format!("{} is not a certificate: {e}", path.display()))?;
    if !rest.is_empty() {
        return Err(format!(
            "{} has trailing bytes after the certificate",
            path.display()
        ));
    }
    if !is_p256(&cert) {
        return Err(format!(
            "{} does not hold a P-256 key: provider roots are ECDSA P-256 (profile mapping-v1)",
            path.display()
        ));
    }
    let is_ca = matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    if !is_ca {
        return Err(format!(
            "{} is not a CA certificate (no basicConstraints cA=TRUE): list the provider's root certificate",
            path.display()
        ));
    }
    Ok(CertificateDer::from(der))
}

/// Largest trust-list file read, in bytes.
pub const MAX_TRUST_LIST_LEN: u64 = 1024 * 1024;

/// The whole file, unless it is larger than `max` bytes (refused without reading it).
fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    if buf.len() as u64 > max {
        return Err(format!("the file is larger than {max} bytes"));
    }
    Ok(buf)
}

/// Whether the certificate's key is an EC key on P-256.
fn is_p256(cert: &X509Certificate<'_>) -> bool {
    use x509_parser::der_parser::oid;
    let alg = &cert.public_key().algorithm;
    alg.algorithm == oid!(1.2.840 .10045 .2 .1)
        && alg
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .is_some_and(|c| c == oid!(1.2.840 .10045 .3 .1 .7))
}
