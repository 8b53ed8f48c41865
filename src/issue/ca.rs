//! [`ProviderCa`]: a provider CA directory opened for issuing, and everything done with
//! its keys: creating it (`ca init`), issuing, renewing, rotating and signing CRLs. The work
//! itself is done by the modules below it; this one holds the open CA and says which.

use std::path::Path;

use rcgen::{Issuer, KeyPair, PKCS_ECDSA_P256_SHA256};
use time::OffsetDateTime;

use super::cadir::{CaDir, CaSigner, NewCaFiles, RootKey};
use super::error::{sign_err, IssueError};
use super::keys::{encode_key, KeyProtection, Passphrase};
use super::leaf::LeafTemplate;
use super::lifecycle::{self, RenewalWindow};
use super::pipeline::Pipeline;
use super::request::{IssueRequest, Issued};
use super::revoke::{compromised, sign_crl, CaRecords, RevocationTarget, SignedCrl};
use super::template::{ca_params, ca_row, random_serial};
use super::tlog::CaLog;
use super::CaConfig;
use crate::profile::{Serial, Span};
use crate::store::{CertKind, IssuanceStore, StoredCert};

/// An open provider CA directory.
pub struct ProviderCa {
    /// The directory and its issuance store.
    records: CaRecords,
    config: CaConfig,
    root_pem: String,
    ca_pem: String,
    /// The current issuing CA, opened for signing.
    issuing: CaSigner,
    /// What every leaf of the issuing CA shares, encoded once.
    leaf_template: LeafTemplate,
    /// The passphrase the CA was opened with (for the retired keys under `previous/`).
    passphrase: Option<Passphrase>,
    /// The transparency log of the config's `log:`, opened when first issued to.
    log: Option<CaLog>,
}

impl ProviderCa {
    /// Create a new CA directory at `dir` from `config` (whose YAML text `config_yaml` is kept
    /// as `config.yaml`): a provider root, an issuing CA under it, their keys (0600) and an
    /// issuance store holding both certificates. The directory appears whole or not at all;
    /// an existing non-empty directory is never touched.
    ///
    /// The keys are written unencrypted (as [`KeyProtection::Insecure`]); operators use
    /// [`ProviderCa::init_with`] with a passphrase.
    pub fn init(
        config_yaml: &str,
        config_origin: &str,
        dir: &Path,
        now: OffsetDateTime,
    ) -> Result<ProviderCa, IssueError> {
        Self::init_with(
            config_yaml,
            config_origin,
            dir,
            now,
            &KeyProtection::Insecure,
        )
    }

    /// [`ProviderCa::init`] with the CA keys (`root.key`, `ca.key`) protected as asked:
    /// encrypted PKCS#8 under a passphrase, or plain.
    pub fn init_with(
        config_yaml: &str,
        config_origin: &str,
        dir: &Path,
        now: OffsetDateTime,
        protection: &KeyProtection,
    ) -> Result<ProviderCa, IssueError> {
        let config = CaConfig::from_yaml(config_yaml, config_origin)?;
        config.refuse_shared_store()?;
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(sign_err)?;
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(sign_err)?;
        let root_not_after = now + config.validity.root.duration();
        let root_params = ca_params(
            &config,
            format!("{} Mapping Root", config.organization),
            1,
            &random_serial(&config)?,
            now,
            root_not_after,
        )?;
        let root_cert = root_params.self_signed(&root_key).map_err(sign_err)?;
        let root_issuer = Issuer::from_params(&root_params, &root_key);
        let ca_not_after = (now + config.validity.ca.duration()).min(root_not_after);
        let ca_cert = ca_params(
            &config,
            format!("{} Mapping Issuing CA 1", config.organization),
            0,
            &random_serial(&config)?,
            now,
            ca_not_after,
        )?
        .signed_by(&ca_key, &root_issuer)
        .map_err(sign_err)?;
        let root_row = ca_row(CertKind::Root, root_cert.der(), None, now)?;
        let ca_row = ca_row(
            CertKind::Ca,
            ca_cert.der(),
            Some(root_row.serial.clone()),
            now,
        )?;
        CaDir::create(
            dir,
            &NewCaFiles {
                config_yaml,
                root_pem: &root_cert.pem(),
                root_key: &encode_key(&root_key, protection)?,
                ca_pem: &ca_cert.pem(),
                ca_key: &encode_key(&ca_key, protection)?,
            },
            config.store.as_ref(),
            &[root_row, ca_row],
        )?;
        ProviderCa::open_with(dir, protection.passphrase())
    }

    /// Open an existing CA directory whose keys are not encrypted.
    pub fn open(dir: &Path) -> Result<ProviderCa, IssueError> {
        Self::open_with(dir, None)
    }

    /// Open an existing CA directory; `passphrase` decrypts its encrypted keys (`ca.key`, and
    /// the retired keys under `previous/` when CRLs are signed). An encrypted key without a
    /// passphrase, or with a wrong one, is an [`IssueError::Key`].
    pub fn open_with(
        dir: &Path,
        passphrase: Option<&Passphrase>,
    ) -> Result<ProviderCa, IssueError> {
        let dir = CaDir::open(dir)?;
        let config = dir.config()?;
        let root_pem = dir.root_pem()?;
        let (ca_pem, issuing) = dir.issuing_ca(passphrase)?;
        let leaf_template = LeafTemplate::new(&issuing.der, &issuing.ski, &config)?;
        let store = dir.open_store()?;
        let log = config
            .log
            .as_ref()
            .map(|l| CaLog::new(dir.path(), l, passphrase));
        Ok(ProviderCa {
            log,
            records: CaRecords::with_store(dir, store),
            config,
            root_pem,
            ca_pem,
            issuing,
            leaf_template,
            passphrase: passphrase.cloned(),
        })
    }

    /// The CA directory.
    pub fn dir(&self) -> &Path {
        self.records.dir().path()
    }

    /// The configuration.
    pub fn config(&self) -> &CaConfig {
        &self.config
    }

    /// The provider root certificate, PEM.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The issuing CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The issuance store.
    pub fn store(&self) -> &IssuanceStore {
        self.records.store()
    }

    /// The CA's records, to revoke certificates (which needs no key: [`CaRecords::open`]
    /// opens them without the CA's keys).
    pub fn records(&mut self) -> &mut CaRecords {
        &mut self.records
    }

    /// The issuing pipeline over this CA's parts.
    pub(crate) fn pipeline(&mut self) -> Pipeline<'_> {
        let (dir, store) = self.records.parts();
        Pipeline {
            dir,
            store,
            config: &self.config,
            issuing: &self.issuing,
            ca_pem: &self.ca_pem,
            template: &self.leaf_template,
            log: self.log.as_mut(),
        }
    }

    /// Issue one leaf: checked, reserved in the store, signed, stored, then handed out.
    pub fn issue(&mut self, req: &IssueRequest, now: OffsetDateTime) -> Result<Issued, IssueError> {
        let mut out = self.issue_many(std::slice::from_ref(req), now)?;
        out.pop()
            .unwrap_or_else(|| Err(IssueError::Sign("the request got no result".into())))
    }

    /// Issue several leaves: every serial is reserved in the store before it is signed, and
    /// a leaf is handed out only after it is stored as issued, in sub-batches that overlap
    /// storing with signing.
    /// Results come back in request order; a bad request fails alone. A repeated request id
    /// is answered from the store (the stored certificate for the same request, an error for
    /// a different one); the same id twice among the requests in flight together is refused.
    /// A store failure fails the call; sub-batches stored before it stay issued (a retry
    /// with the same request ids answers them from the store).
    pub fn issue_many(
        &mut self,
        reqs: &[IssueRequest],
        now: OffsetDateTime,
    ) -> Result<Vec<Result<Issued, IssueError>>, IssueError> {
        let mut taken = 0;
        let mut out = Vec::with_capacity(reqs.len());
        self.pipeline().issue_stream(
            &mut |n| {
                let end = (taken + n).min(reqs.len());
                let next = reqs[taken..end].iter().cloned().map(Ok).collect();
                taken = end;
                Ok(next)
            },
            &|| now,
            &mut |results| {
                out.extend(results);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The issue request that renews the stored leaf `serial`.
    pub fn renewal_request(
        &self,
        serial: &Serial,
        validated_at: Option<OffsetDateTime>,
        validity: Option<Span>,
    ) -> Result<IssueRequest, IssueError> {
        lifecycle::renewal_request(self.store(), serial, validated_at, validity)
    }

    /// Renew one leaf.
    pub fn renew(
        &mut self,
        serial: &Serial,
        validated_at: Option<OffsetDateTime>,
        validity: Option<Span>,
        now: OffsetDateTime,
    ) -> Result<Issued, IssueError> {
        let req = self.renewal_request(serial, validated_at, validity)?;
        self.issue(&req, now)
    }

    /// Serials of the issued, unexpired leaves due for renewal at `now`, oldest first.
    /// A leaf that was already renewed is not listed again.
    pub fn due_for_renewal(
        &self,
        window: RenewalWindow,
        now: OffsetDateTime,
    ) -> Result<Vec<Serial>, IssueError> {
        lifecycle::due_for_renewal(self.store(), window, now)
    }

    /// Make a new issuing CA under the same root (needs `root.key`). The previous issuing
    /// CA's certificate and key move to `previous/ca-<serial>.{pem,key}`. For unencrypted
    /// keys; see [`ProviderCa::rotate_with`].
    pub fn rotate(dir: &Path, now: OffsetDateTime) -> Result<ProviderCa, IssueError> {
        Self::rotate_with(dir, now, None)
    }

    /// [`ProviderCa::rotate`] for a CA whose keys are encrypted under `passphrase`: it opens
    /// `root.key` and `ca.key`, and the new `ca.key` is encrypted under it too (plain when
    /// `passphrase` is `None`).
    pub fn rotate_with(
        dir: &Path,
        now: OffsetDateTime,
        passphrase: Option<&Passphrase>,
    ) -> Result<ProviderCa, IssueError> {
        Self::rotate_using(dir, now, passphrase, RootKey::InCaDir)
    }

    /// [`ProviderCa::rotate_with`] with the provider root's key read from `root_key` (for a
    /// root key kept offline, outside the CA directory; same passphrase as the CA keys).
    pub fn rotate_using(
        dir: &Path,
        now: OffsetDateTime,
        passphrase: Option<&Passphrase>,
        root_key: RootKey<'_>,
    ) -> Result<ProviderCa, IssueError> {
        let mut ca = ProviderCa::open_with(dir, passphrase)?;
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let ca_dir = ca.records.dir().clone();
        let root = ca_dir.root(root_key, passphrase, "rotation", now)?;
        let current = ca.issuing.serial.clone();
        let (_, store) = ca.records.parts();
        lifecycle::rotate(&ca_dir, &ca.config, store, &current, &root, passphrase, now)?;
        // The store is closed before the new CA is swapped in.
        drop(ca);
        ca_dir.finish_rotation()?;
        ProviderCa::open_with(dir, passphrase)
    }

    /// Sign a new CRL for the current issuing CA: every revoked, unexpired leaf it issued,
    /// with the next CRL number (kept in the store, strictly increasing). Refused
    /// ([`IssueError::IssuerCompromised`]) when that CA was revoked for key-compromise.
    pub fn crl(&mut self, now: OffsetDateTime) -> Result<SignedCrl, IssueError> {
        let (_, store) = self.records.parts();
        if let Some(row) = compromised(store, &self.issuing.serial)? {
            return Err(IssueError::IssuerCompromised {
                serial: row.serial,
                revoked_at: row.revoked_at,
            });
        }
        sign_crl(
            store,
            &self.config,
            &self.issuing,
            RevocationTarget::Attestation,
            now,
        )
    }

    /// CRLs for every issuing CA that is still valid: the current one first, then those
    /// retired by `ca rotate` (their leaves are accepted until they expire, so their CRLs
    /// must keep coming). A retired CA revoked for key-compromise gets none: nothing is
    /// signed with a key declared compromised, and the root CRL listing it is what withdraws
    /// its leaves ([`CaRecords::compromised_issuing_cas`] lists them). When the current CA
    /// was revoked for key-compromise, nothing is signed ([`IssueError::IssuerCompromised`]).
    pub fn crls(&mut self, now: OffsetDateTime) -> Result<Vec<SignedCrl>, IssueError> {
        let mut out = vec![self.crl(now)?];
        let (dir, store) = self.records.parts();
        for retired in dir.previous_issuers(self.passphrase.as_ref())? {
            if retired.not_after <= now || compromised(store, &retired.serial)?.is_some() {
                continue;
            }
            out.push(sign_crl(
                store,
                &self.config,
                &retired,
                RevocationTarget::Attestation,
                now,
            )?);
        }
        Ok(out)
    }

    /// The unexpired issuing CAs of this CA directory revoked for key-compromise, oldest
    /// first ([`CaRecords::compromised_issuing_cas`]).
    pub fn compromised_issuing_cas(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<StoredCert>, IssueError> {
        self.records.compromised_issuing_cas(now)
    }

    /// A root CRL for a CA directory whose keys are not encrypted; see
    /// [`ProviderCa::root_crl_with`].
    pub fn root_crl(dir: &Path, now: OffsetDateTime) -> Result<SignedCrl, IssueError> {
        Self::root_crl_with(dir, now, None)
    }

    /// Sign a CRL with the provider root (`root.key`, decrypted under `passphrase`): every
    /// revoked, unexpired issuing CA of this root, the root's subjectKeyIdentifier as its
    /// authorityKeyIdentifier, the next CRL number from the store, and thisUpdate/nextUpdate
    /// from `crl.lifetime`. Relying platforms need it under `revocation: chain`. Needs
    /// neither `ca.key` nor the issuing CA's passphrase-protected key to be usable: only the
    /// root's key, as for `ca rotate`.
    pub fn root_crl_with(
        dir: &Path,
        now: OffsetDateTime,
        passphrase: Option<&Passphrase>,
    ) -> Result<SignedCrl, IssueError> {
        Self::root_crl_using(dir, now, passphrase, RootKey::InCaDir)
    }

    /// [`ProviderCa::root_crl_with`] with the provider root's key read from `root_key` (for
    /// a root key kept offline, outside the CA directory).
    pub fn root_crl_using(
        dir: &Path,
        now: OffsetDateTime,
        passphrase: Option<&Passphrase>,
        root_key: RootKey<'_>,
    ) -> Result<SignedCrl, IssueError> {
        let mut records = CaRecords::open(dir)?;
        let (dir, store) = records.parts();
        let config = dir.config()?;
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let root = dir.root(root_key, passphrase, "a root CRL", now)?;
        sign_crl(store, &config, &root, RevocationTarget::IssuingCa, now)
    }
}
