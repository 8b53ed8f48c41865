//! Certificate serial numbers as one type: what `issue` prints, `--serial` takes, the store
//! keys rows by, CRLs list and reports show.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use super::ProfileError;

/// Most hex digits a serial given as text may have: RFC 5280 4.1.2.2 caps serials at 20
/// octets.
const MAX_HEX_DIGITS: usize = 40;

/// A certificate serial number: the big-endian octets of the INTEGER without leading zero
/// octets (at least one octet; zero is `00`).
///
/// Shown (`Display`, `serde`) as lower-case hex without separators or leading zero bytes,
/// e.g. `8f01`: the form `issue` prints, the store keeps and `--serial` is compared in.
/// Parsed ([`FromStr`]) from hex as a person gives it: any case, optional `0x` prefix and
/// `:` separators, surrounding spaces, an odd number of digits. Ordered as numbers.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Serial(Vec<u8>);

impl Serial {
    /// The serial of a certificate or CRL entry from the contents octets of its INTEGER
    /// (e.g. x509-parser's `raw_serial()`): leading zero octets are dropped.
    pub fn from_contents(raw: &[u8]) -> Self {
        let start = raw
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(raw.len().saturating_sub(1));
        match raw.get(start..) {
            Some(rest) if !rest.is_empty() => Serial(rest.to_vec()),
            _ => Serial(vec![0]),
        }
    }

    /// The octets, big-endian, without leading zero octets (at least one).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl FromStr for Serial {
    type Err = ProfileError;

    fn from_str(given: &str) -> Result<Self, ProfileError> {
        let bad = || ProfileError::BadSerial {
            given: given.to_owned(),
        };
        let trimmed = given.trim();
        let trimmed = trimmed
            .strip_prefix("0x")
            .or_else(|| trimmed.strip_prefix("0X"))
            .unwrap_or(trimmed);
        let digits: Vec<u8> = trimmed
            .chars()
            .filter(|c| *c != ':')
            .map(|c| c.to_digit(16).map(|d| d as u8))
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        if digits.is_empty() || digits.len() > MAX_HEX_DIGITS {
            return Err(bad());
        }
        // An odd count means a leading zero nibble.
        let pad = digits.len() % 2;
        let bytes: Vec<u8> = std::iter::repeat_n(0, pad)
            .chain(digits)
            .collect::<Vec<u8>>()
            .chunks(2)
            .map(|p| (p[0] << 4) | p[1])
            .collect();
        Ok(Serial::from_contents(&bytes))
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::hex(&self.0))
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({self})")
    }
}

impl Ord for Serial {
    fn cmp(&self, other: &Self) -> Ordering {
        // No leading zeros: the longer is the larger.
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Serial {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl serde::Serialize for Serial {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_lose_leading_zero_octets() {
        assert_eq!(
            Serial::from_contents(&[0x00, 0x8f, 0x01]).to_string(),
            "8f01"
        );
        assert_eq!(Serial::from_contents(&[0x00]).to_string(), "00");
        assert_eq!(Serial::from_contents(&[]).to_string(), "00");
        assert_eq!(Serial::from_contents(&[0x7f]).to_string(), "7f");
        assert_eq!(Serial::from_contents(&[0, 0, 1]).as_bytes(), &[1]);
    }

    #[test]
    fn hex_is_read_as_people_write_it() {
        for (given, want) in [
            ("00:8F:01", "8f01"),
            (" 0x0ABC ", "0abc"),
            ("abc", "0abc"),
            ("0", "00"),
            ("0000", "00"),
            ("0XfF", "ff"),
        ] {
            assert_eq!(
                given.parse::<Serial>().unwrap().to_string(),
                want,
                "{given}"
            );
        }
        for bad in ["xyz", "", "0x", ":", "12 34", &"1".repeat(41)] {
            let e = bad.parse::<Serial>().unwrap_err();
            assert!(
                e.to_string().contains("not a hexadecimal serial number"),
                "{bad}: {e}"
            );
        }
        // Forty digits (twenty octets) is the most RFC 5280 allows.
        assert!("f".repeat(40).parse::<Serial>().is_ok());
    }

    #[test]
    #[cfg(feature = "ca")]
    fn serials_order_as_numbers_and_serialize_as_hex() {
        let small: Serial = "ff".parse().unwrap();
        let large: Serial = "0100".parse().unwrap();
        assert!(small < large);
        assert_eq!(
            serde_json::to_string(&large).unwrap(),
            "\"0100\"".to_owned()
        );
    }
}
