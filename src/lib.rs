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
//! - [`sii`]: service-independent identifiers and their canonical form.
//! - [`profile`]: certificate profile mapping-v1 (OIDs, extensions).
//! - [`log`]: transparency log mapping-log-v1 (entries, VRF labels, tiles, checkpoints, proofs).
//! - [`issue`]: the provider CA (create, issue, batch, store).
//! - [`trust`]: the relying platform's trust list and verification policy.
//! - [`verify`]: the relying platform (chain verification, resolving an SII).
//! - [`audit`]: inspecting and linting certificates, chains, CSRs, CRLs and the store.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "ca")]
pub mod audit;
#[cfg(feature = "ca")]
pub mod issue;
pub mod log;
pub mod profile;
pub mod sii;
#[cfg(feature = "ca")]
pub mod store;
pub mod trust;
pub mod verify;

/// The certificate and CRL types of the API (`CertificateDer`, `CertificateRevocationListDer`),
/// from `rustls-pki-types`, as rustls re-exports them.
pub use rustls_pki_types as pki_types;
/// The time types of the API (`OffsetDateTime`), from the `time` crate.
pub use time;

#[cfg(feature = "ca")]
pub use audit::{AuditError, Finding, Lint, Role, Severity};
#[cfg(feature = "ca")]
pub use issue::{
    CaConfig, CaRecords, IssueError, IssueRequest, Issued, KeyProtection, Passphrase, ProviderCa,
    SubjectKey,
};
pub use log::{
    check_mapping_proof, CheckedProof, Checkpoint, KeyType, LogError, LogKeys, LogWriter,
    MappingLogEntry, NoteSigningKey, NoteVerifierKey, SignedCheckpoint, TlogProof, VrfOutput,
    VrfProof, VrfPublicKey, VrfSecretKey,
};
pub use profile::{MappingFlags, Method, MimiMapping, ProfileError, Scope, Span};
pub use sii::{Sii, SiiError, SiiKind};
pub use trust::{Policy, RevocationPolicy, TrustList, TrustListBuilder, TrustListError};
pub use verify::{
    chain_from_pem, crls_from_pem, CertNote, Code, Conflict, CrlError, CrlNote, Rejected,
    Resolution, Resolved, Verification, VerifiedMapping, Verifier, VerifyError, VerifyOptions,
};

/// The README's Rust examples, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
