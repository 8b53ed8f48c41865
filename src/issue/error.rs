//! Why a CA operation could not be done.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::RevokeReason;
use crate::profile::{rfc3339, ProfileError, Scope, Serial, Span};
use crate::sii::{Sii, SiiError};
use crate::store::CertStatus;

/// Why a CA operation could not be done. Every message says what to change, in the
/// library's terms; the CLI words its advice in flags.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The CA config is unreadable or invalid.
    #[error("{path}: {message}")]
    Config {
        /// The config's path (or origin).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong and what to do.
        message: String,
    },
    /// `ca init` found something already at the target directory.
    #[error("{} already exists and is not empty: a CA directory is never overwritten; choose another directory", dir.display())]
    DirExists {
        /// The directory.
        dir: PathBuf,
    },
    /// The directory is not a complete CA directory.
    #[error("{} is not a CA directory ({missing} is missing): create one with `ca init`", dir.display())]
    NotCaDir {
        /// The directory.
        dir: PathBuf,
        /// The first file found missing.
        missing: String,
    },
    /// A step that signs with the provider root (`step`: rotation, a root CRL) found no
    /// root key at `path`.
    #[error("{}: {step} needs the provider root's key{}", path.display(), if *in_ca_dir { ": bring root.key back from offline storage for this step, or give the path of the file that holds it" } else { ", and there is no file here: give the path of the root.key that `ca init` wrote" })]
    RootKeyMissing {
        /// Where the key was looked for.
        path: PathBuf,
        /// The step that needs it.
        step: &'static str,
        /// Whether that was `root.key` in the CA directory (not a path given for it).
        in_ca_dir: bool,
    },
    /// The SII lies outside what this CA may attest.
    #[error("{sii} is outside this CA's scope ({scope}): this provider may not attest it; check the SII or the CA's scope")]
    OutOfScope {
        /// The SII.
        sii: Sii,
        /// The CA's scope.
        scope: Scope,
    },
    /// A phone number that its country's numbering plan rules out (or, with
    /// `numbers: valid`, does not assign).
    #[error("{number} is not a number this CA attests: {reason}")]
    ImpossibleNumber {
        /// The canonical SII.
        number: String,
        /// Why, and what to do.
        reason: String,
    },
    /// The requested leaf validity is longer than the CA allows.
    #[error("validity {requested} is longer than this CA's maximum leaf validity {max}: ask for {max} or less")]
    ValidityTooLong {
        /// What was asked for.
        requested: Span,
        /// validity.leaf_max.
        max: Span,
    },
    /// The requested validity is zero or negative.
    #[error("validity {requested} is too short: a leaf must be valid for at least one second")]
    ValidityTooShort {
        /// What was asked for.
        requested: Span,
    },
    /// The leaf would outlive its issuing CA.
    #[error("a leaf valid until {} would outlive the issuing CA (valid until {}): ask for a shorter validity, or rotate the issuing CA", rfc3339(*not_after), rfc3339(*ca_not_after))]
    OutlivesIssuer {
        /// The leaf's notAfter.
        not_after: OffsetDateTime,
        /// The CA's notAfter.
        ca_not_after: OffsetDateTime,
    },
    /// The issuing CA (or, for a step that signs with it, the provider root) is not valid now.
    #[error("the issuing CA is not valid at {} (valid {} to {}): rotate or re-create the CA", rfc3339(*now), rfc3339(*not_before), rfc3339(*not_after))]
    IssuerNotValid {
        /// Now.
        now: OffsetDateTime,
        /// CA notBefore.
        not_before: OffsetDateTime,
        /// CA notAfter.
        not_after: OffsetDateTime,
    },
    /// The issuing CA was revoked ([`RevocationTarget::IssuingCa`](super::RevocationTarget::IssuingCa)):
    /// nothing is issued under it.
    #[error("the issuing CA {serial} was revoked at {} ({reason}): nothing is issued or renewed under a revoked CA; make a new issuing CA (rotate the CA) and issue again", time_or_unknown(*revoked_at))]
    IssuerRevoked {
        /// The issuing CA's serial.
        serial: Serial,
        /// When it was revoked.
        revoked_at: Option<OffsetDateTime>,
        /// Why.
        reason: String,
    },
    /// The issuing CA whose key would sign was revoked for key-compromise: nothing is signed
    /// with a key its own CA declared compromised (a CRL it signed would prove nothing).
    #[error("the issuing CA {serial} was revoked for key-compromise at {}: nothing is signed with a key declared compromised, so no CRL is signed with it; make a new issuing CA (rotate the CA), then publish the root CRL: it lists the compromised CA, and relying platforms checking `revocation: chain` reject every attestation under it once they have it", time_or_unknown(*revoked_at))]
    IssuerCompromised {
        /// The issuing CA's serial.
        serial: Serial,
        /// When it was revoked.
        revoked_at: Option<OffsetDateTime>,
    },
    /// `validated_at` lies in the future.
    #[error("validated-at {} is in the future (now is {}): give the time possession of the SII was actually proven", rfc3339(*given), rfc3339(*now))]
    ValidatedInFuture {
        /// What was given.
        given: OffsetDateTime,
        /// Now.
        now: OffsetDateTime,
    },
    /// Possession of the SII was proven too long ago for the certificate's whole life.
    #[error("validated-at {} is too old: relying platforms accept a proof of possession for {max_age}, so this attestation would go stale at {} before it expires; {}re-validate the SII and give the new validated-at time", rfc3339(*validated_at), rfc3339(*stale_at), fits.map(|f| format!("ask for a validity of {f} or less, or ")).unwrap_or_default())]
    ValidationTooOld {
        /// validatedAt.
        validated_at: OffsetDateTime,
        /// validity.max_validation_age.
        max_age: Span,
        /// When it goes stale.
        stale_at: OffsetDateTime,
        /// The longest validity that would still fit, if any.
        fits: Option<Span>,
    },
    /// A serial that this CA's store does not hold.
    #[error("serial {serial} was not issued by this CA (it is not in {}): check the serial and the CA directory", store.display())]
    UnknownSerial {
        /// The serial, in store form.
        serial: Serial,
        /// The store looked in.
        store: PathBuf,
    },
    /// A revocation that is refused for what the serial is.
    #[error(transparent)]
    Revoke(#[from] RevokeRefusal),
    /// The subject key material (CSR or public key) is unusable.
    #[error("{0}")]
    SubjectKey(String),
    /// A request field is invalid.
    #[error("{0}")]
    Request(String),
    /// A request id was used before for a different request.
    #[error("request id {id:?} was already used for a different request (serial {serial}): give this request a new id")]
    RequestIdConflict {
        /// The id.
        id: String,
        /// The certificate the id is bound to.
        serial: Serial,
    },
    /// A CA key file is unusable: encrypted without a passphrase, a wrong passphrase, not
    /// P-256, not PKCS#8.
    #[error("{}: {problem}", path.display())]
    Key {
        /// The key file (or the passphrase file).
        path: PathBuf,
        /// What is wrong with it.
        problem: KeyProblem,
    },
    /// A passphrase was given empty.
    #[error("passphrase: the passphrase is empty: give a non-empty one")]
    EmptyPassphrase,
    /// An SII that does not parse.
    #[error(transparent)]
    Sii(#[from] SiiError),
    /// A profile value (method, span, handle, extension) that does not parse or is refused.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The issuance store failed, or needs `store migrate`.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A transparency log or its files could not be used.
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
    /// A witness refused a checkpoint, or its state could not be used.
    #[error(transparent)]
    Witness(#[from] crate::log::WitnessError),
    /// Building or signing a certificate failed.
    #[error("could not sign the certificate: {0}")]
    Sign(String),
    /// The pre-issuance lint found errors; nothing was issued.
    #[error("refused to issue: the certificate fails lint: {findings}")]
    LintFailed {
        /// The error-level findings, one per line.
        findings: String,
    },
}

/// What is wrong with a CA key file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyProblem {
    /// Larger than any key file.
    #[error("larger than {max} bytes: this is not a key file")]
    TooLarge {
        /// The largest key file read, in bytes.
        max: u64,
    },
    /// Not a PEM private key.
    #[error(
        "not a PEM private key (expected PKCS#8 \"PRIVATE KEY\" or \"ENCRYPTED PRIVATE KEY\")"
    )]
    NotPem,
    /// Encrypted, and no passphrase was given.
    #[error("the key is encrypted: give its passphrase")]
    NeedsPassphrase,
    /// The passphrase does not decrypt it.
    #[error("wrong passphrase (or the key file is damaged)")]
    WrongPassphrase,
    /// Not a valid encrypted PKCS#8 structure.
    #[error("not a valid encrypted PKCS#8 key: {0}")]
    BadEncryptedKey(String),
    /// Encrypted with scrypt parameters too costly to try.
    #[error("the key's scrypt parameters are too costly to try (N > 2^20, r > 16 or p > 4)")]
    TooCostly,
    /// A key in a legacy (non-PKCS#8) format.
    #[error("a \"{label}\" key: CA keys are P-256 PKCS#8; convert with `openssl pkcs8 -topk8 -in {} -out NEW`", path.display())]
    NotPkcs8 {
        /// The PEM label.
        label: String,
        /// The file, for the command that converts it.
        path: PathBuf,
    },
    /// A PEM block that holds no private key.
    #[error("a PEM \"{label}\" block, not a private key (expected \"PRIVATE KEY\" or \"ENCRYPTED PRIVATE KEY\")")]
    NotAKey {
        /// The PEM label.
        label: String,
    },
    /// rcgen cannot use it.
    #[error("not a usable private key: {0}")]
    Unusable(#[source] rcgen::Error),
    /// Not a P-256 key.
    #[error("not a P-256 key: CA keys are ECDSA P-256 (ecdsa-with-SHA256) only")]
    NotP256,
    /// Not an Ed25519 key (log, VRF and witness keys are Ed25519, RFC 8410).
    #[error("not an Ed25519 key: log, VRF and witness keys are Ed25519 PKCS#8 (RFC 8410)")]
    NotEd25519,
    /// A passphrase file that is not UTF-8.
    #[error("the password file is not UTF-8 text")]
    PassphraseNotUtf8,
    /// A passphrase file with nothing on its first line.
    #[error("the password file is empty: write the passphrase on its first line")]
    PassphraseFileEmpty,
}

/// A revocation refused for what the certificate is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevokeRefusal {
    /// The provider root: a trust anchor, never revoked.
    #[error("serial {serial} is the provider's root certificate, a trust anchor: it is never revoked (a CRL it signed about itself would prove nothing); if it must not be trusted any more, ask relying platforms to remove it from their trust lists and create a new CA with `ca init`")]
    Root {
        /// The root's serial.
        serial: Serial,
    },
    /// An issuing CA, asked to be revoked as an attestation.
    #[error("serial {serial} is the provider's issuing CA certificate, not an attestation: CA certificates are not revoked as attestations; to revoke the issuing CA (and with it every attestation it signed) revoke it as an issuing CA")]
    IssuingCaAsAttestation {
        /// The CA's serial.
        serial: Serial,
    },
    /// An attestation, asked to be revoked as an issuing CA.
    #[error("serial {serial} is an attestation, not an issuing CA: revoke it as an attestation")]
    AttestationAsIssuingCa {
        /// The leaf's serial.
        serial: Serial,
    },
    /// A reason that describes a user, given for a CA.
    #[error("reason {reason} describes a user, not a CA: revoke an issuing CA for key-compromise, superseded or unspecified")]
    ReasonNotForCa {
        /// The reason.
        reason: RevokeReason,
    },
    /// A serial whose certificate was never issued.
    #[error("serial {serial} was never issued (status {status}): there is nothing to revoke")]
    NeverIssued {
        /// The serial.
        serial: Serial,
        /// Its store status.
        status: CertStatus,
    },
}

/// A time for a message, or that it is not known.
fn time_or_unknown(t: Option<OffsetDateTime>) -> String {
    t.map(rfc3339).unwrap_or_default()
}

pub(super) fn io_err(path: &Path, what: &str, e: std::io::Error) -> IssueError {
    IssueError::Io {
        path: path.display().to_string(),
        message: format!("{what}: {e}"),
    }
}

pub(super) fn sign_err(e: rcgen::Error) -> IssueError {
    IssueError::Sign(e.to_string())
}
