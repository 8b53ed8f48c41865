//! The auditor's side: reading certificates, chains, CSRs and CRLs (PEM or DER), inspecting
//! them field by field, linting them against profile mapping-v1 and RFC 5280, reading
//! a CA's issuance store, and monitoring a transparency log.
//!
//! ```no_run
//! use mimi_attest::Severity;
//! let bytes = std::fs::read("chain.pem").unwrap();
//! let objects = mimi_attest::read_objects(&bytes).unwrap();
//! let report = mimi_attest::lint_objects(&objects);
//! assert!(!report.fails(Severity::Error));
//! ```

mod input;
mod inspect;
mod lint;
mod monitor;
mod store;
mod trustcheck;

pub use crate::profile::lint::{
    catalogue, lint_certificate, lint_certificate_min, lint_crl, lint_csr, Finding, Lint,
    LintError, LintTarget, Role, Severity,
};
pub use input::{read_objects, Object, ObjectKind};
pub use inspect::{
    inspect, AccessDescriptionReport, AuthorityInfoAccessReport, BasicConstraintsReport,
    CertificateReport, CrlEntryReport, CrlReport, CsrReport, EkuReport, FlagsReport, Inspection,
    KeyReport, KeyUsageReport, MappingReport, NameConstraintsReport, NamedOid, PoliciesReport,
    RawExtension, SanEntry, SanReport, ScopeReport, TnAuthListReport, TnEntryReport,
    ValidityReport,
};
pub use lint::{lint_objects, LintReport, LintRun, LintSummary, LintedFile, LintedObject};
pub use monitor::{
    LabelConflict, Monitor, MonitorReport, MonitoredEntry, ProviderVolume, MONITOR_STATE_FILE,
};
pub use store::{
    export_pem, store_records, store_schema_version, IssuerRevocation, RecordState, StoreQuery,
    StoreRecord,
};
pub use trustcheck::{check_trust_list, ListFinding};

/// Why an audit could not run. Every message says what was wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The input is not a certificate, chain, CSR or CRL in PEM or DER.
    #[error("{0}")]
    Input(String),
    /// An object could not be linted.
    #[error(transparent)]
    Lint(#[from] crate::profile::lint::LintError),
    /// The issuance store could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A log could not be read, or its checkpoint is not signed by the log's key.
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
    /// A monitor's state directory cannot be used.
    #[error(
        "monitor state {path}: {reason}; check the directory, or start afresh with an empty one"
    )]
    MonitorState {
        /// The state file or directory.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
}

pub(crate) use crate::profile::rfc3339;
