//! The verified-intermediate cache (issue 6 item 2), and the verified-checkpoint cache of
//! step 8 ([`CheckpointCache`]).
//!
//! Once an issuing CA has been verified to a trust-list anchor — its signature by the root,
//! validity, basicConstraints and pathLen, keyUsage, EKU, critical extensions, scope
//! delegation and, under `revocation: chain`, its status on the root's CRL — later leaves
//! under it are checked by rustls-webpki against that CA *as a trust anchor*: one signature
//! check per leaf. Every leaf-level check still runs, on the same code path as a fresh
//! verification.
//!
//! - **Key**: the intermediate's DER, compared in full. The map is indexed by the DER's last
//!   32 bytes (the tail of the signature value, which differs for every certificate) so a
//!   lookup hashes 32 bytes instead of the whole certificate; a hit is confirmed by comparing
//!   the whole DER. The anchor is part of the entry: within one [`super::Verifier`] the
//!   anchor a given intermediate chains to is fixed (the first matching anchor in trust-list
//!   order, as webpki picks it), so DER → anchor is a function and the entry records it.
//! - **Bound**: [`CAPACITY`] entries. A relying platform's working set is the issuing CAs of
//!   the providers it trusts — a handful per provider — and only a chain that verified in full
//!   can add an entry, so only a trusted provider can make the set grow. When full, an
//!   arbitrary entry (the first in the map's randomly seeded order) is evicted: O(1), and no
//!   bookkeeping on a hit, so hits stay read-only (LRU would need a write per hit).
//! - **Thread safety**: an `RwLock`; a hit takes the read lock for a map lookup and an
//!   `Arc` clone, and the leaf's signature is checked after the lock is released. Writes
//!   happen only on a miss that verified in full.
//! - **Validity of an entry**: the window of verification times in which its verdict holds —
//!   the intermediate's and the root's validity, widened by the clock skew as a fresh
//!   verification does, and under `revocation: chain` the interval in which the choice of the
//!   root's CRL stays the same and that CRL is fresh (see
//!   `CrlSet::selection_window`). Outside the window the entry is ignored and the chain is
//!   verified in full (which replaces the entry if the verdict holds again).
//! - **Generations**: the cache belongs to one set of anchors, policy and CRLs. Clones of a
//!   verifier share it (they hold the same anchors, policy and CRLs, so the same verdicts);
//!   [`super::Verifier::with_crls`] gives the new verifier an empty cache, and a new trust
//!   list means a new verifier and a new cache.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use time::OffsetDateTime;
use webpki::EndEntityCert;
use x509_parser::prelude::X509Certificate;

use super::parse::{not_after, not_before};
use super::path::{strip_sequence, RootFacts, ALGS, MIMI_EKU};
use super::revocation::OwnedIssuer;
use super::{CrlNote, Verifier};
use crate::profile::Scope;
use crate::trust::RevocationPolicy;

/// How many verified intermediates a verifier remembers.
pub(crate) const CAPACITY: usize = 256;

/// An issuing CA verified to an anchor, and what that verdict depended on.
pub(crate) struct VerifiedCa {
    /// The intermediate's DER (the key, compared in full).
    pub(crate) der: Box<[u8]>,
    /// Its validity, and what the revocation check of a leaf needs of its issuer: kept so
    /// that the CA is not parsed again.
    pub(crate) not_before: OffsetDateTime,
    pub(crate) not_after: OffsetDateTime,
    pub(crate) issuer: OwnedIssuer,
    /// Index of the anchor it chains to.
    pub(crate) anchor: usize,
    /// Its SubjectPublicKeyInfo (DER): a log entry names the issuer by its hash.
    pub(crate) spki: Box<[u8]>,
    /// The intermediate as a webpki trust anchor (subject, key, its nameConstraints).
    pub(crate) trust_anchor: TrustAnchor<'static>,
    /// The verification times for which the verdict holds (inclusive).
    pub(crate) valid_from: OffsetDateTime,
    pub(crate) valid_until: OffsetDateTime,
    /// Its `id-pe-mimiScope` (the SII of each leaf must lie inside it).
    pub(crate) scope: Option<Scope>,
    /// Under `revocation: chain`, the notes about root-issued CRLs ignored when choosing the
    /// CRL covering this intermediate (constant within the window).
    pub(crate) crl_notes: Vec<CrlNote>,
}

impl VerifiedCa {
    fn holds_at(&self, now: OffsetDateTime) -> bool {
        self.valid_from <= now && now <= self.valid_until
    }
}

type Tail = [u8; 32];

fn tail(der: &[u8]) -> Tail {
    let mut t = [0u8; 32];
    let n = der.len().min(32);
    t[32 - n..].copy_from_slice(&der[der.len() - n..]);
    t
}

/// A map of at most `capacity` verdicts behind an `RwLock`, shared by both caches: when full
/// an arbitrary entry (the first in the map's randomly seeded order) is evicted, O(1) and
/// without bookkeeping on a hit, so hits stay read-only (LRU would need a write per hit).
struct Bounded<K, V> {
    entries: RwLock<HashMap<K, Arc<V>>>,
    capacity: usize,
    misses: AtomicU64,
}

impl<K: Eq + Hash + Clone, V> Bounded<K, V> {
    fn new(capacity: usize) -> Self {
        Bounded {
            entries: RwLock::default(),
            capacity,
            misses: AtomicU64::new(0),
        }
    }

    fn get<Q: Eq + Hash + ?Sized>(&self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
    {
        self.entries.read().ok()?.get(key).cloned()
    }

    fn insert(&self, key: K, value: Arc<V>) {
        let Ok(mut map) = self.entries.write() else {
            return;
        };
        if map.len() >= self.capacity && !map.contains_key(&key) {
            if let Some(victim) = map.keys().next().cloned() {
                map.remove(&victim);
            }
        }
        map.insert(key, value);
    }

    fn count_miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    fn len(&self) -> usize {
        self.entries.read().map(|m| m.len()).unwrap_or(0)
    }
}

impl<K, V> fmt::Debug for Bounded<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bounded")
            .field(
                "entries",
                &self.entries.read().map(|m| m.len()).unwrap_or(0),
            )
            .field("misses", &self.misses.load(Ordering::Relaxed))
            .finish()
    }
}

/// The cache of one verifier generation (see the module docs). Its misses are the chains
/// verified in full (no entry, an entry out of its window, or a leaf that failed against the
/// cached CA), counted only on that slow path, so hits touch no counter.
#[derive(Debug)]
pub(crate) struct IntermediateCache(Bounded<Tail, VerifiedCa>);

impl Default for IntermediateCache {
    fn default() -> Self {
        IntermediateCache(Bounded::new(CAPACITY))
    }
}

impl IntermediateCache {
    /// The entry for this intermediate DER, if its verdict holds at `now`.
    pub(crate) fn get(&self, der: &[u8], now: OffsetDateTime) -> Option<Arc<VerifiedCa>> {
        let e = self.0.get(&tail(der))?;
        (*e.der == *der && e.holds_at(now)).then_some(e)
    }

    /// Remember a verified intermediate, evicting an arbitrary entry when full.
    pub(crate) fn insert(&self, entry: VerifiedCa) {
        self.0.insert(tail(&entry.der), Arc::new(entry));
    }

    pub(crate) fn count_miss(&self) {
        self.0.count_miss();
    }

    pub(crate) fn misses(&self) -> u64 {
        self.0.misses()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// The cache layer of the [`Verifier`]: which chains may skip verifying their issuing CA,
/// and remembering the issuing CAs of chains verified in full.
impl Verifier {
    /// The entry for the issuing CA of the profile's chain (leaf, issuing CA), if that CA was
    /// verified before, the verdict holds at `now`, and it is the CA the leaf names as
    /// issuer. Its DER, size and extensions were checked when cached, so it is not parsed.
    pub(super) fn cached_ca(
        &self,
        chain: &[CertificateDer<'_>],
        leaf: &X509Certificate<'_>,
        now: OffsetDateTime,
    ) -> Option<Arc<VerifiedCa>> {
        let hit = match chain {
            [_, ca] => self.cache.get(ca.as_ref(), now),
            _ => None,
        };
        hit.filter(|ca| leaf.issuer().as_raw() == &ca.issuer.subject_raw[..])
    }

    /// The cached issuing CA `hit`, if the leaf `ee` verifies against it at `at`: webpki
    /// checks the leaf against it as a trust anchor, so only the leaf's own signature is
    /// verified. `None` (the chain is then verified in full, and that counted as a miss)
    /// when there is no entry or anything fails against it, so that errors are those of a
    /// fresh verification.
    pub(super) fn cached_path(
        &self,
        hit: Option<Arc<VerifiedCa>>,
        ee: &EndEntityCert<'_>,
        at: UnixTime,
    ) -> Option<Arc<VerifiedCa>> {
        let cached = hit.filter(|ca| {
            ee.verify_for_usage(
                ALGS,
                std::slice::from_ref(&ca.trust_anchor),
                &[],
                at,
                MIMI_EKU,
                None,
                None,
            )
            .is_ok()
        });
        if cached.is_none() {
            self.cache.count_miss();
        }
        cached
    }

    /// Remember the issuing CA of a chain that verified in full (path root → `ca` → leaf),
    /// with the window of verification times in which that verdict holds. Not cached: a CA
    /// under a root with nameConstraints (they would no longer be applied to the leaf), a
    /// CA with the subject of an anchor (webpki would try the anchor first), and under
    /// `revocation: chain`, a CA without a window in which its CRL choice is stable.
    pub(super) fn remember(
        &self,
        anchor_index: usize,
        ca: &X509Certificate<'_>,
        ca_der: &[u8],
        root: &RootFacts,
        scope: Option<Scope>,
        now: OffsetDateTime,
    ) {
        let subject = strip_sequence(ca.subject().as_raw());
        if self.webpki_anchors[anchor_index].name_constraints.is_some()
            || self
                .webpki_anchors
                .iter()
                .any(|a| a.subject.as_ref() == subject)
        {
            return;
        }
        let der = CertificateDer::from(ca_der);
        let Ok(trust_anchor) = webpki::anchor_from_trusted_cert(&der) else {
            return;
        };
        let skew = self.policy.clock_skew.duration();
        let mut valid_from = not_before(ca).max(root.not_before) - skew;
        let mut valid_until = not_after(ca).min(root.not_after) + skew;
        let mut crl_notes = Vec::new();
        if self.policy.revocation == RevocationPolicy::Chain {
            let (key, _) = root.issuer.key();
            let Some((lo, hi)) = self.crls.selection_window(&key, now, &self.policy) else {
                return;
            };
            valid_from = valid_from.max(lo);
            valid_until = valid_until.min(hi);
            self.crls.select(&[key], now, &self.policy, &mut crl_notes);
        }
        if !(valid_from <= now && now <= valid_until) {
            return;
        }
        self.cache.insert(VerifiedCa {
            der: ca_der.into(),
            not_before: not_before(ca),
            not_after: not_after(ca),
            issuer: OwnedIssuer::read(ca),
            anchor: anchor_index,
            spki: ca.public_key().raw.into(),
            trust_anchor: trust_anchor.to_owned(),
            valid_from,
            valid_until,
            scope,
            crl_notes,
        });
    }
}

/// How many verified checkpoints a verifier remembers.
pub(crate) const CHECKPOINT_CAPACITY: usize = 256;

/// A checkpoint whose log signature verified, and the witnesses that validly cosigned it.
#[derive(Debug)]
pub(crate) struct VerifiedCheckpoint {
    /// Index of the trust-list log that signed it.
    pub(crate) log: usize,
    /// Indexes of the trust-list witnesses with a valid cosignature, each once.
    pub(crate) witnesses: Vec<usize>,
}

/// The verified-checkpoint cache: a log publishes one checkpoint per batch, so the chains of
/// a batch share one, and its Ed25519 signature and cosignatures are verified once.
///
/// - **Key**: the whole signed note (text and every signature line), compared in full; the
///   verdict depends on nothing else (the trust list's logs and witnesses are fixed for a
///   verifier, and signatures do not expire), so an entry has no window.
/// - **Bound**: [`CHECKPOINT_CAPACITY`] entries, filled only by checkpoints signed by a listed
///   log; when full an arbitrary entry is evicted, as in [`IntermediateCache`], so hits stay
///   read-only.
/// - Only verdicts that passed are kept: a note that fails is verified again (and fails again)
///   each time, so its error is that of a fresh verification.
#[derive(Debug)]
pub(crate) struct CheckpointCache(Bounded<Box<[u8]>, VerifiedCheckpoint>);

impl Default for CheckpointCache {
    fn default() -> Self {
        CheckpointCache(Bounded::new(CHECKPOINT_CAPACITY))
    }
}

impl CheckpointCache {
    /// The verdict on this signed note, if it was verified before.
    pub(crate) fn get(&self, note: &[u8]) -> Option<Arc<VerifiedCheckpoint>> {
        let hit = self.0.get(note);
        if hit.is_none() {
            self.0.count_miss();
        }
        hit
    }

    /// Remember a verified checkpoint, evicting an arbitrary entry when full.
    pub(crate) fn insert(&self, note: &[u8], verdict: Arc<VerifiedCheckpoint>) {
        self.0.insert(note.into(), verdict);
    }

    /// Lookups that found nothing (the checkpoint's signatures were then verified).
    pub(crate) fn misses(&self) -> u64 {
        self.0.misses()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u32, now: OffsetDateTime) -> VerifiedCa {
        VerifiedCa {
            der: n.to_be_bytes().repeat(10).into(),
            not_before: now,
            not_after: now,
            issuer: OwnedIssuer {
                subject_raw: Vec::new(),
                subject: String::new(),
                point: Vec::new(),
                crl_sign: true,
            },
            anchor: 0,
            spki: Box::default(),
            trust_anchor: TrustAnchor {
                subject: (&[][..]).into(),
                subject_public_key_info: (&[][..]).into(),
                name_constraints: None,
            },
            valid_from: now - time::Duration::hours(1),
            valid_until: now + time::Duration::hours(1),
            scope: None,
            crl_notes: Vec::new(),
        }
    }

    #[test]
    fn bounded_and_keyed_by_the_whole_der_and_the_window() {
        let now = OffsetDateTime::now_utc();
        let cache = IntermediateCache::default();
        for n in 0..(CAPACITY as u32 + 40) {
            cache.insert(entry(n, now));
        }
        assert_eq!(cache.len(), CAPACITY);
        let last = entry(CAPACITY as u32 + 39, now);
        assert!(cache.get(&last.der, now).is_some());
        assert!(cache
            .get(&last.der, now + time::Duration::hours(2))
            .is_none());
        // Same last 32 bytes, other DER: not a hit.
        let mut other = last.der.to_vec();
        other[0] ^= 1;
        assert!(cache.get(&other, now).is_none());
    }

    #[test]
    fn checkpoint_cache_is_bounded_and_keyed_by_the_whole_note() {
        let cache = CheckpointCache::default();
        for n in 0..(CHECKPOINT_CAPACITY as u32 + 10) {
            let verdict = VerifiedCheckpoint {
                log: 0,
                witnesses: vec![n as usize],
            };
            cache.insert(&n.to_be_bytes(), Arc::new(verdict));
        }
        assert_eq!(cache.len(), CHECKPOINT_CAPACITY);
        let last = (CHECKPOINT_CAPACITY as u32 + 9).to_be_bytes();
        assert_eq!(
            cache.get(&last).unwrap().witnesses,
            [CHECKPOINT_CAPACITY + 9]
        );
        assert_eq!(cache.misses(), 0);
        assert!(cache.get(&last[1..]).is_none());
        assert_eq!(cache.misses(), 1);
    }

    #[test]
    fn tail_of_short_and_long_der() {
        assert_eq!(tail(&[1, 2])[30..], [1, 2]);
        let long: Vec<u8> = (0..100).collect();
        assert_eq!(tail(&long)[0], 68);
    }
}
