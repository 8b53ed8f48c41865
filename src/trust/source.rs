//! Where a relying platform's trust list comes from, and the rules for accepting it
//! (docs/spec.md#trust-list-acceptance): a plain file, or a signed list checked against the
//! signer set the platform trusts, its sequence against the last one accepted (in memory and
//! in a state file), and its expiry.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::list::{read_list_file, Refusal, TrustList, TrustListError};
use super::signed::SignedTrustList;
use super::signers::SignerSet;
use super::state::{State, StateFile};
use crate::profile;

/// How a trust list is loaded: a plain file, or a signed one with the signer set that the
/// platform trusts before any list (its signers file) and optionally a state file that keeps
/// the last accepted sequence across restarts.
///
/// ```no_run
/// use mimi_attest::{SignerSet, TrustListSource, Verifier};
/// let signers = SignerSet::from_file("signers.yaml".as_ref())?;
/// let source = TrustListSource::signed("trust-list.signed", signers).with_state("trust.state");
/// let accepted = source.load(time::OffsetDateTime::now_utc())?;
/// let verifier = Verifier::new(accepted.into_list());
/// # Ok::<(), mimi_attest::TrustListError>(())
/// ```
#[derive(Clone, Debug)]
pub struct TrustListSource {
    path: PathBuf,
    signed: Option<Signed>,
}

#[derive(Clone, Debug)]
struct Signed {
    bootstrap: SignerSet,
    state: Option<PathBuf>,
}

/// A list that passed every acceptance rule, with what the check found.
#[derive(Clone, Debug)]
pub struct Accepted {
    list: TrustList,
    sha256: [u8; 32],
    unchanged: bool,
    signed_by: Vec<String>,
    rotated: bool,
    next_signers: Option<SignerSet>,
}

impl Accepted {
    /// The list.
    pub fn list(&self) -> &TrustList {
        &self.list
    }

    /// The list, to make a verifier of.
    pub fn into_list(self) -> TrustList {
        self.list
    }

    /// SHA-256 of the list's text (of the whole file for a plain list).
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// The same list as the one accepted before (same sequence, same text): nothing changes.
    pub fn is_unchanged(&self) -> bool {
        self.unchanged
    }

    /// The names of the trusted keys whose signatures counted (empty for a plain list).
    pub fn signed_by(&self) -> &[String] {
        &self.signed_by
    }

    /// The list changed the signer set; from now on its `signers` sign the next version.
    pub fn rotated(&self) -> bool {
        self.rotated
    }

    /// Who may sign the next version (signed lists).
    pub fn next_signers(&self) -> Option<&SignerSet> {
        self.next_signers.as_ref()
    }

    fn sequence(&self) -> Option<u64> {
        self.list.sequence()
    }
}

impl TrustListSource {
    /// A plain trust list file (version 1 or 2, certificates inline or in files beside it).
    pub fn plain(path: impl Into<PathBuf>) -> Self {
        TrustListSource {
            path: path.into(),
            signed: None,
        }
    }

    /// A signed trust list, accepted with `threshold` signatures of `signers` (the
    /// platform's signers file) or of the set a later accepted list named.
    pub fn signed(path: impl Into<PathBuf>, signers: SignerSet) -> Self {
        TrustListSource {
            path: path.into(),
            signed: Some(Signed {
                bootstrap: signers,
                state: None,
            }),
        }
    }

    /// Keep the last accepted sequence (and the signer set after a rotation) in the state
    /// file at `state`, refusing older lists across restarts. Only signed lists have a state;
    /// for a plain source this does nothing.
    pub fn with_state(mut self, state: impl Into<PathBuf>) -> Self {
        if let Some(s) = &mut self.signed {
            s.state = Some(state.into());
        }
        self
    }

    /// The trust-list file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read the list and apply the acceptance rules at time `now`.
    pub fn load(&self, now: OffsetDateTime) -> Result<Accepted, TrustListError> {
        self.load_after(None, now)
    }

    /// As [`TrustListSource::load`], with `previous` the list accepted before in this
    /// process (a reload): a signed list must also be newer than it, and its signer set
    /// counts when it is newer than the state file's.
    pub fn load_after(
        &self,
        previous: Option<&Accepted>,
        now: OffsetDateTime,
    ) -> Result<Accepted, TrustListError> {
        let origin = self.path.display().to_string();
        let bytes = read_list_file(&self.path)?;
        let refuse = |code: Refusal, message: String| TrustListError::Refused {
            path: origin.clone(),
            code,
            message,
        };
        let Some(signed) = &self.signed else {
            if SignedTrustList::is_signed(&bytes) {
                return Err(refuse(
                    Refusal::Form,
                    "this is a signed trust list: give the signers file (--signers) so that its signatures are checked".into(),
                ));
            }
            let sha256 = profile::sha256(&bytes);
            let list = TrustList::from_file_bytes(bytes, &self.path)?;
            check_expiry(&list, now).map_err(|m| refuse(Refusal::Expired, m))?;
            return Ok(Accepted {
                unchanged: previous.is_some_and(|p| p.sha256 == sha256),
                list,
                sha256,
                signed_by: Vec::new(),
                rotated: false,
                next_signers: None,
            });
        };
        let note = match SignedTrustList::parse(&bytes, &origin) {
            Ok(note) => note,
            // Say what is wrong with the signed form when the file is meant to be one.
            Err(e) if looks_like_note(&bytes) => return Err(e),
            Err(_) => return Err(refuse(
                Refusal::Form,
                "this is not a signed trust list (no signature lines): have it signed with `trust-list sign`, or load it as a plain list (without --signers)".into(),
            )),
        };
        let sha256 = note.text_sha256();
        let (state_file, state) = match &signed.state {
            Some(p) => {
                let (f, s) = StateFile::open(p)?;
                (Some(f), s)
            }
            None => (None, None),
        };
        let publisher = signed.bootstrap.fingerprint();
        if let (Some(s), Some(p)) = (&state, &signed.state) {
            if s.publisher != publisher && s.signers.fingerprint() != publisher {
                return Err(TrustListError::State {
                    path: p.display().to_string(),
                    message: "the state file is of another publisher: it was begun from another signers file, and its signer set is not the one given either; give this publisher's state file, or a new path to begin one".into(),
                });
            }
        }
        // The newest of what was accepted before: the state file's and this process's.
        let baseline: Option<(u64, [u8; 32], SignerSet)> = {
            let from_state = state
                .as_ref()
                .map(|s| (s.sequence, s.sha256, s.signers.clone()));
            let from_memory = previous.and_then(|p| {
                Some((
                    p.sequence()?,
                    p.sha256,
                    p.next_signers
                        .clone()
                        .unwrap_or_else(|| signed.bootstrap.clone()),
                ))
            });
            match (from_state, from_memory) {
                (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
                (a, b) => a.or(b),
            }
        };
        let trusted = baseline
            .as_ref()
            .map(|b| b.2.clone())
            .unwrap_or_else(|| signed.bootstrap.clone());
        let note_v = note.note().map_err(|m| refuse(Refusal::Signatures, m))?;
        let good = trusted
            .signed(&note_v)
            .map_err(|m| refuse(Refusal::Signatures, m))?;
        if good.len() < trusted.threshold() {
            let names: Vec<&str> = good.iter().map(|k| k.name()).collect();
            return Err(refuse(
                Refusal::Signatures,
                format!(
                    "signed by {} of the trusted signers ({}), the threshold is {}: have more of the signers {trusted} sign it with `trust-list sign`",
                    good.len(),
                    if names.is_empty() { "none".to_owned() } else { names.join(", ") },
                    trusted.threshold()
                ),
            ));
        }
        let signed_by: Vec<String> = good.iter().map(|k| k.name().to_owned()).collect();
        let list = TrustList::from_signed_text(note.text(), &origin)?;
        let mut rotated = false;
        let next = match list.signers() {
            Some(next) if !next.same_as(&trusted) => {
                let new_good = next
                    .signed(&note_v)
                    .map_err(|m| refuse(Refusal::Rotation, m))?;
                if new_good.len() < next.threshold() {
                    return Err(refuse(
                        Refusal::Rotation,
                        format!(
                            "the list changes the signers to {next}, but only {} of them signed it (threshold {}): a new signer set must sign the list that introduces it, as well as the current one",
                            new_good.len(),
                            next.threshold()
                        ),
                    ));
                }
                rotated = true;
                next.clone()
            }
            Some(next) => next.clone(),
            None => trusted.clone(),
        };
        check_expiry(&list, now).map_err(|m| refuse(Refusal::Expired, m))?;
        let sequence = list.sequence().unwrap_or(0);
        let mut unchanged = false;
        if let Some((seen, seen_sha, _)) = &baseline {
            if sequence < *seen {
                return Err(refuse(
                    Refusal::Rollback,
                    format!(
                        "sequence {sequence} is older than sequence {seen}, accepted before: a platform never goes back to an older list; fetch the publisher's current list"
                    ),
                ));
            }
            if sequence == *seen {
                if *seen_sha != sha256 {
                    return Err(refuse(
                        Refusal::Rollback,
                        format!(
                            "sequence {sequence} was accepted before with other contents: a publisher gives each new list a higher sequence; this list is refused"
                        ),
                    ));
                }
                unchanged = true;
            }
        }
        if let Some(f) = &state_file {
            if !unchanged {
                f.store(&State {
                    publisher: state.as_ref().map_or(publisher, |s| s.publisher),
                    sequence,
                    sha256,
                    signers: next.clone(),
                })?;
            }
        }
        Ok(Accepted {
            list,
            sha256,
            unchanged,
            signed_by,
            rotated,
            next_signers: Some(next),
        })
    }
}

/// A version 2 list is not used at or after its `expires`.
fn check_expiry(list: &TrustList, now: OffsetDateTime) -> Result<(), String> {
    match list.expires() {
        Some(expires) if now >= expires => Err(format!(
            "the list expired at {}: fetch the publisher's current list",
            profile::rfc3339(expires)
        )),
        _ => Ok(()),
    }
}

/// Whether the bytes end with something that looks like signature lines (so that a broken
/// signed list is reported as such, not as "not signed").
fn looks_like_note(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|t| t.rsplit_once("\n\n"))
        .is_some_and(|(_, sigs)| sigs.starts_with("— "))
}
