//! TLS certificates for the exchange service's tests and benchmarks: a CA, and server and
//! client certificates it issues (rcgen, ECDSA P-256).
#![allow(dead_code)]

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// A CA certificate made here, with its key, to issue TLS certificates.
pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    pub pem: String,
}

pub fn test_ca(name: &str) -> TestCa {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let pem = params.self_signed(&key).unwrap().pem();
    TestCa { params, key, pem }
}

/// A TLS certificate (PEM) and key (PEM) issued by `ca`.
pub fn tls_cert(ca: &TestCa, name: &str, server: bool) -> (String, String) {
    tls_cert_valid(ca, name, server, None)
}

/// A client certificate (PEM) and key (PEM) issued by `ca` that expired a day ago.
pub fn expired_client_cert(ca: &TestCa, name: &str) -> (String, String) {
    let now = time::OffsetDateTime::now_utc();
    let validity = (
        now - time::Duration::days(30),
        now - time::Duration::days(1),
    );
    tls_cert_valid(ca, name, false, Some(validity))
}

fn tls_cert_valid(
    ca: &TestCa,
    name: &str,
    server: bool,
    validity: Option<(time::OffsetDateTime, time::OffsetDateTime)>,
) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    if let Some((not_before, not_after)) = validity {
        params.not_before = not_before;
        params.not_after = not_after;
    }
    params.distinguished_name.push(DnType::CommonName, name);
    if server {
        params.subject_alt_names = vec![
            SanType::IpAddress("127.0.0.1".parse().unwrap()),
            SanType::DnsName("localhost".try_into().unwrap()),
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    } else {
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let issuer = Issuer::from_params(&ca.params, &ca.key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}
