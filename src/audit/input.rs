//! Input detection: PEM (any number of blocks, text between them ignored) or DER (one CSR or
//! CRL, or one or more concatenated certificates).

use serde::Serialize;
use x509_parser::prelude::{
    CertificateRevocationList, FromDer, X509Certificate, X509CertificationRequest,
};

use super::AuditError;

/// What an input object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ObjectKind {
    /// An X.509 certificate.
    Certificate,
    /// A PKCS#10 certification request.
    Csr,
    /// A certificate revocation list.
    Crl,
}

impl ObjectKind {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Certificate => "certificate",
            ObjectKind::Csr => "csr",
            ObjectKind::Crl => "crl",
        }
    }
}

/// One certificate, CSR or CRL read from an input, as DER (already checked to parse).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Object {
    /// What it is.
    pub kind: ObjectKind,
    /// Its DER encoding.
    pub der: Vec<u8>,
}

const LABELS: &str = "CERTIFICATE, CERTIFICATE REQUEST, NEW CERTIFICATE REQUEST or X509 CRL";

fn kind_of_label(label: &str) -> Option<ObjectKind> {
    match label {
        "CERTIFICATE" => Some(ObjectKind::Certificate),
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => Some(ObjectKind::Csr),
        "X509 CRL" => Some(ObjectKind::Crl),
        _ => None,
    }
}

/// Parses `der` as `kind`, requiring no trailing bytes; the error says what failed.
fn check(kind: ObjectKind, der: &[u8]) -> Result<(), String> {
    let rest = match kind {
        ObjectKind::Certificate => X509Certificate::from_der(der)
            .map(|(r, _)| r)
            .map_err(|e| e.to_string()),
        ObjectKind::Csr => X509CertificationRequest::from_der(der)
            .map(|(r, _)| r)
            .map_err(|e| e.to_string()),
        ObjectKind::Crl => CertificateRevocationList::from_der(der)
            .map(|(r, _)| r)
            .map_err(|e| e.to_string()),
    }?;
    if rest.is_empty() {
        Ok(())
    } else {
        Err(format!("{} trailing bytes after the DER", rest.len()))
    }
}

/// Reads every certificate, CSR and CRL in `bytes`.
///
/// PEM is recognised by its `-----BEGIN` line; blocks must be labelled `CERTIFICATE`,
/// `CERTIFICATE REQUEST` (or `NEW CERTIFICATE REQUEST`) or `X509 CRL`, and text between
/// blocks (comments, `openssl -text` output) is ignored. Anything else is read as DER: one
/// or more concatenated certificates, or one CSR, or one CRL.
pub fn read_objects(bytes: &[u8]) -> Result<Vec<Object>, AuditError> {
    let objects = match crate::profile::input_form(bytes) {
        crate::profile::InputForm::Pem(_) => read_pem(bytes)?,
        crate::profile::InputForm::Der => read_der(bytes)?,
        _ => return Err(not_der()),
    };
    if objects.is_empty() {
        return Err(AuditError::Input(format!(
            "no certificate, CSR or CRL found: give PEM ({LABELS}) or DER"
        )));
    }
    Ok(objects)
}

fn read_pem(bytes: &[u8]) -> Result<Vec<Object>, AuditError> {
    let blocks = pem::parse_many(bytes)
        .map_err(|e| AuditError::Input(format!("the PEM is invalid: {e}")))?;
    let mut out = Vec::with_capacity(blocks.len());
    for (i, block) in blocks.into_iter().enumerate() {
        let n = i + 1;
        let Some(kind) = kind_of_label(block.tag()) else {
            let hint = if block.tag().contains("PRIVATE KEY") {
                " (a private key: never hand private keys to an auditor)"
            } else {
                ""
            };
            return Err(AuditError::Input(format!(
                "PEM block {n} is labelled {:?}{hint}; inspect and lint read {LABELS}",
                block.tag()
            )));
        };
        let der = block.into_contents();
        check(kind, &der).map_err(|e| {
            AuditError::Input(format!(
                "PEM block {n} is labelled as a {} but does not parse as one: {e}",
                kind.as_str()
            ))
        })?;
        out.push(Object { kind, der });
    }
    Ok(out)
}

fn not_der() -> AuditError {
    AuditError::Input(format!(
        "neither PEM nor a DER certificate, CSR or CRL: give PEM ({LABELS}) or DER"
    ))
}

/// `bytes` start with a SEQUENCE tag.
fn read_der(bytes: &[u8]) -> Result<Vec<Object>, AuditError> {
    // One or more concatenated certificates.
    let mut certs = Vec::new();
    let mut rest = bytes;
    while let Ok((r, _)) = X509Certificate::from_der(rest) {
        certs.push(Object {
            kind: ObjectKind::Certificate,
            der: rest[..rest.len() - r.len()].to_vec(),
        });
        rest = r;
        if rest.is_empty() {
            return Ok(certs);
        }
    }
    if !certs.is_empty() {
        return Err(AuditError::Input(format!(
            "after {} DER certificate(s), {} bytes that are not a certificate",
            certs.len(),
            rest.len()
        )));
    }
    for kind in [ObjectKind::Csr, ObjectKind::Crl] {
        if check(kind, bytes).is_ok() {
            return Ok(vec![Object {
                kind,
                der: bytes.to_vec(),
            }]);
        }
    }
    Err(not_der())
}
