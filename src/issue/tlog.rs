//! Issuance writes the log: with `log:` in the CA config, the leaves of each sub-batch are
//! submitted to the CA's transparency log in one call (one checkpoint, on disk before the
//! call returns), cosigned by the configured witnesses, and handed out with their proofs.
//!
//! The order makes a crash at any point safe: leaves are stored first (as without a log),
//! then logged, then their log indexes are recorded in the store, then handed out. A leaf
//! stored without a recorded index is submitted again by the next issuance (under the
//! issuing lock, before anything new): the log is idempotent by leaf hash, so it gets the
//! index it already has, or is appended once if the crash came before its checkpoint.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};

use super::config::LogConfig;
use super::error::IssueError;
use super::keys::Passphrase;
use super::logdir::{log_keys, open_log, open_witness};
use crate::log::operator::{Labelled, Labeller};
use crate::log::{LogKeys, LogOperator, Logged, Submission, TlogProof, Witness};
use crate::profile::Serial;
use crate::store::IssuanceStore;

/// The log of a CA directory, opened at its first use (so that commands that issue nothing
/// never take the log's lock) and kept open while the CA is.
pub(crate) struct CaLog {
    dir: PathBuf,
    witness_dirs: Vec<PathBuf>,
    passphrase: Option<Passphrase>,
    open: Option<OpenLog>,
}

struct OpenLog {
    op: LogOperator,
    keys: LogKeys,
    witnesses: Vec<Witness>,
}

/// Issuing CAs' subjectKeyIdentifier → SubjectPublicKeyInfo (DER): a leaf's log entry names
/// the key of the CA that signed it, found by the leaf's authorityKeyIdentifier.
pub(crate) struct IssuerKeys(HashMap<Vec<u8>, Vec<u8>>);

impl IssuerKeys {
    /// The keys of every issuing CA the store holds.
    pub(crate) fn of(store: &IssuanceStore) -> Result<Self, IssueError> {
        let mut map = HashMap::new();
        for ca in store.issuing_cas()? {
            let Some(der) = ca.der else { continue };
            let (_, cert) = X509Certificate::from_der(&der).map_err(|e| bad_cert(&ca.serial, e))?;
            let ski = cert
                .extensions()
                .iter()
                .find_map(|e| match e.parsed_extension() {
                    ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                    _ => None,
                });
            if let Some(ski) = ski {
                map.insert(ski, cert.tbs_certificate.subject_pki.raw.to_vec());
            }
        }
        Ok(IssuerKeys(map))
    }

    /// The SubjectPublicKeyInfo of the issuing CA whose subjectKeyIdentifier is `ski`.
    pub(crate) fn by_ski(&self, ski: &[u8]) -> Option<&[u8]> {
        self.0.get(ski).map(Vec::as_slice)
    }

    /// The SubjectPublicKeyInfo of the CA that issued `leaf_der`.
    fn of_leaf(&self, leaf_der: &[u8]) -> Result<&[u8], IssueError> {
        let (_, cert) = X509Certificate::from_der(leaf_der)
            .map_err(|e| IssueError::Sign(format!("a stored leaf does not parse: {e}")))?;
        cert.extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    a.key_identifier.as_ref().and_then(|k| self.0.get(k.0))
                }
                _ => None,
            })
            .map(Vec::as_slice)
            .ok_or_else(|| {
                IssueError::Sign(format!(
                    "leaf {} names no issuing CA of this store (authorityKeyIdentifier): it cannot be logged",
                    cert.tbs_certificate.raw_serial_as_string()
                ))
            })
    }
}

fn bad_cert(serial: &Serial, e: impl std::fmt::Display) -> IssueError {
    IssueError::Sign(format!(
        "issuing CA {serial} in the store does not parse: {e}"
    ))
}

impl CaLog {
    /// The log `config` names, its paths read relative to the CA directory `ca_dir`; its keys
    /// and the witnesses' are opened with `passphrase` (the CA's).
    pub(crate) fn new(ca_dir: &Path, config: &LogConfig, passphrase: Option<&Passphrase>) -> Self {
        CaLog {
            dir: LogConfig::resolve(ca_dir, &config.dir),
            witness_dirs: config
                .witnesses
                .iter()
                .map(|w| LogConfig::resolve(ca_dir, w))
                .collect(),
            passphrase: passphrase.cloned(),
            open: None,
        }
    }

    fn open(&mut self) -> Result<&mut OpenLog, IssueError> {
        if self.open.is_none() {
            let keys = log_keys(&self.dir)?;
            let op = open_log(&self.dir, self.passphrase.as_ref())?;
            let witnesses = self
                .witness_dirs
                .iter()
                .map(|w| open_witness(w, self.passphrase.as_ref()))
                .collect::<Result<_, _>>()?;
            self.open = Some(OpenLog {
                op,
                keys,
                witnesses,
            });
        }
        Ok(self.open.as_mut().expect("opened above"))
    }

    /// Log `leaves` in one submission (one checkpoint when any is new, cosigned by every
    /// witness) and return each one's proof, in order.
    pub(crate) fn log(
        &mut self,
        leaves: &[&[u8]],
        issuers: &IssuerKeys,
        now: OffsetDateTime,
    ) -> Result<Vec<TlogProof>, IssueError> {
        if leaves.is_empty() {
            return Ok(Vec::new());
        }
        let submissions = leaves
            .iter()
            .map(|der| issuers.submission(der))
            .collect::<Result<Vec<_>, IssueError>>()?;
        self.open()?.submit(now, |op| op.add(&submissions))
    }

    /// [`Self::log`] of leaves labelled already (by [`Self::labeller`], as they were signed).
    pub(crate) fn log_labelled(
        &mut self,
        leaves: Vec<Labelled>,
        now: OffsetDateTime,
    ) -> Result<Vec<TlogProof>, IssueError> {
        if leaves.is_empty() {
            return Ok(Vec::new());
        }
        self.open()?.submit(now, |op| op.add_labelled(leaves))
    }

    /// The log's VRF key, to label leaves on the signing threads (opens the log).
    pub(crate) fn labeller(&mut self) -> Result<Labeller, IssueError> {
        Ok(self.open()?.op.labeller())
    }

    /// Submit the stored leaves without a recorded log index again (after a crash, or from
    /// before the log was configured) and record their indexes.
    pub(crate) fn repair(
        &mut self,
        store: &mut IssuanceStore,
        now: OffsetDateTime,
    ) -> Result<(), IssueError> {
        let unlogged = store.unlogged_leaves()?;
        if unlogged.is_empty() {
            return Ok(());
        }
        let issuers = IssuerKeys::of(store)?;
        for chunk in unlogged.chunks(REPAIR_CHUNK) {
            let ders: Vec<&[u8]> = chunk.iter().map(|(_, der, _)| der.as_slice()).collect();
            let proofs = self.log(&ders, &issuers, now)?;
            let rows: Vec<(i64, u64)> = chunk
                .iter()
                .zip(&proofs)
                .map(|((id, _, _), p)| (*id, p.index))
                .collect();
            store.write(|tx| tx.record_log_indexes(&rows))?;
        }
        Ok(())
    }
}

/// Leaves per submission when repairing (one checkpoint each).
const REPAIR_CHUNK: usize = 4096;

impl IssuerKeys {
    /// The submission of `leaf_der` with the key of the CA that issued it.
    pub(crate) fn submission<'a>(
        &'a self,
        leaf_der: &'a [u8],
    ) -> Result<Submission<'a>, IssueError> {
        Ok(Submission::new(leaf_der, self.of_leaf(leaf_der)?))
    }
}

impl OpenLog {
    /// Add one batch with `add` (one checkpoint when any leaf is new, cosigned by every
    /// witness) and return each leaf's proof, in order.
    fn submit(
        &mut self,
        now: OffsetDateTime,
        add: impl FnOnce(&mut LogOperator) -> Result<Vec<Logged>, crate::log::LogError>,
    ) -> Result<Vec<TlogProof>, IssueError> {
        let old_size = self.op.writer().size();
        let logged = add(&mut self.op)?;
        if self.op.writer().size() > old_size {
            self.cosign(now)?;
        }
        logged
            .iter()
            .map(|l| Ok(self.op.proof(l)?))
            .collect::<Result<_, IssueError>>()
    }

    /// Ask every witness to cosign the current checkpoint, then publish it with their lines.
    fn cosign(&mut self, now: OffsetDateTime) -> Result<(), IssueError> {
        if self.witnesses.is_empty() {
            return Ok(());
        }
        let mut lines = String::new();
        for w in &self.witnesses {
            let held = w
                .latest(&self.keys.origin)?
                .map_or(0, |c| c.checkpoint().size());
            let line = w.add_checkpoint(
                &self.op.witness_request(held)?,
                std::slice::from_ref(&self.keys.key),
                now.unix_timestamp().max(0) as u64,
            )?;
            lines.push_str(&line);
            if !line.ends_with('\n') {
                lines.push('\n');
            }
        }
        self.op.add_cosignatures(&lines)?;
        Ok(())
    }
}
