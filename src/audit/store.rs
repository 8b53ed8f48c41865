//! The issuance store as an auditor sees it: rows with their state at a given time, and an
//! export of every issued certificate with its record.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;

use super::{rfc3339, AuditError};
use crate::profile::{self, Serial};
use crate::sii::Sii;
use crate::store::{CertKind, CertStatus, IssuanceStore, StoredCert};

/// Where a stored certificate is in its life at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RecordState {
    /// Issued, not revoked, inside its validity.
    Valid,
    /// Issued, not revoked, notBefore still ahead.
    NotYetValid,
    /// Issued, not revoked, past notAfter.
    Expired,
    /// Revoked.
    Revoked,
    /// Serial reserved, signing not finished.
    Reserved,
    /// Reservation given up (signing or pre-issuance lint failed); never handed out.
    Abandoned,
}

impl RecordState {
    /// The name shown in reports (`valid`, `not-yet-valid`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::Valid => "valid",
            RecordState::NotYetValid => "not-yet-valid",
            RecordState::Expired => "expired",
            RecordState::Revoked => "revoked",
            RecordState::Reserved => "reserved",
            RecordState::Abandoned => "abandoned",
        }
    }

    fn of(row: &StoredCert, now: OffsetDateTime) -> RecordState {
        match row.status {
            CertStatus::Revoked => RecordState::Revoked,
            CertStatus::Reserved => RecordState::Reserved,
            CertStatus::Abandoned => RecordState::Abandoned,
            _ if now < row.not_before => RecordState::NotYetValid,
            _ if now >= row.not_after => RecordState::Expired,
            _ => RecordState::Valid,
        }
    }
}

/// Which rows to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreQuery {
    /// Only rows for this SII.
    pub sii: Option<Sii>,
    /// Only rows in this state.
    pub state: Option<RecordState>,
}

impl StoreQuery {
    /// This query, for the records of `sii` only.
    pub fn with_sii(mut self, sii: Sii) -> Self {
        self.sii = Some(sii);
        self
    }

    /// This query, for records in `state` only.
    pub fn with_state(mut self, state: RecordState) -> Self {
        self.state = Some(state);
        self
    }
}

/// One store row as an auditor sees it (times RFC 3339 UTC, serials lower-case hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StoreRecord {
    /// Serial.
    pub serial: Serial,
    /// `root`, `ca` or `leaf`.
    pub kind: &'static str,
    /// State at the query time.
    pub state: RecordState,
    /// The stored status (`issued`, `revoked`, `reserved`, `abandoned`).
    pub status: &'static str,
    /// Canonical SII (leaves).
    pub sii: Option<String>,
    /// Handle.
    pub handle: Option<String>,
    /// Validation method.
    pub method: Option<String>,
    /// validatedAt.
    pub validated_at: Option<String>,
    /// notBefore.
    pub not_before: String,
    /// notAfter.
    pub not_after: String,
    /// Serial of the issuing certificate.
    pub issuer_serial: Option<Serial>,
    /// Idempotency key of the request.
    pub request_id: Option<String>,
    /// SHA-256 (hex) of the CSR the key came from.
    pub csr_sha256: Option<String>,
    /// SHA-256 (hex) of the certificate DER: compare with `sha256_fingerprint` of `inspect`.
    pub sha256_fingerprint: Option<String>,
    /// When the row was written.
    pub created_at: String,
    /// When it was revoked.
    pub revoked_at: Option<String>,
    /// Why it was revoked.
    pub revocation_reason: Option<String>,
    /// Set when the certificate that issued this one (its issuing CA) is revoked: the record
    /// is then `revoked` through it, even though its own status is still `issued`.
    pub issuer_revocation: Option<IssuerRevocation>,
}

/// The revocation of the issuing CA a record was signed by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct IssuerRevocation {
    /// The issuing CA's serial.
    pub serial: Serial,
    /// When it was revoked.
    pub revoked_at: Option<String>,
    /// Why (`key-compromise`, `superseded`, `unspecified`).
    pub reason: Option<String>,
}

/// The revoked issuing CAs of a store, by serial.
type RevokedIssuers = HashMap<Serial, IssuerRevocation>;

fn revoked_issuers(rows: &[StoredCert]) -> RevokedIssuers {
    rows.iter()
        .filter(|r| r.kind == CertKind::Ca && r.status == CertStatus::Revoked)
        .map(|r| {
            (
                r.serial.clone(),
                IssuerRevocation {
                    serial: r.serial.clone(),
                    revoked_at: r.revoked_at.map(rfc3339),
                    reason: r.revocation_reason.map(|r| r.as_str().to_owned()),
                },
            )
        })
        .collect()
}

impl StoreRecord {
    fn new(row: &StoredCert, now: OffsetDateTime, revoked: &RevokedIssuers) -> Self {
        // A leaf of a revoked issuing CA is rejected by relying platforms that check the
        // chain: it is shown revoked through its CA. Reservations and abandoned rows were
        // never handed out and keep their state.
        let issuer_revocation = match row.status {
            CertStatus::Issued => row
                .issuer_serial
                .as_ref()
                .and_then(|s| revoked.get(s))
                .cloned(),
            _ => None,
        };
        let state = if issuer_revocation.is_some() {
            RecordState::Revoked
        } else {
            RecordState::of(row, now)
        };
        StoreRecord {
            serial: row.serial.clone(),
            kind: row.kind.as_str(),
            state,
            status: row.status.as_str(),
            sii: row.sii.as_ref().map(Sii::canonical),
            handle: row.handle.clone(),
            method: row.method.map(|m| m.as_str().to_owned()),
            validated_at: row.validated_at.map(rfc3339),
            not_before: rfc3339(row.not_before),
            not_after: rfc3339(row.not_after),
            issuer_serial: row.issuer_serial.clone(),
            request_id: row.request_id.clone(),
            csr_sha256: row.csr_sha256.clone(),
            sha256_fingerprint: row.der.as_ref().map(|d| profile::hex(&profile::sha256(d))),
            created_at: rfc3339(row.created_at),
            revoked_at: row.revoked_at.map(rfc3339),
            revocation_reason: row.revocation_reason.map(|r| r.as_str().to_owned()),
            issuer_revocation,
        }
    }

    /// The state as shown to people: `revoked (issuing CA revoked: key-compromise)` for a
    /// record revoked through its issuing CA, else the state's name.
    pub fn state_text(&self) -> String {
        match &self.issuer_revocation {
            Some(r) => format!(
                "revoked (issuing CA revoked: {})",
                r.reason.as_deref().unwrap_or("unspecified")
            ),
            None => self.state.as_str().to_owned(),
        }
    }

    /// The record as `# key: value` lines (the header of each certificate in an export).
    pub fn comment_lines(&self) -> String {
        let mut o = String::new();
        let mut line = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                let _ = writeln!(o, "# {k}: {v}");
            }
        };
        line("serial", Some(&self.serial.to_string()));
        line("kind", Some(self.kind));
        line("state", Some(self.state.as_str()));
        line("status", Some(self.status));
        line("sii", self.sii.as_deref());
        line("handle", self.handle.as_deref());
        line("method", self.method.as_deref());
        line("validated_at", self.validated_at.as_deref());
        line("not_before", Some(&self.not_before));
        line("not_after", Some(&self.not_after));
        line(
            "issuer_serial",
            self.issuer_serial
                .as_ref()
                .map(Serial::to_string)
                .as_deref(),
        );
        line("request_id", self.request_id.as_deref());
        line("csr_sha256", self.csr_sha256.as_deref());
        line("sha256_fingerprint", self.sha256_fingerprint.as_deref());
        line("created_at", Some(&self.created_at));
        line("revoked_at", self.revoked_at.as_deref());
        line("revocation_reason", self.revocation_reason.as_deref());
        if let Some(r) = &self.issuer_revocation {
            line(
                "issuer_revoked",
                Some(&format!(
                    "{} at {} ({})",
                    r.serial,
                    r.revoked_at.as_deref().unwrap_or("-"),
                    r.reason.as_deref().unwrap_or("unspecified")
                )),
            );
        }
        o
    }
}

/// Auditors read the store read-only: it is never changed, not even upgraded. The store is
/// `store.db`, or the PostgreSQL store the CA directory's `config.yaml` names (read in a
/// read-only session, as a user that may have SELECT only).
fn open(ca_dir: &Path) -> Result<IssuanceStore, AuditError> {
    #[cfg(feature = "postgres")]
    {
        let config = ca_dir.join(crate::issue::CONFIG_FILE);
        if config.is_file() {
            let shared = crate::issue::CaConfig::from_file(&config)
                .and_then(|c| c.store.map(|s| s.target(ca_dir)).transpose())
                .map_err(|e| AuditError::Input(e.to_string()))?;
            if let Some(target) = shared {
                return Ok(IssuanceStore::open_postgres_read_only(&target)?);
            }
        }
    }
    Ok(IssuanceStore::open_read_only(
        &ca_dir.join(crate::store::STORE_FILE),
    )?)
}

/// The schema version of the CA directory's store, read without changing it: older than
/// [`crate::store::STORE_SCHEMA_VERSION`] means it needs `mimi-attest store migrate` before
/// the CA can issue or revoke (it can be listed and exported as it is).
pub fn store_schema_version(ca_dir: &Path) -> Result<u32, AuditError> {
    Ok(open(ca_dir)?.schema_version())
}

/// The rows of the CA directory's store that match `query`, oldest first, with their state
/// at `now`. Needs only `store.db`, not the CA's keys.
pub fn store_records(
    ca_dir: &Path,
    query: &StoreQuery,
    now: OffsetDateTime,
) -> Result<Vec<StoreRecord>, AuditError> {
    let rows = open(ca_dir)?.all()?;
    let revoked = revoked_issuers(&rows);
    Ok(rows
        .iter()
        .filter(|r| query.sii.is_none() || r.sii == query.sii)
        .map(|r| StoreRecord::new(r, now, &revoked))
        .filter(|r| query.state.is_none_or(|s| r.state == s))
        .collect())
}

/// Every certificate the store holds a signature for (issued or revoked; roots and CAs
/// too), oldest first, each as its record in `# key: value` comment lines followed by the
/// certificate PEM. `inspect` and `lint` read this format directly (they skip the comments).
pub fn export_pem(ca_dir: &Path, now: OffsetDateTime) -> Result<String, AuditError> {
    let mut out = String::new();
    let rows = open(ca_dir)?.all()?;
    let revoked = revoked_issuers(&rows);
    for row in &rows {
        let Some(der) = &row.der else { continue };
        out.push_str(&StoreRecord::new(row, now, &revoked).comment_lines());
        crate::profile::push_pem_certificate(&mut out, der);
        out.push('\n');
    }
    Ok(out)
}
