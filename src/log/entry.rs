//! The mapping-log-v1 entry: what the log holds for each attestation, without its SII.

use x509_parser::prelude::{FromDer, X509Certificate};

use super::LogError;
use crate::profile::{self, MappingFlags};

/// The entry version this implementation writes and reads.
pub const ENTRY_VERSION: u8 = 1;
/// Flag bit: the mapping is marked preferred.
pub const FLAG_PREFERRED: u8 = 0x01;
/// Flag bit: the SII changed hands recently (newHolder).
pub const FLAG_NEW_HOLDER: u8 = 0x02;
/// Length of everything before the provider's length byte.
const FIXED_LEN: usize = 1 + 32 + 32 + 32 + 8 + 8 + 1;

/// One log entry (TLS presentation language, big-endian):
///
/// ```text
/// struct {
///   uint8  version = 1;
///   opaque label[32];               // first 32 bytes of the VRF output for the canonical SII
///   opaque issuer_spki_sha256[32];  // SHA-256 of the issuing CA's SubjectPublicKeyInfo DER
///   opaque leaf_sha256[32];         // SHA-256 of the leaf certificate DER
///   uint64 not_before;              // seconds since 1970, from the leaf
///   uint64 not_after;
///   uint8  flags;                   // 0x01 preferred, 0x02 newHolder, other bits 0
///   opaque provider<1..255>;        // the MimiMapping provider domain
/// } MappingLogEntry;
/// ```
///
/// Every field is derivable from the chain and the VRF proof, so a verifier rebuilds the entry
/// and compares leaf hashes instead of trusting anything the log sends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MappingLogEntry {
    /// The VRF label of the canonical SII.
    pub label: [u8; 32],
    /// SHA-256 of the issuing CA's SubjectPublicKeyInfo DER.
    pub issuer_spki_sha256: [u8; 32],
    /// SHA-256 of the leaf certificate DER.
    pub leaf_sha256: [u8; 32],
    /// The leaf's notBefore, seconds since 1970.
    pub not_before: u64,
    /// The leaf's notAfter, seconds since 1970.
    pub not_after: u64,
    /// The leaf's MimiMapping flags.
    pub flags: MappingFlags,
    /// The MimiMapping provider domain (ASCII, 1 to 255 bytes).
    pub provider: String,
}

impl MappingLogEntry {
    /// The entry for a leaf certificate (DER), the SubjectPublicKeyInfo DER of the CA that
    /// issued it, and the label of the leaf's SII.
    ///
    /// Reads the validity and the `id-pe-mimiMapping` extension from the leaf with the
    /// profile's own decoder; it does not verify the chain (the verifier does that).
    pub fn from_leaf(
        leaf_der: &[u8],
        issuer_spki_der: &[u8],
        label: [u8; 32],
    ) -> Result<Self, LogError> {
        Self::from_parsed_leaf(&parse_leaf(leaf_der)?, leaf_der, issuer_spki_der, label)
    }

    /// [`Self::from_leaf`] of a leaf already parsed from `leaf_der` (the log operator reads
    /// its SII from the same parse).
    pub(crate) fn from_parsed_leaf(
        cert: &X509Certificate<'_>,
        leaf_der: &[u8],
        issuer_spki_der: &[u8],
        label: [u8; 32],
    ) -> Result<Self, LogError> {
        let mapping = profile::leaf_mapping(cert)?;
        let validity = cert.validity();
        let secs = |t: i64| u64::try_from(t).map_err(|_| LogError::TimeOutOfRange);
        let entry = MappingLogEntry {
            label,
            issuer_spki_sha256: profile::sha256(issuer_spki_der),
            leaf_sha256: profile::sha256(leaf_der),
            not_before: secs(validity.not_before.timestamp())?,
            not_after: secs(validity.not_after.timestamp())?,
            flags: mapping.flags,
            provider: mapping.provider,
        };
        check_provider(entry.provider.as_bytes())?;
        Ok(entry)
    }

    /// The entry's bytes, as they go into an entry bundle and the leaf hash.
    pub fn encode(&self) -> Result<Vec<u8>, LogError> {
        let provider = self.provider.as_bytes();
        check_provider(provider)?;
        let mut out = Vec::with_capacity(FIXED_LEN + 1 + provider.len());
        out.push(ENTRY_VERSION);
        out.extend_from_slice(&self.label);
        out.extend_from_slice(&self.issuer_spki_sha256);
        out.extend_from_slice(&self.leaf_sha256);
        out.extend_from_slice(&self.not_before.to_be_bytes());
        out.extend_from_slice(&self.not_after.to_be_bytes());
        out.push(flags_byte(self.flags));
        out.push(provider.len() as u8);
        out.extend_from_slice(provider);
        Ok(out)
    }

    /// Strict decoding: version 1, no unknown flag bits, a provider of 1 to 255 ASCII bytes and
    /// nothing after it.
    pub fn decode(bytes: &[u8]) -> Result<Self, LogError> {
        let truncated = || LogError::EntryTruncated { len: bytes.len() };
        if bytes.len() < FIXED_LEN + 1 {
            return Err(truncated());
        }
        if bytes[0] != ENTRY_VERSION {
            return Err(LogError::EntryVersion { version: bytes[0] });
        }
        let array =
            |at: usize| -> [u8; 32] { bytes[at..at + 32].try_into().expect("length checked") };
        let u64_at =
            |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("length checked"));
        let flags = bytes[FIXED_LEN - 1];
        if flags & !(FLAG_PREFERRED | FLAG_NEW_HOLDER) != 0 {
            return Err(LogError::EntryFlags { flags });
        }
        let provider_len = usize::from(bytes[FIXED_LEN]);
        let provider = bytes
            .get(FIXED_LEN + 1..FIXED_LEN + 1 + provider_len)
            .ok_or_else(truncated)?;
        let end = FIXED_LEN + 1 + provider_len;
        if bytes.len() > end {
            return Err(LogError::EntryTrailing {
                extra: bytes.len() - end,
            });
        }
        check_provider(provider)?;
        Ok(MappingLogEntry {
            label: array(1),
            issuer_spki_sha256: array(33),
            leaf_sha256: array(65),
            not_before: u64_at(97),
            not_after: u64_at(105),
            flags: MappingFlags {
                preferred: flags & FLAG_PREFERRED != 0,
                new_holder: flags & FLAG_NEW_HOLDER != 0,
            },
            provider: String::from_utf8(provider.to_vec()).expect("checked ASCII"),
        })
    }

    /// The RFC 6962 leaf hash of the encoded entry (SHA-256 of 0x00 || entry).
    pub fn leaf_hash(&self) -> Result<[u8; 32], LogError> {
        Ok(super::leaf_hash(&self.encode()?))
    }
}

/// A leaf certificate parsed with no bytes after it.
pub(crate) fn parse_leaf(der: &[u8]) -> Result<X509Certificate<'_>, LogError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok((rest, _)) => Err(LogError::Certificate {
            reason: format!("{} bytes after the certificate", rest.len()),
        }),
        Err(e) => Err(LogError::Certificate {
            reason: e.to_string(),
        }),
    }
}

fn flags_byte(flags: MappingFlags) -> u8 {
    (if flags.preferred { FLAG_PREFERRED } else { 0 })
        | (if flags.new_holder { FLAG_NEW_HOLDER } else { 0 })
}

/// `provider<1..255>`, ASCII printable (a domain name in A-label form).
fn check_provider(provider: &[u8]) -> Result<(), LogError> {
    if provider.is_empty() || provider.len() > 255 {
        return Err(LogError::EntryProvider {
            reason: format!("must be 1 to 255 bytes, found {}", provider.len()),
        });
    }
    if !provider.iter().all(|b| b.is_ascii_graphic()) {
        return Err(LogError::EntryProvider {
            reason: "must be printable ASCII (a domain name)".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MappingLogEntry {
        MappingLogEntry {
            label: [0x11; 32],
            issuer_spki_sha256: [0x22; 32],
            leaf_sha256: [0x33; 32],
            not_before: 1_767_225_600,
            not_after: 1_767_830_400,
            flags: MappingFlags {
                preferred: true,
                new_holder: false,
            },
            provider: "chat-a.example".into(),
        }
    }

    #[test]
    fn encoding_is_the_documented_layout() {
        let bytes = sample().encode().unwrap();
        let mut want = vec![1u8];
        want.extend([0x11; 32]);
        want.extend([0x22; 32]);
        want.extend([0x33; 32]);
        want.extend(1_767_225_600u64.to_be_bytes());
        want.extend(1_767_830_400u64.to_be_bytes());
        want.push(0x01);
        want.push(14);
        want.extend(b"chat-a.example");
        assert_eq!(bytes, want);
        assert_eq!(MappingLogEntry::decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn bad_entries_get_typed_errors() {
        let good = sample().encode().unwrap();
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            MappingLogEntry::decode(&trailing),
            Err(LogError::EntryTrailing { extra: 1 })
        ));
        let mut version = good.clone();
        version[0] = 2;
        assert!(matches!(
            MappingLogEntry::decode(&version),
            Err(LogError::EntryVersion { version: 2 })
        ));
        let mut flags = good.clone();
        flags[113] = 0x05;
        assert!(matches!(
            MappingLogEntry::decode(&flags),
            Err(LogError::EntryFlags { flags: 0x05 })
        ));
        let mut empty = good[..115].to_vec();
        empty[114] = 0;
        assert!(matches!(
            MappingLogEntry::decode(&empty),
            Err(LogError::EntryProvider { .. })
        ));
        let mut not_ascii = good.clone();
        *not_ascii.last_mut().unwrap() = b' ';
        assert!(matches!(
            MappingLogEntry::decode(&not_ascii),
            Err(LogError::EntryProvider { .. })
        ));
        for len in [0, 1, 114, good.len() - 1] {
            assert!(
                matches!(
                    MappingLogEntry::decode(&good[..len]),
                    Err(LogError::EntryTruncated { .. })
                ),
                "{len}"
            );
        }
        let mut long = sample();
        long.provider = "a".repeat(256);
        assert!(matches!(long.encode(), Err(LogError::EntryProvider { .. })));
        long.provider = "a".repeat(255);
        assert_eq!(
            MappingLogEntry::decode(&long.encode().unwrap()).unwrap(),
            long
        );
    }
}
