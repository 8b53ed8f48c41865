//! The issuing pipeline: a stream of requests in sub-batches, each prepared on the calling
//! thread, reserved in the store, signed on all cores, stored as issued and handed out, in
//! order, with the store commits overlapping the signing.

use std::sync::mpsc;

use rcgen::{Issuer, KeyPair};
use time::OffsetDateTime;

use super::cadir::{CaDir, CaSigner};
use super::error::{sign_err, IssueError};
use super::leaf::{self, LeafFields, LeafTemplate};
use super::request::{subject_key, IssueRequest, Issued, KeyParts, P256PublicKey};
use super::rules::{self, IssuerValidity, LeafPlan};
use super::template::random_serial;
use super::tlog::{CaLog, IssuerKeys};
use super::CaConfig;
use crate::log::operator::{Labelled, Labeller};
use crate::log::Submission;
use crate::profile::{self, MimiMapping, Serial};
use crate::sii::Sii;
use crate::store::{CertKind, CertStatus, IssuanceStore, Release, StoreError, StoredCert, WriteTx};

/// Where a stream's requests come from: `source(n)` gives up to `n` more (an `Err` entry is
/// a request that could not be read; an empty vector ends the stream).
pub(crate) type Source<'a> =
    dyn FnMut(usize) -> Result<Vec<Result<IssueRequest, IssueError>>, IssueError> + 'a;

/// Where a stream's results go: each sub-batch's, in request order, once durable.
pub(crate) type Sink<'a> =
    dyn FnMut(Vec<Result<Issued, IssueError>>) -> Result<(), IssueError> + 'a;

/// A leaf prepared for signing: everything checked, serial chosen, not yet reserved.
struct Prepared {
    /// The serial, big-endian.
    serial: Vec<u8>,
    /// The subject's uncompressed P-256 point.
    point: Vec<u8>,
    /// The leaf's `MimiMapping`, DER.
    mapping: Vec<u8>,
    key_pem: Option<String>,
    record: StoredCert,
    sii: Sii,
    /// The store row, once reserved.
    rowid: i64,
}

/// What issuing reads and writes of an open provider CA: its directory (for the lock), its
/// store, and the issuing CA with its config and leaf template.
pub(crate) struct Pipeline<'a> {
    pub(crate) dir: &'a CaDir,
    pub(crate) store: &'a mut IssuanceStore,
    pub(crate) config: &'a CaConfig,
    pub(crate) issuing: &'a CaSigner,
    /// The issuing CA's PEM, the second half of every chain.
    pub(crate) ca_pem: &'a str,
    /// What every leaf of the issuing CA shares, encoded once.
    pub(crate) template: &'a LeafTemplate,
    /// The transparency log every leaf goes to before it is handed out, if any.
    pub(crate) log: Option<&'a mut CaLog>,
}

impl Pipeline<'_> {
    /// Issue a stream of requests in sub-batches of up to [`STAGE`]: `source(n)` gives up to
    /// `n` more (an `Err` entry is a request that could not be read: it is answered with
    /// its error, in its place; an empty vector ends the stream), `clock` the time for each
    /// sub-batch, and `sink` receives each sub-batch's results in request order once they
    /// are durable. The store work runs on its own thread (a transaction stores the
    /// sub-batches signed since the last one and reserves those prepared since) while
    /// another is signed: commits and their fsyncs overlap the signing even on one core,
    /// and the pipeline fills and drains once per turn, not once per sub-batch.
    pub(crate) fn issue_stream(
        &mut self,
        source: &mut Source<'_>,
        clock: &dyn Fn() -> OffsetDateTime,
        sink: &mut Sink<'_>,
    ) -> Result<(), IssueError> {
        self.issue_in_turns(TURN, source, clock, sink)
    }

    /// [`Self::issue_stream`] with `turn_len` sub-batches a turn.
    pub(crate) fn issue_in_turns(
        &mut self,
        turn_len: usize,
        source: &mut Source<'_>,
        clock: &dyn Fn() -> OffsetDateTime,
        sink: &mut Sink<'_>,
    ) -> Result<(), IssueError> {
        // Issuing processes take turns per CA (see issue::lock): a turn is up to `turn_len`
        // sub-batches, after which the pipeline drains and the lock is given up, so an
        // `issue` waiting behind a long batch waits seconds, not the whole batch.
        let mut exhausted = false;
        while !exhausted {
            let _lock = self.dir.lock()?;
            self.refuse_if_revoked()?;
            // Leaves an earlier run stored and did not finish logging go first.
            if let Some(log) = self.log.as_deref_mut() {
                log.repair(self.store, clock())?;
            }
            let mut taken = 0;
            let mut turn = |n: usize| {
                if taken == turn_len {
                    return Ok(Vec::new());
                }
                taken += 1;
                let reqs = source(n)?;
                exhausted = reqs.is_empty();
                Ok(reqs)
            };
            self.issue_pipeline(&mut turn, clock, sink)?;
        }
        Ok(())
    }

    /// A revoked issuing CA signs nothing more (read per turn: `revoke --issuing-ca` may
    /// have run in another process since this CA was opened).
    fn refuse_if_revoked(&self) -> Result<(), IssueError> {
        rules::check_issuer_not_revoked(self.store.get(&self.issuing.serial)?.as_ref())
    }

    /// One turn of [`Self::issue_stream`], under the issuing lock: reservations never
    /// outlive it unless its process dies, so releasing a `reserved` row of an earlier,
    /// dead attempt is safe.
    ///
    /// Three threads pass each sub-batch along, in order, without waiting for each other at
    /// fixed points: this one reads and prepares it, the store thread reserves it, the
    /// signing thread signs it (on all cores), the store thread stores it as issued, and
    /// this one hands it out. Up to [`IN_FLIGHT`] sub-batches are between the first and
    /// the last step. A source that fails ends the stream there: what is already signed is
    /// still stored and handed out, then the call fails. So does a sink that fails, but
    /// nothing more is handed out. A store failure ends the call at once.
    fn issue_pipeline(
        &mut self,
        source: &mut Source<'_>,
        clock: &dyn Fn() -> OffsetDateTime,
        sink: &mut Sink<'_>,
    ) -> Result<(), IssueError> {
        let ctx = PrepareCtx {
            config: self.config,
            issuer: IssuerValidity {
                not_before: self.issuing.not_before,
                not_after: self.issuing.not_after,
            },
            ca_serial: &self.issuing.serial,
        };
        let ca_pem = self.ca_pem;
        let issuers = match self.log {
            Some(_) => Some(IssuerKeys::of(self.store)?),
            None => None,
        };
        // With a log, each leaf is labelled (its VRF proof) as part of signing it, on the
        // signing threads, while this thread appends the sub-batches signed before.
        let labeller = match self.log.as_deref_mut() {
            Some(log) => Some(log.labeller()?),
            None => None,
        };
        let issuing_spki = match &issuers {
            Some(issuers) => Some(issuers.by_ski(&self.issuing.ski).ok_or_else(|| {
                IssueError::Sign(format!(
                    "the issuing CA {} is not in the store: its leaves cannot be logged",
                    self.issuing.serial
                ))
            })?),
            None => None,
        };
        let signer = LeafSigner {
            issuer: &self.issuing.issuer,
            template: self.template,
            ca_pem,
            log: labeller.as_ref().zip(issuing_spki),
        };
        let mut log = self.log.as_deref_mut();
        // (row id, log index) of the leaves logged in this turn, recorded once it ends.
        let mut logged_rows: Vec<(i64, u64)> = Vec::new();
        let store = &mut *self.store;
        let store_path = store.path();
        let parallel = rayon::current_num_threads() > 1;
        let stopped = |what: &str, why: &str| {
            IssueError::Store(crate::store::StoreError::Failed {
                path: store_path.clone(),
                message: format!("the {what} thread {why}; nothing after its sub-batch was issued"),
            })
        };
        let mut ids_in_flight = std::collections::HashSet::new();
        let ended = std::thread::scope(|s| {
            let (to_store, store_inbox) = mpsc::channel();
            let (to_signer, signer_inbox) = mpsc::channel();
            let (to_main, stored) = mpsc::channel();
            let signed_to_store = to_store.clone();
            let store_job = std::thread::Builder::new()
                .name("mimi-store".into())
                .spawn_scoped(s, move || {
                    store_loop(store, store_inbox, to_signer, to_main, ca_pem)
                })
                .map_err(|e| stopped("store", &format!("could not start ({e})")))?;
            let sign_job = std::thread::Builder::new()
                .name("mimi-sign".into())
                .spawn_scoped(s, move || {
                    sign_loop(signer_inbox, signed_to_store, &signer, parallel, &stopped)
                })
                .map_err(|e| stopped("signing", &format!("could not start ({e})")))?;

            // Sub-batches sent to the store thread and not handed out yet.
            let mut in_flight = 0;
            let mut pulled = 0;
            let mut pulling = true;
            let mut failure: Option<IssueError> = None;
            let mut handing_out = true;
            loop {
                let next = if pulling && in_flight < IN_FLIGHT {
                    match stored.try_recv() {
                        Ok(answer) => Some(answer),
                        Err(mpsc::TryRecvError::Empty) => None,
                        Err(mpsc::TryRecvError::Disconnected) => break,
                    }
                } else if in_flight == 0 {
                    break;
                } else {
                    match stored.recv() {
                        Ok(answer) => Some(answer),
                        Err(mpsc::RecvError) => break,
                    }
                };
                match next {
                    Some(Ok(stage)) => {
                        in_flight -= 1;
                        for id in &stage.ids {
                            ids_in_flight.remove(id);
                        }
                        if handing_out {
                            let results = match (log.as_deref_mut(), &issuers) {
                                (Some(log), Some(issuers)) => {
                                    log_stage(log, issuers, stage, clock(), &mut logged_rows)
                                }
                                _ => Ok(stage.results()),
                            };
                            if let Err(e) = results.and_then(&mut *sink) {
                                failure.get_or_insert(e);
                                handing_out = false;
                                pulling = false;
                                let _ = to_store.send(ToStore::Finish);
                            }
                        }
                    }
                    // The store thread has stopped, after handing over what it stored.
                    Some(Err(e)) => {
                        failure.get_or_insert(e);
                        break;
                    }
                    None => {
                        let reqs = source(stage_len(pulled));
                        pulled += 1;
                        let stage = match reqs {
                            Ok(reqs) if reqs.is_empty() => None,
                            Ok(reqs) => {
                                let now = clock();
                                let now = now.replace_nanosecond(0).unwrap_or(now);
                                // The first sub-batch is prepared on all cores; later ones
                                // on this thread, beside the signing (on the pool, they
                                // would queue behind it).
                                Some(Stage::prepare(
                                    reqs,
                                    &ctx,
                                    now,
                                    &mut ids_in_flight,
                                    parallel && pulled == 1,
                                ))
                            }
                            Err(e) => {
                                failure.get_or_insert(e);
                                None
                            }
                        };
                        let sent = match stage {
                            Some(stage) => {
                                in_flight += 1;
                                to_store.send(ToStore::Reserve(stage)).map_err(|_| {
                                    // The stage never reached the store thread.
                                    in_flight -= 1;
                                })
                            }
                            None => {
                                pulling = false;
                                to_store.send(ToStore::Finish).map_err(|_| ())
                            }
                        };
                        if sent.is_err() {
                            // The store thread has stopped: what it stored before and
                            // why it stopped are still waiting in `stored`.
                            pulling = false;
                        }
                    }
                }
            }
            if failure.is_none() {
                failure = stored.try_iter().find_map(Result::err);
            }
            drop((to_store, stored));
            let store_ended = store_job
                .join()
                .map_err(|_| stopped("store", "stopped unexpectedly"));
            let sign_ended = sign_job
                .join()
                .map_err(|_| stopped("signing", "stopped unexpectedly"));
            match failure {
                Some(e) => Err(e),
                None if in_flight > 0 => {
                    Err(store_ended.and(sign_ended).err().unwrap_or_else(|| {
                        stopped("store", "stopped before storing every signed sub-batch")
                    }))
                }
                None => store_ended.and(sign_ended),
            }
        });
        // Handed out already: a crash before this commit only makes the next run find
        // the same indexes again (see `tlog`).
        if !logged_rows.is_empty() {
            self.store.write(|tx| tx.record_log_indexes(&logged_rows))?;
        }
        ended
    }
}

/// Log the leaves of a stored sub-batch (new and replayed) in one submission and attach
/// their proofs; the new leaves' (row id, log index) go to `logged_rows`. New leaves were
/// labelled as they were signed; replayed ones are labelled here.
fn log_stage(
    log: &mut CaLog,
    issuers: &IssuerKeys,
    mut stage: Stage,
    now: OffsetDateTime,
    logged_rows: &mut Vec<(i64, u64)>,
) -> Result<Vec<Result<Issued, IssueError>>, IssueError> {
    let (rowids, mut labels): (Vec<Option<i64>>, Vec<Option<Labelled>>) = stage
        .slots
        .iter_mut()
        .map(|slot| match slot {
            Slot::Leaf {
                prepared,
                signed: Some(Ok(leaf)),
            } => (Some(prepared.rowid), leaf.labelled.take()),
            _ => (None, None),
        })
        .unzip();
    let mut results = stage.results();
    let mut labeller = None;
    let mut batch = Vec::with_capacity(results.len());
    for (result, label) in results.iter().zip(&mut labels) {
        if let Ok(issued) = result {
            let label = match label.take() {
                Some(label) => label,
                None => {
                    let labeller = match &labeller {
                        Some(l) => l,
                        None => labeller.insert(log.labeller()?),
                    };
                    labeller.label(&issuers.submission(&issued.leaf_der)?)?
                }
            };
            batch.push(label);
        }
    }
    let mut proofs = log.log_labelled(batch, now)?.into_iter();
    for (result, rowid) in results.iter_mut().zip(rowids) {
        if let Ok(issued) = result {
            let proof = proofs
                .next()
                .ok_or_else(|| IssueError::Sign("the log answered fewer leaves".into()))?;
            if let Some(id) = rowid {
                logged_rows.push((id, proof.index));
            }
            issued.tlog_proof = Some(proof);
        }
    }
    Ok(results)
}

/// The answer to a repeated request id from the row that holds it: the stored certificate
/// when the request is the same (by `fingerprint`), an id conflict when it differs, `None`
/// when the earlier attempt never completed (the id is free to use again).
fn replay_answer(
    row: StoredCert,
    id: &str,
    fingerprint: &str,
    sii: &Sii,
    ca_pem: &str,
) -> Option<Result<Issued, IssueError>> {
    let der = match (row.der, row.status) {
        (Some(der), CertStatus::Issued | CertStatus::Revoked) => der,
        _ => return None,
    };
    if row.request_sha256.as_deref() != Some(fingerprint) {
        return Some(Err(IssueError::RequestIdConflict {
            id: id.to_owned(),
            serial: row.serial.clone(),
        }));
    }
    Some(Ok(Issued {
        serial: row.serial,
        sii: sii.clone(),
        not_before: row.not_before,
        not_after: row.not_after,
        chain_pem: chain_pem(&der, ca_pem),
        leaf_der: der,
        private_key_pem: None,
        replayed: true,
        tlog_proof: None,
    }))
}

/// Requests per sub-batch (one store transaction) in [`Pipeline::issue_stream`]. In a
/// large store each leaf's inserts into the serial, request-id and SII indexes land on
/// random pages, and a transaction writes every page it touches to the log (and a
/// checkpoint again to the database): the more leaves a transaction holds, the more of
/// them share pages; larger would hold more memory in the sub-batches in flight
/// (BENCHMARKS.md, "Constants and their measurements").
const STAGE: usize = 4096;

/// The first sub-batch of a pipeline holds [`FIRST_STAGE`] requests and each next one twice
/// as many, up to [`STAGE`]. Until the pipeline is full nothing overlaps: the first
/// reservation commits before anything is signed, and the first signing runs before
/// anything is stored. Small first sub-batches keep that wait short (BENCHMARKS.md,
/// "Constants and their measurements").
const FIRST_STAGE: usize = 512;

/// The length of sub-batch `k` (from 0) of a pipeline.
fn stage_len(k: usize) -> usize {
    (FIRST_STAGE << k.min(8)).min(STAGE)
}

/// Sub-batches per turn of the issuing lock in [`Pipeline::issue_stream`]: 56,832
/// requests (the first four sub-batches are shorter, see [`stage_len`]), a few seconds.
const TURN: usize = 16;

/// One request of a sub-batch on its way through the pipeline.
enum Slot {
    /// Answered without signing: an error, or a replay from the store.
    Done(Result<Issued, IssueError>),
    /// A leaf: prepared, then reserved (its row id set), then signed (or failed to be).
    Leaf {
        prepared: Box<Prepared>,
        signed: Option<Result<SignedLeaf, IssueError>>,
    },
    /// Refused by its checks now, with a request id the store may hold from an earlier
    /// attempt that passed them: settled when the sub-batch is reserved.
    Refused {
        id: String,
        fingerprint: String,
        sii: Sii,
        error: IssueError,
    },
}

/// A signed (and linted) leaf.
struct SignedLeaf {
    der: Vec<u8>,
    /// Leaf then issuing CA, PEM.
    chain_pem: String,
    /// Its log entry and VRF proof, when the CA logs (taken when it is logged).
    labelled: Option<Labelled>,
}

/// A sub-batch: its requests in order, and the request ids it holds in flight.
struct Stage {
    slots: Vec<Slot>,
    ids: Vec<String>,
}

impl Stage {
    /// Check and prepare `reqs` (checks, key parsing, extension DER, fingerprint; on all
    /// cores when `parallel`). Whether a request id was issued before is found when it is
    /// reserved (the unique index), not looked up here; an id already in flight is refused.
    fn prepare(
        reqs: Vec<Result<IssueRequest, IssueError>>,
        ctx: &PrepareCtx<'_>,
        now: OffsetDateTime,
        in_flight: &mut std::collections::HashSet<String>,
        parallel: bool,
    ) -> Stage {
        use rayon::prelude::*;
        let mut slots = Vec::with_capacity(reqs.len());
        let mut ids = Vec::new();
        let mut to_prepare = Vec::with_capacity(reqs.len());
        for (i, req) in reqs.into_iter().enumerate() {
            let req = match req {
                Ok(req) => req,
                Err(e) => {
                    slots.push(Slot::Done(Err(e)));
                    continue;
                }
            };
            if let Some(id) = &req.request_id {
                if !in_flight.insert(id.clone()) {
                    slots.push(Slot::Done(Err(IssueError::Request(format!(
                        "request id {id:?} appears twice in this batch: give each request its own id"
                    )))));
                    continue;
                }
                ids.push(id.clone());
            }
            // Its place: replaced below by the prepared leaf or the reason it was refused.
            slots.push(Slot::Done(Err(IssueError::Request(String::new()))));
            to_prepare.push((i, req));
        }
        let prepare = |(i, req): (usize, IssueRequest)| {
            let slot = match ctx.prepare(&req, now) {
                Ok(p) => Slot::Leaf {
                    prepared: Box::new(p),
                    signed: None,
                },
                // It may be the retry of one issued earlier: the store answers (`reserve`).
                Err(error) => match req.request_id.clone() {
                    Some(id) => Slot::Refused {
                        fingerprint: req.fingerprint(),
                        id,
                        sii: req.sii,
                        error,
                    },
                    None => Slot::Done(Err(error)),
                },
            };
            (i, slot)
        };
        let prepared: Vec<(usize, Slot)> = if parallel {
            to_prepare.into_par_iter().map(prepare).collect()
        } else {
            to_prepare.into_iter().map(prepare).collect()
        };
        for (i, slot) in prepared {
            slots[i] = slot;
        }
        Stage { slots, ids }
    }

    /// Reserve the serials (and request ids) of the prepared leaves, in one call for all of
    /// them (the backend batches the writes). A request id the store already holds is
    /// answered from it ([`replay_answer`]), or, when its earlier attempt never completed,
    /// released and reserved anew. A request refused by its checks is answered from the
    /// store when its id was issued before (a late retry), else with the refusal.
    fn reserve(&mut self, tx: &mut dyn WriteTx, ca_pem: &str) -> Result<(), StoreError> {
        let records: Vec<&StoredCert> = self
            .slots
            .iter()
            .filter_map(|slot| match slot {
                Slot::Leaf { prepared, .. } => Some(&prepared.record),
                _ => None,
            })
            .collect();
        let wanted = records.len();
        let ids = tx.reserve(&records)?;
        if ids.len() != wanted {
            return Err(StoreError::Failed {
                path: tx.location().to_owned(),
                message: format!(
                    "the store answered {} of the {wanted} reservations asked for: nothing of this sub-batch was reserved",
                    ids.len()
                ),
            });
        }
        let mut ids = ids.into_iter();
        self.slots = std::mem::take(&mut self.slots)
            .into_iter()
            .map(|slot| settle_slot(tx, slot, &mut ids, ca_pem))
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    /// Write, sign, lint, label (when the CA logs) and encode the chain of every reserved
    /// leaf (all cores when `parallel`).
    fn sign(&mut self, signer: &LeafSigner<'_>, parallel: bool) {
        use rayon::prelude::*;
        let LeafSigner {
            issuer,
            template,
            ca_pem,
            log,
        } = *signer;
        let sign = |slot: &mut Slot| {
            if let Slot::Leaf {
                prepared: p,
                signed,
            } = slot
            {
                let tbs = template.tbs(&LeafFields {
                    serial: &p.serial,
                    not_before: p.record.not_before,
                    not_after: p.record.not_after,
                    point: &p.point,
                    sii: &p.sii,
                    mapping: &p.mapping,
                });
                *signed = Some(
                    tbs.and_then(|tbs| {
                        rcgen::SigningKey::sign(issuer.key(), &tbs)
                            .map(|signature| leaf::certificate(&tbs, &signature))
                            .map_err(sign_err)
                    })
                    .and_then(|der| {
                        // One parse for the lint and the log entry.
                        let cert = rules::parse_signed_leaf(&der)?;
                        rules::check_parsed_leaf(&cert)?;
                        let labelled = match log {
                            Some((labeller, spki)) => {
                                Some(labeller.label_parsed(&cert, &Submission::new(&der, spki))?)
                            }
                            None => None,
                        };
                        drop(cert);
                        Ok(SignedLeaf {
                            chain_pem: chain_pem(&der, ca_pem),
                            der,
                            labelled,
                        })
                    }),
                );
            }
        };
        if parallel {
            self.slots.par_iter_mut().for_each(sign);
        } else {
            self.slots.iter_mut().for_each(sign);
        }
    }

    /// Store the signed leaves as issued, and abandon those whose signing failed.
    fn complete(&self, tx: &mut dyn WriteTx) -> Result<(), StoreError> {
        let mut issued = Vec::with_capacity(self.slots.len());
        let mut abandoned = Vec::new();
        for slot in &self.slots {
            match slot {
                Slot::Leaf {
                    prepared: p,
                    signed: Some(Ok(leaf)),
                } => issued.push((p.rowid, leaf.der.as_slice())),
                Slot::Leaf { prepared: p, .. } => abandoned.push(p.rowid),
                Slot::Done(_) | Slot::Refused { .. } => {}
            }
        }
        tx.complete(&issued, &abandoned)
    }

    /// The results, in request order (once [`Self::complete`] is committed).
    fn results(self) -> Vec<Result<Issued, IssueError>> {
        self.slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(answer) => answer,
                Slot::Refused { error, .. } => Err(error),
                Slot::Leaf { prepared, signed } => {
                    let p = *prepared;
                    signed
                        .unwrap_or_else(|| Err(IssueError::Sign("the leaf was not signed".into())))
                        .map(|SignedLeaf { der, chain_pem, .. }| Issued {
                            serial: p.record.serial,
                            sii: p.sii,
                            not_before: p.record.not_before,
                            not_after: p.record.not_after,
                            chain_pem,
                            leaf_der: der,
                            private_key_pem: p.key_pem,
                            replayed: false,
                            tlog_proof: None,
                        })
                }
            })
            .collect()
    }
}

/// One slot of [`Stage::reserve`], once its leaf (if any) was offered to the store: `ids`
/// gives, leaf by leaf, the row reserved for it or `None` when its request id was taken.
fn settle_slot(
    tx: &mut dyn WriteTx,
    slot: Slot,
    ids: &mut impl Iterator<Item = Option<i64>>,
    ca_pem: &str,
) -> Result<Slot, StoreError> {
    match slot {
        Slot::Done(_) => Ok(slot),
        Slot::Refused {
            id,
            fingerprint,
            sii,
            error,
        } => {
            let answer = stored_answer(tx, &id, &fingerprint, &sii, ca_pem)?;
            Ok(Slot::Done(answer.unwrap_or(Err(error))))
        }
        Slot::Leaf {
            mut prepared,
            signed,
        } => {
            if let Some(rowid) = ids.next().flatten() {
                prepared.rowid = rowid;
                return Ok(Slot::Leaf { prepared, signed });
            }
            // Only a leaf with a request id is refused a row (its id is taken).
            let id = prepared.record.request_id.clone().unwrap_or_default();
            let fingerprint = prepared
                .record
                .request_sha256
                .as_deref()
                .unwrap_or_default();
            if let Some(answer) = stored_answer(tx, &id, fingerprint, &prepared.sii, ca_pem)? {
                return Ok(Slot::Done(answer));
            }
            // The earlier attempt reserved the id and never completed: free it, unless the
            // instance that reserved it is signing it now.
            let busy = |why: String| {
                Ok(Slot::Done(Err(IssueError::Request(format!(
                    "request id {id:?} {why}: nothing was issued for this line; send it again to get its certificate"
                )))))
            };
            match tx.release_request_id(&id)? {
                Release::Released => {}
                Release::InFlight { instance } => {
                    return busy(format!(
                        "is being issued by CA instance {instance} right now"
                    ))
                }
            }
            match tx.reserve(&[&prepared.record])?.first() {
                Some(Some(rowid)) => {
                    prepared.rowid = *rowid;
                    Ok(Slot::Leaf { prepared, signed })
                }
                _ => busy("was taken by another CA instance while it was retried".into()),
            }
        }
    }
}

/// The store's answer to request id `id`, if it issued that id before (see
/// [`replay_answer`]).
fn stored_answer(
    tx: &mut dyn WriteTx,
    id: &str,
    fingerprint: &str,
    sii: &Sii,
    ca_pem: &str,
) -> Result<Option<Result<Issued, IssueError>>, StoreError> {
    Ok(tx
        .row_by_request_id(id)?
        .and_then(|row| replay_answer(row, id, fingerprint, sii, ca_pem)))
}

/// Sub-batches between being sent to the store thread and being handed out in
/// [`Pipeline::issue_stream`]: one reserved and waiting, one being signed, one signed and
/// waiting to be stored, one stored and waiting to be handed out. With the one being
/// prepared, five of up to [`STAGE`] requests each.
const IN_FLIGHT: usize = 4;

/// What the store thread of a pipeline is given to do, in order.
enum ToStore {
    /// Reserve this prepared sub-batch's serials and request ids.
    Reserve(Stage),
    /// Store this signed sub-batch as issued.
    Signed(Stage),
    /// Nothing more will be reserved: stop once everything reserved is stored.
    Finish,
    /// The signing thread stopped: store what it signed before, then stop.
    Failed(IssueError),
}

/// The store thread of a pipeline: each transaction stores every signed sub-batch that is
/// waiting and reserves every prepared one (one commit, one fsync, for all of them). A
/// reserved sub-batch goes to the signing thread, a stored one back to the calling thread.
/// If a transaction fails, nothing of it stays; the signed sub-batches are then stored
/// alone (what was signed is kept) and handed back, followed by the error. A savepoint
/// would do the same in one go, but SQLite then copies every page the reservation touches
/// into a statement journal (BENCHMARKS.md, "Constants and their measurements").
///
/// At the end of a pipeline that stored at least a full sub-batch, the log is folded into
/// the database while the last results are handed out (closing the store would do it
/// alone, after them).
fn store_loop(
    store: &mut IssuanceStore,
    inbox: mpsc::Receiver<ToStore>,
    to_signer: mpsc::Sender<Stage>,
    to_main: mpsc::Sender<Result<Stage, IssueError>>,
    ca_pem: &str,
) {
    let mut reserved_not_stored = 0;
    let mut finishing = false;
    let mut leaves_stored = 0;
    while !(finishing && reserved_not_stored == 0) {
        let Ok(first) = inbox.recv() else {
            return;
        };
        let (mut reserve, mut signed, mut failed) = (Vec::new(), Vec::new(), None);
        for job in std::iter::once(first).chain(inbox.try_iter()) {
            match job {
                ToStore::Reserve(stage) => reserve.push(stage),
                ToStore::Signed(stage) => signed.push(stage),
                ToStore::Finish => finishing = true,
                ToStore::Failed(e) => {
                    // What was signed before still gets stored; nothing new is reserved.
                    failed = Some(e);
                    reserve.clear();
                    break;
                }
            }
        }
        let written = store.write(|tx| {
            for stage in &signed {
                stage.complete(tx)?;
            }
            for stage in &mut reserve {
                stage.reserve(tx, ca_pem)?;
            }
            Ok(())
        });
        if let Err(e) = written {
            let kept = !reserve.is_empty()
                && !signed.is_empty()
                && store
                    .write(|tx| signed.iter().try_for_each(|stage| stage.complete(tx)))
                    .is_ok();
            if kept {
                for stage in signed {
                    let _ = to_main.send(Ok(stage));
                }
            }
            let _ = to_main.send(Err(e.into()));
            return;
        }
        reserved_not_stored += reserve.len();
        reserved_not_stored -= signed.len();
        leaves_stored += signed.iter().map(|stage| stage.slots.len()).sum::<usize>();
        for stage in reserve {
            if to_signer.send(stage).is_err() {
                return;
            }
        }
        for stage in signed {
            if to_main.send(Ok(stage)).is_err() {
                return;
            }
        }
        if let Some(e) = failed {
            let _ = to_main.send(Err(e));
            return;
        }
    }
    drop((to_signer, to_main));
    if leaves_stored >= STAGE {
        // Not fatal if it cannot: closing the store folds the log again.
        let _ = store.fold_log();
    }
}

/// The signing thread of a pipeline: signs each reserved sub-batch (on all cores when
/// `parallel`) and sends it back to the store thread. If signing panics, the store thread
/// is told: it stores what was signed before and stops the pipeline.
fn sign_loop(
    inbox: mpsc::Receiver<Stage>,
    to_store: mpsc::Sender<ToStore>,
    signer: &LeafSigner<'_>,
    parallel: bool,
    stopped: &dyn Fn(&str, &str) -> IssueError,
) {
    for mut stage in inbox {
        let signed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            stage.sign(signer, parallel)
        }));
        let job = match signed {
            Ok(()) => ToStore::Signed(stage),
            Err(_) => ToStore::Failed(stopped("signing", "stopped unexpectedly")),
        };
        if to_store.send(job).is_err() {
            return;
        }
    }
}

/// Leaf then issuing CA, PEM.
fn chain_pem(leaf_der: &[u8], ca_pem: &str) -> String {
    let mut out =
        String::with_capacity(profile::pem_certificate_len(leaf_der.len()) + ca_pem.len());
    profile::push_pem_certificate(&mut out, leaf_der);
    out.push_str(ca_pem);
    out
}

/// The parts of a [`Pipeline`] that preparing a leaf reads.
struct PrepareCtx<'a> {
    config: &'a CaConfig,
    issuer: IssuerValidity,
    ca_serial: &'a Serial,
}

/// The parts of a [`Pipeline`] that writing and signing a leaf reads.
#[derive(Clone, Copy)]
struct LeafSigner<'a> {
    issuer: &'a Issuer<'static, KeyPair>,
    template: &'a LeafTemplate,
    /// The issuing CA's PEM, the second half of every chain.
    ca_pem: &'a str,
    /// The log's labeller and the issuing CA's SubjectPublicKeyInfo (DER), when the CA logs.
    log: Option<(&'a Labeller, &'a [u8])>,
}

impl PrepareCtx<'_> {
    fn prepare(&self, req: &IssueRequest, now: OffsetDateTime) -> Result<Prepared, IssueError> {
        let config = self.config;
        let LeafPlan {
            not_after,
            validated_at,
            method,
        } = rules::check_request(req, config, self.issuer, now)?;
        let KeyParts {
            spki_der,
            private_key_pem: key_pem,
            consent,
        } = subject_key(&req.key, &req.sii)?;
        let spki = P256PublicKey::from_spki(&spki_der)?;
        let mapping = MimiMapping {
            provider: config.provider.to_string(),
            handle: req.handle.clone(),
            method,
            validated_at,
            flags: req.flags,
            consent,
        };
        let serial = random_serial(config)?;
        let record = StoredCert {
            serial: Serial::from_contents(&serial),
            kind: CertKind::Leaf,
            request_id: req.request_id.clone(),
            request_sha256: Some(req.fingerprint()),
            sii: Some(req.sii.clone()),
            handle: req.handle.clone(),
            method: Some(method),
            validated_at: Some(validated_at),
            not_before: now,
            not_after,
            issuer_serial: Some(self.ca_serial.clone()),
            der: None,
            csr_sha256: consent.map(|h| profile::hex(&h)),
            status: CertStatus::Reserved,
            created_at: now,
            revoked_at: None,
            revocation_reason: None,
        };
        Ok(Prepared {
            serial,
            point: spki.point,
            mapping: mapping.to_der()?,
            key_pem,
            record,
            sii: req.sii.clone(),
            rowid: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::ProviderCa;

    /// Sub-batch lengths: doubling from FIRST_STAGE up to STAGE, and a turn of TURN of them
    /// is the 56,832 requests the docs (lock.rs, README) promise.
    #[test]
    fn sub_batches_ramp_up_to_the_stage_length() {
        let lens: Vec<usize> = (0..6).map(stage_len).collect();
        assert_eq!(lens, [512, 1024, 2048, 4096, 4096, 4096]);
        assert_eq!(stage_len(usize::MAX), STAGE);
        assert_eq!((0..TURN).map(stage_len).sum::<usize>(), 56_832);
    }

    /// A stream longer than one turn: the pipeline drains and the lock is given up between
    /// turns, and nothing of the stream is lost, reordered or issued twice; an id whose
    /// turn has ended is answered from the store, one still in flight is refused.
    #[test]
    fn a_stream_in_many_turns_keeps_order_and_replays_across_turns() {
        let tmp = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let mut ca = ProviderCa::init(
            "provider: chat-a.example\norganization: Chat A Inc.\nscope:\n  tel: [\"+1\"]\n",
            "turns",
            &tmp.path().join("ca"),
            now,
        )
        .unwrap();
        let request = |i: usize| {
            let mut r = IssueRequest::new(Sii::parse(&format!("+1555000{i:04}")).unwrap());
            r.request_id = Some(format!("turn-{i}"));
            r
        };
        // Nine requests in three turns, then a sub-batch of request 0 again (its turn long
        // over) and request 9 twice (in flight together).
        let mut queue: std::collections::VecDeque<IssueRequest> = (0..9).map(request).collect();
        queue.extend([request(0), request(9), request(9)]);
        let mut calls = 0;
        let mut source = |n: usize| {
            calls += 1;
            let take = n.min(3).min(queue.len());
            Ok(queue.drain(..take).map(Ok).collect())
        };
        let mut out = Vec::new();
        let mut sink = |results: Vec<Result<Issued, IssueError>>| {
            out.extend(results);
            Ok(())
        };
        ca.pipeline()
            .issue_in_turns(1, &mut source, &|| now, &mut sink)
            .unwrap();
        // Three requests a turn: four turns with requests, and a last call that finds none.
        assert_eq!(calls, 5);
        assert_eq!(out.len(), 12);
        let issued: Vec<&Issued> = out[..9].iter().map(|r| r.as_ref().unwrap()).collect();
        for (i, leaf) in issued.iter().enumerate() {
            assert_eq!(leaf.sii, request(i).sii, "result {i} out of order");
            assert!(!leaf.replayed);
        }
        let replay = out[9].as_ref().unwrap();
        assert!(
            replay.replayed,
            "an id from an earlier turn is answered from the store"
        );
        assert_eq!(replay.serial, issued[0].serial);
        let nine = out[10].as_ref().unwrap();
        assert_eq!((nine.sii.clone(), nine.replayed), (request(9).sii, false));
        let repeat = out[11].as_ref().unwrap_err().to_string();
        assert!(repeat.contains("appears twice"), "{repeat}");
        let serials: std::collections::HashSet<&Serial> =
            issued.iter().chain([&nine]).map(|l| &l.serial).collect();
        assert_eq!(serials.len(), 10, "one serial per leaf");
        assert_eq!(ca.store().count(CertStatus::Issued).unwrap(), 2 + 10);
    }

    /// A CA in a temporary directory, and requests with ids `{prefix}-{i}`.
    fn test_ca(tmp: &tempfile::TempDir) -> ProviderCa {
        ProviderCa::init(
            "provider: chat-a.example\norganization: Chat A Inc.\nscope:\n  tel: [\"+1\"]\n",
            "pipeline",
            &tmp.path().join("ca"),
            OffsetDateTime::now_utc(),
        )
        .unwrap()
    }

    fn numbered_request(prefix: &str, i: usize) -> IssueRequest {
        let mut r = IssueRequest::new(Sii::parse(&format!("+1555000{i:04}")).unwrap());
        r.request_id = Some(format!("{prefix}-{i}"));
        r
    }

    /// A source that gives up to `per_call` requests a call, `total` in all, then ends the
    /// stream, or fails when `fail`.
    fn counted_source(
        per_call: usize,
        total: usize,
        fail: bool,
    ) -> impl FnMut(usize) -> Result<Vec<Result<IssueRequest, IssueError>>, IssueError> {
        let mut next = 0;
        move |n: usize| {
            if next == total {
                return if fail {
                    Err(IssueError::Request("the input broke off".into()))
                } else {
                    Ok(Vec::new())
                };
            }
            let end = (next + n.min(per_call)).min(total);
            let reqs = (next..end).map(|i| Ok(numbered_request("p", i))).collect();
            next = end;
            Ok(reqs)
        }
    }

    /// Run `source` through [`Pipeline::issue_stream`]: the leaves handed out (every
    /// result must be one), and how the call ended.
    fn stream_leaves(
        ca: &mut ProviderCa,
        mut source: impl FnMut(usize) -> Result<Vec<Result<IssueRequest, IssueError>>, IssueError>,
    ) -> (Vec<Issued>, Result<(), IssueError>) {
        let mut out = Vec::new();
        let ended =
            ca.pipeline()
                .issue_stream(&mut source, &OffsetDateTime::now_utc, &mut |results| {
                    out.extend(results.into_iter().map(Result::unwrap));
                    Ok(())
                });
        (out, ended)
    }

    /// The serials the store holds with `status`.
    fn serials_with(ca: &ProviderCa, status: CertStatus) -> std::collections::BTreeSet<Serial> {
        let rows = ca.store().all().unwrap().into_iter();
        rows.filter(|r| r.kind == CertKind::Leaf && r.status == status)
            .map(|r| r.serial)
            .collect()
    }

    /// A source that fails ends the stream: everything it gave before is still signed,
    /// stored and handed out, in order, and then the call fails with the source's error.
    #[test]
    fn a_failing_source_still_stores_and_hands_out_what_it_gave() {
        let tmp = tempfile::tempdir().unwrap();
        let mut ca = test_ca(&tmp);
        let (out, ended) = stream_leaves(&mut ca, counted_source(3, 14, true));
        let err = ended.unwrap_err();
        assert!(err.to_string().contains("the input broke off"), "{err}");
        assert_eq!(out.len(), 14);
        for (i, leaf) in out.iter().enumerate() {
            assert_eq!(
                leaf.sii,
                numbered_request("p", i).sii,
                "result {i} out of order"
            );
        }
        let handed_out = out.iter().map(|l| l.serial.clone()).collect();
        assert_eq!(serials_with(&ca, CertStatus::Issued), handed_out);
        assert!(serials_with(&ca, CertStatus::Reserved).is_empty());
    }

    /// A sink that fails stops the hand-out and fails the call; what was already signed is
    /// stored as issued (a retry answers it from the store), and no reservation is left.
    #[test]
    fn a_failing_sink_stops_the_hand_out_and_leaves_no_reservation() {
        let tmp = tempfile::tempdir().unwrap();
        let mut ca = test_ca(&tmp);
        let mut calls = 0;
        let mut handed_out = std::collections::BTreeSet::new();
        let err = ca
            .pipeline()
            .issue_stream(
                &mut counted_source(2, 40, false),
                &OffsetDateTime::now_utc,
                &mut |results| {
                    calls += 1;
                    if calls == 2 {
                        return Err(IssueError::Io {
                            path: "out".into(),
                            message: "disk full".into(),
                        });
                    }
                    handed_out.extend(results.into_iter().map(|r| r.unwrap().serial));
                    Ok(())
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(calls, 2, "nothing is handed out after the sink failed");
        assert_eq!(handed_out.len(), 2);
        let issued = serials_with(&ca, CertStatus::Issued);
        assert!(handed_out.is_subset(&issued));
        assert!(
            issued.len() < 40,
            "the stream stopped: {} issued",
            issued.len()
        );
        assert!(serials_with(&ca, CertStatus::Reserved).is_empty());
    }

    /// A store failure (here a trigger refusing one reservation) fails the call. Every
    /// sub-batch stored before it is handed out, in order, and nothing else is stored as
    /// issued; a retry of the whole stream answers those from the store and issues the rest.
    #[test]
    fn a_store_failure_hands_out_exactly_what_was_stored_then_fails() {
        let tmp = tempfile::tempdir().unwrap();
        let mut ca = test_ca(&tmp);
        ca.store()
            .execute_for_test(
                "CREATE TRIGGER refuse BEFORE INSERT ON certificates WHEN NEW.request_id = 'p-9' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END;",
            )
            .unwrap();
        let (out, ended) = stream_leaves(&mut ca, counted_source(2, 30, false));
        let err = ended.unwrap_err();
        assert!(
            err.to_string().contains("refused by the test trigger"),
            "{err}"
        );
        assert!(
            out.len() <= 8,
            "request 9 is in the fifth sub-batch: {}",
            out.len()
        );
        for (i, leaf) in out.iter().enumerate() {
            assert_eq!(
                leaf.sii,
                numbered_request("p", i).sii,
                "result {i} out of order"
            );
        }
        let handed_out: std::collections::BTreeSet<Serial> =
            out.iter().map(|l| l.serial.clone()).collect();
        assert_eq!(serials_with(&ca, CertStatus::Issued), handed_out);

        ca.store().execute_for_test("DROP TRIGGER refuse").unwrap();
        let (again, ended) = stream_leaves(&mut ca, counted_source(2, 30, false));
        ended.unwrap();
        assert_eq!(again.len(), 30);
        for (before, after) in out.iter().zip(&again) {
            assert!(after.replayed);
            assert_eq!(before.serial, after.serial);
        }
        assert!(again[out.len()..].iter().all(|l| !l.replayed));
        assert_eq!(serials_with(&ca, CertStatus::Issued).len(), 30);
        assert!(serials_with(&ca, CertStatus::Reserved).is_empty());
    }
}
