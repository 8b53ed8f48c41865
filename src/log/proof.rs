//! Merkle proofs (RFC 6962, through `tlog_tiles`) and offline proofs in the C2SP
//! `tlog-proof@v1` format.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use tlog_tiles::Hash;

use super::note::{NoteVerifierKey, SignedCheckpoint};
use super::vrf::{VrfProof, VrfPublicKey};
use super::{LogError, MappingLogEntry};
use crate::profile;

/// The first line of a tlog-proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// The most hashes an inclusion or consistency proof can need (a tree of 2^64 leaves needs
/// 64 for inclusion, a few more for consistency); longer proofs are refused before any work.
const MAX_PROOF_HASHES: usize = 128;

/// Checks that `proof` shows the leaf with hash `leaf_hash` at `index` in the tree of `size`
/// leaves with root `root` (RFC 6962 section 2.1.1).
pub fn verify_inclusion(
    proof: &[[u8; 32]],
    index: u64,
    size: u64,
    leaf_hash: &[u8; 32],
    root: &[u8; 32],
) -> Result<(), LogError> {
    if index >= size {
        return Err(LogError::InclusionInvalid {
            index,
            size,
            reason: "the index is not below the tree size".into(),
        });
    }
    if proof.len() > MAX_PROOF_HASHES {
        return Err(LogError::InclusionInvalid {
            index,
            size,
            reason: format!("{} hashes is more than any proof needs", proof.len()),
        });
    }
    let proof: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    tlog_tiles::check_record(&proof, size, Hash(*root), index, Hash(*leaf_hash)).map_err(|e| {
        LogError::InclusionInvalid {
            index,
            size,
            reason: e.to_string(),
        }
    })
}

/// Checks that `proof` shows the tree of `old_size` leaves with root `old_root` is a prefix of
/// the tree of `new_size` with root `new_root` (RFC 6962 section 2.1.2). An empty old tree is
/// a prefix of every tree (with an empty proof); equal sizes need equal roots and no hashes.
pub fn verify_consistency(
    proof: &[[u8; 32]],
    old_size: u64,
    old_root: &[u8; 32],
    new_size: u64,
    new_root: &[u8; 32],
) -> Result<(), LogError> {
    let fail = |reason: String| LogError::ConsistencyInvalid {
        old_size,
        new_size,
        reason,
    };
    if old_size > new_size {
        return Err(fail("the old tree is larger than the new one".into()));
    }
    if proof.len() > MAX_PROOF_HASHES {
        return Err(fail(format!(
            "{} hashes is more than any proof needs",
            proof.len()
        )));
    }
    if old_size == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(fail("a proof from the empty tree has no hashes".into()))
        };
    }
    let proof: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    tlog_tiles::check_tree(&proof, new_size, Hash(*new_root), old_size, Hash(*old_root))
        .map_err(|e| fail(e.to_string()))
}

/// The RFC 6962 root of a list of leaf hashes, computed from scratch (for monitors and tests;
/// a log keeps its tree in tiles).
#[cfg(test)]
pub(crate) fn root_of(leaf_hashes: &[[u8; 32]]) -> [u8; 32] {
    struct Stored(Vec<Hash>);
    impl tlog_tiles::HashReader for Stored {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
            indexes
                .iter()
                .map(|i| {
                    usize::try_from(*i)
                        .ok()
                        .and_then(|i| self.0.get(i).copied())
                        .ok_or(tlog_tiles::Error::IndexesNotInTree)
                })
                .collect()
        }
    }
    let mut stored = Stored(Vec::new());
    for (n, leaf) in (0u64..).zip(leaf_hashes) {
        let new = tlog_tiles::stored_hashes_for_record_hash(n, Hash(*leaf), &stored)
            .expect("every earlier hash is stored");
        stored.0.extend(new);
    }
    tlog_tiles::tree_hash(leaf_hashes.len() as u64, &stored)
        .expect("every hash is stored")
        .0
}

/// An offline proof that an entry is in the log (C2SP tlog-proof@v1):
///
/// ```text
/// c2sp.org/tlog-proof@v1
/// extra <base64 of the VRF proof π>
/// index <n>
/// <base64 inclusion-proof hash>...
///
/// <the checkpoint note with its signatures>
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TlogProof {
    /// The opaque extra data: for mapping-log-v1, the 80-byte VRF proof π of the leaf's SII.
    pub extra: Option<Vec<u8>>,
    /// The entry's index in the log.
    pub index: u64,
    /// The inclusion proof, from the leaf's sibling up to the root's child.
    pub inclusion: Vec<[u8; 32]>,
    /// The checkpoint the proof leads to.
    pub checkpoint: SignedCheckpoint,
}

impl TlogProof {
    /// The proof's text.
    pub fn to_text(&self) -> String {
        let mut out = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", B64.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.inclusion {
            out.push_str(&B64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&String::from_utf8_lossy(self.checkpoint.as_bytes()));
        out
    }

    /// Reads a proof; strict about the header, the `index` number (no leading zeroes), the
    /// hashes (32 bytes of canonical base64 each) and the checkpoint note.
    pub fn parse(text: &[u8]) -> Result<Self, LogError> {
        let bad = |line: usize, reason: String| LogError::ProofMalformed { line, reason };
        let text = std::str::from_utf8(text).map_err(|_| bad(0, "not UTF-8".into()))?;
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or_else(|| bad(0, "no blank line before the checkpoint".into()))?;
        let mut lines = head
            .split('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .peekable();
        match lines.next() {
            Some((_, TLOG_PROOF_HEADER)) => {}
            _ => {
                return Err(bad(
                    1,
                    format!("the first line must be {TLOG_PROOF_HEADER}"),
                ))
            }
        }
        let mut extra = None;
        if let Some((n, line)) = lines.peek().copied() {
            if let Some(b64) = line.strip_prefix("extra ") {
                extra = Some(
                    decode_b64(b64)
                        .ok_or_else(|| bad(n, "extra is not canonical base64".into()))?,
                );
                lines.next();
            }
        }
        let index = match lines.next() {
            Some((n, line)) => {
                let digits = line
                    .strip_prefix("index ")
                    .ok_or_else(|| bad(n, "expected `index <n>`".into()))?;
                let index: u64 = digits
                    .parse()
                    .map_err(|_| bad(n, "the index is not a number".into()))?;
                if index.to_string() != digits {
                    return Err(bad(
                        n,
                        "the index must be decimal without leading zeroes".into(),
                    ));
                }
                index
            }
            None => return Err(bad(2, "expected `index <n>`".into())),
        };
        let mut inclusion = Vec::new();
        for (n, line) in lines {
            let hash = decode_b64(line)
                .and_then(|h| <[u8; 32]>::try_from(h).ok())
                .ok_or_else(|| {
                    bad(
                        n,
                        "an inclusion-proof line must be a base64 SHA-256 hash".into(),
                    )
                })?;
            inclusion.push(hash);
            if inclusion.len() > MAX_PROOF_HASHES {
                return Err(bad(n, "more hashes than any proof needs".into()));
            }
        }
        Ok(TlogProof {
            extra,
            index,
            inclusion,
            checkpoint: SignedCheckpoint::parse(checkpoint.as_bytes())?,
        })
    }

    /// Checks the inclusion of `leaf_hash` at this proof's index against its checkpoint's root.
    /// The checkpoint's signatures are not checked here (see [`check_mapping_proof`]).
    pub fn check_inclusion(&self, leaf_hash: &[u8; 32]) -> Result<(), LogError> {
        let cp = self.checkpoint.checkpoint();
        verify_inclusion(
            &self.inclusion,
            self.index,
            cp.size(),
            leaf_hash,
            cp.root_hash(),
        )
    }
}

/// Canonical standard base64 (what re-encoding gives back), so one proof has one text.
fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let bytes = B64.decode(s).ok()?;
    (B64.encode(&bytes) == s).then_some(bytes)
}

/// What a relying platform knows of one log: its origin, checkpoint key and VRF key.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LogKeys {
    /// The origin line of the log's checkpoints.
    pub origin: String,
    /// The log's checkpoint key (type 0x01).
    pub key: NoteVerifierKey,
    /// The log's VRF public key.
    pub vrf: VrfPublicKey,
}

impl LogKeys {
    /// The keys of the log named `origin`.
    pub fn new(origin: impl Into<String>, key: NoteVerifierKey, vrf: VrfPublicKey) -> Self {
        LogKeys {
            origin: origin.into(),
            key,
            vrf,
        }
    }
}

/// A proof that passed [`check_mapping_proof`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CheckedProof {
    /// The entry rebuilt from the chain and the VRF proof.
    pub entry: MappingLogEntry,
    /// Its index in the log.
    pub index: u64,
    /// The tree size of the checkpoint.
    pub tree_size: u64,
    /// The names of the listed witnesses that validly cosigned the checkpoint.
    pub witnesses: Vec<String>,
}

/// Rebuilds a leaf's entry from the chain and the proof's VRF proof: verifies π over the
/// leaf's canonical SII with the log's VRF key; the label is β's first 32 bytes.
pub fn entry_from_proof(
    leaf_der: &[u8],
    issuer_spki_der: &[u8],
    vrf_key: &VrfPublicKey,
    vrf_proof: &[u8],
) -> Result<MappingLogEntry, LogError> {
    let cert = super::entry::parse_leaf(leaf_der)?;
    let sii = profile::leaf_sii(&cert)?;
    let pi = VrfProof::from_bytes(vrf_proof)?;
    let beta = vrf_key.verify(sii.canonical().as_bytes(), &pi)?;
    MappingLogEntry::from_leaf(leaf_der, issuer_spki_der, beta.label())
}

/// Checks a mapping-log-v1 proof for a chain, end to end: the entry rebuilt from the leaf, the
/// issuer's SubjectPublicKeyInfo and the VRF proof in `extra`; its leaf hash included in the
/// checkpoint; the checkpoint signed by the log's key for its origin; and the witnesses of
/// `witnesses` that cosigned it. Whether enough witnesses did is the caller's policy.
pub fn check_mapping_proof(
    proof: &TlogProof,
    leaf_der: &[u8],
    issuer_spki_der: &[u8],
    log: &LogKeys,
    witnesses: &[NoteVerifierKey],
) -> Result<CheckedProof, LogError> {
    let extra = proof.extra.as_deref().ok_or(LogError::ProofMalformed {
        line: 2,
        reason: "no `extra` line with the VRF proof".into(),
    })?;
    let entry = entry_from_proof(leaf_der, issuer_spki_der, &log.vrf, extra)?;
    proof.check_inclusion(&entry.leaf_hash()?)?;
    proof.checkpoint.verify(&log.origin, &log.key)?;
    let witnesses = proof
        .checkpoint
        .cosignatures(witnesses)?
        .into_iter()
        .map(|(w, _)| w.name().to_owned())
        .collect();
    Ok(CheckedProof {
        entry,
        index: proof.index,
        tree_size: proof.checkpoint.checkpoint().size(),
        witnesses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::leaf_hash;
    use crate::log::testutil::unhex;

    /// The RFC 6962 reference inputs (certificate-transparency-go and Go's sumdb tlog tests).
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    /// Roots of the trees of the first 1 to 8 leaves.
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn hashes(list: &[&str]) -> Vec<[u8; 32]> {
        list.iter().map(|h| unhex(h).try_into().unwrap()).collect()
    }

    fn root(size: usize) -> [u8; 32] {
        unhex(ROOTS[size - 1]).try_into().unwrap()
    }

    fn leaf(i: usize) -> [u8; 32] {
        leaf_hash(&unhex(LEAVES[i]))
    }

    #[test]
    fn rfc6962_roots() {
        let leaves: Vec<[u8; 32]> = (0..8).map(leaf).collect();
        for size in 1..=8 {
            assert_eq!(root_of(&leaves[..size]), root(size), "size {size}");
        }
        assert_eq!(
            root_of(&[]).to_vec(),
            unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    #[test]
    fn rfc6962_inclusion_proofs() {
        // (index, size, proof), zero-based indexes.
        let vectors: [(u64, usize, &[&str]); 5] = [
            (0, 1, &[]),
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (index, size, proof) in vectors {
            let proof = hashes(proof);
            let l = leaf(index as usize);
            verify_inclusion(&proof, index, size as u64, &l, &root(size)).unwrap();
            // Another leaf, another index, another root, a shorter proof: all refused.
            assert!(verify_inclusion(
                &proof,
                index,
                size as u64,
                &leaf(7 - index as usize),
                &root(size)
            )
            .is_err());
            assert!(verify_inclusion(&proof, index + 1, size as u64, &l, &root(size)).is_err());
            if size > 1 {
                assert!(verify_inclusion(&proof, index, size as u64, &l, &root(size - 1)).is_err());
                assert!(
                    verify_inclusion(&proof[1..], index, size as u64, &l, &root(size)).is_err()
                );
            }
        }
    }

    #[test]
    fn rfc6962_consistency_proofs() {
        let vectors: [(usize, usize, &[&str]); 4] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (old, new, proof) in vectors {
            let proof = hashes(proof);
            verify_consistency(&proof, old as u64, &root(old), new as u64, &root(new)).unwrap();
            if old != new {
                assert!(
                    verify_consistency(&proof, old as u64, &root(new), new as u64, &root(new))
                        .is_err()
                );
                assert!(
                    verify_consistency(&proof, old as u64, &root(old), new as u64, &root(old))
                        .is_err()
                );
            }
        }
        verify_consistency(&[], 0, &[0; 32], 8, &root(8)).unwrap();
        assert!(verify_consistency(&[], 8, &root(8), 7, &root(7)).is_err());
        assert!(verify_consistency(&[[0; 32]; 200], 2, &root(2), 8, &root(8)).is_err());
    }

    #[test]
    fn tlog_proof_text_is_strict() {
        let key = crate::log::NoteSigningKey::from_seed(
            "log.example/p",
            crate::log::KeyType::Ed25519,
            &[4; 32],
        )
        .unwrap();
        let cp = crate::log::Checkpoint::new("log.example/p", 8, root(8))
            .unwrap()
            .sign(&key)
            .unwrap();
        let proof = TlogProof {
            extra: Some(vec![0xab; 80]),
            index: 5,
            inclusion: hashes(&[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]),
            checkpoint: cp,
        };
        let text = proof.to_text();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra q6ur"));
        let first = B64.encode(proof.inclusion[0]);
        assert!(text.contains(&format!("\nindex 5\n{first}\n")));
        assert!(text.contains("=\n\nlog.example/p\n8\n"));
        let back = TlogProof::parse(text.as_bytes()).unwrap();
        assert_eq!(back.to_text(), text);
        back.check_inclusion(&leaf(5)).unwrap();
        assert!(back.check_inclusion(&leaf(4)).is_err());
        for bad in [
            text.replace("tlog-proof@v1", "tlog-proof@v2"),
            text.replace("index 5", "index 05"),
            text.replace("index 5", "index five"),
            text.replace("\nindex 5\n", "\n"),
            text.replace(&first, &first[1..]),
            text.replacen("\n\n", "\n", 1),
            text.replace("log.example/p\n8\n", "log.example/p\n08\n"),
        ] {
            assert!(TlogProof::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        // No extra line is allowed by the format.
        let bare = text.replacen(&format!("extra {}\n", B64.encode([0xab; 80])), "", 1);
        assert!(TlogProof::parse(bare.as_bytes()).unwrap().extra.is_none());
    }
}
