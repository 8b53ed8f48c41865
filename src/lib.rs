//! # mimi-attest
//!
//! Mapping attestations for messaging interoperability (IETF MIMI user discovery).
//!
//! A messaging provider acts as a certificate authority and issues short-lived X.509
//! *mapping attestations*: "SII X (a phone number or email address) is served by provider P
//! as handle H; possession was proven by method M at time T". Relying platforms verify such
//! chains offline against a trust list that says which provider may assert what. Auditors
//! inspect and lint chains and issuance records.
//!
//! Every public item is here, at the crate root, under one path. By user:
//!
//! - **Relying platform** (every build; `default-features = false` gives this alone):
//!   [`TrustList`] (from YAML, or in memory with [`TrustList::builder`]) with its [`Policy`],
//!   a [`Verifier`] over it ([`Verifier::verify`], or [`Verifier::verify_with`] and
//!   [`VerifyOptions`]) giving a [`VerifiedMapping`] or a [`VerifyError`] with its stable
//!   [`Code`]; [`Verifier::resolve`] for several attestations of one SII ([`Resolution`]);
//!   [`chain_from_pem`] and [`crls_from_pem`] for PEM input; the identifiers ([`Sii`]) and
//!   what a mapping says ([`Method`], [`MappingFlags`], [`Scope`]).
//! - **Provider** (feature `ca`): `ProviderCa` issues (`IssueRequest`, `Issued`,
//!   `run_batch`), revokes and signs CRLs (`CaRecords`), renews and rotates
//!   (`needs_renewal`, `RootKey`); its records are an `IssuanceStore`.
//! - **Auditor** (feature `ca`): `inspect`, the lint (`lint_objects`,
//!   `lint_certificate`, `catalogue`), and the store's records (`store_records`).
//! - **Log** (every build): [`check_mapping_proof`] with [`LogKeys`] and [`TlogProof`];
//!   [`verify_inclusion`] and [`verify_consistency`] for monitors. With feature `ca`: the
//!   log operator (`LogOperator`, `LogWriter`, log directories), the witness (`Witness`)
//!   and the monitor (`Monitor`).
//!
//! The layers behind them (`sii`, `profile`, `log`, `trust`, `verify`, `store`, `issue`,
//! `audit`; lowest first) are private modules, each documented in its source.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "ca")]
mod audit;
#[cfg(feature = "ca")]
mod issue;
mod log;
mod profile;
#[cfg(feature = "server")]
mod serve;
mod sii;
#[cfg(feature = "ca")]
mod store;
mod trust;
mod verify;

/// The certificate and CRL types of the API (`CertificateDer`, `CertificateRevocationListDer`),
/// from `rustls-pki-types`, as rustls re-exports them.
pub use rustls_pki_types as pki_types;
/// The time types of the API (`OffsetDateTime`), from the `time` crate.
pub use time;

// The relying platform: identifiers, the profile's types, trust lists, verification.
pub use profile::{
    oids, MappingFlags, Method, MimiMapping, ProfileError, ProviderDomain, Scope, ScopeSpec,
    Serial, Span,
};
pub use sii::{Sii, SiiError, SiiKind};
pub use trust::{
    Accepted, Anchor, LogProofPolicy, Policy, Refusal, RevocationPolicy, ScopeRule,
    SignedTrustList, SignerSet, TrustList, TrustListBuilder, TrustListError, TrustListSource,
    TrustedLog, TrustedWitness,
};
pub use verify::{
    chain_from_pem, crls_from_pem, CertNote, Code, Conflict, CrlError, CrlNote, LogInclusion,
    Rejected, Reload, ReloadingVerifier, Resolution, Resolved, TrustListWatch, Verification,
    VerifiedMapping, Verifier, VerifyError, VerifyOptions,
};

// The transparency log: checking proofs and writing the log.
/// Entry bundles (`tile/entries/<N>`) as tlog-tiles encodes them, for tools that read a log's
/// files themselves.
#[cfg(feature = "ca")]
pub use log::tiles::{decode_bundle, encode_bundle};
pub use log::{
    check_mapping_proof, leaf_hash, verify_consistency, verify_inclusion, CheckedProof, Checkpoint,
    KeyType, LogError, LogKeys, MappingLogEntry, NoteSigningKey, NoteVerifierKey, SignedCheckpoint,
    TlogProof, VrfOutput, VrfProof, VrfPublicKey, VrfSecretKey,
};
/// The log operator's and the witness's sides.
#[cfg(feature = "ca")]
pub use log::{
    AddCheckpoint, LogOperator, LogWriter, Logged, Submission, Witness, WitnessError, LOG_LOCK_WAIT,
};

// The provider CA.
/// Crash-safe file writing (a temporary file synced, then renamed into place, never over a
/// file that must not be replaced). The CA writes its own files with it; it is public so that
/// the `mimi-attest` command writes what it outputs (keys, CRLs, batch results) the same way.
#[cfg(feature = "ca")]
pub use issue::files::{write_atomic, FileMode, Overwrite, PendingFile};
/// Log and witness directories: their keys kept like CA keys, their public description.
#[cfg(feature = "ca")]
pub use issue::{
    init_log, init_signing_key, init_witness, log_keys, open_log, open_signing_key, open_witness,
    witness_key, LOG_CONFIG, LOG_KEY, VRF_KEY, WITNESS_CONFIG, WITNESS_KEY,
};
#[cfg(feature = "ca")]
pub use issue::{
    needs_renewal, run_batch, BatchSummary, CaConfig, CaRecords, CrlConfig, IssueError,
    IssueRequest, Issued, IssuingCaRevocation, KeyProblem, KeyProtection, LogConfig, NumberCheck,
    Passphrase, ProviderCa, RenewalWindow, RevocationTarget, RevokeOutcome, RevokeReason,
    RevokeRefusal, RootKey, SignedCrl, StoreConfig, SubjectKey, ValidityConfig, PASSWORD_ENV,
    STORE_PASSWORD_ENV,
};
#[cfg(feature = "ca")]
pub use store::{
    CertKind, CertStatus, IssuanceStore, RevokedEntry, StoreError, StoreMigration, StoredCert,
    STORE_FILE, STORE_SCHEMA_VERSION,
};

// The exchange service and its client.
#[cfg(feature = "server")]
pub use serve::{
    write_dev_certs, AccessLogLine, ClientError, DevCerts, DevCertsError, DevCertsRequest, DevFile,
    DevPlatform, Limits, LookupAnswer, LookupClient, LookupItem, RateLimit, ServeConfig,
    ServeError, Server, ServerEvent, ServerHandle, WitnessConfig, DEV_CERT_VALIDITY, MAX_BODY_LEN,
};

// The auditor.
#[cfg(feature = "ca")]
pub use audit::{
    catalogue, check_trust_list, export_pem, inspect, lint_certificate, lint_certificate_min,
    lint_crl, lint_csr, lint_objects, read_objects, store_records, store_schema_version,
    AccessDescriptionReport, AuditError, AuthorityInfoAccessReport, BasicConstraintsReport,
    CertificateReport, CrlEntryReport, CrlReport, CsrReport, EkuReport, Finding, FlagsReport,
    Inspection, IssuerRevocation, KeyReport, KeyUsageReport, LabelConflict, Lint, LintError,
    LintReport, LintRun, LintSummary, LintTarget, LintedFile, LintedObject, ListFinding,
    MappingReport, Monitor, MonitorReport, MonitoredEntry, NameConstraintsReport, NamedOid, Object,
    ObjectKind, PoliciesReport, ProviderVolume, RawExtension, RecordState, Role, SanEntry,
    SanReport, ScopeReport, Severity, StoreQuery, StoreRecord, TnAuthListReport, TnEntryReport,
    ValidityReport, MONITOR_STATE_FILE,
};

/// Helpers of the profile that the integration tests and the demo's forged chains use to
/// build and check certificates by hand; not part of the API.
#[doc(hidden)]
pub use profile::{
    ca_scope, certificate_policies_der, hex, leaf_mapping, leaf_sii, rfc3339, sha256, unhex,
};

/// The provider CA's leaf template, for the demo's forged chains; not part of the API.
#[cfg(feature = "ca")]
#[doc(hidden)]
pub use issue::leaf_params;

/// The README's Rust examples, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
