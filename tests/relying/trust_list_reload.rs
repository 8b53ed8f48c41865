//! Hot reload of a signed trust list in the library: a [`ReloadingVerifier`] over a signed
//! source verifies a real chain on four threads while new versions are published (the file
//! replaced atomically) and reloaded, with bad versions in between; `watch()` picks up a
//! replaced file by itself; a signer rotation accepted by one reload counts for the next.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use mimi_attest::{
    chain_from_pem, init_signing_key, open_signing_key, KeyProtection, NoteSigningKey, Refusal,
    Reload, ReloadingVerifier, SignedTrustList, SignerSet, TrustListError, TrustListSource,
    VerifyOptions,
};
use time::{Duration, OffsetDateTime};

use crate::common::now;
use crate::common::trust::{fresh_chain, AnchorText, ListV2};

/// A publisher with signing keys (2 of the first three sign) writing one list file.
struct Publisher {
    dir: tempfile::TempDir,
    keys: Vec<NoteSigningKey>,
    signers: SignerSet,
    list: PathBuf,
    anchor: AnchorText,
    chain: Vec<rustls_pki_types::CertificateDer<'static>>,
}

impl Publisher {
    fn new() -> Publisher {
        Publisher::with_keys(3)
    }

    /// `n` (at least 3) keys.
    fn with_keys(n: usize) -> Publisher {
        let dir = tempfile::tempdir().unwrap();
        let issued = fresh_chain(&dir.path().join("issuer"));
        let keys: Vec<NoteSigningKey> = (1..=n)
            .map(|i| {
                let path = dir.path().join(format!("signer-{i}.key"));
                init_signing_key(
                    &path,
                    &format!("fed.example/signer-{i}"),
                    &KeyProtection::Insecure,
                )
                .unwrap();
                open_signing_key(&path, None).unwrap()
            })
            .collect();
        let signers = SignerSet::new(
            2,
            keys[..3].iter().map(|k| k.verifier_key().clone()).collect(),
        )
        .unwrap();
        let chain = chain_from_pem(&std::fs::read(&issued.chain).unwrap()).unwrap();
        Publisher {
            list: dir.path().join("trust-list.signed"),
            anchor: AnchorText::chat_a(&issued.root_pem),
            dir,
            keys,
            signers,
            chain,
        }
    }

    fn source(&self) -> TrustListSource {
        TrustListSource::signed(&self.list, self.signers.clone())
            .with_state(self.dir.path().join("state"))
    }

    /// The vkeys of the keys at `idx`.
    fn vkeys(&self, idx: &[usize]) -> Vec<String> {
        idx.iter()
            .map(|&i| self.keys[i].verifier_key().to_string())
            .collect()
    }

    /// Version `sequence`; odd versions also list chat-b's example root, so that versions
    /// differ in what they hold and not only in their number.
    fn version(&self, sequence: u64) -> ListV2 {
        self.version_for(sequence, &[0, 1, 2])
    }

    /// [`Publisher::version`], naming 2 of the keys at `next` as the next signers.
    fn version_for(&self, sequence: u64, next: &[usize]) -> ListV2 {
        let mut l = ListV2::new(sequence, self.anchor.clone());
        let vkeys = self.vkeys(next);
        l = l.signed_by(2, &vkeys.iter().map(String::as_str).collect::<Vec<_>>());
        if sequence % 2 == 1 {
            l.anchors.push(AnchorText {
                name: "chat-b".into(),
                provider: "chat-b.example".into(),
                root_pem: std::fs::read_to_string("certs/chat-b-root.pem").unwrap(),
                scope: r#"{tel: ["+1"], email: ["chat-b.example"]}"#.into(),
            });
        }
        l
    }

    /// The signed form of `list` by the keys at `by`.
    fn signed(&self, list: &ListV2, by: &[usize]) -> Vec<u8> {
        let mut s = SignedTrustList::from_list_text(&list.text(), "test").unwrap();
        for &i in by {
            s.sign(&self.keys[i]).unwrap();
        }
        s.to_bytes()
    }

    /// Replace the published file atomically (a temporary file renamed over it).
    fn publish_bytes(&self, bytes: &[u8]) {
        let tmp = self.dir.path().join("trust-list.signed.tmp");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, &self.list).unwrap();
    }

    fn publish(&self, list: &ListV2, by: &[usize]) {
        self.publish_bytes(&self.signed(list, by));
    }
}

/// How many anchors [`Publisher::version`] `sequence` holds.
fn anchors(sequence: u64) -> usize {
    if sequence % 2 == 1 {
        2
    } else {
        1
    }
}

/// The signature lines of a signed list.
fn signature_lines(signed: &[u8]) -> String {
    let text = std::str::from_utf8(signed).unwrap();
    text.rsplit_once("\n\n").unwrap().1.to_owned()
}

/// A bad version, and the refusal it must get.
#[derive(Clone, Copy, Debug)]
enum Bad {
    /// The next version's text under the current version's signature lines.
    Signature,
    /// A validly signed older version.
    Rollback,
    /// A validly signed newer version that has expired.
    Expired,
    /// The next version signed by one key.
    TooFew,
}

fn refusal(e: &TrustListError) -> Refusal {
    match e {
        TrustListError::Refused { code, .. } => *code,
        other => panic!("not a refusal: {other}"),
    }
}

#[test]
fn verifications_on_four_threads_never_fail_while_lists_are_reloaded() {
    let p = Publisher::new();
    p.publish(&p.version(2), &[0, 1]);
    let t0 = OffsetDateTime::now_utc();
    let rv = Arc::new(ReloadingVerifier::new(p.source(), t0).unwrap());
    assert_eq!(rv.accepted().list().sequence(), Some(2));
    assert!(rv.last_error().is_none());

    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (rv, stop, count, failures) = (
                Arc::clone(&rv),
                Arc::clone(&stop),
                Arc::clone(&count),
                Arc::clone(&failures),
            );
            let chain = p.chain.clone();
            std::thread::spawn(move || {
                let options = VerifyOptions::at(now());
                while !stop.load(Ordering::Relaxed) {
                    match rv.verify_with(&chain, &options).result {
                        Ok(m) if m.anchor == "chat-a" => {}
                        Ok(m) => failures
                            .lock()
                            .unwrap()
                            .push(format!("wrong anchor {}", m.anchor)),
                        Err(e) => failures.lock().unwrap().push(e.to_string()),
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let mut good: u64 = 2;
    let mut good_reloads = 0;
    let mut bad_reloads = 0;
    let kinds = [Bad::Signature, Bad::Rollback, Bad::Expired, Bad::TooFew];
    for round in 0..100 {
        let now = OffsetDateTime::now_utc();
        if round % 2 == 0 {
            let next = good + 1;
            // Signers take turns: any two of the three.
            let by = [[0, 1], [1, 2], [2, 0]][next as usize % 3];
            p.publish(&p.version(next), &by);
            let r = rv
                .reload(now)
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_eq!(
                r,
                Reload::Swapped {
                    sequence: Some(next)
                }
            );
            assert!(rv.last_error().is_none(), "a good reload clears the error");
            assert_eq!(rv.current().anchors().len(), anchors(next));
            good = next;
            good_reloads += 1;
            // Reloading the same file changes nothing.
            if round % 10 == 0 {
                assert_eq!(rv.reload(now).unwrap(), Reload::Unchanged);
            }
        } else {
            let kind = kinds[(round / 2) % kinds.len()];
            let (bytes, want) = match kind {
                Bad::Signature => {
                    let current = p.signed(&p.version(good), &[0, 1]);
                    let mut forged = p.version(good + 1).text();
                    forged.push('\n');
                    forged.push_str(&signature_lines(&current));
                    (forged.into_bytes(), Refusal::Signatures)
                }
                Bad::Rollback => (p.signed(&p.version(good - 1), &[0, 1]), Refusal::Rollback),
                Bad::Expired => {
                    let mut l = p.version(good + 1);
                    l.issued = now - Duration::days(30);
                    l.expires = now - Duration::seconds(1);
                    (p.signed(&l, &[1, 2]), Refusal::Expired)
                }
                Bad::TooFew => (p.signed(&p.version(good + 1), &[2]), Refusal::Signatures),
            };
            p.publish_bytes(&bytes);
            let e = rv
                .reload(now)
                .expect_err(&format!("round {round}: {kind:?} was accepted"));
            assert_eq!(refusal(&e), want, "round {round}: {kind:?}: {e}");
            assert_eq!(
                rv.accepted().list().sequence(),
                Some(good),
                "{kind:?}: the list in force stays"
            );
            assert_eq!(rv.current().anchors().len(), anchors(good));
            assert_eq!(rv.last_error().as_ref(), Some(&e));
            bad_reloads += 1;
        }
    }
    // Let the threads run on the last list a moment, then stop them.
    std::thread::sleep(StdDuration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} verifications failed, first: {}",
        failures.len(),
        count.load(Ordering::Relaxed),
        failures[0]
    );
    assert!(count.load(Ordering::Relaxed) > 100, "the threads ran");
    assert_eq!((good_reloads, bad_reloads), (50, 50));
    assert_eq!(good, 52);
    assert_eq!(rv.accepted().list().sequence(), Some(52));
    // The state file holds the last good list, and a fresh platform starting from it
    // refuses the bad last file and any older one.
    let state = std::fs::read_to_string(p.dir.path().join("state")).unwrap();
    assert!(state.contains("sequence: 52\n"), "{state}");
    p.publish(&p.version(40), &[0, 1]);
    let Err(e) = ReloadingVerifier::new(p.source(), OffsetDateTime::now_utc()) else {
        panic!("an older list is accepted after a restart");
    };
    assert_eq!(refusal(&e), Refusal::Rollback, "{e}");
}

/// Poll `done` every 20 ms for up to 5 s.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < StdDuration::from_secs(5),
            "{what}: not within 5 s"
        );
        std::thread::sleep(StdDuration::from_millis(20));
    }
}

#[test]
fn watch_picks_up_a_replaced_file_and_keeps_the_last_good_list_on_a_bad_one() {
    let p = Publisher::new();
    p.publish(&p.version(2), &[0, 1]);
    let rv = Arc::new(ReloadingVerifier::new(p.source(), OffsetDateTime::now_utc()).unwrap());
    let options = VerifyOptions::at(now());
    let watch = rv.watch(StdDuration::from_millis(50));

    p.publish(&p.version(3), &[1, 2]);
    eventually("sequence 3 in force", || {
        rv.accepted().list().sequence() == Some(3)
    });
    assert!(rv.last_error().is_none());
    assert!(rv.verify_with(&p.chain, &options).result.is_ok());
    assert_eq!(rv.current().anchors().len(), anchors(3));

    // A bad file: the watcher records why, and sequence 3 stays.
    p.publish(&p.version(4), &[2]);
    eventually("the refusal recorded", || rv.last_error().is_some());
    let e = rv.last_error().unwrap();
    assert_eq!(refusal(&e), Refusal::Signatures, "{e}");
    assert_eq!(rv.accepted().list().sequence(), Some(3));
    assert!(rv.verify_with(&p.chain, &options).result.is_ok());

    p.publish(&p.version(4), &[0, 2]);
    eventually("sequence 4 in force", || {
        rv.accepted().list().sequence() == Some(4)
    });
    assert!(rv.last_error().is_none(), "a good reload clears the error");

    // Once the watch is dropped, a new file waits for an explicit reload.
    drop(watch);
    p.publish(&p.version(5), &[0, 1]);
    std::thread::sleep(StdDuration::from_millis(300));
    assert_eq!(rv.accepted().list().sequence(), Some(4));
    assert_eq!(
        rv.reload(OffsetDateTime::now_utc()).unwrap(),
        Reload::Swapped { sequence: Some(5) }
    );
}

#[test]
fn a_rotation_accepted_by_a_reload_counts_for_the_next_reload_without_a_state_file() {
    let p = Publisher::with_keys(6);
    let source = || TrustListSource::signed(&p.list, p.signers.clone());
    p.publish(&p.version(2), &[0, 1]);
    let now = OffsetDateTime::now_utc();
    let rv = ReloadingVerifier::new(source(), now).unwrap();
    // Version 3 hands over to keys 4 to 6: without their signatures it is refused.
    p.publish(&p.version_for(3, &[3, 4, 5]), &[0, 1]);
    let e = rv.reload(now).unwrap_err();
    assert_eq!(refusal(&e), Refusal::Rotation, "{e}");
    p.publish(&p.version_for(3, &[3, 4, 5]), &[0, 1, 3, 4]);
    assert_eq!(
        rv.reload(now).unwrap(),
        Reload::Swapped { sequence: Some(3) }
    );
    let accepted = rv.accepted();
    assert!(accepted.rotated());
    let next = accepted.next_signers().unwrap();
    assert_eq!(next.threshold(), 2);
    assert_eq!(
        next.keys()
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>(),
        p.vkeys(&[3, 4, 5])
    );
    // Version 4 by the new set alone: this process knows the rotation ...
    p.publish(&p.version_for(4, &[3, 4, 5]), &[4, 5]);
    assert_eq!(
        rv.reload(now).unwrap(),
        Reload::Swapped { sequence: Some(4) }
    );
    // ... and the old set no longer signs for it.
    p.publish(&p.version_for(5, &[3, 4, 5]), &[0, 1, 2]);
    assert_eq!(refusal(&rv.reload(now).unwrap_err()), Refusal::Signatures);
    assert_eq!(rv.accepted().list().sequence(), Some(4));
    // A restart without a state file knows only the signers it bootstraps from.
    p.publish(&p.version_for(4, &[3, 4, 5]), &[4, 5]);
    let Err(e) = ReloadingVerifier::new(source(), now) else {
        panic!("the bootstrap signers alone accept a list of the new set");
    };
    assert_eq!(refusal(&e), Refusal::Signatures, "{e}");
}
