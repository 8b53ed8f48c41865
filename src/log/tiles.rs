//! C2SP tlog-tiles: the paths of tiles and entry bundles, and the bundle encoding.
//!
//! `tlog_tiles` 0.2 does the tile arithmetic but writes the Go sumdb paths
//! (`tile/<H>/<L>/...`, `tile/<H>/data/...`); tlog-tiles drops the height (always 8) and names
//! bundles `tile/entries/...`, so the paths are written here.

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
}
