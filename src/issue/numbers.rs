//! The numbering-plan check at issuance (docs/spec.md#sii-numbering-plan): a CA refuses a phone
//! number that no country could have, using libphonenumber's metadata (the `phonenumber`
//! crate). Verification never applies it: a verifier accepts any canonical E.164 form, so a
//! newer or older copy of the metadata can never split relying platforms.

use phonenumber::metadata::{Metadata, DATABASE};
use serde::Deserialize;

use super::IssueError;
use crate::sii::Sii;

/// How strictly a CA checks phone numbers against the numbering plans (`numbers:` in the CA
/// config).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum NumberCheck {
    /// The number is *possible*: a country code in use, and a length that country uses for
    /// complete numbers (the default). The fictional `+1 555 01xx` numbers pass.
    #[default]
    Possible,
    /// The number is *valid*: it also falls in a range the country's plan assigns
    /// (libphonenumber's full check; fictional and unassigned ranges are refused).
    Valid,
}

/// Refuse `sii` (when it is a phone number) if it is not possible, or with
/// [`NumberCheck::Valid`] not valid, in its country's numbering plan.
pub(crate) fn check_number(sii: &Sii, check: NumberCheck) -> Result<(), IssueError> {
    let Some(digits) = sii.tel_digits() else {
        return Ok(());
    };
    let refuse = |reason: String| IssueError::ImpossibleNumber {
        number: sii.canonical(),
        reason,
    };
    // Country codes are 1 to 3 digits and prefix-free: the first known prefix is the code.
    let Some((code, meta)) = (1..=3.min(digits.len())).find_map(|n| {
        let code: u16 = digits[..n].parse().ok()?;
        main_metadata(code).map(|m| (n, m))
    }) else {
        return Err(refuse(
            "it starts with no country code in use: check the number and write its country code first"
                .into(),
        ));
    };
    let national = &digits[code..];
    let region = meta.id();
    let cc = &digits[..code];
    let (lengths, local) = possible_lengths(meta);
    let len = national.len() as u16;
    if !lengths.contains(&len) {
        if local.contains(&len) {
            return Err(refuse(format!(
                "{len} digits after +{cc} ({region}) is a number dialled locally, without its area code: give the full number with its area code"
            )));
        }
        let shown: Vec<String> = lengths.iter().map(u16::to_string).collect();
        return Err(refuse(format!(
            "numbers under +{cc} ({region}) have {} digits after the country code, this one has {len}: check the number",
            shown.join(" or ")
        )));
    }
    if check == NumberCheck::Valid {
        let valid = phonenumber::parse(None, format!("+{digits}"))
            .map(|n| phonenumber::is_valid(&n))
            .unwrap_or(false);
        if !valid {
            return Err(refuse(format!(
                "it is in no range the numbering plan of +{cc} ({region}) assigns, and this CA's config asks for valid numbers (numbers: valid): check the number"
            )));
        }
    }
    Ok(())
}

/// The metadata of the country code's main region (as libphonenumber picks it).
fn main_metadata(code: u16) -> Option<&'static Metadata> {
    let all = DATABASE.by_code(&code)?;
    all.iter()
        .find(|m| m.is_main_country_for_code())
        .or_else(|| all.first())
        .copied()
}

/// The national-number lengths of complete numbers of any type in `meta`'s region, and those
/// only dialled locally (sorted, deduplicated). The general description rarely lists them
/// itself, so they are the union over the number types, as libphonenumber computes them.
fn possible_lengths(meta: &Metadata) -> (Vec<u16>, Vec<u16>) {
    let d = meta.descriptors();
    let types = [
        Some(d.general()),
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ];
    let mut lengths = Vec::new();
    let mut local = Vec::new();
    for t in types.into_iter().flatten() {
        lengths.extend_from_slice(t.possible_length());
        local.extend_from_slice(t.possible_local_length());
    }
    for v in [&mut lengths, &mut local] {
        v.sort_unstable();
        v.dedup();
    }
    (lengths, local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(n: &str, c: NumberCheck) -> Result<(), String> {
        check_number(&Sii::parse(n).unwrap(), c).map_err(|e| e.to_string())
    }

    /// Known numbers against the crate's metadata: real formats of several countries, the
    /// fictional ranges the examples use, and the impossible ones.
    #[test]
    fn the_metadata_knows_these_numbers() {
        for n in [
            "+1 555 123 4567",  // fictional 555, possible
            "+1 555 555 0100",  // fictional 555-01xx
            "+1 555 000 0001",  // the batch tests' numbers
            "+1 202 555 0123",  // Washington DC, fictional line
            "+44 7700 900123",  // UK Ofcom drama range
            "+44 20 7946 0958", // London drama range
            "+49 151 12345678", // German mobile
            "+33 6 12 34 56 78",
            "+81 3 1234 5678",
            "+61 2 1234 5678",
            "+800 1234 5678", // international freephone (region 001)
        ] {
            assert_eq!(check(n, NumberCheck::Possible), Ok(()), "{n}");
        }
        for (n, says) in [
            (
                "+1555",
                "have 10 digits after the country code, this one has 3",
            ),
            ("+1 555 123", "this one has 6"),
            ("+1 555 123 45678", "this one has 11"),
            ("+1 555 1234", "dialled locally"),
            ("+999 123 4567", "no country code in use"),
            ("+80 123 4567", "no country code in use"),
            ("+44 12", "(GB)"),
        ] {
            let e = check(n, NumberCheck::Possible).unwrap_err();
            assert!(e.contains(says), "{n}: {e}");
            assert!(e.contains(&Sii::parse(n).unwrap().canonical()), "{e}");
        }
        // Full validity: real assigned ranges pass, the fictional 555 exchange does not.
        for n in [
            "+44 20 7946 0958",
            "+49 151 12345678",
            "+33 6 12 34 56 78",
            "+1 202 555 0123",
        ] {
            assert_eq!(check(n, NumberCheck::Valid), Ok(()), "{n}");
        }
        let e = check("+1 555 123 4567", NumberCheck::Valid).unwrap_err();
        assert!(e.contains("numbers: valid"), "{e}");
        // Email addresses are not numbers.
        assert_eq!(check("alice@chat-a.example", NumberCheck::Valid), Ok(()));
    }
}
