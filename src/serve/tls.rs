//! TLS for the exchange service and its client: rustls on ring, TLS 1.3 and 1.2, ALPN h2 and
//! http/1.1. The server requires client certificates chaining to the trust list's client CAs
//! and maps each verified certificate to the anchor whose CA issued it.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::ServeError;
use crate::trust::TrustList;

/// The one crypto provider of the service: ring (no aws-lc-rs in the tree).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The protocol versions offered and accepted.
pub(crate) const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// A certificate chain from a PEM file, leaf first.
pub(crate) fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err("holds no PEM CERTIFICATE block".into());
    }
    Ok(certs)
}

/// A private key from a PEM file (PKCS#8, SEC1 or PKCS#1).
pub(crate) fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        format!("cannot read an unencrypted PEM private key (PKCS#8, SEC1 or PKCS#1): {e}")
    })
}

/// One anchor's client CA: what a client certificate's issuer is compared with.
struct ClientCa {
    anchor: String,
    subject: Vec<u8>,
    /// The SubjectPublicKeyInfo, DER.
    key: Vec<u8>,
    der: CertificateDer<'static>,
}

/// The client CAs of a trust list's anchors.
pub(crate) struct ClientCas {
    cas: Vec<ClientCa>,
    roots: Arc<RootCertStore>,
}

impl ClientCas {
    /// The `client_auth_pem` CAs of `list`'s anchors; an error when there is none, or when
    /// two anchors name one CA.
    pub(crate) fn of(list: &TrustList, list_path: &Path) -> Result<ClientCas, ServeError> {
        let mut cas = Vec::new();
        let mut roots = RootCertStore::empty();
        for anchor in list.anchors() {
            let Some(der) = anchor.client_auth_der() else {
                continue;
            };
            // The trust list parsed it already; a CA webpki cannot use is left out, as no
            // client could be verified under it.
            let Ok((_, cert)) = X509Certificate::from_der(der) else {
                continue;
            };
            let subject = cert.tbs_certificate.subject.as_raw().to_vec();
            let key = cert.tbs_certificate.subject_pki.raw.to_vec();
            // Two anchors under one CA (name and key) could not be told apart: a client would
            // be either platform. Refused, as no answer could say whom it was given to.
            if let Some(other) = cas
                .iter()
                .find(|c: &&ClientCa| c.subject == subject && c.key == key)
            {
                return Err(ServeError::SharedClientCa {
                    path: list_path.display().to_string(),
                    first: other.anchor.clone(),
                    second: anchor.name().to_owned(),
                });
            }
            if roots.add(der.clone()).is_err() {
                continue;
            }
            cas.push(ClientCa {
                anchor: anchor.name().to_owned(),
                subject,
                key,
                der: der.clone(),
            });
        }
        if cas.is_empty() {
            return Err(ServeError::NoClientCas {
                path: list_path.display().to_string(),
            });
        }
        Ok(ClientCas {
            cas,
            roots: Arc::new(roots),
        })
    }

    /// The anchor whose client CA issued `leaf`, found by the issuer name and, unless
    /// `proof` settles it, the CA's signature.
    pub(crate) fn anchor_of(&self, leaf: &CertificateDer<'_>, proof: LeafProof) -> Option<&str> {
        let (_, cert) = X509Certificate::from_der(leaf).ok()?;
        let issuer = cert.tbs_certificate.issuer.as_raw();
        let named = || self.cas.iter().filter(move |ca| ca.subject == issuer);
        if proof == LeafProof::HandshakeWithLeafAlone {
            // The handshake verified the leaf's signature under a client CA of this very
            // list, and with no intermediate offered that CA bears the leaf's issuer name:
            // when one CA alone bears it, it is that one.
            let mut alike = named();
            if let (Some(ca), None) = (alike.next(), alike.next()) {
                return Some(ca.anchor.as_str());
            }
        }
        named()
            .find(|ca| {
                X509Certificate::from_der(&ca.der)
                    .ok()
                    .is_some_and(|(_, c)| cert.verify_signature(Some(c.public_key())).is_ok())
            })
            .map(|ca| ca.anchor.as_str())
    }

    /// The server's TLS config: its identity, client certificates required under these CAs.
    pub(crate) fn server_config(
        &self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        cert_path: &Path,
    ) -> Result<Arc<ServerConfig>, ServeError> {
        let tls = |message: String| ServeError::Tls {
            what: "certificate",
            path: cert_path.display().to_string(),
            message,
        };
        let verifier = WebPkiClientVerifier::builder_with_provider(self.roots.clone(), provider())
            .build()
            .map_err(|e| {
                tls(format!(
                    "cannot verify clients under the trust list's client CAs: {e}"
                ))
            })?;
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| tls(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| {
                tls(format!(
                    "the certificate and key do not make a TLS identity: {e}"
                ))
            })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// What is known of a client's leaf when its anchor is looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LeafProof {
    /// The TLS handshake, under the client CAs being searched, verified the leaf, and the
    /// client offered no other certificate.
    HandshakeWithLeafAlone,
    /// Nothing: the CAs are another list's (a reload), or the client offered more
    /// certificates than its leaf.
    None,
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo: the key a client's quota is kept under.
pub(crate) fn spki_sha256(leaf: &CertificateDer<'_>) -> Option<[u8; 32]> {
    let (_, cert) = X509Certificate::from_der(leaf).ok()?;
    Some(crate::profile::sha256(cert.tbs_certificate.subject_pki.raw))
}
