//! CSRs (and any other object an auditor or the issuer reads): the issuer's PEM/DER intake
//! (`SubjectKey::csr_from_bytes`), the auditor's `read_objects`, then inspect and lint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimi_attest::SubjectKey;
use mimi_attest::{inspect, lint_objects, read_objects};
use time::macros::datetime;

fuzz_target!(|data: &[u8]| {
    let _ = SubjectKey::csr_from_bytes(data);
    let _ = SubjectKey::public_key_from_bytes(data);
    if let Ok(objects) = read_objects(data) {
        if let Ok(i) = inspect(&objects, datetime!(2026-01-03 00:00 UTC)) {
            let _ = i.render_text();
        }
        let _ = lint_objects(&objects);
    }
});
