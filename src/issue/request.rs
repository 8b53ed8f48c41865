//! What is asked of the CA ([`IssueRequest`], its [`SubjectKey`]) and what it hands out
//! ([`Issued`]); reading the subject key from a CSR or a public key.

use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509CertificationRequest};

use super::error::{sign_err, IssueError};
use crate::profile::{self, MappingFlags, Method, Serial, Span};
use crate::sii::Sii;
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256};

/// Where the subject public key of a leaf comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectKey {
    /// A PKCS#10 CSR (DER) from the user's client: its signature proves the user took part,
    /// and its hash goes into the mapping's `consent`.
    Csr(Vec<u8>),
    /// A SubjectPublicKeyInfo (DER) of a P-256 key.
    PublicKey(Vec<u8>),
    /// Generate a fresh P-256 key and hand its private half back once.
    Generate,
    /// The key of a certificate being renewed (SubjectPublicKeyInfo DER); the consent hash
    /// of the original CSR, if any, carries over.
    Renewal {
        /// The certified key.
        spki: Vec<u8>,
        /// The original `consent`.
        consent: Option<[u8; 32]>,
    },
}

/// One leaf to issue.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssueRequest {
    /// The SII to attest.
    pub sii: Sii,
    /// The handle (SSI) on this provider, if any.
    pub handle: Option<String>,
    /// How possession was proven; defaults by SII kind (sms-otp / email-otp).
    pub method: Option<Method>,
    /// When possession was proven; defaults to now. Never in the future.
    pub validated_at: Option<OffsetDateTime>,
    /// Leaf validity; defaults to the CA's `leaf_default`.
    pub validity: Option<Span>,
    /// Preference and new-holder flags.
    pub flags: MappingFlags,
    /// Where the subject key comes from.
    pub key: SubjectKey,
    /// Idempotency key: a request id issues at most one certificate, ever.
    pub request_id: Option<String>,
}

impl SubjectKey {
    /// A CSR from PEM (`CERTIFICATE REQUEST`) or DER bytes.
    pub fn csr_from_bytes(bytes: &[u8]) -> Result<Self, IssueError> {
        Ok(SubjectKey::Csr(pem_or_der(
            bytes,
            &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"],
            "a PKCS#10 CSR",
        )?))
    }

    /// A public key from PEM (`PUBLIC KEY`, SubjectPublicKeyInfo) or DER bytes.
    pub fn public_key_from_bytes(bytes: &[u8]) -> Result<Self, IssueError> {
        Ok(SubjectKey::PublicKey(pem_or_der(
            bytes,
            &["PUBLIC KEY"],
            "a SubjectPublicKeyInfo public key",
        )?))
    }
}

/// The DER inside `bytes`: one PEM block with one of `labels`, or the bytes themselves when
/// they are not PEM.
fn pem_or_der(bytes: &[u8], labels: &[&str], what: &str) -> Result<Vec<u8>, IssueError> {
    let text = std::str::from_utf8(bytes).ok().map(str::trim_start);
    match text {
        Some(t) if t.starts_with("-----BEGIN") => {
            let block = pem::parse(t).map_err(|e| {
                IssueError::SubjectKey(format!(
                    "expected {what} in PEM, but the PEM is invalid: {e}"
                ))
            })?;
            if !labels.contains(&block.tag()) {
                return Err(IssueError::SubjectKey(format!(
                    "expected {what} (PEM label {}), found a PEM \"{}\" block",
                    labels[0],
                    block.tag()
                )));
            }
            Ok(block.into_contents())
        }
        _ if bytes.first() == Some(&0x30) => Ok(bytes.to_vec()),
        _ => Err(IssueError::SubjectKey(format!(
            "expected {what} as PEM or DER, found neither"
        ))),
    }
}

impl IssueRequest {
    /// This request with `handle`.
    pub fn with_handle(mut self, handle: impl Into<String>) -> Self {
        self.handle = Some(handle.into());
        self
    }

    /// This request with `method`.
    pub fn with_method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// This request with possession proven at `validated_at`.
    pub fn with_validated_at(mut self, validated_at: OffsetDateTime) -> Self {
        self.validated_at = Some(validated_at);
        self
    }

    /// This request with the leaf valid for `validity`.
    pub fn with_validity(mut self, validity: Span) -> Self {
        self.validity = Some(validity);
        self
    }

    /// This request with `flags`.
    pub fn with_flags(mut self, flags: MappingFlags) -> Self {
        self.flags = flags;
        self
    }

    /// This request with the subject key from `key`.
    pub fn with_key(mut self, key: SubjectKey) -> Self {
        self.key = key;
        self
    }

    /// A request for `sii` with every option at its default and a generated key.
    pub fn new(sii: Sii) -> Self {
        IssueRequest {
            sii,
            handle: None,
            method: None,
            validated_at: None,
            validity: None,
            flags: MappingFlags::default(),
            key: SubjectKey::Generate,
            request_id: None,
        }
    }

    /// SHA-256 over the request's content (not its id), to tell a replay from a conflict.
    pub(super) fn fingerprint(&self) -> String {
        let key = match &self.key {
            SubjectKey::Csr(der) => format!("csr:{}", profile::hex(&profile::sha256(der))),
            SubjectKey::PublicKey(der) => format!("spki:{}", profile::hex(&profile::sha256(der))),
            SubjectKey::Generate => "generate".into(),
            SubjectKey::Renewal { spki, .. } => {
                format!("renewal:{}", profile::hex(&profile::sha256(spki)))
            }
        };
        let text = format!(
            "v1\n{}\n{:?}\n{:?}\n{:?}\n{:?}\n{}{}\n{key}",
            self.sii,
            self.handle,
            self.method.map(Method::as_str),
            self.validated_at.map(|t| t.unix_timestamp()),
            self.validity.map(|s| s.duration().whole_seconds()),
            u8::from(self.flags.preferred),
            u8::from(self.flags.new_holder),
        );
        profile::hex(&profile::sha256(text.as_bytes()))
    }
}

/// A certificate handed out by the CA.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Issued {
    /// Serial, lower-case hex.
    pub serial: Serial,
    /// The attested SII.
    pub sii: Sii,
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// The leaf, DER.
    pub leaf_der: Vec<u8>,
    /// Leaf then issuing CA, PEM.
    pub chain_pem: String,
    /// The generated private key (PKCS#8 PEM), when the CA generated it. Shown once: the CA
    /// never stores subscriber keys.
    pub private_key_pem: Option<String>,
    /// True when this is a repeated request id answered from the store.
    pub replayed: bool,
    /// The leaf's proof of inclusion in the CA's transparency log, when the CA config has a
    /// `log:` (the leaf was logged under a checkpoint on disk before it was handed out).
    pub tlog_proof: Option<crate::log::TlogProof>,
}

/// The subject key's SPKI DER, the generated private key (if any) and the consent hash.
pub(super) struct KeyParts {
    pub(super) spki_der: Vec<u8>,
    pub(super) private_key_pem: Option<String>,
    pub(super) consent: Option<[u8; 32]>,
}

pub(super) fn subject_key(key: &SubjectKey, sii: &Sii) -> Result<KeyParts, IssueError> {
    match key {
        SubjectKey::Generate => {
            let kp = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(sign_err)?;
            Ok(KeyParts {
                spki_der: rcgen::PublicKeyData::subject_public_key_info(&kp),
                private_key_pem: Some(kp.serialize_pem()),
                consent: None,
            })
        }
        // P-256 is checked where the key is decoded for signing (`P256PublicKey::from_spki`).
        SubjectKey::PublicKey(der) => Ok(KeyParts {
            spki_der: der.clone(),
            private_key_pem: None,
            consent: None,
        }),
        SubjectKey::Renewal { spki, consent } => Ok(KeyParts {
            spki_der: spki.clone(),
            private_key_pem: None,
            consent: *consent,
        }),
        SubjectKey::Csr(der) => {
            let (rest, csr) = X509CertificationRequest::from_der(der).map_err(|e| {
                IssueError::SubjectKey(format!("the CSR is not a valid PKCS#10 request: {e}"))
            })?;
            if !rest.is_empty() {
                return Err(IssueError::SubjectKey(
                    "the CSR has trailing bytes after its DER: send the request alone".into(),
                ));
            }
            let spki = csr.certification_request_info.subject_pki.raw.to_vec();
            require_p256(&spki)?;
            csr.verify_signature().map_err(|_| {
                IssueError::SubjectKey(
                    "the CSR's signature does not verify: the request was altered or signed with another key; ask the client for a fresh CSR".into(),
                )
            })?;
            let requested = csr_sii(&csr)?;
            if &requested != sii {
                return Err(IssueError::SubjectKey(format!(
                    "the CSR asks for {requested} but the request is for {sii}: the SII must be the one the user signed"
                )));
            }
            Ok(KeyParts {
                spki_der: spki,
                private_key_pem: None,
                consent: Some(profile::sha256(der)),
            })
        }
    }
}

/// The SII a CSR asks for: its one subjectAltName (tel: URI or rfc822Name).
fn csr_sii(csr: &X509CertificationRequest<'_>) -> Result<Sii, IssueError> {
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    let mut names = Vec::new();
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext {
            names.extend(san.general_names.iter().cloned());
        }
    }
    match names.as_slice() {
        [GeneralName::URI(u)] => Ok(Sii::parse(u)?),
        [GeneralName::RFC822Name(a)] => Ok(Sii::parse(a)?),
        [] => Err(IssueError::SubjectKey(
            "the CSR names no SII: put the phone number (URI tel:+...) or email address (rfc822Name) in its subjectAltName".into(),
        )),
        _ => Err(IssueError::SubjectKey(format!(
            "the CSR's subjectAltName holds {} names: a mapping CSR names exactly one SII",
            names.len()
        ))),
    }
}

/// A validated P-256 subject key: its uncompressed point.
pub(crate) struct P256PublicKey {
    pub(super) point: Vec<u8>,
}

impl P256PublicKey {
    pub(super) fn from_spki(spki_der: &[u8]) -> Result<Self, IssueError> {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        use p256::pkcs8::DecodePublicKey;
        let key = p256::PublicKey::from_public_key_der(spki_der).map_err(|_| {
            IssueError::SubjectKey(
                "the subject key is not a P-256 public key: mapping certificates use ECDSA P-256 keys only".into(),
            )
        })?;
        Ok(P256PublicKey {
            point: key.to_encoded_point(false).as_bytes().to_vec(),
        })
    }
}

fn require_p256(spki_der: &[u8]) -> Result<(), IssueError> {
    P256PublicKey::from_spki(spki_der).map(|_| ())
}
