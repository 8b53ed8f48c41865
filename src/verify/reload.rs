//! A verifier whose trust list can be replaced while verifications run: the current
//! [`Verifier`] sits behind an atomic pointer swap (`arc-swap`), so the hot path takes no
//! lock; a reload reads, checks and parses the new list completely before it swaps, and on
//! any failure keeps the list in force and records why.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use super::{Verification, Verifier, VerifyOptions};
use crate::profile;
use crate::trust::{Accepted, TrustListError, TrustListSource};

/// A [`Verifier`] over a [`TrustListSource`] that can be reloaded without a restart.
///
/// ```no_run
/// use std::sync::Arc;
/// use mimi_attest::{ReloadingVerifier, SignerSet, TrustListSource};
/// let signers = SignerSet::from_file("signers.yaml".as_ref())?;
/// let source = TrustListSource::signed("trust-list.signed", signers).with_state("trust.state");
/// let verifier = Arc::new(ReloadingVerifier::new(source, time::OffsetDateTime::now_utc())?);
/// // Re-read the file whenever it changes; a list that fails any check is not used.
/// let _watch = verifier.watch(std::time::Duration::from_secs(5));
/// # Ok::<(), mimi_attest::TrustListError>(())
/// ```
#[derive(Debug)]
pub struct ReloadingVerifier {
    source: TrustListSource,
    current: ArcSwap<Verifier>,
    /// The list in force and what its acceptance found; reloads hold this lock, so they
    /// run one at a time, and verifications never touch it.
    accepted: Mutex<Arc<Accepted>>,
    /// The verifier the last reload swapped out, kept until the next reload. A verification
    /// still running on it when it is swapped out then never holds its last reference, so
    /// the reloading thread frees it, not a verifying one (BENCHMARKS.md "Trust lists").
    retired: Mutex<Option<Arc<Verifier>>>,
    last_error: Mutex<Option<TrustListError>>,
}

/// What a successful [`ReloadingVerifier::reload`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reload {
    /// A new list is in force (its sequence, for version 2 lists).
    Swapped {
        /// The new list's sequence.
        sequence: Option<u64>,
    },
    /// The file holds the list already in force; nothing changed.
    Unchanged,
}

impl ReloadingVerifier {
    /// Load the first list from `source` (every acceptance rule applies at time `now`).
    pub fn new(source: TrustListSource, now: OffsetDateTime) -> Result<Self, TrustListError> {
        let accepted = source.load(now)?;
        let verifier = Verifier::new(accepted.list().clone());
        Ok(ReloadingVerifier {
            source,
            current: ArcSwap::from_pointee(verifier),
            accepted: Mutex::new(Arc::new(accepted)),
            retired: Mutex::new(None),
            last_error: Mutex::new(None),
        })
    }

    /// The verifier in force. Hold it for one batch of work; later calls see later lists.
    pub fn current(&self) -> Arc<Verifier> {
        self.current.load_full()
    }

    /// [`Verifier::verify_with`] on the verifier in force (one atomic load, no lock).
    pub fn verify_with(
        &self,
        chain: &[CertificateDer<'_>],
        options: &VerifyOptions<'_>,
    ) -> Verification {
        self.current.load().verify_with(chain, options)
    }

    /// The acceptance of the list in force (its sequence, signers, hash).
    pub fn accepted(&self) -> Arc<Accepted> {
        self.accepted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Why the last reload failed, until one succeeds.
    pub fn last_error(&self) -> Option<TrustListError> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Read the source again and, when it holds a newer acceptable list, swap it in. On any
    /// failure the list in force stays, and the error is returned and kept
    /// ([`ReloadingVerifier::last_error`]).
    pub fn reload(&self, now: OffsetDateTime) -> Result<Reload, TrustListError> {
        let mut accepted = self.accepted.lock().unwrap_or_else(PoisonError::into_inner);
        let result = self.source.load_after(Some(&accepted), now);
        let mut last_error = self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(next) if next.is_unchanged() => {
                *last_error = None;
                Ok(Reload::Unchanged)
            }
            Ok(next) => {
                let sequence = next.list().sequence();
                let old = self
                    .current
                    .swap(Arc::new(Verifier::new(next.list().clone())));
                // Frees the verifier retired by the reload before, here.
                *self.retired.lock().unwrap_or_else(PoisonError::into_inner) = Some(old);
                *accepted = Arc::new(next);
                *last_error = None;
                Ok(Reload::Swapped { sequence })
            }
            Err(e) => {
                *last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Check the source file every `every` and reload when its bytes changed (the first check
    /// always reloads, which is a no-op when the file holds the list in force); failures are
    /// kept in [`ReloadingVerifier::last_error`] and the list in force stays. Watching stops
    /// when the returned [`TrustListWatch`] is dropped.
    pub fn watch(self: &Arc<Self>, every: Duration) -> TrustListWatch {
        let (stop, stopped) = mpsc::channel::<()>();
        let this = Arc::clone(self);
        let thread = std::thread::spawn(move || {
            // Nothing seen yet: the first check reloads, so that a file replaced after the
            // list in force was loaded (before this thread ran) is not taken as the one
            // already in force.
            let mut seen: Option<Option<[u8; 32]>> = None;
            loop {
                match stopped.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let now_hash = Some(this.file_hash());
                if now_hash != seen {
                    // Errors are kept in last_error; the next change is tried again.
                    let _ = this.reload(OffsetDateTime::now_utc());
                    seen = now_hash;
                }
            }
        });
        TrustListWatch {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// SHA-256 of the source file's bytes, or `None` when it cannot be read.
    fn file_hash(&self) -> Option<[u8; 32]> {
        std::fs::read(self.source.path())
            .ok()
            .map(|b| profile::sha256(&b))
    }
}

/// A thread watching a trust-list file ([`ReloadingVerifier::watch`]); dropping it stops the
/// thread and waits for it.
#[derive(Debug)]
pub struct TrustListWatch {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for TrustListWatch {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Weak};

    use super::{Reload, ReloadingVerifier, Verifier};
    use crate::trust::TrustListSource;
    use crate::verify::testing;

    /// A plain list of one anchor named `name`, its root in root.der beside it.
    fn write_list(dir: &std::path::Path, name: &str) {
        std::fs::write(
            dir.join("trust-list.yaml"),
            format!("version: 1\nanchors:\n  - name: {name}\n    provider: chat-a.example\n    certificate: root.der\n    scope: {{tel: [\"+1\"]}}\n"),
        )
        .unwrap();
    }

    #[test]
    fn the_verifier_swapped_out_is_freed_by_the_next_reload() {
        let dir = tempfile::tempdir().unwrap();
        let now = testing::now();
        std::fs::write(
            dir.path().join("root.der"),
            testing::der(&testing::ca_params(now, 1)),
        )
        .unwrap();
        write_list(dir.path(), "first");
        let source = TrustListSource::plain(dir.path().join("trust-list.yaml"));
        let rv = ReloadingVerifier::new(source, now).unwrap();
        let first: Weak<Verifier> = Arc::downgrade(&rv.current());

        write_list(dir.path(), "second");
        assert_eq!(rv.reload(now).unwrap(), Reload::Swapped { sequence: None });
        assert_eq!(rv.current().anchors()[0].name(), "second");
        // Still held: a verification that began on it does not free it as it ends.
        assert!(first.upgrade().is_some());
        let second = Arc::downgrade(&rv.current());

        write_list(dir.path(), "third");
        assert_eq!(rv.reload(now).unwrap(), Reload::Swapped { sequence: None });
        assert!(first.upgrade().is_none(), "the reload freed it");
        assert!(second.upgrade().is_some());
        // A reload that changes nothing retires nothing.
        assert_eq!(rv.reload(now).unwrap(), Reload::Unchanged);
        assert!(second.upgrade().is_some());
    }
}
