//! SII parsing: any text either fails with an error or gives a canonical form that parses
//! back to the same identifier (through every entry point).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimi_attest::Sii;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sii) = Sii::parse(text) {
        let canonical = sii.canonical();
        assert_eq!(Sii::parse(&canonical).as_ref(), Ok(&sii), "{canonical}");
        assert_eq!(
            Sii::parse_canonical(&canonical).as_ref(),
            Ok(&sii),
            "{canonical}"
        );
        let _ = sii.san_value();
    }
    let _ = Sii::parse_canonical(text);
    let _ = Sii::from_san_uri(text);
    let _ = Sii::from_san_rfc822(text);
});
