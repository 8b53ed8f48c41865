//! CRL scale (issue 5, item 6): a CRL with 1,000,000 revoked 128-bit serials, signed by a
//! real provider issuing CA. Printed once to stderr: generation time, DER size, load time
//! (`Verifier::with_crls`, parsed once into rustls-webpki's `OwnedCertRevocationList`).
//! Measured in the same run: `Verifier::verify` per chain without CRLs (revocation off),
//! with a one-entry CRL, and with the 1M-entry CRL (revocation leaf); the ratios are what
//! counts. `cargo bench --bench crl -- --warm-up-time 2 --measurement-time 5`
//! (`CRL_BENCH_ENTRIES=N` changes the size).

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use mimi_attest::chain_from_pem;
use mimi_attest::{IssueRequest, ProviderCa, Sii, TrustList, Verifier};
use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use ring::rand::{SecureRandom, SystemRandom};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use time::{Duration, OffsetDateTime};

const CONFIG: &str =
    "provider: chat-a.example\norganization: Chat A Inc.\nscope:\n  tel: [\"+1\"]\n";

/// A CRL signed by the CA's issuing key listing `n` random positive 128-bit serials.
fn big_crl(dir: &std::path::Path, n: usize, now: OffsetDateTime) -> Vec<u8> {
    let key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(dir.join("ca.key")).unwrap()).unwrap();
    let ca_der = CertificateDer::from(
        pem::parse(std::fs::read_to_string(dir.join("ca.pem")).unwrap())
            .unwrap()
            .contents()
            .to_vec(),
    );
    let issuer = rcgen::Issuer::from_ca_cert_der(&ca_der, key).unwrap();
    let rng = SystemRandom::new();
    let mut bytes = vec![0u8; 16 * n];
    rng.fill(&mut bytes).unwrap();
    let revoked_certs = bytes
        .chunks_exact(16)
        .map(|c| {
            let mut s = [0u8; 16];
            s.copy_from_slice(c);
            s[0] = (s[0] & 0x7f) | 0x40; // positive, full 128 bits in use
            RevokedCertParams {
                serial_number: SerialNumber::from_slice(&s),
                revocation_time: now,
                reason_code: Some(rcgen::RevocationReason::AffiliationChanged),
                invalidity_date: None,
            }
        })
        .collect();
    CertificateRevocationListParams {
        this_update: now,
        next_update: now + Duration::hours(24),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&issuer)
    .unwrap()
    .der()
    .to_vec()
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("CRL_BENCH_ENTRIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let mut ca = ProviderCa::init(CONFIG, "bench", &dir, now).unwrap();
    let issued = ca
        .issue(&IssueRequest::new(Sii::parse("+15551234567").unwrap()), now)
        .unwrap();
    let chain = chain_from_pem(issued.chain_pem.as_bytes()).unwrap();
    std::fs::write(tmp.path().join("root.pem"), ca.root_pem()).unwrap();
    let list = |revocation: &str| {
        TrustList::from_yaml(
            &format!(
                "version: 1\nanchors:\n  - name: chat-a\n    provider: chat-a.example\n    certificate: root.pem\n    scope: {{tel: [\"+1\"]}}\npolicy:\n  revocation: {revocation}\n"
            ),
            tmp.path(),
        )
        .unwrap()
    };

    let t = Instant::now();
    let der = big_crl(&dir, n, now);
    let generation = t.elapsed();
    eprintln!(
        "crl: {n} revoked serials: generated and signed in {:.2?}, DER {} bytes ({:.1} MiB, {:.1} bytes/entry)",
        generation,
        der.len(),
        der.len() as f64 / (1024.0 * 1024.0),
        der.len() as f64 / n as f64
    );
    let small = ca.crl(now).unwrap();

    let plain = Verifier::new(list("off"));
    let t = Instant::now();
    let with_big = Verifier::new(list("leaf"))
        .with_crls([CertificateRevocationListDer::from(der.clone())])
        .unwrap();
    eprintln!("crl: loaded (parsed once) in {:.2?}", t.elapsed());
    let with_small = Verifier::new(list("leaf"))
        .with_crls([CertificateRevocationListDer::from(small.der)])
        .unwrap();
    for v in [&plain, &with_small, &with_big] {
        v.verify(&chain, now).unwrap();
    }
    let t = Instant::now();
    let _clone = with_big.clone();
    eprintln!(
        "crl: cloning the verifier holding it takes {:.2?} (shared, not copied)",
        t.elapsed()
    );

    let mut g = c.benchmark_group("verify");
    g.bench_function("baseline: no CRL (revocation off)", |b| {
        b.iter(|| plain.verify(&chain, now).unwrap())
    });
    g.bench_function("revocation leaf, 1-entry CRL", |b| {
        b.iter(|| with_small.verify(&chain, now).unwrap())
    });
    g.bench_function(format!("revocation leaf, {n}-entry CRL"), |b| {
        b.iter(|| with_big.verify(&chain, now).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
