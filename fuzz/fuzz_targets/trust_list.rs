//! Trust lists on hostile bytes: the plain YAML parser (version 1 and 2; certificate paths
//! resolve against the committed `certs/`, or against a directory that does not exist), the
//! parser of the signed form and of the text to be signed, and the signer-set parser never
//! panic; a signed list that parses writes itself back as bytes that parse again the same.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mimi_attest::{SignedTrustList, SignerSet, TrustList};

fuzz_target!(|data: &[u8]| {
    let signed = SignedTrustList::parse(data, "fuzz");
    assert_eq!(SignedTrustList::is_signed(data), signed.is_ok());
    if let Ok(list) = signed {
        let again = SignedTrustList::parse(&list.to_bytes(), "fuzz")
            .expect("a parsed signed list parses again");
        assert_eq!(again.text(), list.text());
        assert_eq!(again.signature_names(), list.signature_names());
        assert_eq!(again.text_sha256(), list.text_sha256());
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let certs = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../certs"));
    for base in [certs, Path::new("/nonexistent/trust-list-dir")] {
        if let Ok(list) = TrustList::from_yaml(text, base) {
            for a in list.anchors() {
                let _ = (a.name(), a.provider(), a.scope().to_string());
            }
            let _ = (
                list.sequence(),
                list.expires(),
                list.signers().map(|s| s.to_string()),
            );
        }
    }
    if let Ok(list) = SignedTrustList::from_list_text(text, "fuzz") {
        assert!(list.signature_names().is_empty());
        assert_eq!(list.text(), text);
    }
    if let Ok(set) = SignerSet::from_yaml(text) {
        assert!(set.threshold() >= 1 && set.threshold() <= set.keys().len());
        let _ = (set.fingerprint(), set.to_string());
    }
});
