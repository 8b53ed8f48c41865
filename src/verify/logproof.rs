//! Check 8: the log proof (docs/spec.md#verify-log). Under the trust list's `log_proof`
//! policy, the chain's tlog-proof must come from a listed log, rebuild the leaf's entry (VRF
//! label of the SII, hashes of the leaf and of its issuer's key), be included in the
//! checkpoint, and the checkpoint must be signed by that log and cosigned by
//! `witness_quorum` listed witnesses. A checkpoint's signatures are verified once per
//! verifier ([`CheckpointCache`]); the VRF proof and the inclusion proof are per chain.

use std::sync::Arc;

use super::cache::{CheckpointCache, VerifiedCheckpoint};
use super::{err, Code, VerifyError};
use crate::log::{LogError, MappingLogEntry, NoteVerifierKey, TlogProof, VrfProof};
use crate::sii::Sii;
use crate::trust::{LogProofPolicy, Policy, TrustedLog, TrustedWitness};

/// A chain's proof as the caller has it.
#[derive(Clone, Copy, Debug)]
pub(super) enum ProofInput<'a> {
    /// Parsed already.
    Parsed(&'a TlogProof),
    /// The text of a `.tlog-proof` file, parsed here.
    Text(&'a [u8]),
    /// A proof was given but could not be read; why.
    Unreadable(&'a str),
}

/// Where a verified chain's log proof led: reported in [`super::VerifiedMapping::log`] when
/// a proof was checked. Serialized as `{"log", "origin", "index", "tree_size", "witnesses"}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct LogInclusion {
    /// The trust-list name of the log.
    pub log: String,
    /// The log's origin (its checkpoints' first line).
    pub origin: String,
    /// The entry's index in the log.
    pub index: u64,
    /// The tree size of the checkpoint the proof leads to.
    pub tree_size: u64,
    /// The trust-list names of the witnesses that validly cosigned that checkpoint.
    pub witnesses: Vec<String>,
}

/// What a verifier accepts of logs: the trust list's logs and witnesses, and the
/// checkpoints already verified with them. Shared by clones of a verifier.
#[derive(Debug, Default)]
pub(super) struct LogTrust {
    logs: Vec<TrustedLog>,
    witnesses: Vec<TrustedWitness>,
    /// The witnesses' keys, in the same order, as [`crate::log::SignedCheckpoint::cosignatures`]
    /// takes them.
    witness_keys: Vec<NoteVerifierKey>,
    cache: CheckpointCache,
}

impl LogTrust {
    pub(super) fn new(logs: Vec<TrustedLog>, witnesses: Vec<TrustedWitness>) -> Self {
        let witness_keys = witnesses.iter().map(|w| w.key().clone()).collect();
        LogTrust {
            logs,
            witnesses,
            witness_keys,
            cache: CheckpointCache::default(),
        }
    }

    /// (checkpoints remembered, checkpoints whose signatures were verified).
    pub(super) fn cache_stats(&self) -> (usize, u64) {
        (self.cache.len(), self.cache.misses())
    }

    /// Check 8 for a leaf (DER) with SII `sii` issued by the CA with SubjectPublicKeyInfo
    /// `issuer_spki` (DER), both verified by checks 1 to 7. `None` when no proof was checked
    /// (policy `off`, or `optional` without a proof).
    pub(super) fn check(
        &self,
        policy: &Policy,
        input: Option<ProofInput<'_>>,
        leaf_der: &[u8],
        sii: &Sii,
        issuer_spki: &[u8],
    ) -> Result<Option<LogInclusion>, VerifyError> {
        let input = match (policy.log_proof, input) {
            (LogProofPolicy::Off, _) | (LogProofPolicy::Optional, None) => return Ok(None),
            (_, None) => {
                return Err(err(
                    Code::LogProofMissing,
                    0,
                    "the trust list requires a log proof (log_proof: required) and none was given: \
                     give the chain's tlog-proof (the .tlog-proof file the issuing CA wrote beside it)",
                ))
            }
            (_, Some(input)) => input,
        };
        let parsed;
        let proof = match input {
            ProofInput::Parsed(p) => p,
            ProofInput::Text(text) => {
                parsed = TlogProof::parse(text).map_err(invalid)?;
                &parsed
            }
            ProofInput::Unreadable(why) => {
                return Err(err(
                    Code::LogProofInvalid,
                    0,
                    format!("the log proof could not be read: {why}"),
                ))
            }
        };
        let origin = proof.checkpoint.checkpoint().origin();
        let Some((log_index, log)) = self
            .logs
            .iter()
            .enumerate()
            .find(|(_, l)| l.keys().origin == origin)
        else {
            return Err(err(
                Code::LogUnknown,
                0,
                format!(
                    "the proof's checkpoint is from the log {origin:?}, which the trust list does not name: \
                     list that log under logs, or give a proof from a listed log"
                ),
            ));
        };
        let keys = log.keys();

        // The entry, rebuilt from the chain and the VRF proof; then its inclusion.
        let extra = proof.extra.as_deref().ok_or(LogError::ProofMalformed {
            line: 2,
            reason: "no `extra` line with the VRF proof".into(),
        });
        let entry = extra
            .and_then(VrfProof::from_bytes)
            .and_then(|pi| keys.vrf.verify(sii.canonical().as_bytes(), &pi))
            .and_then(|beta| MappingLogEntry::from_leaf(leaf_der, issuer_spki, beta.label()))
            .map_err(invalid)?;
        proof
            .check_inclusion(&entry.leaf_hash().map_err(invalid)?)
            .map_err(invalid)?;

        // The checkpoint's signatures, once per verifier.
        let note = proof.checkpoint.as_bytes();
        let verdict = match self.cache.get(note) {
            Some(v) => v,
            None => {
                proof
                    .checkpoint
                    .verify(&keys.origin, &keys.key)
                    .map_err(invalid)?;
                let cosigned = proof
                    .checkpoint
                    .cosignatures(&self.witness_keys)
                    .map_err(invalid)?;
                let witnesses = self
                    .witness_keys
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| cosigned.iter().any(|(w, _)| w == k))
                    .map(|(i, _)| i)
                    .collect();
                let v = Arc::new(VerifiedCheckpoint {
                    log: log_index,
                    witnesses,
                });
                self.cache.insert(note, Arc::clone(&v));
                v
            }
        };
        let quorum = policy.witness_quorum as usize;
        if verdict.witnesses.len() < quorum {
            return Err(err(
                Code::WitnessQuorum,
                0,
                format!(
                    "the proof's checkpoint has {} valid cosignature(s) from the trust list's witnesses, and witness_quorum is {quorum}: \
                     give a proof whose checkpoint the witnesses have cosigned",
                    verdict.witnesses.len()
                ),
            ));
        }
        Ok(Some(LogInclusion {
            log: self.logs[verdict.log].name().to_owned(),
            origin: keys.origin.clone(),
            index: proof.index,
            tree_size: proof.checkpoint.checkpoint().size(),
            witnesses: verdict
                .witnesses
                .iter()
                .map(|&i| self.witnesses[i].name().to_owned())
                .collect(),
        }))
    }
}

fn invalid(e: LogError) -> VerifyError {
    err(
        Code::LogProofInvalid,
        0,
        format!("the log proof does not verify for this chain: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{Checkpoint, KeyType, LogKeys, NoteSigningKey, VrfSecretKey};
    use crate::trust::TrustList;
    use crate::verify::testing::{der, leaf_params, now};

    const ORIGIN: &str = "log.example/unit";
    const SII: &str = "tel:+15551234567";

    struct Fixture {
        leaf: Vec<u8>,
        spki: Vec<u8>,
        sii: Sii,
        trust: LogTrust,
        log_key: NoteSigningKey,
        witness: NoteSigningKey,
        vrf: VrfSecretKey,
    }

    fn fixture() -> Fixture {
        let log_key = NoteSigningKey::from_seed(ORIGIN, KeyType::Ed25519, &[1; 32]).unwrap();
        let witness =
            NoteSigningKey::from_seed("w.example/1", KeyType::Cosignature, &[2; 32]).unwrap();
        let vrf = VrfSecretKey::from_seed(&[3; 32]);
        let keys = LogKeys::new(
            ORIGIN,
            log_key.verifier_key().clone(),
            vrf.public_key().clone(),
        );
        // A trust list only to get TrustedLog/TrustedWitness values through their checks.
        let root = der(&crate::verify::testing::ca_params(now(), 1));
        let list = TrustList::builder()
            .anchor(
                "a",
                "chat-a.example",
                root.into(),
                crate::profile::Scope::new(&["+1"], &["chat-a.example"]).unwrap(),
            )
            .unwrap()
            .log("unit", keys)
            .unwrap()
            .witness("w1", witness.verifier_key().clone())
            .unwrap()
            .build()
            .unwrap();
        let (_, _, logs, witnesses) = list.into_parts();
        Fixture {
            leaf: der(&leaf_params(now())),
            spki: b"issuer spki".to_vec(),
            sii: Sii::parse(SII).unwrap(),
            trust: LogTrust::new(logs, witnesses),
            log_key,
            witness,
            vrf,
        }
    }

    impl Fixture {
        /// A proof of the leaf as the only entry of a one-leaf tree, cosigned or not.
        fn proof(&self, cosigned: bool) -> TlogProof {
            let pi = self.vrf.prove(SII.as_bytes()).unwrap();
            let entry =
                MappingLogEntry::from_leaf(&self.leaf, &self.spki, pi.to_hash().unwrap().label())
                    .unwrap();
            let cp = Checkpoint::new(ORIGIN, 1, entry.leaf_hash().unwrap())
                .unwrap()
                .sign(&self.log_key)
                .unwrap();
            let cp = if cosigned {
                let line = self
                    .witness
                    .signature_line(cp.text(), 1_800_000_000)
                    .unwrap();
                cp.with_signature_lines(&line).unwrap()
            } else {
                cp
            };
            TlogProof {
                extra: Some(pi.as_bytes().to_vec()),
                index: 0,
                inclusion: Vec::new(),
                checkpoint: cp,
            }
        }

        fn check(
            &self,
            policy: LogProofPolicy,
            quorum: u32,
            input: Option<ProofInput<'_>>,
        ) -> Result<Option<LogInclusion>, VerifyError> {
            let policy = Policy::default()
                .with_log_proof(policy)
                .with_witness_quorum(quorum);
            self.trust
                .check(&policy, input, &self.leaf, &self.sii, &self.spki)
        }
    }

    fn code<T: std::fmt::Debug>(r: Result<T, VerifyError>) -> Code {
        r.unwrap_err().code()
    }

    #[test]
    fn policy_decides_whether_a_proof_is_needed() {
        let f = fixture();
        use LogProofPolicy::*;
        assert_eq!(code(f.check(Required, 0, None)), Code::LogProofMissing);
        assert_eq!(f.check(Optional, 0, None).unwrap(), None);
        let garbage = ProofInput::Text(b"not a proof");
        assert_eq!(f.check(Off, 0, Some(garbage)).unwrap(), None);
        assert_eq!(
            code(f.check(Optional, 0, Some(garbage))),
            Code::LogProofInvalid
        );
        let unreadable = ProofInput::Unreadable("permission denied");
        let e = f.check(Required, 0, Some(unreadable)).unwrap_err();
        assert_eq!(e.code(), Code::LogProofInvalid);
        assert!(e.message().contains("permission denied"), "{e}");
    }

    #[test]
    fn a_valid_proof_reports_where_it_led_and_its_checkpoint_is_verified_once() {
        let f = fixture();
        let proof = f.proof(true);
        let text = proof.to_text();
        for input in [
            ProofInput::Parsed(&proof),
            ProofInput::Text(text.as_bytes()),
        ] {
            let got = f
                .check(LogProofPolicy::Required, 1, Some(input))
                .unwrap()
                .unwrap();
            assert_eq!(
                got,
                LogInclusion {
                    log: "unit".into(),
                    origin: ORIGIN.into(),
                    index: 0,
                    tree_size: 1,
                    witnesses: vec!["w1".into()],
                }
            );
        }
        assert_eq!(f.trust.cache_stats(), (1, 1));
    }

    #[test]
    fn each_failure_has_its_code() {
        let f = fixture();
        let required = |p: &TlogProof, quorum| {
            f.check(
                LogProofPolicy::Required,
                quorum,
                Some(ProofInput::Parsed(p)),
            )
        };
        // Too few cosignatures.
        assert_eq!(code(required(&f.proof(false), 1)), Code::WitnessQuorum);
        required(&f.proof(false), 0).unwrap();
        // A VRF proof of another SII.
        let mut p = f.proof(true);
        p.extra = Some(
            f.vrf
                .prove(b"tel:+15550000000")
                .unwrap()
                .as_bytes()
                .to_vec(),
        );
        assert_eq!(code(required(&p, 0)), Code::LogProofInvalid);
        // No VRF proof.
        p.extra = None;
        assert_eq!(code(required(&p, 0)), Code::LogProofInvalid);
        // Another index.
        let mut p = f.proof(true);
        p.index = 1;
        assert_eq!(code(required(&p, 0)), Code::LogProofInvalid);
        // Signed by another key under the listed origin.
        let mut p = f.proof(false);
        let other = NoteSigningKey::from_seed(ORIGIN, KeyType::Ed25519, &[9; 32]).unwrap();
        p.checkpoint = p.checkpoint.checkpoint().sign(&other).unwrap();
        assert_eq!(code(required(&p, 0)), Code::LogProofInvalid);
        // A log the trust list does not name.
        let stranger =
            NoteSigningKey::from_seed("other.example/log", KeyType::Ed25519, &[9; 32]).unwrap();
        let cp = f.proof(false).checkpoint;
        let root = *cp.checkpoint().root_hash();
        p.checkpoint = Checkpoint::new("other.example/log", 1, root)
            .unwrap()
            .sign(&stranger)
            .unwrap();
        assert_eq!(code(required(&p, 0)), Code::LogUnknown);
        // Nothing that failed was remembered.
        assert_eq!(f.trust.cache_stats().0, 1);
    }
}
