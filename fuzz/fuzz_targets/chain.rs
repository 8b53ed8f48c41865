//! Whole-chain verification: a verifier built once from the committed `certs/trust-list.yaml`,
//! fed PEM or DER bytes. Must never panic; every rejection carries a code.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mimi_attest::{chain_from_pem, TrustList, Verifier};
use time::macros::datetime;

fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../certs/trust-list.yaml"
        ));
        Verifier::new(TrustList::from_file(path).expect("the committed trust list loads"))
    })
}

fuzz_target!(|data: &[u8]| {
    // The committed example chains are valid on this date.
    let at = datetime!(2026-01-03 00:00 UTC);
    match chain_from_pem(data).and_then(|chain| verifier().verify(&chain, at)) {
        Ok(m) => {
            let _ = m.chain_sha256_hex();
        }
        Err(e) => {
            let _ = (e.code().as_str(), e.message(), e.depth());
        }
    }
});
