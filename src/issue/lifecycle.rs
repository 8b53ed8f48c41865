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

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::cadir::{CaDir, CaSigner};
use super::error::{sign_err, IssueError};
use super::keys::{encode_key, KeyProtection, Passphrase};
use super::template::{ca_params, ca_row, random_serial};
use super::{CaConfig, IssueRequest, SubjectKey};
use crate::profile::{self, RevokeReason, Serial, Span};
use crate::store::{CertKind, CertStatus, IssuanceStore};

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

/// The issue request that renews the stored leaf `serial`.
pub(super) fn renewal_request(
    store: &IssuanceStore,
    serial: &Serial,
    validated_at: Option<OffsetDateTime>,
    validity: Option<Span>,
) -> Result<IssueRequest, IssueError> {
    let serial = serial.clone();
    let Some(row) = store.get(&serial)? else {
        return Err(IssueError::UnknownSerial {
            serial,
            store: store.path().into(),
        });
    };
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

/// Serials of the issued, unexpired leaves due for renewal at `now`, oldest first.
/// A leaf that was already renewed is not listed again.
pub(super) fn due_for_renewal(
    store: &IssuanceStore,
    window: RenewalWindow,
    now: OffsetDateTime,
) -> Result<Vec<Serial>, IssueError> {
    let renewed: std::collections::HashSet<Serial> = store
        .request_ids_with_prefix("renew:")?
        .into_iter()
        .filter_map(|id| id.strip_prefix("renew:")?.parse().ok())
        .collect();
    Ok(store
        .live_leaves(now)?
        .iter()
        .filter(|r| {
            !renewed.contains(&r.serial) && needs_renewal(r.not_before, r.not_after, window, now)
        })
        .map(|r| r.serial.clone())
        .collect())
}

/// Make a new issuing CA under `root` and stage it in `dir`: the current one (`current`)
/// is kept under `previous/`, the new one is written as `ca.{key,pem}.next` (its key
/// protected as `passphrase` says), then recorded in `store`. The caller swaps it in with
/// [`CaDir::finish_rotation`] once it has closed the store (a crash before that is
/// finished by the next open).
pub(super) fn rotate(
    dir: &CaDir,
    config: &CaConfig,
    store: &mut IssuanceStore,
    current: &Serial,
    root: &CaSigner,
    passphrase: Option<&Passphrase>,
    now: OffsetDateTime,
) -> Result<(), IssueError> {
    let generation = store.issuing_cas()?.len() + 1;
    let new_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(sign_err)?;
    let new_cert = ca_params(
        config,
        format!("{} Mapping Issuing CA {generation}", config.organization),
        0,
        &random_serial(config)?,
        now,
        (now + config.validity.ca.duration()).min(root.not_after),
    )?
    .signed_by(&new_key, &root.issuer)
    .map_err(sign_err)?;
    let row = ca_row(CertKind::Ca, new_cert.der(), Some(root.serial.clone()), now)?;
    // 1. Keep the retiring CA under previous/, 2. stage the new CA, 3. record it; the
    // caller then swaps it in.
    dir.retire_current(current)?;
    let protection = match passphrase {
        Some(p) => KeyProtection::Passphrase(p.clone()),
        None => KeyProtection::Insecure,
    };
    dir.stage_next(&encode_key(&new_key, &protection)?, &new_cert.pem())?;
    store.write(|tx| tx.insert(&row).map(|_| ()))?;
    Ok(())
}
