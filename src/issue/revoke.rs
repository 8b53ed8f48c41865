//! Withdrawing attestations before they expire: `revoke` (by serial or by SII) and `crl`.
//!
//! Reasons and their RFC 5280 (5.3.1) reason codes:
//!
//! | reason | CRLReason | why |
//! | --- | --- | --- |
//! | `key-compromise` | keyCompromise (1) | the user's key is known or suspected to be compromised |
//! | `sii-reassigned` | affiliationChanged (3) | the number or address now belongs to someone else: the certificate's identifying information is no longer true of its subject |
//! | `account-closed` | cessationOfOperation (5) | the user left the provider; the certificate is no longer needed |
//! | `superseded` | superseded (4) | a newer attestation replaces this one |
//! | `unspecified` | (no reasonCode entry extension) | RFC 5280 says the unspecified code SHOULD NOT be used, so the entry carries no reason |
//!
//! An issuing CA is revoked only when asked for explicitly ([`RevocationTarget::IssuingCa`],
//! `revoke --issuing-ca`), because revoking it withdraws every attestation it signed. It is
//! listed on the CRL the provider root signs
//! ([`ProviderCa::root_crl_with`](super::ProviderCa::root_crl_with), `crl --root`),
//! which relying platforms need under `revocation: chain`. Reasons for an issuing CA:
//!
//! | reason | CRLReason | why |
//! | --- | --- | --- |
//! | `key-compromise` | cACompromise (2) | RFC 5280 5.3.1 names the compromise of a CA's key cACompromise |
//! | `superseded` | superseded (4) | the CA was replaced (after `ca rotate`) and its attestations must stop being accepted now, not when they expire |
//! | `unspecified` | (no reasonCode entry extension) | as for attestations |
//!
//! `sii-reassigned` and `account-closed` describe a user and are refused for a CA. The
//! provider root is never revoked: it is a trust anchor, and a CRL it signed about itself
//! would prove nothing; relying platforms remove it from their trust lists instead.

use rcgen::{CertificateRevocationListParams, RevocationReason, RevokedCertParams, SerialNumber};
use time::OffsetDateTime;

use std::path::Path;

use super::cadir::{CaDir, CaSigner};
use super::error::{sign_err, IssueError, RevokeRefusal};
use super::{CaConfig, CrlConfig};
use crate::profile::Serial;
use crate::sii::Sii;
use crate::store::{CertKind, CertStatus, IssuanceStore, StoredCert};

pub use crate::profile::{RevocationTarget, RevokeReason};

/// What revoking an issuing CA did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuingCaRevocation {
    /// The revocation itself (`sii` is `None`).
    pub outcome: RevokeOutcome,
    /// The revoked CA is the current issuing CA (`ca.pem`): nothing more can be issued until
    /// `ca rotate` makes a new one.
    pub current: bool,
    /// How many unexpired attestations it had signed that were not revoked themselves:
    /// relying platforms checking `revocation: chain` reject them once they have the new
    /// root CRL.
    pub live_attestations: u64,
    /// The CA certificate's notAfter: it stays on root CRLs until then.
    pub not_after: OffsetDateTime,
}

/// What one revocation did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevokeOutcome {
    /// The serial.
    pub serial: Serial,
    /// The certificate's SII.
    pub sii: Option<Sii>,
    /// `Some((when, reason))` when it had been revoked before; nothing was changed.
    pub already: Option<(OffsetDateTime, Option<RevokeReason>)>,
}

/// A freshly signed CRL.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SignedCrl {
    /// DER.
    pub der: Vec<u8>,
    /// PEM (`X509 CRL`).
    pub pem: String,
    /// Its CRL number.
    pub number: u64,
    /// Serial of the CA certificate that signed it: an issuing CA, or the provider root for
    /// a root CRL.
    pub issuer_serial: Serial,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate.
    pub next_update: OffsetDateTime,
    /// How many revoked certificates it lists (attestations; issuing CAs on a root CRL).
    pub entries: usize,
}

/// rcgen's name for an RFC 5280 CRLReason code.
fn rcgen_reason(code: u8) -> Option<RevocationReason> {
    Some(match code {
        1 => RevocationReason::KeyCompromise,
        2 => RevocationReason::CaCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        _ => return None,
    })
}

/// A CA directory opened for its records only: its issuance store, no keys. Marking a
/// certificate revoked needs no signature (the CRL that publishes it does), so revoking
/// works on a CA whose keys are encrypted without asking for the passphrase. A
/// [`ProviderCa`](super::ProviderCa) holds one ([`ProviderCa::records`](super::ProviderCa::records)).
pub struct CaRecords {
    dir: CaDir,
    store: IssuanceStore,
}

impl CaRecords {
    /// Open the store of the CA directory `dir`.
    pub fn open(dir: &Path) -> Result<CaRecords, IssueError> {
        let dir = CaDir::open_records(dir)?;
        let store = dir.open_store()?;
        Ok(CaRecords { dir, store })
    }

    /// The records of `dir`, whose store is already open.
    pub(super) fn with_store(dir: CaDir, store: IssuanceStore) -> CaRecords {
        CaRecords { dir, store }
    }

    /// The issuance store.
    pub fn store(&self) -> &IssuanceStore {
        &self.store
    }

    /// The CA directory.
    pub(super) fn dir(&self) -> &CaDir {
        &self.dir
    }

    /// The CA directory and the store, to write to.
    pub(super) fn parts(&mut self) -> (&CaDir, &mut IssuanceStore) {
        (&self.dir, &mut self.store)
    }

    /// Revoke the leaf with this serial. Revoking it again reports the first revocation
    /// and changes nothing.
    pub fn revoke_serial(
        &mut self,
        serial: &Serial,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> Result<RevokeOutcome, IssueError> {
        let row = self.find_row(serial)?;
        revoke_row(
            &mut self.store,
            row,
            reason,
            RevocationTarget::Attestation,
            now,
        )
    }

    /// Revoke every live (issued, unexpired) leaf of this SII.
    pub fn revoke_sii(
        &mut self,
        sii: &Sii,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> Result<Vec<RevokeOutcome>, IssueError> {
        let rows: Vec<StoredCert> = self.store.live_leaves_of(sii, now)?;
        rows.into_iter()
            .map(|r| {
                revoke_row(
                    &mut self.store,
                    r,
                    reason,
                    RevocationTarget::Attestation,
                    now,
                )
            })
            .collect()
    }

    /// Revoke the issuing CA with this serial, the current one or one retired by
    /// `ca rotate`: every attestation it signed stops being accepted by relying platforms
    /// that check `revocation: chain` once they have the next root CRL
    /// ([`ProviderCa::root_crl_with`](super::ProviderCa::root_crl_with)). Nothing is issued
    /// under a revoked issuing CA ([`IssueError::IssuerRevoked`]); when it is the current
    /// one, `ca rotate` makes a new one. The root and attestations are refused. Revoking it
    /// again reports the first revocation and changes nothing. Needs no key.
    pub fn revoke_issuing_ca(
        &mut self,
        serial: &Serial,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> Result<IssuingCaRevocation, IssueError> {
        let current = self.dir.current_ca_serial()?;
        let row = self.find_row(serial)?;
        let not_after = row.not_after;
        let outcome = revoke_row(
            &mut self.store,
            row,
            reason,
            RevocationTarget::IssuingCa,
            now,
        )?;
        let live_attestations = self
            .store
            .count_live_leaves_of_issuer(&outcome.serial, now)?;
        Ok(IssuingCaRevocation {
            current: outcome.serial == current,
            outcome,
            live_attestations,
            not_after,
        })
    }

    /// The unexpired issuing CAs of this CA directory revoked for key-compromise, oldest
    /// first: `crl` signs nothing with their keys, and only the root CRL listing them
    /// withdraws their attestations (under `revocation: chain`).
    pub fn compromised_issuing_cas(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<StoredCert>, IssueError> {
        Ok(self
            .store
            .issuing_cas()?
            .into_iter()
            .filter(|r| is_compromised(r) && r.not_after > now)
            .collect())
    }

    /// The store row of `serial` (as a person wrote it).
    fn find_row(&self, serial: &Serial) -> Result<StoredCert, IssueError> {
        let serial = serial.clone();
        self.store
            .get(&serial)?
            .ok_or_else(|| IssueError::UnknownSerial {
                serial,
                store: self.dir.store_path(),
            })
    }
}

fn revoke_row(
    store: &mut IssuanceStore,
    row: StoredCert,
    reason: RevokeReason,
    target: RevocationTarget,
    now: OffsetDateTime,
) -> Result<RevokeOutcome, IssueError> {
    let refused = match (row.kind, target) {
        (CertKind::Root, _) => Some(RevokeRefusal::Root {
            serial: row.serial.clone(),
        }),
        (CertKind::Ca, RevocationTarget::Attestation) => {
            Some(RevokeRefusal::IssuingCaAsAttestation {
                serial: row.serial.clone(),
            })
        }
        (CertKind::Leaf, RevocationTarget::IssuingCa) => {
            Some(RevokeRefusal::AttestationAsIssuingCa {
                serial: row.serial.clone(),
            })
        }
        _ if !reason.applies_to(target) => Some(RevokeRefusal::ReasonNotForCa { reason }),
        _ => None,
    };
    if let Some(refused) = refused {
        return Err(refused.into());
    }
    match row.status {
        CertStatus::Revoked => {
            return Ok(RevokeOutcome {
                serial: row.serial,
                sii: row.sii,
                already: Some((row.revoked_at.unwrap_or(now), row.revocation_reason)),
            })
        }
        CertStatus::Issued => {}
        status => {
            return Err(RevokeRefusal::NeverIssued {
                serial: row.serial,
                status,
            }
            .into())
        }
    }
    let now = now.replace_nanosecond(0).unwrap_or(now);
    store.write(|tx| tx.mark_revoked(&row.serial, now, reason))?;
    Ok(RevokeOutcome {
        serial: row.serial,
        sii: row.sii,
        already: None,
    })
}

fn is_compromised(row: &StoredCert) -> bool {
    row.kind == CertKind::Ca
        && row.status == CertStatus::Revoked
        && row.revocation_reason == Some(RevokeReason::KeyCompromise)
}

/// The store row of the issuing CA `serial` when it was revoked for key-compromise.
pub(super) fn compromised(
    store: &IssuanceStore,
    serial: &Serial,
) -> Result<Option<StoredCert>, IssueError> {
    Ok(store.get(serial)?.filter(is_compromised))
}

/// Sign the CRL of one issuer: every revoked, unexpired certificate it signed (`listed`
/// says which kind, for the reason codes), the next CRL number from the store.
pub(super) fn sign_crl(
    store: &mut IssuanceStore,
    config: &CaConfig,
    signer: &CaSigner,
    listed: RevocationTarget,
    now: OffsetDateTime,
) -> Result<SignedCrl, IssueError> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let lifetime = config
        .crl
        .as_ref()
        .map(|c| c.lifetime)
        .unwrap_or_else(CrlConfig::default_lifetime);
    let next_update = now + lifetime.duration();
    let revoked: Vec<RevokedCertParams> = store
        .revoked_entries(&signer.serial, now)?
        .into_iter()
        .map(|e| RevokedCertParams {
            serial_number: SerialNumber::from_slice(e.serial.as_bytes()),
            revocation_time: e.revoked_at.unwrap_or(now),
            reason_code: e
                .reason
                .and_then(|r| r.crl_reason_code_for(listed))
                .and_then(rcgen_reason),
            invalidity_date: None,
        })
        .collect();
    let entries = revoked.len();
    let number = store.write(|tx| tx.next_crl_number())?;
    let params = CertificateRevocationListParams {
        this_update: now,
        next_update,
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs: revoked,
        key_identifier_method: rcgen::KeyIdMethod::PreSpecified(signer.ski.clone()),
    };
    let crl = params.signed_by(&signer.issuer).map_err(sign_err)?;
    Ok(SignedCrl {
        der: crl.der().to_vec(),
        pem: crl.pem().map_err(sign_err)?,
        number,
        issuer_serial: signer.serial.clone(),
        this_update: now,
        next_update,
        entries,
    })
}
