//! Trust-list YAML: never panics; certificate paths resolve against the committed `certs/`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mimi_attest::TrustList;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../certs"));
    if let Ok(list) = TrustList::from_yaml(text, base) {
        for a in list.anchors() {
            let _ = (a.name(), a.provider(), a.scope().to_string());
        }
    }
});
