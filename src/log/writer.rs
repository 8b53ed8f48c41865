//! A log over a directory: `<dir>/public/` is the tlog-tiles tree to serve with any static web
//! server (`checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`); nothing private
//! is written there. Keys are the caller's: this writer only signs with the key it is given.
//!
//! An append of a batch writes its tiles and bundles (each file written whole, fsynced and
//! renamed into place), then one checkpoint, last: a crash leaves the old checkpoint, whose
//! files are all still there, and the next append rewrites the partial files it replaces.
//! Only the right edge of the tree (the partial tiles) is kept in memory.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use tlog_tiles::{Hash, HashReader, Tile};

use super::note::{Checkpoint, NoteSigningKey, SignedCheckpoint};
use super::proof::TlogProof;
use super::tiles::{self, TILE_HEIGHT, TILE_WIDTH};
use super::LogError;

const HASH_LEN: usize = 32;
const FULL_TILE_BYTES: usize = TILE_WIDTH as usize * HASH_LEN;

/// An append-only log in a directory, signing checkpoints with the log's key.
pub struct LogWriter {
    public: PathBuf,
    key: NoteSigningKey,
    checkpoint: SignedCheckpoint,
    /// Tile hashes by (level, index), loaded from disk when first needed.
    tiles: RefCell<HashMap<(u8, u64), Vec<u8>>>,
    /// Hashes of the tree levels inside tiles (not stored in them), by (level, n), as
    /// computed since the last append began: each inclusion proof of a batch reads some of
    /// the same ones, and recomputing them from the tile's bottom row cost more than a
    /// hundred SHA-256 a proof.
    inner: RefCell<HashMap<(u8, u64), Hash>>,
    /// The first I/O or consistency error met while `tlog_tiles` read hashes through us.
    read_error: RefCell<Option<LogError>>,
}

impl LogWriter {
    /// Starts an empty log in `dir` (created if missing) whose origin is the key's name, and
    /// writes its first checkpoint (size 0). Refuses a directory that already holds a log.
    pub fn create(dir: &Path, key: NoteSigningKey) -> Result<Self, LogError> {
        let public = dir.join("public");
        let checkpoint_path = public.join("checkpoint");
        if checkpoint_path.exists() {
            return Err(LogError::Inconsistent {
                path: checkpoint_path,
                reason: "a log already exists here; open it instead".into(),
            });
        }
        fs::create_dir_all(&public).map_err(|e| io(&public, e))?;
        let origin = key.verifier_key().name().to_owned();
        let checkpoint = Checkpoint::new(&origin, 0, tlog_tiles::EMPTY_HASH.0)?.sign(&key)?;
        write_atomic(&checkpoint_path, checkpoint.as_bytes())?;
        Ok(LogWriter {
            public,
            key,
            checkpoint,
            tiles: RefCell::new(HashMap::new()),
            inner: RefCell::new(HashMap::new()),
            read_error: RefCell::new(None),
        })
    }

    /// Opens the log in `dir`; its checkpoint must verify under `key`, for the key's name as
    /// origin.
    pub fn open(dir: &Path, key: NoteSigningKey) -> Result<Self, LogError> {
        let public = dir.join("public");
        let path = public.join("checkpoint");
        let bytes = fs::read(&path).map_err(|e| io(&path, e))?;
        let checkpoint = SignedCheckpoint::parse(&bytes)?;
        checkpoint.verify(key.verifier_key().name(), key.verifier_key())?;
        Ok(LogWriter {
            public,
            key,
            checkpoint,
            tiles: RefCell::new(HashMap::new()),
            inner: RefCell::new(HashMap::new()),
            read_error: RefCell::new(None),
        })
    }

    /// The latest checkpoint.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// The number of entries.
    pub fn size(&self) -> u64 {
        self.checkpoint.checkpoint().size()
    }

    /// The `public/` directory.
    pub fn public_dir(&self) -> &Path {
        &self.public
    }

    /// Appends a batch of entries (encoded entries, at most 65,535 bytes each) and signs one
    /// checkpoint for it, written last. Returns the new checkpoint; the first entry's index is
    /// the size before the call.
    pub fn append(&mut self, entries: &[Vec<u8>]) -> Result<SignedCheckpoint, LogError> {
        if let Some(long) = entries.iter().find(|e| e.len() > usize::from(u16::MAX)) {
            return Err(LogError::BundleMalformed {
                reason: format!(
                    "an entry of {} bytes does not fit a uint16 length",
                    long.len()
                ),
            });
        }
        // What the last batch's proofs read; only the new edge of the tree matters now.
        self.inner.borrow_mut().clear();
        let result = self.append_checked(entries);
        if result.is_err() {
            // The tiles in memory may have run ahead of the disk: read them again next time.
            self.tiles.borrow_mut().clear();
            self.inner.borrow_mut().clear();
        }
        result
    }

    fn append_checked(&mut self, entries: &[Vec<u8>]) -> Result<SignedCheckpoint, LogError> {
        let old = self.size();
        if entries.is_empty() {
            return Ok(self.checkpoint.clone());
        }
        let new = old + entries.len() as u64;
        // The bundle the batch starts in, with the entries it already holds.
        let first_bundle = old / TILE_WIDTH;
        let mut bundle: Vec<Vec<u8>> = Vec::new();
        tiles::read_entries(&self.public, old, first_bundle * TILE_WIDTH..old, |_, e| {
            bundle.push(e.to_vec());
            Ok::<_, LogError>(())
        })?;
        let mut bundle_index = first_bundle;
        for (n, entry) in (old..).zip(entries) {
            let new_hashes = tlog_tiles::stored_hashes_for_record_hash(
                n,
                tlog_tiles::record_hash(entry),
                &*self,
            )
            .map_err(|e| self.tlog_error(e, inconsistent(&self.public)))?;
            for (level, hash) in (0u8..).zip(new_hashes) {
                if level % TILE_HEIGHT != 0 {
                    continue; // levels inside a tile are recomputed from its hashes
                }
                let at = n >> level;
                let key = (level / TILE_HEIGHT, at / TILE_WIDTH);
                self.load_tile(key, old)?;
                let mut cache = self.tiles.borrow_mut();
                let data = cache.get_mut(&key).expect("loaded");
                if data.len() != (at % TILE_WIDTH) as usize * HASH_LEN {
                    return Err(LogError::Inconsistent {
                        path: self.public.join(tiles::tile_path(
                            key.0,
                            key.1,
                            (data.len() / HASH_LEN) as u64,
                        )),
                        reason: "the tile does not end where the tree does".into(),
                    });
                }
                data.extend_from_slice(&hash.0);
            }
            bundle.push(entry.clone());
            if bundle.len() as u64 == TILE_WIDTH {
                self.write_bundle(bundle_index, &bundle)?;
                bundle.clear();
                bundle_index += 1;
            }
        }
        if !bundle.is_empty() {
            self.write_bundle(bundle_index, &bundle)?;
        }
        for tile in Tile::new_tiles(TILE_HEIGHT, old, new) {
            let key = (tile.level(), tile.level_index());
            let width = u64::from(tile.width());
            let cache = self.tiles.borrow();
            let data = &cache.get(&key).expect("every new tile was written to")
                [..width as usize * HASH_LEN];
            write_atomic(
                &self.public.join(tiles::tile_path(key.0, key.1, width)),
                data,
            )?;
        }
        let root = tlog_tiles::tree_hash(new, &*self)
            .map_err(|e| self.tlog_error(e, inconsistent(&self.public)))?;
        sync_dir(&self.public)?;
        let checkpoint =
            Checkpoint::new(self.checkpoint.checkpoint().origin(), new, root.0)?.sign(&self.key)?;
        write_atomic(&self.public.join("checkpoint"), checkpoint.as_bytes())?;
        self.checkpoint = checkpoint.clone();
        // Full tiles are on disk for good; keep only the right edge.
        self.tiles
            .borrow_mut()
            .retain(|_, data| data.len() < FULL_TILE_BYTES);
        Ok(checkpoint)
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries (at most the current
    /// size).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<[u8; 32]>, LogError> {
        self.check_size(size)?;
        let proof = tlog_tiles::prove_record(size, index, self).map_err(|e| {
            self.tlog_error(e, |reason| LogError::InclusionInvalid {
                index,
                size,
                reason,
            })
        })?;
        Ok(proof.into_iter().map(|h| h.0).collect())
    }

    /// The consistency proof from the tree of `old_size` entries to the tree of `new_size`
    /// (at most the current size); empty when `old_size` is 0 or equals `new_size`.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<[u8; 32]>, LogError> {
        self.check_size(new_size)?;
        if old_size == 0 || old_size == new_size {
            return Ok(Vec::new());
        }
        let proof = tlog_tiles::prove_tree(new_size, old_size, self).map_err(|e| {
            self.tlog_error(e, |reason| LogError::ConsistencyInvalid {
                old_size,
                new_size,
                reason,
            })
        })?;
        Ok(proof.into_iter().map(|h| h.0).collect())
    }

    /// The tlog-proof of entry `index` against the current checkpoint, with `extra` (for
    /// mapping-log-v1, the entry's VRF proof).
    pub fn tlog_proof(&self, index: u64, extra: Option<Vec<u8>>) -> Result<TlogProof, LogError> {
        Ok(TlogProof {
            extra,
            index,
            inclusion: self.inclusion_proof(index, self.size())?,
            checkpoint: self.checkpoint.clone(),
        })
    }

    /// Entries `start..end` of the tree (`end` at most its size), read back from the entry
    /// bundles; a bundle that does not hold what the checkpoint implies is an error.
    pub fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, LogError> {
        let mut out = Vec::with_capacity(end.saturating_sub(start) as usize);
        tiles::read_entries(&self.public, self.size(), start..end, |_, e| {
            out.push(e.to_vec());
            Ok::<_, LogError>(())
        })?;
        Ok(out)
    }

    /// Appends signature lines (witnesses' cosignatures) to the current checkpoint and
    /// publishes it: same size and root, more signatures.
    pub fn add_signature_lines(&mut self, lines: &str) -> Result<SignedCheckpoint, LogError> {
        let checkpoint = self.checkpoint.with_signature_lines(lines)?;
        write_atomic(&self.public.join("checkpoint"), checkpoint.as_bytes())?;
        self.checkpoint = checkpoint.clone();
        Ok(checkpoint)
    }

    fn check_size(&self, size: u64) -> Result<(), LogError> {
        if size > self.size() {
            return Err(LogError::InclusionInvalid {
                index: 0,
                size,
                reason: format!("the log holds only {} entries", self.size()),
            });
        }
        Ok(())
    }

    fn write_bundle(&self, n: u64, entries: &[Vec<u8>]) -> Result<(), LogError> {
        let bytes = tiles::encode_bundle(entries.iter().map(Vec::as_slice))?;
        write_atomic(
            &self
                .public
                .join(tiles::entries_path(n, entries.len() as u64)),
            &bytes,
        )
    }

    /// Loads tile `key` as it is in the tree of `size` entries (empty when it has none yet).
    fn load_tile(&self, key: (u8, u64), size: u64) -> Result<(), LogError> {
        if self.tiles.borrow().contains_key(&key) {
            return Ok(());
        }
        let width = tiles::tile_width(key.0, key.1, size);
        let data = if width == 0 {
            Vec::new()
        } else {
            let path = self.public.join(tiles::tile_path(key.0, key.1, width));
            let data = fs::read(&path).map_err(|e| io(&path, e))?;
            if data.len() != width as usize * HASH_LEN {
                return Err(LogError::Inconsistent {
                    path,
                    reason: format!(
                        "{} bytes, expected {}",
                        data.len(),
                        width as usize * HASH_LEN
                    ),
                });
            }
            data
        };
        self.tiles.borrow_mut().insert(key, data);
        Ok(())
    }

    /// The error to report for a failed `tlog_tiles` call: the one met reading tiles if there
    /// was one, else `otherwise` of its message.
    fn tlog_error(
        &self,
        e: tlog_tiles::Error,
        otherwise: impl FnOnce(String) -> LogError,
    ) -> LogError {
        self.read_error
            .borrow_mut()
            .take()
            .unwrap_or_else(|| otherwise(e.to_string()))
    }

    /// The hash of node `n` at `level` of the tree: read from its tile when the level is a
    /// tile's bottom row, else the hash of its two children (as `Tile::hash_at_index`
    /// computes it from the bottom row), kept in `inner`.
    fn node(&self, level: u8, n: u64, size: u64) -> Result<Hash, LogError> {
        if level.is_multiple_of(TILE_HEIGHT) {
            let key = (level / TILE_HEIGHT, n / TILE_WIDTH);
            // During an append the tiles in memory run ahead of the checkpoint on disk.
            self.load_tile(key, size)?;
            let cache = self.tiles.borrow();
            let at = (n % TILE_WIDTH) as usize * HASH_LEN;
            return match cache[&key].get(at..at + HASH_LEN) {
                Some(hash) => Ok(Hash(hash.try_into().expect("32 bytes"))),
                None => Err(LogError::Inconsistent {
                    path: self.public.join(tiles::tile_path(
                        key.0,
                        key.1,
                        (cache[&key].len() / HASH_LEN) as u64,
                    )),
                    reason: format!("the tile ends before hash {} of its row", n % TILE_WIDTH),
                }),
            };
        }
        if let Some(hash) = self.inner.borrow().get(&(level, n)) {
            return Ok(*hash);
        }
        let hash = tlog_tiles::node_hash(
            self.node(level - 1, 2 * n, size)?,
            self.node(level - 1, 2 * n + 1, size)?,
        );
        self.inner.borrow_mut().insert((level, n), hash);
        Ok(hash)
    }
}

impl HashReader for LogWriter {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let size = self.size();
        indexes
            .iter()
            .map(|&index| {
                let (level, n) = tlog_tiles::split_stored_hash_index(index);
                self.node(level, n, size).map_err(|e| {
                    *self.read_error.borrow_mut() = Some(e);
                    tlog_tiles::Error::IndexesNotInTree
                })
            })
            .collect()
    }
}

fn inconsistent(public: &Path) -> impl FnOnce(String) -> LogError + '_ {
    move |reason| LogError::Inconsistent {
        path: public.to_owned(),
        reason,
    }
}

fn io(path: &Path, source: std::io::Error) -> LogError {
    LogError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `path` whole: a temporary file beside it, fsynced, then renamed over it.
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), LogError> {
    let dir = path.parent().expect("paths under public/");
    fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().expect("a file name").to_string_lossy()
    ));
    let mut file = fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    file.write_all(data).map_err(|e| io(&tmp, e))?;
    file.sync_all().map_err(|e| io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io(path, e))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), LogError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::note::KeyType;
    use crate::log::proof::{root_of, verify_consistency, verify_inclusion};
    use crate::log::{leaf_hash, tiles};

    fn key() -> NoteSigningKey {
        NoteSigningKey::from_seed("log.example/test", KeyType::Ed25519, &[5; 32]).unwrap()
    }

    fn entry(i: u64) -> Vec<u8> {
        format!("entry {i}")
            .repeat(1 + (i % 3) as usize)
            .into_bytes()
    }

    #[test]
    fn ten_thousand_entries_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogWriter::create(dir.path(), key()).unwrap();
        assert_eq!(log.size(), 0);
        let vkey = log.checkpoint().checkpoint().origin().to_owned();
        // Batches that start and end on and off tile boundaries.
        let batches = [1u64, 254, 1, 256, 255, 2, 1000, 3000, 65, 5166];
        let mut checkpoints = vec![log.checkpoint().clone()];
        let mut next = 0u64;
        for (i, len) in batches.iter().enumerate() {
            if i == 5 {
                // Reopening in the middle reads the right edge back from disk.
                drop(log);
                log = LogWriter::open(dir.path(), key()).unwrap();
            }
            let batch: Vec<Vec<u8>> = (next..next + len).map(entry).collect();
            next += len;
            let cp = log.append(&batch).unwrap();
            cp.verify(&vkey, key().verifier_key()).unwrap();
            checkpoints.push(cp);
        }
        assert_eq!(log.size(), 10_000);
        let cp = log.checkpoint().checkpoint().clone();
        // The tree recomputed from the bundles is the checkpoint's.
        let on_disk = log.read_entries(0, 10_000).unwrap();
        assert_eq!(on_disk, (0..10_000).map(entry).collect::<Vec<_>>());
        let leaves: Vec<[u8; 32]> = on_disk.iter().map(|e| leaf_hash(e)).collect();
        assert_eq!(root_of(&leaves), *cp.root_hash());
        // Every inclusion proof, at the final size and at each intermediate checkpoint.
        for (index, leaf) in (0u64..).zip(&leaves) {
            let proof = log.inclusion_proof(index, 10_000).unwrap();
            verify_inclusion(&proof, index, 10_000, leaf, cp.root_hash()).unwrap();
        }
        for c in &checkpoints[1..] {
            let c = c.checkpoint();
            for index in [0, c.size() / 2, c.size() - 1] {
                let proof = log.inclusion_proof(index, c.size()).unwrap();
                verify_inclusion(
                    &proof,
                    index,
                    c.size(),
                    &leaves[index as usize],
                    c.root_hash(),
                )
                .unwrap();
            }
        }
        // Consistency between every pair of checkpoints.
        for (i, a) in checkpoints.iter().enumerate() {
            for b in &checkpoints[i..] {
                let (a, b) = (a.checkpoint(), b.checkpoint());
                let proof = log.consistency_proof(a.size(), b.size()).unwrap();
                verify_consistency(&proof, a.size(), a.root_hash(), b.size(), b.root_hash())
                    .unwrap();
            }
        }
        // Every tile on disk is what the level below hashes to (level 1 holds the roots of the
        // full level-0 tiles).
        let tile0 = fs::read(log.public_dir().join(tiles::tile_path(0, 3, 256))).unwrap();
        let level1 = fs::read(log.public_dir().join(tiles::tile_path(1, 0, 39))).unwrap();
        assert_eq!(Tile::subtree_hash(&tile0).0, level1[3 * 32..4 * 32]);
        assert!(log.public_dir().join(tiles::entries_path(39, 16)).exists());
        assert!(log.inclusion_proof(10_000, 10_000).is_err());
        assert!(log.inclusion_proof(0, 10_001).is_err());
    }

    #[test]
    fn create_refuses_an_existing_log_and_open_a_foreign_key() {
        let dir = tempfile::tempdir().unwrap();
        LogWriter::create(dir.path(), key()).unwrap();
        assert!(matches!(
            LogWriter::create(dir.path(), key()),
            Err(LogError::Inconsistent { .. })
        ));
        let other =
            NoteSigningKey::from_seed("log.example/test", KeyType::Ed25519, &[6; 32]).unwrap();
        assert!(LogWriter::open(dir.path(), other).is_err());
        let mut log = LogWriter::open(dir.path(), key()).unwrap();
        log.append(&[b"a".to_vec(), b"b".to_vec()]).unwrap();
        // A truncated partial tile is found, not trusted.
        fs::write(log.public_dir().join(tiles::tile_path(0, 0, 2)), [0u8; 33]).unwrap();
        let mut log = LogWriter::open(dir.path(), key()).unwrap();
        assert!(matches!(
            log.append(&[b"c".to_vec()]),
            Err(LogError::Inconsistent { .. })
        ));
    }

    #[test]
    fn a_failed_append_leaves_the_log_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogWriter::create(dir.path(), key()).unwrap();
        log.append(&[b"a".to_vec()]).unwrap();
        let too_long = vec![0u8; 65_536];
        assert!(matches!(
            log.append(&[b"b".to_vec(), too_long]),
            Err(LogError::BundleMalformed { .. })
        ));
        // A write that fails midway, after the tiles in memory took the new hashes: a
        // directory where the new partial tile goes.
        let blocker = log.public_dir().join(tiles::tile_path(0, 0, 2));
        fs::create_dir_all(blocker.join("x")).unwrap();
        assert!(matches!(
            log.append(&[b"b".to_vec()]),
            Err(LogError::Io { .. })
        ));
        assert_eq!(log.size(), 1);
        fs::remove_dir_all(&blocker).unwrap();
        // Other entries where the failed one went: nothing computed from it is used again.
        let cp = log.append(&[b"x".to_vec(), b"c".to_vec()]).unwrap();
        let leaves: Vec<[u8; 32]> = [&b"a"[..], b"x", b"c"]
            .iter()
            .map(|e| leaf_hash(e))
            .collect();
        assert_eq!(*cp.checkpoint().root_hash(), root_of(&leaves));
        for (index, leaf) in (0u64..).zip(&leaves) {
            let proof = log.inclusion_proof(index, 3).unwrap();
            verify_inclusion(&proof, index, 3, leaf, cp.checkpoint().root_hash()).unwrap();
        }
    }
}
