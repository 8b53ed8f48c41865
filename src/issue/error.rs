//! Why a CA operation could not be done.

use std::path::Path;

/// Why a CA operation could not be done. Every message says what to change.
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
    #[error("{dir} already exists and is not empty: a CA directory is never overwritten; choose a new --dir")]
    DirExists {
        /// The directory.
        dir: String,
    },
    /// The directory is not a complete CA directory.
    #[error("{dir} is not a CA directory ({missing} is missing): create one with `mimi-attest ca init --config <provider.yaml> --dir {dir}`")]
    NotCaDir {
        /// The directory.
        dir: String,
        /// The first file found missing.
        missing: String,
    },
    /// The SII lies outside what this CA may attest.
    #[error("{sii} is outside this CA's scope ({scope}): this provider may not attest it; check the SII or the CA's scope")]
    OutOfScope {
        /// The canonical SII.
        sii: String,
        /// The CA's scope.
        scope: String,
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
        requested: String,
        /// validity.leaf_max.
        max: String,
    },
    /// The requested validity is zero or negative.
    #[error("validity {requested} is too short: a leaf must be valid for at least one second")]
    ValidityTooShort {
        /// What was asked for.
        requested: String,
    },
    /// The leaf would outlive its issuing CA.
    #[error("a leaf valid until {not_after} would outlive the issuing CA (valid until {ca_not_after}): ask for a shorter validity, or rotate the issuing CA")]
    OutlivesIssuer {
        /// The leaf's notAfter.
        not_after: String,
        /// The CA's notAfter.
        ca_not_after: String,
    },
    /// The issuing CA is not valid now.
    #[error("the issuing CA is not valid at {now} (valid {not_before} to {not_after}): rotate or re-create the CA")]
    IssuerNotValid {
        /// Now.
        now: String,
        /// CA notBefore.
        not_before: String,
        /// CA notAfter.
        not_after: String,
    },
    /// The issuing CA was revoked (`revoke --issuing-ca`): nothing is issued under it.
    #[error("the issuing CA {serial} was revoked at {revoked_at} ({reason}): nothing is issued or renewed under a revoked CA; make a new issuing CA with `mimi-attest ca rotate --ca <CA_DIR>` and issue again")]
    IssuerRevoked {
        /// The issuing CA's serial.
        serial: String,
        /// When it was revoked.
        revoked_at: String,
        /// Why.
        reason: String,
    },
    /// The issuing CA whose key would sign was revoked for key-compromise: nothing is signed
    /// with a key its own CA declared compromised (a CRL it signed would prove nothing).
    #[error("the issuing CA {serial} was revoked for key-compromise at {revoked_at}: nothing is signed with a key declared compromised, so no CRL is signed with it; make a new issuing CA with `mimi-attest ca rotate --ca <CA_DIR>`, then publish the root CRL with `mimi-attest crl --ca <CA_DIR> --root --out <FILE>`: it lists the compromised CA, and relying platforms checking `revocation: chain` reject every attestation under it once they have it")]
    IssuerCompromised {
        /// The issuing CA's serial.
        serial: String,
        /// When it was revoked.
        revoked_at: String,
    },
    /// `validated_at` lies in the future.
    #[error("validated-at {given} is in the future (now is {now}): give the time possession of the SII was actually proven")]
    ValidatedInFuture {
        /// What was given.
        given: String,
        /// Now.
        now: String,
    },
    /// Possession of the SII was proven too long ago for the certificate's whole life.
    #[error("validated-at {validated_at} is too old: relying platforms accept a proof of possession for {max_age}, so this attestation would go stale at {stale_at} before it expires; {fits}re-validate the SII and give the new --validated-at")]
    ValidationTooOld {
        /// validatedAt.
        validated_at: String,
        /// validity.max_validation_age.
        max_age: String,
        /// When it goes stale.
        stale_at: String,
        /// A validity that would still fit, phrased as advice (may be empty).
        fits: String,
    },
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
        serial: String,
    },
    /// A CA key file is unusable: encrypted without a passphrase, a wrong passphrase, not
    /// P-256, not PKCS#8.
    #[error("{path}: {message}")]
    Key {
        /// The key file (or "passphrase").
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The issuance store failed, or needs `store migrate`.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
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

impl From<crate::profile::ProfileError> for IssueError {
    fn from(e: crate::profile::ProfileError) -> Self {
        IssueError::Request(e.to_string())
    }
}

impl From<crate::sii::SiiError> for IssueError {
    fn from(e: crate::sii::SiiError) -> Self {
        IssueError::Request(e.to_string())
    }
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
