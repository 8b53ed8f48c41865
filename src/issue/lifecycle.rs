//! Renewal and CA rotation.
//!
//! - **Renewal** re-issues the same mapping (SII, handle, method, flags, key, consent) with a
//!   new validity, keeping `validatedAt` unless a new one is given. A renewal of serial S uses
//!   the request id `renew:S`, so renewing the same certificate twice returns the first
//!   renewal instead of a second certificate.
//! - **Rotation** makes a new issuing CA under the same root. New leaves use it; the previous
//!   issuing CA's certificate and key move to `previous/`. Unless that CA was revoked, its
//!   leaves stay valid until they expire and `crl` keeps producing CRLs for it while it is
//!   valid. A previous CA revoked for key-compromise signs nothing more: its leaves are
//!   withdrawn by the root CRL listing it (`crl --root`), for relying platforms checking
//!   `revocation: chain`.

use std::fs;
use std::path::Path;

use rcgen::{Issuer, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::ca::{
    ca_params, ca_row, io_err, random_serial, rfc3339, sign_err, CA_KEY, CA_PEM, ROOT_KEY, ROOT_PEM,
};
use super::files::{sync_parent, write_atomic, FileMode, Overwrite};
use super::keys::{encode_key, load_key, KeyProtection, Passphrase};
use super::{IssueError, IssueRequest, Issued, ProviderCa, SubjectKey};
use crate::profile::{self, RevokeReason, Serial, Span};
use crate::store::{CertKind, CertStatus, IssuanceStore};

/// Where retired issuing CAs live inside a CA directory.
pub(crate) const PREVIOUS: &str = "previous";
const NEXT_SUFFIX: &str = ".next";

/// When a certificate is due for renewal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenewalWindow {
    /// When less than this percentage of its lifetime remains (e.g. `30%`).
    RemainingPercent(u8),
    /// When less than this much time remains (e.g. `2d`).
    Remaining(Span),
}

impl std::str::FromStr for RenewalWindow {
    type Err = IssueError;

    fn from_str(s: &str) -> Result<Self, IssueError> {
        if let Some(p) = s.trim().strip_suffix('%') {
            return match p.parse::<u8>() {
                Ok(n) if n <= 100 => Ok(RenewalWindow::RemainingPercent(n)),
                _ => Err(IssueError::Request(format!(
                    "window {s:?} is not a percentage from 0% to 100%"
                ))),
            };
        }
        s.parse::<Span>()
            .map(RenewalWindow::Remaining)
            .map_err(|e| {
                IssueError::Request(format!(
                    "window {s:?}: {e}; or write a percentage such as 30%"
                ))
            })
    }
}

/// Whether a certificate valid from `not_before` to `not_after` is due for renewal at `now`
/// (an expired certificate always is).
pub fn needs_renewal(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    window: RenewalWindow,
    now: OffsetDateTime,
) -> bool {
    let remaining = not_after - now;
    if !remaining.is_positive() {
        return true;
    }
    match window {
        RenewalWindow::Remaining(span) => remaining <= span.duration(),
        RenewalWindow::RemainingPercent(p) => {
            let life = (not_after - not_before).whole_seconds().max(1) as f64;
            remaining.whole_seconds() as f64 / life * 100.0 <= f64::from(p)
        }
    }
}

impl ProviderCa {
    /// The issue request that renews the stored leaf `serial`.
    pub fn renewal_request(
        &self,
        serial: &Serial,
        validated_at: Option<OffsetDateTime>,
        validity: Option<Span>,
    ) -> Result<IssueRequest, IssueError> {
        let row = self.store.get(serial)?.ok_or_else(|| {
            IssueError::Request(format!(
                "serial {serial} was not issued by this CA: check the serial and the --ca directory"
            ))
        })?;
        let der = match (row.kind, row.status, &row.der) {
            (CertKind::Leaf, CertStatus::Issued, Some(der)) => der.clone(),
            (CertKind::Leaf, CertStatus::Revoked, _) => {
                return Err(IssueError::Request(format!(
                    "serial {serial} is revoked ({}): a revoked attestation is not renewed; issue a new one if the mapping is still true",
                    row.revocation_reason.map(RevokeReason::as_str).unwrap_or_default()
                )))
            }
            _ => {
                return Err(IssueError::Request(format!(
                    "serial {serial} is not an issued attestation (kind {}, status {}): nothing to renew",
                    row.kind, row.status
                )))
            }
        };
        let (_, cert) = X509Certificate::from_der(&der).map_err(|e| {
            IssueError::Store(crate::store::StoreError::Failed {
                path: "store.db".into(),
                message: format!("stored certificate {serial} is unreadable: {e}"),
            })
        })?;
        let mapping = profile::leaf_mapping(&cert)?;
        let sii = profile::leaf_sii(&cert)?;
        Ok(IssueRequest {
            sii,
            handle: mapping.handle,
            method: Some(mapping.method),
            validated_at: Some(validated_at.unwrap_or(mapping.validated_at)),
            validity,
            flags: mapping.flags,
            key: SubjectKey::Renewal {
                spki: cert.public_key().raw.to_vec(),
                consent: mapping.consent,
            },
            request_id: Some(format!("renew:{serial}")),
        })
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
        let renewed: std::collections::HashSet<Serial> = self
            .store
            .request_ids_with_prefix("renew:")?
            .into_iter()
            .filter_map(|id| id.strip_prefix("renew:")?.parse().ok())
            .collect();
        Ok(self
            .store
            .live_leaves(now)?
            .iter()
            .filter(|r| {
                !renewed.contains(&r.serial)
                    && needs_renewal(r.not_before, r.not_after, window, now)
            })
            .map(|r| r.serial.clone())
            .collect())
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
        let root = load_root(dir, ca.root_pem(), passphrase, root_key, "rotation", now)?;
        let (root_serial, root_not_after) = (root.serial.clone(), root.not_after);
        let generation = ca.store.issuing_cas()?.len() + 1;
        let root_issuer = root.issuer;
        let new_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(sign_err)?;
        let config = ca.config.clone();
        let new_cert = ca_params(
            &config,
            format!("{} Mapping Issuing CA {generation}", config.organization),
            0,
            &random_serial()?,
            now,
            (now + config.validity.ca.duration()).min(root_not_after),
        )?
        .signed_by(&new_key, &root_issuer)
        .map_err(sign_err)?;
        let row = ca_row(CertKind::Ca, new_cert.der(), Some(root_serial), now)?;

        // 1. Keep the retiring CA under previous/.
        let previous = dir.join(PREVIOUS);
        fs::create_dir_all(&previous).map_err(|e| io_err(&previous, "cannot create", e))?;
        let old = &ca.ca_serial;
        for (src, dst, mode) in [
            (CA_PEM, format!("ca-{old}.pem"), FileMode::Public),
            (CA_KEY, format!("ca-{old}.key"), FileMode::Private),
        ] {
            let data =
                fs::read(dir.join(src)).map_err(|e| io_err(&dir.join(src), "cannot read", e))?;
            let dst = previous.join(dst);
            match fs::read(&dst) {
                Ok(existing) if existing == data => {}
                _ => write_atomic(&dst, &data, mode, Overwrite::Allow)
                    .map_err(|e| io_err(&dst, "cannot write", e))?,
            }
        }
        // 2. Stage the new CA, 3. record it, 4. swap it in (finished by `open` after a crash).
        let stage = |name: &str, data: &[u8], mode: FileMode| {
            let p = dir.join(format!("{name}{NEXT_SUFFIX}"));
            write_atomic(&p, data, mode, Overwrite::Allow)
                .map_err(|e| io_err(&p, "cannot write", e))
        };
        let protection = match passphrase {
            Some(p) => KeyProtection::Passphrase(p.clone()),
            None => KeyProtection::Insecure,
        };
        stage(
            CA_KEY,
            encode_key(&new_key, &protection)?.as_bytes(),
            FileMode::Private,
        )?;
        stage(CA_PEM, new_cert.pem().as_bytes(), FileMode::Public)?;
        ca.store
            .write(|tx| IssuanceStore::insert(tx, &row).map(|_| ()))?;
        drop(ca);
        finish_rotation(dir)?;
        ProviderCa::open_with(dir, passphrase)
    }
}

/// Complete (or discard) a rotation that staged `ca.{key,pem}.next`: complete it when the
/// store already records the new CA, discard it otherwise.
pub(crate) fn finish_rotation(dir: &Path) -> Result<(), IssueError> {
    let next_pem = dir.join(format!("{CA_PEM}{NEXT_SUFFIX}"));
    let next_key = dir.join(format!("{CA_KEY}{NEXT_SUFFIX}"));
    if !next_pem.exists() && !next_key.exists() {
        return Ok(());
    }
    let recorded = match fs::read(&next_pem) {
        Ok(pem) => {
            let serial = CertificateDer::from_pem_slice(&pem).ok().and_then(|der| {
                X509Certificate::from_der(&der)
                    .ok()
                    .map(|(_, c)| Serial::from_contents(c.raw_serial()))
            });
            match serial {
                Some(s) => IssuanceStore::open(&dir.join(crate::store::STORE_FILE))?
                    .get(&s)?
                    .is_some(),
                None => false,
            }
        }
        // The pem was already renamed into place: the key must follow.
        Err(_) => true,
    };
    if recorded {
        for (next, target) in [(&next_key, dir.join(CA_KEY)), (&next_pem, dir.join(CA_PEM))] {
            if next.exists() {
                fs::rename(next, &target)
                    .map_err(|e| io_err(&target, "cannot finish CA rotation", e))?;
            }
        }
        sync_parent(&dir.join(CA_PEM)).map_err(|e| io_err(dir, "cannot sync", e))?;
    } else {
        let _ = fs::remove_file(&next_pem);
        let _ = fs::remove_file(&next_key);
    }
    Ok(())
}

/// The retired issuing CAs kept under `previous/` (certificate DER, key), for CRLs.
pub(crate) fn previous_issuers(
    dir: &Path,
    passphrase: Option<&Passphrase>,
) -> Result<Vec<(Vec<u8>, KeyPair)>, IssueError> {
    let previous = dir.join(PREVIOUS);
    let Ok(entries) = fs::read_dir(&previous) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut names: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    for pem_path in names
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pem"))
    {
        let key_path = pem_path.with_extension("key");
        let der = CertificateDer::from_pem_slice(
            &fs::read(&pem_path).map_err(|e| io_err(&pem_path, "cannot read", e))?,
        )
        .map_err(|e| IssueError::Io {
            path: pem_path.display().to_string(),
            message: format!("not a PEM certificate: {e}"),
        })?;
        let key = load_key(&key_path, passphrase)?;
        out.push((der.to_vec(), key));
    }
    Ok(out)
}

/// The provider root opened for signing: `root.pem` and its key `root.key`.
pub(crate) struct RootSigner {
    /// The root's serial, lower-case hex.
    pub(crate) serial: Serial,
    /// The root's subjectKeyIdentifier (the AKI of what it signs).
    pub(crate) ski: Vec<u8>,
    /// The root's notAfter.
    pub(crate) not_after: OffsetDateTime,
    /// The signer.
    pub(crate) issuer: Issuer<'static, KeyPair>,
}

/// Where the provider root's private key is read from, for the two steps that sign with it
/// (`ca rotate`, `crl --root`). `ca init` writes it as `root.key` in the CA directory; an
/// operator who keeps it offline gives its path for those steps instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RootKey<'a> {
    /// `root.key` in the CA directory.
    #[default]
    InCaDir,
    /// This file (PKCS#8 PEM as `ca init` wrote it, mode 0600, encrypted under the same
    /// passphrase as the CA keys or not at all).
    File(&'a Path),
}

/// Open the provider root of `dir` for signing (`ca rotate`, `crl --root`): its key (from
/// `root_key`) must be present, decrypt under `passphrase`, match `root_pem`, and the root
/// must be valid at `now`. `step` names the operation in the messages.
pub(crate) fn load_root(
    dir: &Path,
    root_pem: &str,
    passphrase: Option<&Passphrase>,
    root_key: RootKey<'_>,
    step: &str,
    now: OffsetDateTime,
) -> Result<RootSigner, IssueError> {
    let root_key_path = match root_key {
        RootKey::InCaDir => dir.join(ROOT_KEY),
        RootKey::File(p) => p.to_owned(),
    };
    if !root_key_path.exists() {
        return Err(IssueError::Io {
            path: root_key_path.display().to_string(),
            message: match root_key {
                RootKey::InCaDir => format!("{step} needs the provider root's key: bring root.key back from offline storage for this step, or give its path with --root-key FILE"),
                RootKey::File(_) => format!("{step} needs the provider root's key, and there is no file here: give the path of the root.key that `ca init` wrote"),
            },
        });
    }
    let root_key = load_key(&root_key_path, passphrase)?;
    let root_der =
        CertificateDer::from_pem_slice(root_pem.as_bytes()).map_err(|e| IssueError::Io {
            path: dir.join(ROOT_PEM).display().to_string(),
            message: format!("not a PEM certificate: {e}"),
        })?;
    let (_, root) = X509Certificate::from_der(&root_der).map_err(|e| IssueError::Io {
        path: dir.join(ROOT_PEM).display().to_string(),
        message: format!("not a valid certificate: {e}"),
    })?;
    if root.public_key().subject_public_key.data.as_ref() != root_key.public_key_raw() {
        return Err(IssueError::Io {
            path: root_key_path.display().to_string(),
            message: format!(
                "this key does not belong to {}: give the root.key that `ca init` wrote with it",
                dir.join(ROOT_PEM).display()
            ),
        });
    }
    let serial = Serial::from_contents(root.raw_serial());
    let not_after = root.validity().not_after.to_datetime();
    if now >= not_after {
        return Err(IssueError::IssuerNotValid {
            now: rfc3339(now),
            not_before: rfc3339(root.validity().not_before.to_datetime()),
            not_after: rfc3339(not_after),
        });
    }
    let ski = super::ca::cert_ski(&root).ok_or_else(|| IssueError::Io {
        path: dir.join(ROOT_PEM).display().to_string(),
        message: "the provider root has no subjectKeyIdentifier: re-create the CA with `ca init`"
            .into(),
    })?;
    let issuer = Issuer::from_ca_cert_der(&root_der, root_key).map_err(sign_err)?;
    Ok(RootSigner {
        serial,
        ski,
        not_after,
        issuer,
    })
}
