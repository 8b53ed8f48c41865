//! A provider CA whose config has `log:`, and reading back what it logged.

use std::fs;
use std::path::{Path, PathBuf};

use mimi_attest::{
    check_mapping_proof, init_log, init_witness, witness_key, KeyProtection, LogKeys, TlogProof,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::ca::{chat_a_config, init_ca, store_db};
use super::now;

/// A log in `tmp/log`, a witness in `tmp/w1`, and a CA in `tmp/ca` whose config names both
/// (relative to the CA directory).
pub fn logged_ca(tmp: &Path) -> PathBuf {
    init_log(
        &tmp.join("log"),
        "log.example/mapping",
        &KeyProtection::Insecure,
    )
    .unwrap();
    init_witness(
        &tmp.join("w1"),
        "witness.example/w1",
        &KeyProtection::Insecure,
    )
    .unwrap();
    let config = format!(
        "{}\nlog:\n  dir: ../log\n  witnesses: [../w1]\n",
        chat_a_config()
    );
    let ca = tmp.join("ca");
    drop(init_ca(&ca, &config, now()));
    ca
}

pub fn issuer_spki(ca: &Path) -> Vec<u8> {
    let pem = fs::read(ca.join("ca.pem")).unwrap();
    let der = pem::parse(&pem).unwrap().into_contents();
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    cert.tbs_certificate.subject_pki.raw.to_vec()
}

pub fn leaf_der(chain_pem: &str) -> Vec<u8> {
    pem::parse_many(chain_pem.as_bytes()).unwrap()[0]
        .contents()
        .to_vec()
}

/// The proof checks for the leaf, cosigned by the witness; its index.
pub fn check(proof: &str, chain_pem: &str, ca: &Path, keys: &LogKeys, tmp: &Path) -> u64 {
    let proof = TlogProof::parse(proof.as_bytes()).unwrap();
    let w = witness_key(&tmp.join("w1")).unwrap();
    let checked =
        check_mapping_proof(&proof, &leaf_der(chain_pem), &issuer_spki(ca), keys, &[w]).unwrap();
    assert_eq!(checked.witnesses, ["witness.example/w1"]);
    checked.index
}

/// (serial, log_index) of every leaf in the store, oldest first.
pub fn stored_indexes(ca: &Path) -> Vec<(String, Option<i64>)> {
    let db = store_db(ca);
    let mut stmt = db
        .prepare(
            "SELECT c.serial, l.log_index FROM certificates c \
             LEFT JOIN log_entries l ON l.id = c.id \
             WHERE c.kind = 'leaf' AND c.status = 'issued' ORDER BY c.id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows
}
