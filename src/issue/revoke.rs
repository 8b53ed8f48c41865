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
//! listed on the CRL the provider root signs ([`ProviderCa::root_crl_with`], `crl --root`),
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

use std::fmt;
use std::str::FromStr;

use rcgen::{CertificateRevocationListParams, RevocationReason, RevokedCertParams, SerialNumber};
use time::OffsetDateTime;

use super::ca::{cert_ski, sign_err};
use super::ca::{read_text, CONFIG, ROOT_PEM};
use super::{CaConfig, IssueError, Passphrase, ProviderCa};
use crate::profile::serial_hex;
use crate::sii::Sii;
use crate::store::{CertKind, CertStatus, IssuanceStore, StoredCert};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Why an attestation is revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevokeReason {
    /// The user's private key is compromised.
    KeyCompromise,
    /// The SII now belongs to someone else.
    SiiReassigned,
    /// The user's account was closed.
    AccountClosed,
    /// Replaced by a newer attestation.
    Superseded,
    /// No reason given.
    Unspecified,
}

impl RevokeReason {
    /// Every reason.
    pub const ALL: [RevokeReason; 5] = [
        RevokeReason::KeyCompromise,
        RevokeReason::SiiReassigned,
        RevokeReason::AccountClosed,
        RevokeReason::Superseded,
        RevokeReason::Unspecified,
    ];

    /// The CLI name.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::KeyCompromise => "key-compromise",
            RevokeReason::SiiReassigned => "sii-reassigned",
            RevokeReason::AccountClosed => "account-closed",
            RevokeReason::Superseded => "superseded",
            RevokeReason::Unspecified => "unspecified",
        }
    }

    /// The RFC 5280 reason code put in an attestation's CRL entry (`None`: no reasonCode
    /// extension).
    pub fn crl_reason_code(self) -> Option<u8> {
        self.crl_reason_code_for(RevocationTarget::Attestation)
    }

    /// The RFC 5280 reason code put in the CRL entry of a certificate of this kind
    /// (`None`: no reasonCode extension). `key-compromise` of an issuing CA is
    /// cACompromise (2).
    pub fn crl_reason_code_for(self, target: RevocationTarget) -> Option<u8> {
        self.rcgen(target).map(|r| r as u8)
    }

    /// Whether this reason can be given for that kind of certificate: `sii-reassigned` and
    /// `account-closed` describe a user, not a CA.
    pub fn applies_to(self, target: RevocationTarget) -> bool {
        match target {
            RevocationTarget::Attestation => true,
            RevocationTarget::IssuingCa => matches!(
                self,
                RevokeReason::KeyCompromise | RevokeReason::Superseded | RevokeReason::Unspecified
            ),
        }
    }

    fn rcgen(self, target: RevocationTarget) -> Option<RevocationReason> {
        match self {
            RevokeReason::KeyCompromise if target == RevocationTarget::IssuingCa => {
                Some(RevocationReason::CaCompromise)
            }
            RevokeReason::KeyCompromise => Some(RevocationReason::KeyCompromise),
            RevokeReason::SiiReassigned => Some(RevocationReason::AffiliationChanged),
            RevokeReason::AccountClosed => Some(RevocationReason::CessationOfOperation),
            RevokeReason::Superseded => Some(RevocationReason::Superseded),
            RevokeReason::Unspecified => None,
        }
    }
}

impl fmt::Display for RevokeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevokeReason {
    type Err = IssueError;

    fn from_str(s: &str) -> Result<Self, IssueError> {
        RevokeReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                IssueError::Request(format!(
                    "unknown revocation reason {s:?}: use one of key-compromise, sii-reassigned, account-closed, superseded, unspecified"
                ))
            })
    }
}

/// What a revocation may touch. An explicit policy rather than a flag deep in the call: an
/// issuing CA (and with it every attestation it signed) is never revoked by a mistyped serial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevocationTarget {
    /// Mapping attestations (leaves) only: what `revoke` does unless told otherwise.
    Attestation,
    /// An issuing CA under this provider's root (`revoke --issuing-ca`); it goes on the root
    /// CRL (`crl --root`).
    IssuingCa,
}

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
    pub serial: String,
    /// The certificate's SII.
    pub sii: Option<String>,
    /// `Some((when, reason))` when it had been revoked before; nothing was changed.
    pub already: Option<(OffsetDateTime, String)>,
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
    pub issuer_serial: String,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate.
    pub next_update: OffsetDateTime,
    /// How many revoked certificates it lists (attestations; issuing CAs on a root CRL).
    pub entries: usize,
}

/// A serial as given by a person (hex, any case, optional `:` separators) in store form.
pub fn normalize_serial(given: &str) -> Result<String, IssueError> {
    let digits: String = given
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    if digits.is_empty() || digits.len() > 40 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(IssueError::Request(format!(
            "serial {given:?} is not a hexadecimal serial number: copy it from `issue` output or `store list`"
        )));
    }
    let trimmed = digits.trim_start_matches('0');
    let mut s = if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    };
    if s.len() % 2 == 1 {
        s.insert(0, '0');
    }
    Ok(s)
}

fn serial_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// A CA directory opened for revocation only: its issuance store, no keys. Marking a leaf
/// revoked needs no signature (the CRL that publishes it does), so `revoke` works on a CA
/// whose keys are encrypted without asking for the passphrase.
pub struct CaRecords {
    dir: std::path::PathBuf,
    store: IssuanceStore,
}

impl CaRecords {
    /// Open the store of the CA directory `dir`.
    pub fn open(dir: &std::path::Path) -> Result<CaRecords, IssueError> {
        for name in [super::ca::CONFIG, super::ca::CA_PEM] {
            if !dir.join(name).is_file() {
                return Err(IssueError::NotCaDir {
                    dir: dir.display().to_string(),
                    missing: if dir.is_dir() {
                        name.into()
                    } else {
                        "the directory itself".into()
                    },
                });
            }
        }
        Ok(CaRecords {
            dir: dir.to_owned(),
            store: IssuanceStore::open(&dir.join(crate::store::STORE_FILE))?,
        })
    }

    /// Revoke the leaf with this serial. Revoking it again reports the first revocation
    /// and changes nothing.
    pub fn revoke_serial(
        &mut self,
        serial: &str,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> Result<RevokeOutcome, IssueError> {
        revoke_serial(&self.dir, &mut self.store, serial, reason, now)
    }

    /// Revoke every live (issued, unexpired) leaf of this SII.
    pub fn revoke_sii(
        &mut self,
        sii: &Sii,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> Result<Vec<RevokeOutcome>, IssueError> {
        revoke_sii(&mut self.store, sii, reason, now)
    }

    /// Revoke the issuing CA with this serial (current or retired); see
    /// [`ProviderCa::revoke_issuing_ca`].
    pub fn revoke_issuing_ca(
        &mut self,
        serial: &str,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> Result<IssuingCaRevocation, IssueError> {
        let current = current_ca_serial(&self.dir)?;
        revoke_issuing_ca(&self.dir, &mut self.store, &current, serial, reason, now)
    }
}

/// Serial of the current issuing CA (`ca.pem`).
fn current_ca_serial(dir: &std::path::Path) -> Result<String, IssueError> {
    use rustls_pki_types::pem::PemObject;
    let path = dir.join(super::ca::CA_PEM);
    let pem = read_text(&path, dir)?;
    rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| e.to_string())
        .and_then(|der| super::ca::cert_facts(&der))
        .map(|(serial, _, _)| serial)
        .map_err(|e| IssueError::Io {
            path: path.display().to_string(),
            message: format!("not a readable certificate: {e}"),
        })
}

fn find_row(
    dir: &std::path::Path,
    store: &IssuanceStore,
    serial: &str,
) -> Result<StoredCert, IssueError> {
    let serial = normalize_serial(serial)?;
    store.get(&serial)?.ok_or_else(|| {
        IssueError::Request(format!(
            "serial {serial} was not issued by this CA (it is not in {}): check the serial and the --ca directory",
            dir.join("store.db").display()
        ))
    })
}

fn revoke_serial(
    dir: &std::path::Path,
    store: &mut IssuanceStore,
    serial: &str,
    reason: RevokeReason,
    now: OffsetDateTime,
) -> Result<RevokeOutcome, IssueError> {
    let row = find_row(dir, store, serial)?;
    revoke_row(store, row, reason, RevocationTarget::Attestation, now)
}

fn revoke_issuing_ca(
    dir: &std::path::Path,
    store: &mut IssuanceStore,
    current_serial: &str,
    serial: &str,
    reason: RevokeReason,
    now: OffsetDateTime,
) -> Result<IssuingCaRevocation, IssueError> {
    let row = find_row(dir, store, serial)?;
    let not_after = row.not_after;
    let outcome = revoke_row(store, row, reason, RevocationTarget::IssuingCa, now)?;
    let live_attestations = store.count_live_leaves_of_issuer(&outcome.serial, now)?;
    Ok(IssuingCaRevocation {
        current: outcome.serial == current_serial,
        outcome,
        live_attestations,
        not_after,
    })
}

fn revoke_sii(
    store: &mut IssuanceStore,
    sii: &Sii,
    reason: RevokeReason,
    now: OffsetDateTime,
) -> Result<Vec<RevokeOutcome>, IssueError> {
    let rows: Vec<StoredCert> = store.live_leaves_of(&sii.canonical(), now)?;
    rows.into_iter()
        .map(|r| revoke_row(store, r, reason, RevocationTarget::Attestation, now))
        .collect()
}

fn revoke_row(
    store: &mut IssuanceStore,
    row: StoredCert,
    reason: RevokeReason,
    target: RevocationTarget,
    now: OffsetDateTime,
) -> Result<RevokeOutcome, IssueError> {
    match (row.kind, target) {
        (CertKind::Root, _) => {
            return Err(IssueError::Request(format!(
                "serial {} is the provider's root certificate, a trust anchor: it is never revoked (a CRL it signed about itself would prove nothing); if it must not be trusted any more, ask relying platforms to remove it from their trust lists and create a new CA with `ca init`",
                row.serial
            )))
        }
        (CertKind::Ca, RevocationTarget::Attestation) => {
            return Err(IssueError::Request(format!(
                "serial {} is the provider's issuing CA certificate, not an attestation: CA certificates are not revoked with this command; to revoke the issuing CA (and with it every attestation it signed) add --issuing-ca",
                row.serial
            )))
        }
        (CertKind::Leaf, RevocationTarget::IssuingCa) => {
            return Err(IssueError::Request(format!(
                "serial {} is an attestation, not an issuing CA: drop --issuing-ca to revoke it",
                row.serial
            )))
        }
        _ => {}
    }
    if !reason.applies_to(target) {
        return Err(IssueError::Request(format!(
            "reason {reason} describes a user, not a CA: revoke an issuing CA for key-compromise, superseded or unspecified"
        )));
    }
    match row.status {
        CertStatus::Revoked => {
            return Ok(RevokeOutcome {
                serial: row.serial,
                sii: row.sii,
                already: Some((
                    row.revoked_at.unwrap_or(now),
                    row.revocation_reason.unwrap_or_default(),
                )),
            })
        }
        CertStatus::Issued => {}
        other => {
            return Err(IssueError::Request(format!(
                "serial {} was never issued (status {other}): there is nothing to revoke",
                row.serial
            )))
        }
    }
    let now = now.replace_nanosecond(0).unwrap_or(now);
    store.write(|tx| IssuanceStore::mark_revoked(tx, &row.serial, now, reason.as_str()))?;
    Ok(RevokeOutcome {
        serial: row.serial,
        sii: row.sii,
        already: None,
    })
}

impl ProviderCa {
    /// Revoke the leaf with this serial. Revoking it again reports the first revocation
    /// and changes nothing.
    pub fn revoke_serial(
        &mut self,
        serial: &str,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> Result<RevokeOutcome, IssueError> {
        let dir = self.dir().to_owned();
        revoke_serial(&dir, &mut self.store, serial, reason, now)
    }

    /// Revoke every live (issued, unexpired) leaf of this SII.
    pub fn revoke_sii(
        &mut self,
        sii: &Sii,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> Result<Vec<RevokeOutcome>, IssueError> {
        revoke_sii(&mut self.store, sii, reason, now)
    }

    /// Revoke the issuing CA with this serial, the current one or one retired by
    /// `ca rotate`: every attestation it signed stops being accepted by relying platforms
    /// that check `revocation: chain` once they have the next root CRL
    /// ([`ProviderCa::root_crl_with`]). Nothing is issued under a revoked issuing CA
    /// ([`IssueError::IssuerRevoked`]); when it is the current one, `ca rotate` makes a new
    /// one. The root and attestations are refused. Revoking it again reports the first
    /// revocation and changes nothing. Needs no key.
    pub fn revoke_issuing_ca(
        &mut self,
        serial: &str,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> Result<IssuingCaRevocation, IssueError> {
        let dir = self.dir().to_owned();
        let current = self.ca_serial.clone();
        revoke_issuing_ca(&dir, &mut self.store, &current, serial, reason, now)
    }

    /// Sign a new CRL for the current issuing CA: every revoked, unexpired leaf it issued,
    /// with the next CRL number (kept in the store, strictly increasing). Refused
    /// ([`IssueError::IssuerCompromised`]) when that CA was revoked for key-compromise.
    pub fn crl(&mut self, now: OffsetDateTime) -> Result<SignedCrl, IssueError> {
        if let Some(row) = compromised(&self.store, &self.ca_serial)? {
            return Err(IssueError::IssuerCompromised {
                serial: row.serial,
                revoked_at: row.revoked_at.map(super::ca::rfc3339).unwrap_or_default(),
            });
        }
        let (serial, ski) = (self.ca_serial.clone(), self.ca_ski.clone());
        let issuer = &self.issuer;
        sign_crl(
            &mut self.store,
            &self.config,
            issuer,
            &serial,
            ski,
            RevocationTarget::Attestation,
            now,
        )
    }

    /// A root CRL for a CA directory whose keys are not encrypted; see
    /// [`ProviderCa::root_crl_with`].
    pub fn root_crl(dir: &std::path::Path, now: OffsetDateTime) -> Result<SignedCrl, IssueError> {
        Self::root_crl_with(dir, now, None)
    }

    /// Sign a CRL with the provider root (`root.key`, decrypted under `passphrase`): every
    /// revoked, unexpired issuing CA of this root, the root's subjectKeyIdentifier as its
    /// authorityKeyIdentifier, the next CRL number from the store, and thisUpdate/nextUpdate
    /// from `crl.lifetime`. Relying platforms need it under `revocation: chain`. Needs
    /// neither `ca.key` nor the issuing CA's passphrase-protected key to be usable: only the
    /// root's key, as for `ca rotate`.
    pub fn root_crl_with(
        dir: &std::path::Path,
        now: OffsetDateTime,
        passphrase: Option<&Passphrase>,
    ) -> Result<SignedCrl, IssueError> {
        Self::root_crl_using(dir, now, passphrase, super::RootKey::InCaDir)
    }

    /// [`ProviderCa::root_crl_with`] with the provider root's key read from `root_key` (for
    /// a root key kept offline, outside the CA directory).
    pub fn root_crl_using(
        dir: &std::path::Path,
        now: OffsetDateTime,
        passphrase: Option<&Passphrase>,
        root_key: super::RootKey<'_>,
    ) -> Result<SignedCrl, IssueError> {
        let mut records = CaRecords::open(dir)?;
        let config_path = dir.join(CONFIG);
        let config = CaConfig::from_yaml(
            &read_text(&config_path, dir)?,
            &config_path.display().to_string(),
        )?;
        let root_pem = read_text(&dir.join(ROOT_PEM), dir)?;
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let root =
            super::lifecycle::load_root(dir, &root_pem, passphrase, root_key, "a root CRL", now)?;
        sign_crl(
            &mut records.store,
            &config,
            &root.issuer,
            &root.serial,
            root.ski,
            RevocationTarget::IssuingCa,
            now,
        )
    }

    /// CRLs for every issuing CA that is still valid: the current one first, then those
    /// retired by `ca rotate` (their leaves are accepted until they expire, so their CRLs
    /// must keep coming). A retired CA revoked for key-compromise gets none: nothing is
    /// signed with a key declared compromised, and the root CRL listing it is what withdraws
    /// its leaves ([`ProviderCa::compromised_issuing_cas`] lists them). When the current CA
    /// was revoked for key-compromise, nothing is signed ([`IssueError::IssuerCompromised`]).
    pub fn crls(&mut self, now: OffsetDateTime) -> Result<Vec<SignedCrl>, IssueError> {
        let mut out = vec![self.crl(now)?];
        for (der, key) in super::lifecycle::previous_issuers(self.dir(), self.passphrase.as_ref())?
        {
            let (_, cert) = X509Certificate::from_der(&der).map_err(|e| {
                IssueError::Sign(format!("a retired issuing CA is unreadable: {e}"))
            })?;
            if cert.validity().not_after.to_datetime() <= now {
                continue;
            }
            let serial = serial_hex(cert.raw_serial());
            if compromised(&self.store, &serial)?.is_some() {
                continue;
            }
            let ski = cert_ski(&cert).unwrap_or_default();
            let issuer =
                rcgen::Issuer::from_ca_cert_der(&der.clone().into(), key).map_err(sign_err)?;
            out.push(sign_crl(
                &mut self.store,
                &self.config,
                &issuer,
                &serial,
                ski,
                RevocationTarget::Attestation,
                now,
            )?);
        }
        Ok(out)
    }
}

impl ProviderCa {
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
}

fn is_compromised(row: &StoredCert) -> bool {
    row.kind == CertKind::Ca
        && row.status == CertStatus::Revoked
        && row.revocation_reason.as_deref() == Some(RevokeReason::KeyCompromise.as_str())
}

/// The store row of the issuing CA `serial` when it was revoked for key-compromise.
fn compromised(store: &IssuanceStore, serial: &str) -> Result<Option<StoredCert>, IssueError> {
    Ok(store.get(serial)?.filter(is_compromised))
}

/// Sign the CRL of one issuer: every revoked, unexpired certificate it signed (`listed`
/// says which kind, for the reason codes), the next CRL number from the store.
fn sign_crl(
    store: &mut IssuanceStore,
    config: &super::CaConfig,
    issuer: &rcgen::Issuer<'_, rcgen::KeyPair>,
    issuer_serial: &str,
    ski: Vec<u8>,
    listed: RevocationTarget,
    now: OffsetDateTime,
) -> Result<SignedCrl, IssueError> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let lifetime = config
        .crl
        .as_ref()
        .map(|c| c.lifetime)
        .unwrap_or_else(super::config::CrlConfig::default_lifetime);
    let next_update = now + lifetime.duration();
    let revoked: Vec<RevokedCertParams> = store
        .revoked_entries(issuer_serial, now)?
        .into_iter()
        .map(|e| RevokedCertParams {
            serial_number: SerialNumber::from_slice(&serial_bytes(&e.serial)),
            revocation_time: e.revoked_at.unwrap_or(now),
            reason_code: e
                .reason
                .as_deref()
                .and_then(|s| s.parse::<RevokeReason>().ok())
                .and_then(|r| r.rcgen(listed)),
            invalidity_date: None,
        })
        .collect();
    let entries = revoked.len();
    let number = store.write(IssuanceStore::next_crl_number)?;
    let params = CertificateRevocationListParams {
        this_update: now,
        next_update,
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs: revoked,
        key_identifier_method: rcgen::KeyIdMethod::PreSpecified(ski),
    };
    let crl = params.signed_by(issuer).map_err(sign_err)?;
    Ok(SignedCrl {
        der: crl.der().to_vec(),
        pem: crl.pem().map_err(sign_err)?,
        number,
        issuer_serial: issuer_serial.to_owned(),
        this_update: now,
        next_update,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_normalise() {
        assert_eq!(normalize_serial("00:8F:01").unwrap(), "8f01");
        assert_eq!(normalize_serial(" 0x0ABC ").unwrap(), "0abc");
        assert_eq!(normalize_serial("abc").unwrap(), "0abc");
        assert!(normalize_serial("xyz").is_err());
        assert!(normalize_serial("").is_err());
    }

    #[test]
    fn reasons_map_to_rfc5280() {
        assert_eq!(RevokeReason::KeyCompromise.crl_reason_code(), Some(1));
        assert_eq!(RevokeReason::SiiReassigned.crl_reason_code(), Some(3));
        assert_eq!(RevokeReason::Superseded.crl_reason_code(), Some(4));
        assert_eq!(RevokeReason::AccountClosed.crl_reason_code(), Some(5));
        assert_eq!(RevokeReason::Unspecified.crl_reason_code(), None);
        for r in RevokeReason::ALL {
            assert_eq!(r.as_str().parse::<RevokeReason>().unwrap(), r);
            assert!(r.applies_to(RevocationTarget::Attestation));
        }
    }

    #[test]
    fn ca_reasons_map_to_rfc5280() {
        let ca = RevocationTarget::IssuingCa;
        assert_eq!(RevokeReason::KeyCompromise.crl_reason_code_for(ca), Some(2));
        assert_eq!(RevokeReason::Superseded.crl_reason_code_for(ca), Some(4));
        assert_eq!(RevokeReason::Unspecified.crl_reason_code_for(ca), None);
        let allowed: Vec<_> = RevokeReason::ALL
            .into_iter()
            .filter(|r| r.applies_to(ca))
            .collect();
        assert_eq!(
            allowed,
            [
                RevokeReason::KeyCompromise,
                RevokeReason::Superseded,
                RevokeReason::Unspecified
            ]
        );
    }
}
