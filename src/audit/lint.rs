//! The lint runner: the profile's catalogue ([`crate::profile::lint`]) over every object of
//! an input, certificates also checked against their issuer when the input holds it, and
//! the report.

use serde::Serialize;
use x509_parser::prelude::{
    CertificateRevocationList, FromDer, GeneralName, X509Certificate, X509CertificationRequest,
};

use super::input::{Object, ObjectKind};
use crate::profile::lint::{
    key_id, run_cert, run_crl, run_csr, run_pair, sort, Finding, Role, Severity,
};
use crate::profile::{self, oids, Serial};

/// The findings for one object of an input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LintedObject {
    /// Position in the input (0-based).
    pub index: usize,
    /// Certificate, CSR or CRL.
    pub kind: ObjectKind,
    /// The certificate's role (certificates only).
    pub role: Option<Role>,
    /// Serial (certificates) or CRL number (CRLs), shown as lower-case hex.
    pub serial: Option<Serial>,
    /// Subject (certificates) or issuer (CRLs).
    pub name: String,
    /// What fired, most severe first.
    pub findings: Vec<Finding>,
}

/// Findings for every object of one input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LintReport {
    /// One entry per object, in input order.
    pub objects: Vec<LintedObject>,
}

impl LintReport {
    /// Every finding.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.objects.iter().flat_map(|o| o.findings.iter())
    }

    /// Whether any finding is at or above `threshold`.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.findings().any(|f| f.severity >= threshold)
    }

    /// How many findings of `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings().filter(|f| f.severity == severity).count()
    }
}

/// The findings for one named input of a lint run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LintedFile {
    /// The input's name (a path, or `-` for standard input).
    pub file: String,
    /// Its findings (serialized inline: `objects` next to `file`).
    #[serde(flatten)]
    pub report: LintReport,
}

impl LintedFile {
    /// The report for the input named `file`.
    pub fn new(file: impl Into<String>, report: LintReport) -> Self {
        LintedFile {
            file: file.into(),
            report,
        }
    }
}

/// How many findings of each severity a lint run has, over all its inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LintSummary {
    /// Findings of severity error.
    pub error: usize,
    /// Findings of severity warning.
    pub warning: usize,
    /// Findings of severity notice.
    pub notice: usize,
}

/// The outcome of linting several inputs against a threshold: what `mimi-attest lint
/// --format json` prints (docs/auditor.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LintRun {
    /// The severity at or above which a finding fails the run.
    pub threshold: Severity,
    /// Whether no input has a finding at or above `threshold`.
    pub passed: bool,
    /// Findings counted by severity.
    pub summary: LintSummary,
    /// One entry per input, in the order given.
    pub files: Vec<LintedFile>,
}

impl LintRun {
    /// The run over `files`, judged against `threshold`.
    pub fn new(threshold: Severity, files: Vec<LintedFile>) -> Self {
        let count = |s: Severity| files.iter().map(|f| f.report.count(s)).sum::<usize>();
        let summary = LintSummary {
            error: count(Severity::Error),
            warning: count(Severity::Warning),
            notice: count(Severity::Notice),
        };
        let passed = !files.iter().any(|f| f.report.fails(threshold));
        LintRun {
            threshold,
            passed,
            summary,
            files,
        }
    }
}

/// The index of `cert`'s issuer among `certs`: another certificate whose subject is its
/// issuer name, preferring one whose subjectKeyIdentifier its AKI names.
fn issuer_in(
    cert: &X509Certificate<'_>,
    me: usize,
    certs: &[Option<X509Certificate<'_>>],
) -> Option<usize> {
    if cert.subject() == cert.issuer() {
        return None;
    }
    let aki = key_id(cert, false);
    let named: Vec<usize> = certs
        .iter()
        .enumerate()
        .filter(|(j, c)| *j != me && c.as_ref().is_some_and(|c| c.subject() == cert.issuer()))
        .map(|(j, _)| j)
        .collect();
    named
        .iter()
        .copied()
        .find(|j| aki.is_some() && certs[*j].as_ref().and_then(|c| key_id(c, true)) == aki)
        .or_else(|| named.first().copied())
}

/// Lints every certificate, CRL and CSR of an input (a CSR against what the issuer
/// requires of it). A certificate whose issuer is in the same input is also checked
/// against it (the `e_chain_*` lints).
pub fn lint_objects(objects: &[Object]) -> LintReport {
    let parsed: Vec<Option<X509Certificate<'_>>> = objects
        .iter()
        .map(|o| match o.kind {
            ObjectKind::Certificate => X509Certificate::from_der(&o.der).ok().map(|(_, c)| c),
            _ => None,
        })
        .collect();
    let mut report = lint_each(objects);
    for (i, cert) in parsed.iter().enumerate() {
        let Some(cert) = cert else { continue };
        if let Some(j) = issuer_in(cert, i, &parsed) {
            let issuer = parsed[j]
                .as_ref()
                .expect("issuer_in returns parsed certificates");
            let obj = &mut report.objects[i];
            obj.findings.extend(run_pair(cert, issuer));
            sort(&mut obj.findings);
        }
    }
    report
}

fn lint_each(objects: &[Object]) -> LintReport {
    let objects = objects
        .iter()
        .enumerate()
        .map(|(index, o)| match o.kind {
            ObjectKind::Certificate => match X509Certificate::from_der(&o.der) {
                Ok((_, cert)) => {
                    let role = Role::of(&cert);
                    LintedObject {
                        index,
                        kind: o.kind,
                        role: Some(role),
                        serial: Some(Serial::from_contents(cert.raw_serial())),
                        name: super::inspect::name_string(cert.subject()),
                        findings: run_cert(&cert, role, Severity::Notice),
                    }
                }
                Err(e) => unreadable(index, o.kind, e.to_string()),
            },
            ObjectKind::Crl => match CertificateRevocationList::from_der(&o.der) {
                Ok((_, crl)) => LintedObject {
                    index,
                    kind: o.kind,
                    role: None,
                    serial: crl
                        .crl_number()
                        .map(|n| Serial::from_contents(&n.to_bytes_be())),
                    name: super::inspect::name_string(crl.issuer()),
                    findings: run_crl(&crl),
                },
                Err(e) => unreadable(index, o.kind, e.to_string()),
            },
            ObjectKind::Csr => match X509CertificationRequest::from_der(&o.der) {
                Ok((_, csr)) => LintedObject {
                    index,
                    kind: o.kind,
                    role: None,
                    serial: None,
                    name: super::inspect::name_string(&csr.certification_request_info.subject),
                    findings: run_csr(&csr),
                },
                Err(e) => unreadable(index, o.kind, e.to_string()),
            },
        })
        .collect();
    LintReport { objects }
}

/// `read_objects` already parsed every object, so this is unreachable in practice; kept
/// fail-closed for objects built by hand.
fn unreadable(index: usize, kind: ObjectKind, e: String) -> LintedObject {
    LintedObject {
        index,
        kind,
        role: None,
        serial: None,
        name: String::new(),
        findings: vec![Finding {
            id: "e_unparsable",
            severity: Severity::Error,
            message: "the object does not parse",
            citation: "RFC 5280 4.1",
            detail: e,
        }],
    }
}

/// Names a GeneralName's value for reports.
pub(crate) fn general_name_value(n: &GeneralName<'_>) -> String {
    match n {
        GeneralName::RFC822Name(s) | GeneralName::DNSName(s) | GeneralName::URI(s) => {
            (*s).to_owned()
        }
        GeneralName::DirectoryName(d) => super::inspect::name_string(d),
        GeneralName::IPAddress(b) => profile::hex(b),
        GeneralName::RegisteredID(o) => oids::dotted(o.as_bytes()),
        GeneralName::OtherName(o, v) => {
            format!("{}: {}", oids::dotted(o.as_bytes()), profile::hex(v))
        }
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys, their order and the values `mimi-attest lint --format json` prints.
    #[test]
    fn lint_run_json_shape() {
        let empty = LintRun::new(
            Severity::Warning,
            vec![LintedFile::new("a.pem", LintReport::default())],
        );
        assert_eq!(
            serde_json::to_string(&empty).unwrap(),
            r#"{"threshold":"warning","passed":true,"summary":{"error":0,"warning":0,"notice":0},"files":[{"file":"a.pem","objects":[]}]}"#
        );
    }
}
