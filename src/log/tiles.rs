//! C2SP tlog-tiles: the paths of tiles and entry bundles, and the bundle encoding.
//!
//! `tlog_tiles` 0.2 does the tile arithmetic but writes the Go sumdb paths
//! (`tile/<H>/<L>/...`, `tile/<H>/data/...`); tlog-tiles drops the height (always 8) and names
//! bundles `tile/entries/...`, so the paths are written here.

use std::fs;
use std::ops::Range;
use std::path::Path;

use super::LogError;

/// Hashes (or entries) in a full tile (or bundle).
pub const TILE_WIDTH: u64 = 256;
/// Tile height: each tile spans 8 levels of the tree.
pub const TILE_HEIGHT: u8 = 8;

/// `<N>` of a tile path: 3-digit groups, all but the last prefixed with `x`
/// (1234067 → `x001/x234/067`).
pub fn encode_tile_index(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

fn suffix(width: u64) -> String {
    if width >= TILE_WIDTH {
        String::new()
    } else {
        format!(".p/{width}")
    }
}

/// `tile/<L>/<N>[.p/<W>]`: the tile at `level`, index `n`, holding `width` hashes (1 to 256; 256
/// is a full tile).
pub fn tile_path(level: u8, n: u64, width: u64) -> String {
    format!("tile/{level}/{}{}", encode_tile_index(n), suffix(width))
}

/// `tile/entries/<N>[.p/<W>]`: the entry bundle `n`, holding `width` entries.
pub fn entries_path(n: u64, width: u64) -> String {
    format!("tile/entries/{}{}", encode_tile_index(n), suffix(width))
}

/// The width of tile `n` at `level` in a tree of `size` leaves: 256 when full, less when
/// partial, 0 when the tree has no such tile.
pub fn tile_width(level: u8, n: u64, size: u64) -> u64 {
    let hashes_at_level = size >> (u32::from(TILE_HEIGHT) * u32::from(level));
    hashes_at_level
        .saturating_sub(n * TILE_WIDTH)
        .min(TILE_WIDTH)
}

/// An entry bundle: each entry as a big-endian uint16 length and the entry.
pub fn encode_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, LogError> {
    let mut out = Vec::new();
    for entry in entries {
        let len = u16::try_from(entry.len()).map_err(|_| LogError::BundleMalformed {
            reason: format!(
                "an entry of {} bytes does not fit a uint16 length",
                entry.len()
            ),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// The entries of a bundle; a truncated length or entry is an error.
pub fn decode_bundle(bundle: &[u8]) -> Result<Vec<&[u8]>, LogError> {
    let mut entries = Vec::new();
    let mut rest = bundle;
    while !rest.is_empty() {
        let malformed = |reason: String| LogError::BundleMalformed { reason };
        let [hi, lo, tail @ ..] = rest else {
            return Err(malformed(format!(
                "a lone byte after entry {}",
                entries.len()
            )));
        };
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        if tail.len() < len {
            return Err(malformed(format!(
                "entry {} claims {len} bytes, {} remain",
                entries.len(),
                tail.len()
            )));
        }
        entries.push(&tail[..len]);
        rest = &tail[len..];
    }
    Ok(entries)
}

/// Reads entries `range` of the tree of `size` entries from the entry bundles under `public`
/// (a log's `public/` directory, or a copy of it) and hands each to `each`, with its index, in
/// order; an error of `each` stops the reading and is returned. A range outside the tree, a
/// bundle that cannot be read, does not decode or holds other than the entries the tree size
/// implies is an error: [`LogError::Io`] for a file that cannot be read,
/// [`LogError::Inconsistent`] naming the bundle otherwise.
pub fn read_entries<E: From<LogError>>(
    public: &Path,
    size: u64,
    range: Range<u64>,
    mut each: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<(), E> {
    if range.start > range.end || range.end > size {
        return Err(LogError::Inconsistent {
            path: public.to_owned(),
            reason: format!(
                "entries {}..{} are not in the tree of {size}",
                range.start, range.end
            ),
        }
        .into());
    }
    for n in range.start / TILE_WIDTH..range.end.div_ceil(TILE_WIDTH) {
        let width = tile_width(0, n, size);
        let path = public.join(entries_path(n, width));
        let bytes = fs::read(&path).map_err(|source| LogError::Io {
            path: path.clone(),
            source,
        })?;
        let entries = decode_bundle(&bytes).map_err(|e| LogError::Inconsistent {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if entries.len() as u64 != width {
            return Err(LogError::Inconsistent {
                path,
                reason: format!(
                    "{} entries where the checkpoint implies {width}",
                    entries.len()
                ),
            }
            .into());
        }
        for (index, entry) in (n * TILE_WIDTH..).zip(entries) {
            if range.contains(&index) {
                each(index, entry)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_as_in_tlog_tiles() {
        // The spec's example: index 1234067 is x001/x234/067.
        assert_eq!(encode_tile_index(1_234_067), "x001/x234/067");
        assert_eq!(tile_path(0, 1_234_067, 256), "tile/0/x001/x234/067");
        assert_eq!(tile_path(2, 1_234_067, 17), "tile/2/x001/x234/067.p/17");
        assert_eq!(entries_path(1_234_067, 256), "tile/entries/x001/x234/067");
        assert_eq!(entries_path(0, 1), "tile/entries/000.p/1");
        assert_eq!(encode_tile_index(0), "000");
        assert_eq!(encode_tile_index(999), "999");
        assert_eq!(encode_tile_index(1000), "x001/000");
        assert_eq!(tile_path(63, 5, 255), "tile/63/005.p/255");
    }

    #[test]
    fn widths_as_in_tlog_tiles() {
        // The spec's example: a tree of 70,000 has 273 full level-0 tiles, a partial one of
        // 112, a full level-1 tile, a partial one of 17 and a partial level-2 tile of 1.
        let size = 70_000;
        assert_eq!(tile_width(0, 272, size), 256);
        assert_eq!(tile_width(0, 273, size), 112);
        assert_eq!(tile_width(0, 274, size), 0);
        assert_eq!(tile_width(1, 0, size), 256);
        assert_eq!(tile_width(1, 1, size), 17);
        assert_eq!(tile_width(2, 0, size), 1);
        assert_eq!(tile_width(3, 0, size), 0);
        // A tree of 256: a full level-0 tile and a partial level-1 tile of width 1.
        assert_eq!(tile_width(0, 0, 256), 256);
        assert_eq!(tile_width(1, 0, 256), 1);
    }

    #[test]
    fn bundles_round_trip_and_reject_truncation() {
        let entries: [&[u8]; 3] = [b"one", b"", &[7u8; 300]];
        let bundle = encode_bundle(entries).unwrap();
        assert_eq!(&bundle[..5], b"\x00\x03one");
        assert_eq!(decode_bundle(&bundle).unwrap(), entries.to_vec());
        for cut in 1..bundle.len() {
            let ok = decode_bundle(&bundle[..cut]);
            // Cuts that fall exactly between entries decode to fewer entries.
            if cut == 5 || cut == 7 {
                assert!(ok.is_ok());
            } else {
                assert!(
                    matches!(ok, Err(LogError::BundleMalformed { .. })),
                    "cut {cut}"
                );
            }
        }
        assert!(encode_bundle([&[0u8; 65_536][..]]).is_err());
    }

    #[test]
    fn entries_are_read_across_bundles_and_bad_bundles_named() {
        let dir = tempfile::tempdir().unwrap();
        let public = dir.path();
        let entries: Vec<Vec<u8>> = (0..300u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let write = |n: u64, e: &[Vec<u8>]| {
            let path = public.join(entries_path(n, e.len() as u64));
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, encode_bundle(e.iter().map(Vec::as_slice)).unwrap()).unwrap();
        };
        write(0, &entries[..256]);
        write(1, &entries[256..]);
        let read = |range: Range<u64>, size: u64| {
            let mut out = Vec::new();
            read_entries(public, size, range, |i, e| {
                out.push((i, e.to_vec()));
                Ok::<_, LogError>(())
            })
            .map(|()| out)
        };
        let got = read(250..300, 300).unwrap();
        assert_eq!(got.len(), 50);
        assert_eq!(got[0], (250, entries[250].clone()));
        assert_eq!(got[49], (299, entries[299].clone()));
        assert!(read(0..0, 0).is_ok_and(|v| v.is_empty()));
        // The tree of 256 reads the full bundle alone.
        assert_eq!(read(0..256, 256).unwrap().len(), 256);
        // Outside the tree; a bundle of another width than the size implies is not there.
        assert!(matches!(
            read(0..301, 300),
            Err(LogError::Inconsistent { .. })
        ));
        assert!(matches!(read(290..299, 299), Err(LogError::Io { .. })));
        // A bundle holding fewer entries, or cut in an entry, is named.
        write(1, &entries[256..299]);
        fs::rename(
            public.join(entries_path(1, 43)),
            public.join(entries_path(1, 44)),
        )
        .unwrap();
        let err = read(256..300, 300).unwrap_err();
        assert!(
            err.to_string()
                .contains("43 entries where the checkpoint implies 44"),
            "{err}"
        );
        assert!(err.to_string().contains("entries/001.p/44"), "{err}");
        let path = public.join(entries_path(1, 44));
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let err = read(256..300, 300).unwrap_err();
        assert!(err.to_string().contains("claims 4 bytes"), "{err}");
        // An error of the caller stops the reading.
        let mut seen = 0;
        let stop = read_entries(public, 300, 0..256, |i, _| {
            seen += 1;
            if i == 9 {
                Err(LogError::TimeOutOfRange)
            } else {
                Ok(())
            }
        });
        assert!(matches!(stop, Err(LogError::TimeOutOfRange)));
        assert_eq!(seen, 10);
    }
}
