//! `MimiMapping` and `MimiScope` DER decoding: never panics, and whatever decodes encodes
//! back to something that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimi_attest::{MimiMapping, Scope};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = MimiMapping::from_der(data) {
        if let Ok(der) = m.to_der() {
            assert_eq!(MimiMapping::from_der(&der).ok().as_ref(), Some(&m));
        }
    }
    if let Ok(s) = Scope::from_der(data) {
        if let Ok(der) = s.to_der() {
            assert_eq!(Scope::from_der(&der).ok().as_ref(), Some(&s));
        }
        let _ = s.to_string();
    }
});
