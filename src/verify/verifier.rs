//! The chain verifier: docs/spec.md#verification, steps 1 to 7, fail-closed.

use std::sync::Arc;

use rustls_pki_types::{
    CertificateDer, CertificateRevocationListDer, SignatureVerificationAlgorithm, TrustAnchor,
    UnixTime,
};
use time::OffsetDateTime;
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::prelude::{FromDer, SubjectPublicKeyInfo, X509Certificate};

use super::cache::{IntermediateCache, VerifiedCa};
use super::revocation::{CrlSet, IssuerKey};
use super::{Code, CrlError, CrlNote, VerifyError, MAX_CHAIN_LEN};
use crate::profile::{
    self, ca_scope, leaf_mapping, leaf_sii, oids, MappingFlags, Method, ProfileError, Scope,
    MAX_CERT_LEN,
};
use crate::sii::Sii;
use crate::trust::{Anchor, Policy, RevocationPolicy, ScopeRule, TrustList};

/// The only signature algorithm of profile mapping-v1: ECDSA P-256 with SHA-256.
static ALGS: &[&dyn SignatureVerificationAlgorithm] = &[webpki::ring::ECDSA_P256_SHA256];

/// `id-kp-mimiMapping` is required on the leaf and every CA.
const MIMI_EKU: KeyUsage = KeyUsage::required(oids::ID_KP_MIMI_MAPPING.der_value());

/// A verified mapping attestation: "SII `sii` is served by `provider` as `handle`".
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedMapping {
    /// The attested SII (canonical).
    pub sii: Sii,
    /// The provider serving it; always the anchor's provider.
    pub provider: String,
    /// The handle (SSI) on that provider, if the attestation names one.
    pub handle: Option<String>,
    /// How possession of the SII was proven.
    pub method: Method,
    /// When possession was last proven.
    pub validated_at: OffsetDateTime,
    /// Preference and new-holder flags.
    pub flags: MappingFlags,
    /// The leaf's notBefore.
    pub not_before: OffsetDateTime,
    /// The leaf's notAfter.
    pub not_after: OffsetDateTime,
    /// The name of the trust-list anchor the chain led to.
    pub anchor: String,
    /// SHA-256 over the DER of the verified path, leaf first and root last, concatenated.
    pub chain_sha256: [u8; 32],
    /// The leaf's serial number: the INTEGER's contents octets as in the certificate.
    pub serial: Vec<u8>,
    /// The leaf's subjectPublicKeyInfo (DER): the user's key, always ECDSA P-256, that the
    /// attestation binds to the SII.
    pub subject_public_key_info: Vec<u8>,
    /// SHA-256 of the user's signed CSR (DER), when the leaf was issued from one
    /// (`MimiMapping.consent`).
    pub consent: Option<[u8; 32]>,
}

impl VerifiedMapping {
    /// [`VerifiedMapping::serial`] as lower-case hex without leading zero bytes (as
    /// `inspect`, `store list` and CRLs show serials).
    pub fn serial_hex(&self) -> String {
        profile::serial_hex(&self.serial)
    }

    /// [`VerifiedMapping::chain_sha256`] as lower-case hex.
    pub fn chain_sha256_hex(&self) -> String {
        profile::hex(&self.chain_sha256)
    }
}

/// Verifies mapping attestation chains against a trust list, offline.
///
/// A verifier remembers the issuing CAs it has verified to an anchor (up to 256): a later
/// leaf under one of them costs one signature check (its own), while every leaf-level check
/// runs as for a fresh verification. A remembered verdict is used only within the times it
/// holds for (the CA's and the root's validity, and under `revocation: chain` the freshness
/// and choice of the root's CRL); anything that fails against it is verified in full. Clones
/// share what was remembered; [`Verifier::with_crls`] starts afresh. Share one verifier (it
/// is `Sync`) rather than making one per chain.
///
/// ```
/// use mimi_attest::{IssueRequest, ProviderCa, Sii, TrustList, Verifier};
/// use mimi_attest::verify::chain_from_pem;
///
/// let tmp = tempfile::tempdir()?;
/// let now = time::OffsetDateTime::now_utc();
/// // A provider CA (normally `mimi-attest ca init`) issues an attestation ...
/// let config = "provider: chat-a.example\norganization: Chat A Inc.\nscope:\n  tel: [\"+1\"]\n";
/// let mut ca = ProviderCa::init(config, "chat-a.yaml", &tmp.path().join("ca"), now)?;
/// let issued = ca.issue(&IssueRequest::new(Sii::parse("+1 555 123 4567")?), now)?;
///
/// // ... and a relying platform trusts that provider's root for +1 numbers.
/// std::fs::write(tmp.path().join("chat-a-root.pem"), ca.root_pem())?;
/// let trust_list = TrustList::from_yaml(
///     "version: 1\nanchors:\n  - name: chat-a\n    provider: chat-a.example\n    \
///      certificate: chat-a-root.pem\n    scope: {tel: [\"+1\"]}\n",
///     tmp.path(),
/// )?;
/// let verifier = Verifier::new(trust_list);
///
/// let chain = chain_from_pem(issued.chain_pem.as_bytes())?;
/// let mapping = verifier.verify(&chain, now)?;
/// assert_eq!(mapping.sii.canonical(), "tel:+15551234567");
/// assert_eq!(mapping.provider, "chat-a.example");
/// assert_eq!(mapping.anchor, "chat-a");
///
/// // The same chain is not evidence for another number.
/// let other = Sii::parse("+15559999999")?;
/// let err = verifier.verify_sii(&chain, now, &other).unwrap_err();
/// assert_eq!(err.code().as_str(), "E_SII_MISMATCH");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Verifier {
    anchors: Vec<Anchor>,
    webpki_anchors: Vec<TrustAnchor<'static>>,
    /// What the checks need of each anchor's root, read once (same order as `anchors`).
    roots: Vec<Result<RootFacts, String>>,
    policy: Policy,
    /// Parsed once; shared (not copied) by clones and by every verification.
    crls: Arc<CrlSet>,
    /// Issuing CAs already verified to an anchor under these anchors, policy and CRLs.
    /// Shared by clones (same verdicts); [`Verifier::with_crls`] starts a new one.
    cache: Arc<IntermediateCache>,
}

/// The outcome of one verification, with the CRLs that were ignored for it and why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verification {
    /// The verified mapping, or why the chain was rejected.
    pub result: Result<VerifiedMapping, VerifyError>,
    /// CRLs given to the verifier but not used for this chain: their issuer on the path has
    /// no keyUsage cRLSign, they lack a non-critical CRL number, their signature does not
    /// verify with the key of the CA on the path they name as issuer, or they are not fresh. Empty when
    /// the policy's revocation is `off` (CRLs are then not consulted at all).
    pub crl_notes: Vec<CrlNote>,
    /// Certificates presented with the chain but not on the verified path, and why they
    /// were not used (only the verified path decides the verdict). A copy of the anchor's
    /// root is not noted. Empty when the chain was rejected before a path was found.
    pub cert_notes: Vec<CertNote>,
}

/// A presented certificate that is not on the verified path: ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertNote {
    /// Its position in the presented chain (0 = leaf).
    pub index: usize,
    /// Its subject, as text (empty when it could not be read).
    pub subject: String,
    /// Why it was not used.
    pub message: String,
}

impl std::fmt::Display for CertNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "certificate {} (\"{}\") ignored: {}",
            self.index, self.subject, self.message
        )
    }
}

/// An anchor's root certificate as the checks see it, read once when the [`Verifier`] is
/// made instead of parsed for every chain. The root sits at a different depth depending on
/// the path length, so the depth-dependent checks are kept for every depth it can take.
#[derive(Clone, Debug)]
struct RootFacts {
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    /// [`check_extensions`] with the root at depth `d`, at index `d`.
    critical: Vec<Result<(), VerifyError>>,
    /// [`check_ca_constraints`], [`check_key_usage`], [`check_eku`] and [`check_key`] with
    /// the root at depth `d`, at index `d`.
    ca_checks: Vec<Result<(), VerifyError>>,
    /// Its `id-pe-mimiScope`, or why that is malformed.
    scope: Result<Option<Scope>, String>,
    /// Subject (DER with tag), its text form and the EC point: what a CRL it signed is
    /// matched and checked against.
    subject_raw: Vec<u8>,
    subject: String,
    point: Vec<u8>,
    /// Whether its keyUsage has cRLSign (CRLs it signed are used only then).
    crl_sign: bool,
}

impl RootFacts {
    fn read(der: &CertificateDer<'_>) -> Result<Self, String> {
        let (_, root) = X509Certificate::from_der(der.as_ref()).map_err(|e| e.to_string())?;
        let depths = 0..=MAX_CHAIN_LEN;
        Ok(RootFacts {
            not_before: not_before(&root),
            not_after: not_after(&root),
            critical: depths.clone().map(|d| check_extensions(&root, d)).collect(),
            ca_checks: depths
                .map(|d| {
                    check_ca_constraints(&root, d)?;
                    check_key_usage(&root, d)?;
                    check_eku(&root, d)?;
                    check_key(&root, d)
                })
                .collect(),
            scope: ca_scope(&root).map_err(|e| e.to_string()),
            subject_raw: root.subject().as_raw().to_vec(),
            subject: root.subject().to_string(),
            point: root.public_key().subject_public_key.data.to_vec(),
            crl_sign: has_crl_sign(&root),
        })
    }

    /// The result kept for `depth`; a path too long to have one is malformed.
    fn at(results: &[Result<(), VerifyError>], depth: usize) -> Result<(), VerifyError> {
        results.get(depth).cloned().unwrap_or_else(|| {
            Err(err(
                Code::Malformed,
                depth,
                format!("the path is longer than the {MAX_CHAIN_LEN} certificates allowed"),
            ))
        })
    }
}

impl From<TrustList> for Verifier {
    fn from(list: TrustList) -> Self {
        Verifier::new(list)
    }
}

/// The certificates of a PEM chain (`CERTIFICATE` blocks only, leaf first), or of one DER
/// certificate. Anything else is [`Code::Malformed`].
pub fn chain_from_pem(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, VerifyError> {
    let malformed = |m: String| VerifyError::new(Code::Malformed, 0, m);
    if bytes.first() == Some(&0x30) {
        return Ok(vec![CertificateDer::from(bytes.to_vec())]);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| {
        malformed("not a certificate chain: neither PEM text nor a DER certificate".into())
    })?;
    let blocks = pem::parse_many(text)
        .map_err(|e| malformed(format!("not a certificate chain: invalid PEM ({e})")))?;
    if blocks.is_empty() {
        return Err(malformed(
            "not a certificate chain: no PEM CERTIFICATE block found".into(),
        ));
    }
    blocks
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            if b.tag() == "CERTIFICATE" {
                Ok(CertificateDer::from(b.into_contents()))
            } else {
                Err(VerifyError::new(
                    Code::Malformed,
                    i,
                    format!(
                        "PEM block {i} is a \"{}\", but a chain holds only CERTIFICATE blocks (leaf first)",
                        b.tag()
                    ),
                ))
            }
        })
        .collect()
}

use crate::profile::rfc3339 as fmt_time;

fn not_before(c: &X509Certificate<'_>) -> OffsetDateTime {
    c.validity().not_before.to_datetime()
}

fn not_after(c: &X509Certificate<'_>) -> OffsetDateTime {
    c.validity().not_after.to_datetime()
}

fn err(code: Code, depth: usize, message: impl Into<String>) -> VerifyError {
    VerifyError::new(code, depth, message)
}

impl Verifier {
    /// A verifier for the anchors and policy of `trust_list`.
    pub fn new(trust_list: TrustList) -> Self {
        let (anchors, policy) = trust_list.into_parts();
        let webpki_anchors = anchors.iter().map(|a| a.trust_anchor.clone()).collect();
        let roots = anchors
            .iter()
            .map(|a| RootFacts::read(&a.root_der))
            .collect();
        Verifier {
            anchors,
            webpki_anchors,
            roots,
            policy,
            crls: Arc::default(),
            cache: Arc::default(),
        }
    }

    /// This verifier with more CRLs (DER; see [`crate::verify::crls_from_pem`] for PEM
    /// bundles). Each is parsed once, here, into rustls-webpki's owned form; verifications
    /// borrow them. CRLs are consulted only when the policy's revocation is `leaf` or `chain`.
    /// [`CrlNote::index`] counts the CRLs over all calls, in order.
    ///
    /// Fails on a CRL that cannot be parsed or that rustls-webpki cannot use (it needs RFC 5280
    /// v2 CRLs with nextUpdate and a CRL number, no delta CRLs).
    pub fn with_crls<'d>(
        mut self,
        crls: impl IntoIterator<Item = CertificateRevocationListDer<'d>>,
    ) -> Result<Self, CrlError> {
        Arc::make_mut(&mut self.crls).extend(crls)?;
        // Cached verdicts were reached without these CRLs.
        self.cache = Arc::default();
        Ok(self)
    }

    /// The verified-intermediate cache: (entries, chains whose issuing CA was verified in
    /// full rather than taken from the cache). For tests and benchmarks.
    #[doc(hidden)]
    pub fn intermediate_cache_stats(&self) -> (usize, u64) {
        (self.cache.len(), self.cache.misses())
    }

    /// How many CRLs this verifier holds.
    pub fn crl_count(&self) -> usize {
        self.crls.crls.len()
    }

    /// Like [`Verifier::verify`], optionally requiring an SII, and also reporting the CRLs
    /// ignored for this chain.
    pub fn verify_with_notes(
        &self,
        chain: &[CertificateDer<'_>],
        now: OffsetDateTime,
        expected: Option<&Sii>,
    ) -> Verification {
        let (mut crl_notes, mut cert_notes) = (Vec::new(), Vec::new());
        let result = self.check(chain, now, expected, &mut crl_notes, &mut cert_notes);
        Verification {
            result,
            crl_notes,
            cert_notes,
        }
    }

    /// Like [`Verifier::verify_pem`], also reporting the CRLs ignored for this chain.
    pub fn verify_pem_with_notes(
        &self,
        pem: &[u8],
        now: OffsetDateTime,
        expected: Option<&Sii>,
    ) -> Verification {
        match chain_from_pem(pem) {
            Ok(chain) => self.verify_with_notes(&chain, now, expected),
            Err(e) => Verification {
                result: Err(e),
                crl_notes: Vec::new(),
                cert_notes: Vec::new(),
            },
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The trust-list anchors.
    pub fn anchors(&self) -> &[Anchor] {
        &self.anchors
    }

    /// Verify `chain` (leaf first, then its issuing CA(s); the root may be included) at time
    /// `now`.
    pub fn verify(
        &self,
        chain: &[CertificateDer<'_>],
        now: OffsetDateTime,
    ) -> Result<VerifiedMapping, VerifyError> {
        self.check(chain, now, None, &mut Vec::new(), &mut Vec::new())
    }

    /// Verify `chain` at `now` and require that it attests `expected`
    /// ([`Code::SiiMismatch`] otherwise).
    pub fn verify_sii(
        &self,
        chain: &[CertificateDer<'_>],
        now: OffsetDateTime,
        expected: &Sii,
    ) -> Result<VerifiedMapping, VerifyError> {
        self.check(chain, now, Some(expected), &mut Vec::new(), &mut Vec::new())
    }

    /// Verify a PEM chain (or one DER certificate), optionally requiring an SII.
    pub fn verify_pem(
        &self,
        pem: &[u8],
        now: OffsetDateTime,
        expected: Option<&Sii>,
    ) -> Result<VerifiedMapping, VerifyError> {
        let chain = chain_from_pem(pem)?;
        self.check(&chain, now, expected, &mut Vec::new(), &mut Vec::new())
    }

    fn check(
        &self,
        chain: &[CertificateDer<'_>],
        now: OffsetDateTime,
        expected: Option<&Sii>,
        notes: &mut Vec<CrlNote>,
        cert_notes: &mut Vec<CertNote>,
    ) -> Result<VerifiedMapping, VerifyError> {
        let skew = self.policy.clock_skew.duration();

        // 1. Strict DER, size limits, no unknown critical extension.
        if chain.is_empty() {
            return Err(err(
                Code::Malformed,
                0,
                "the chain is empty: give the leaf first, then its issuing CA",
            ));
        }
        if chain.len() > MAX_CHAIN_LEN {
            return Err(err(
                Code::Malformed,
                MAX_CHAIN_LEN,
                format!(
                    "the chain holds {} certificates, more than the {MAX_CHAIN_LEN} allowed",
                    chain.len()
                ),
            ));
        }
        // The profile's chain (leaf, issuing CA) with that CA verified before: it is not
        // parsed again (its DER, size and extensions were checked when cached).
        let hit = match chain {
            [_, ca] => self.cache.get(ca.as_ref(), now),
            _ => None,
        };
        // The leaf decides, so it must pass check 1; any other certificate is only a
        // candidate for the path: one that fails check 1 (or is not valid at `now`, or
        // has a key the profile does not allow) is left out, and decides the verdict only
        // if the path then cannot be built without it.
        let mut bundle = Bundle::default();
        bundle.parsed.push(Some(parse_cert(0, &chain[0])?));
        let hit = hit.filter(|ca| bundle.leaf().issuer().as_raw() == &ca.subject_raw[..]);
        for (i, der) in chain.iter().enumerate().skip(1) {
            if i == 1 && hit.is_some() {
                bundle.parsed.push(None);
            } else {
                bundle.read_candidate(i, der, now, skew);
            }
        }
        if hit.is_none() {
            bundle.read_skipped(chain, now, skew);
        }

        // 2. Path to an anchor (webpki): validity with clock skew, signatures,
        //    basicConstraints, pathLen, EKU; then what webpki leaves to us.
        let leaf_span = (not_before(bundle.leaf()), not_after(bundle.leaf()));
        let mut spans = bundle.candidate_spans();
        if let Some(ca) = &hit {
            spans.push((ca.not_before, ca.not_after));
        }
        let at = validity_time(&[leaf_span], now, skew)?;
        // A time inside the validity of every candidate when there is one (webpki checks
        // each certificate of the path it builds at this one time).
        let at = common_time(&spans, leaf_span, now).unwrap_or(at);
        let unix_at = u64::try_from(at.unix_timestamp())
            .map(|s| UnixTime::since_unix_epoch(std::time::Duration::from_secs(s)))
            .map_err(|_| err(Code::Malformed, 0, "verification time before 1970"))?;
        let ee = match EndEntityCert::try_from(&chain[0]) {
            Ok(ee) => ee,
            Err(e) => {
                bundle.read_skipped(chain, now, skew);
                return Err(self.explain(e, &bundle, at));
            }
        };
        // A leaf naming chain[1] as issuer, with chain[1] verified to an anchor before (and
        // that verdict holding at `now`), is checked by webpki against chain[1] as a trust
        // anchor: only its own signature is verified. Anything that fails there is verified
        // in full below, so errors are those of a fresh verification.
        let cached = hit.filter(|ca| {
            ee.verify_for_usage(
                ALGS,
                std::slice::from_ref(&ca.trust_anchor),
                &[],
                unix_at,
                MIMI_EKU,
                None,
                None,
            )
            .is_ok()
        });
        if cached.is_none() {
            // The leaf failed against the cached CA: verify in full, with the CA parsed.
            bundle.read_skipped(chain, now, skew);
        }
        let (anchor_index, on_path) = match &cached {
            Some(ca) => (ca.anchor, vec![0usize, 1]),
            None => {
                self.cache.count_miss();
                self.verify_path(&ee, chain, &bundle, at, unix_at)?
            }
        };
        let anchor = &self.anchors[anchor_index];
        let root = self.roots[anchor_index].as_ref().map_err(|e| {
            err(
                Code::Malformed,
                on_path.len(),
                format!("anchor root unreadable: {e}"),
            )
        })?;
        // The path below the root; the root's facts were read with the trust list.
        // With a cached CA, `certs` holds the leaf only (the CA was not parsed).
        let certs: Vec<&X509Certificate<'_>> = on_path
            .iter()
            .filter_map(|&i| bundle.get(i).filter(|_| cached.is_none() || i == 0))
            .collect();
        let root_depth = on_path.len();

        // webpki does not look at the anchor certificate itself.
        RootFacts::at(&root.critical, root_depth)?;
        if root.not_before > now + skew {
            return Err(err(
                Code::NotYetValid,
                root_depth,
                format!(
                    "the root of anchor {:?} is not valid before {}",
                    anchor.name(),
                    fmt_time(root.not_before)
                ),
            ));
        }
        if root.not_after < now - skew {
            return Err(err(
                Code::Expired,
                root_depth,
                format!(
                    "the root of anchor {:?} expired at {}: the trust list needs the provider's current root",
                    anchor.name(),
                    fmt_time(root.not_after)
                ),
            ));
        }
        // A cached issuing CA passed these (and the root's) at insertion; the leaf's run here.
        for (depth, c) in certs.iter().enumerate() {
            check_ca_constraints(c, depth)?;
            check_key_usage(c, depth)?;
            check_eku(c, depth)?;
            check_key(c, depth)?;
        }
        RootFacts::at(&root.ca_checks, root_depth)?;

        // Only the verified path decides: say which presented certificates it did not use.
        bundle.note_unused(chain, &on_path, &self.anchors, cert_notes);

        // 3. Revocation, on the verified path: each covered certificate's serial is looked up
        //    in the freshest CRL its issuer (the next certificate up the path) signed.
        self.check_revocation(&certs, root, now, notes, cached.as_deref())?;

        // 4. Leaf profile.
        let leaf = certs[0];
        if leaf.subject().iter_attributes().next().is_some() {
            return Err(err(
                Code::SiiCount,
                0,
                format!(
                    "the leaf's subject is {:?}, but profile mapping-v1 requires an empty subject: the SII belongs in subjectAltName only",
                    leaf.subject().to_string()
                ),
            ));
        }
        let sii = leaf_sii(leaf).map_err(|e| match e {
            ProfileError::SiiCount { .. } => err(Code::SiiCount, 0, e.to_string()),
            ProfileError::BadSii(_) | ProfileError::NotAnSii { .. } => {
                err(Code::BadSii, 0, e.to_string())
            }
            other => err(Code::Malformed, 0, other.to_string()),
        })?;
        let mapping = leaf_mapping(leaf).map_err(|e| match e {
            ProfileError::MappingMissing => err(Code::MappingMissing, 0, e.to_string()),
            other => err(
                Code::Malformed,
                0,
                format!("the leaf's id-pe-mimiMapping extension is malformed: {other}"),
            ),
        })?;
        let (nb, na) = (not_before(leaf), not_after(leaf));
        let max_validity = self.policy.max_leaf_validity;
        if na - nb > max_validity.duration() {
            return Err(err(
                Code::ValidityTooLong,
                0,
                format!(
                    "the leaf is valid for {} ({} to {}), longer than the policy maximum {max_validity}",
                    profile::Span::new(na - nb),
                    fmt_time(nb),
                    fmt_time(na)
                ),
            ));
        }
        if mapping.validated_at > nb + skew {
            return Err(err(
                Code::StaleValidation,
                0,
                format!(
                    "validatedAt {} is after the leaf's notBefore {}: possession cannot be proven after issuance",
                    fmt_time(mapping.validated_at),
                    fmt_time(nb)
                ),
            ));
        }
        let max_age = self.policy.max_validation_age;
        if now - mapping.validated_at > max_age.duration() + skew {
            return Err(err(
                Code::StaleValidation,
                0,
                format!(
                    "possession of {sii} was last proven at {}, longer ago than the policy maximum {max_age}: the provider must re-validate the SII",
                    fmt_time(mapping.validated_at)
                ),
            ));
        }

        // 5. Scope at every hop (delegation between CAs only when not cached).
        let parsed_scopes = match &cached {
            Some(_) => Vec::new(),
            None => ca_scopes(&certs)?,
        };
        let below_root: Vec<Option<&Scope>> = match &cached {
            Some(ca) => vec![ca.scope.as_ref()],
            None => parsed_scopes.iter().map(Option::as_ref).collect(),
        };
        self.check_scope(anchor, &below_root, &root.scope, cached.is_none(), &sii)?;

        // 6. Provider binding.
        if mapping.provider != anchor.provider() {
            return Err(err(
                Code::ProviderMismatch,
                0,
                format!(
                    "the attestation claims provider {:?}, but it chains to anchor {:?}, which may speak only for {:?}",
                    mapping.provider,
                    anchor.name(),
                    anchor.provider()
                ),
            ));
        }
        // ... and its handle must be one of that provider's own (mapping-v1 handle rule).
        if let Some(handle) = &mapping.handle {
            if let Err(e) = crate::profile::check_handle(handle, anchor.provider()) {
                return Err(err(Code::ProviderMismatch, 0, e.to_string()));
            }
        }

        // 7. The SII asked for.
        if let Some(expected) = expected {
            if *expected != sii {
                return Err(err(
                    Code::SiiMismatch,
                    0,
                    format!("the attestation is for {sii}, not for {expected}"),
                ));
            }
        }

        if cached.is_none() && on_path.len() == 2 {
            let scope = parsed_scopes.into_iter().next().flatten();
            self.remember(
                anchor_index,
                certs[1],
                chain[on_path[1]].as_ref(),
                root,
                scope,
                now,
            );
        }

        Ok(VerifiedMapping {
            sii,
            provider: mapping.provider,
            handle: mapping.handle,
            method: mapping.method,
            validated_at: mapping.validated_at,
            flags: mapping.flags,
            not_before: nb,
            not_after: na,
            anchor: anchor.name().to_owned(),
            chain_sha256: path_sha256(
                on_path
                    .iter()
                    .map(|&i| chain[i].as_ref())
                    .chain([anchor.root_der.as_ref()]),
            ),
            serial: leaf.raw_serial().to_vec(),
            subject_public_key_info: leaf.public_key().raw.to_vec(),
            consent: mapping.consent,
        })
    }

    /// Check 2 in full: webpki builds and checks the path to an anchor (two signature checks
    /// for root → issuing CA → leaf). Returns the anchor's index and the chain indices of
    /// the path below the root, leaf first.
    fn verify_path(
        &self,
        ee: &EndEntityCert<'_>,
        chain: &[CertificateDer<'_>],
        bundle: &Bundle<'_>,
        at: OffsetDateTime,
        unix_at: UnixTime,
    ) -> Result<(usize, Vec<usize>), VerifyError> {
        let candidates = bundle.candidates(chain);
        let path = ee
            .verify_for_usage(
                ALGS,
                &self.webpki_anchors,
                &candidates,
                unix_at,
                MIMI_EKU,
                None,
                None,
            )
            .map_err(|e| self.explain(e, bundle, at))?;
        let anchor_index = self
            .anchors
            .iter()
            .position(|a| {
                a.trust_anchor.subject == path.anchor().subject
                    && a.trust_anchor.subject_public_key_info
                        == path.anchor().subject_public_key_info
            })
            .ok_or_else(|| err(Code::UnknownIssuer, 1, "path led to an unlisted anchor"))?;
        let mut on_path = vec![0usize];
        for c in path.intermediate_certificates() {
            let der = c.der();
            let i = chain
                .iter()
                .position(|d| d.as_ref() == der.as_ref())
                .ok_or_else(|| err(Code::Malformed, 1, "path uses an unknown intermediate"))?;
            on_path.push(i);
        }
        Ok((anchor_index, on_path))
    }

    /// Remember the issuing CA of a chain that verified in full (path root → `ca` → leaf),
    /// with the window of verification times in which that verdict holds. Not cached: a CA
    /// under a root with nameConstraints (they would no longer be applied to the leaf), a
    /// CA with the subject of an anchor (webpki would try the anchor first), and under
    /// `revocation: chain`, a CA without a window in which its CRL choice is stable.
    fn remember(
        &self,
        anchor_index: usize,
        ca: &X509Certificate<'_>,
        ca_der: &[u8],
        root: &RootFacts,
        scope: Option<Scope>,
        now: OffsetDateTime,
    ) {
        let subject = strip_sequence(ca.subject().as_raw());
        if self.webpki_anchors[anchor_index].name_constraints.is_some()
            || self
                .webpki_anchors
                .iter()
                .any(|a| a.subject.as_ref() == subject)
        {
            return;
        }
        let der = CertificateDer::from(ca_der);
        let Ok(trust_anchor) = webpki::anchor_from_trusted_cert(&der) else {
            return;
        };
        let skew = self.policy.clock_skew.duration();
        let mut valid_from = not_before(ca).max(root.not_before) - skew;
        let mut valid_until = not_after(ca).min(root.not_after) + skew;
        let mut crl_notes = Vec::new();
        if self.policy.revocation == RevocationPolicy::Chain {
            let key = IssuerKey {
                subject: &root.subject_raw,
                point: &root.point,
                crl_sign: root.crl_sign,
            };
            let Some((lo, hi)) = self.crls.selection_window(&key, now, &self.policy) else {
                return;
            };
            valid_from = valid_from.max(lo);
            valid_until = valid_until.min(hi);
            self.crls.select(&[key], now, &self.policy, &mut crl_notes);
        }
        if !(valid_from <= now && now <= valid_until) {
            return;
        }
        self.cache.insert(VerifiedCa {
            der: ca_der.into(),
            not_before: not_before(ca),
            not_after: not_after(ca),
            subject_raw: ca.subject().as_raw().to_vec(),
            subject: ca.subject().to_string(),
            point: ca.public_key().subject_public_key.data.to_vec(),
            crl_sign: has_crl_sign(ca),
            anchor: anchor_index,
            trust_anchor: trust_anchor.to_owned(),
            valid_from,
            valid_until,
            scope,
            crl_notes,
        });
    }

    /// Check 5: the SII inside the trust-list scope and every CA's `MimiScope`; with
    /// `delegation`, also no CA widening its issuers' scopes (or, under
    /// [`ScopeRule::Strict`], the trust-list scope). `below_root` holds the scopes of the CAs
    /// below the root (depth 1 first), `root_scope` the root's.
    fn check_scope(
        &self,
        anchor: &Anchor,
        below_root: &[Option<&Scope>],
        root_scope: &Result<Option<Scope>, String>,
        delegation: bool,
        sii: &Sii,
    ) -> Result<(), VerifyError> {
        let root_depth = below_root.len() + 1;
        let listed = anchor.scope();
        let root_scope = root_scope
            .as_ref()
            .map_err(|e| malformed_scope(root_depth, e))?;
        let scopes: Vec<Option<&Scope>> = std::iter::once(None)
            .chain(below_root.iter().copied())
            .chain([root_scope.as_ref()])
            .collect();
        for depth in (1..=root_depth).rev().filter(|_| delegation) {
            let Some(scope) = &scopes[depth] else {
                continue;
            };
            for (outer_depth, outer) in scopes.iter().enumerate().skip(depth + 1) {
                if let Some(outer) = outer {
                    if !scope.is_within(outer) {
                        return Err(err(
                            Code::ScopeWidened,
                            depth,
                            format!(
                                "the CA's scope ({scope}) is wider than that of its issuer at depth {outer_depth} ({outer}): a CA may not widen what it was delegated"
                            ),
                        ));
                    }
                }
            }
            if self.policy.scope_rule == ScopeRule::Strict && !scope.is_within(listed) {
                return Err(err(
                    Code::ScopeWidened,
                    depth,
                    format!(
                        "the CA's scope ({scope}) is wider than what the trust list allows anchor {:?} ({listed})",
                        anchor.name()
                    ),
                ));
            }
        }
        if !listed.permits(sii) {
            return Err(err(
                Code::OutOfScope,
                root_depth,
                format!(
                    "{sii} is outside what the trust list lets anchor {:?} assert ({listed})",
                    anchor.name()
                ),
            ));
        }
        for depth in (1..=root_depth).rev() {
            if let Some(scope) = &scopes[depth] {
                if !scope.permits(sii) {
                    return Err(err(
                        Code::OutOfScope,
                        depth,
                        format!("{sii} is outside the scope of the CA at depth {depth} ({scope})"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A webpki error as a code, with the depth of the certificate it concerns, found by
    /// following issuer names up the presented chain. When no path was found and a
    /// certificate left out of path building is the one the chain names as issuer, its own
    /// fault (expired, malformed, a key the profile does not allow) is the answer.
    fn explain(&self, e: webpki::Error, bundle: &Bundle<'_>, at: OffsetDateTime) -> VerifyError {
        use webpki::Error as W;
        let (walk, anchor) = self.presented_path(bundle);
        let top = walk.len() - 1;
        let cert = |d: usize| {
            bundle
                .get(walk[d])
                .expect("the walk holds parsed certificates")
        };
        let find = |pred: &dyn Fn(usize, &X509Certificate<'_>) -> bool| {
            (0..walk.len()).find(|&d| pred(d, cert(d)))
        };
        if matches!(e, W::UnknownIssuer) {
            if let Some((d, e)) = walk
                .iter()
                .enumerate()
                .find_map(|(d, &i)| bundle.why_excluded(i).map(|e| (d, e)))
            {
                return err(e.code(), d, e.message().to_owned());
            }
            if let Some((_, e)) = bundle
                .excluded
                .iter()
                .find(|(i, _)| bundle.get(*i).is_none())
            {
                // Unreadable, so it cannot be told whether it was the issuer: malformed.
                return e.clone();
            }
        }
        #[allow(deprecated)]
        match e {
            W::UnknownIssuer | W::CertDistrusted => {
                let c = cert(top);
                let why = if c.subject().as_raw() == c.issuer().as_raw() {
                    format!(
                        "the certificate at depth {top} (\"{}\") is self-issued, but it is not a trust-list anchor: a CA certificate is trusted only when the trust list names it",
                        c.subject()
                    )
                } else {
                    format!(
                        "the certificate at depth {top} was issued by \"{}\", which is neither in the chain nor a trusted root",
                        c.issuer()
                    )
                };
                err(
                    Code::UnknownIssuer,
                    top,
                    format!("no path to a trust-list anchor: {why}"),
                )
            }
            W::InvalidSignatureForPublicKey
            | W::SignatureAlgorithmMismatch
            | W::UnsupportedSignatureAlgorithm
            | W::UnsupportedSignatureAlgorithmContext(_)
            | W::UnsupportedSignatureAlgorithmForPublicKey
            | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
                let root = anchor.and_then(|a| {
                    X509Certificate::from_der(self.anchors[a].root_der.as_ref())
                        .ok()
                        .map(|(_, c)| c)
                });
                let depth = (0..walk.len())
                    .find(|&d| {
                        let issuer = match walk.get(d + 1) {
                            Some(&j) => bundle.get(j).map(|c| c.public_key()),
                            None => root.as_ref().map(|r| r.public_key()),
                        };
                        issuer.is_some_and(|spki| cert(d).verify_signature(Some(spki)).is_err())
                    })
                    .unwrap_or(0);
                let c = cert(depth);
                if depth > 0
                    && c.subject().as_raw() == c.issuer().as_raw()
                    && c.verify_signature(None).is_ok()
                {
                    // Self-signed under the name of an anchor: it is not that anchor.
                    return err(
                        Code::UnknownIssuer,
                        depth,
                        format!(
                            "no path to a trust-list anchor: the certificate at depth {depth} (\"{}\") is self-signed with its own key, not signed by the trust-list anchor of that name; a CA certificate is trusted only when the trust list names it",
                            c.subject()
                        ),
                    );
                }
                err(
                    Code::BadSignature,
                    depth,
                    format!("the signature of the certificate at depth {depth} does not verify with its issuer's key, or uses an algorithm other than ecdsa-with-SHA256 on P-256 ({e:?})"),
                )
            }
            W::CertExpired { .. } | W::CertNotValidYet { .. } | W::InvalidCertValidity => {
                let depth = find(&|_, c| at < not_before(c) || at > not_after(c)).unwrap_or(0);
                let code = if matches!(e, W::CertNotValidYet { .. }) {
                    Code::NotYetValid
                } else {
                    Code::Expired
                };
                err(
                    code,
                    depth,
                    format!(
                        "the certificate at depth {depth} is not valid at {}",
                        fmt_time(at)
                    ),
                )
            }
            W::CaUsedAsEndEntity => err(
                Code::NotCa,
                0,
                "the leaf has basicConstraints cA=TRUE: a mapping leaf must not be a CA",
            ),
            W::EndEntityUsedAsCa => {
                let depth = find(&|d, c| d > 0 && !is_ca(c)).unwrap_or(1);
                err(
                    Code::NotCa,
                    depth,
                    format!("the certificate at depth {depth} issues certificates but lacks basicConstraints cA=TRUE"),
                )
            }
            W::PathLenConstraintViolated | W::MaximumPathDepthExceeded => {
                let depth =
                    find(&|d, c| d > 0 && path_len(c).is_some_and(|l| d - 1 > l)).unwrap_or(top);
                err(
                    Code::PathLen,
                    depth,
                    format!("the chain is longer than the pathLenConstraint of the CA at depth {depth} allows"),
                )
            }
            W::RequiredEkuNotFound | W::RequiredEkuNotFoundContext(_) | W::EmptyEkuExtension => {
                let depth = find(&|_, c| !has_mimi_eku(c)).unwrap_or(0);
                err(
                    Code::Eku,
                    depth,
                    format!(
                        "the certificate at depth {depth} lacks extendedKeyUsage {}",
                        oids::ID_KP_MIMI_MAPPING
                    ),
                )
            }
            W::UnsupportedCriticalExtension => {
                let depth =
                    find(&|_, c| profile::extensions::check_extensions(c).is_err()).unwrap_or(0);
                err(
                    Code::UnknownCriticalExtension,
                    depth,
                    "a certificate has a critical extension this verifier does not process",
                )
            }
            W::NameConstraintViolation => err(
                Code::OutOfScope,
                0,
                "the leaf's name violates a CA's nameConstraints",
            ),
            W::CertRevoked => err(Code::Revoked, 0, "a certificate on the path is revoked"),
            W::UnknownRevocationStatus => err(
                Code::RevocationUnknown,
                0,
                "the revocation status of a certificate on the path is unknown",
            ),
            other => {
                let depth = chain_der_depth(bundle, &walk);
                err(
                    Code::Malformed,
                    depth,
                    format!("the chain was rejected by path validation: {other:?}"),
                )
            }
        }
    }

    /// docs/spec.md#verify-revocation on the verified path: `certs` (leaf first, up to the topmost
    /// intermediate) under the anchor `root`. Under `leaf` the leaf, under `chain` every
    /// certificate below the root, must have a fresh CRL from its issuer (signature checked
    /// once per CRL and key, then cached) that does not list its serial. The lookup is a
    /// `BTreeMap` search in the CRL parsed at load: a million-entry CRL costs no more per
    /// chain than a short one.
    ///
    /// With `cached` (the issuing CA's verdict from the cache) only the leaf is looked up;
    /// the CA's status was checked when it was cached and holds within the entry's window,
    /// and the notes made then about the root's CRLs are reported again.
    fn check_revocation(
        &self,
        certs: &[&X509Certificate<'_>],
        root: &RootFacts,
        now: OffsetDateTime,
        notes: &mut Vec<CrlNote>,
        cached: Option<&VerifiedCa>,
    ) -> Result<(), VerifyError> {
        let revocation = self.policy.revocation;
        let covered = match revocation {
            RevocationPolicy::Off => return Ok(()),
            RevocationPolicy::Leaf => 1,
            RevocationPolicy::Chain if cached.is_some() => 1,
            RevocationPolicy::Chain => certs.len(),
        };
        // The issuer of the certificate at depth d: the next one up, or the root.
        let issuer_of = |d: usize| -> (IssuerKey<'_>, String) {
            if let (0, Some(ca)) = (d, cached) {
                return (
                    IssuerKey {
                        subject: &ca.subject_raw,
                        point: &ca.point,
                        crl_sign: ca.crl_sign,
                    },
                    ca.subject.clone(),
                );
            }
            match certs.get(d + 1) {
                Some(c) => (
                    IssuerKey {
                        subject: c.subject().as_raw(),
                        point: c.public_key().subject_public_key.data.as_ref(),
                        crl_sign: has_crl_sign(c),
                    },
                    c.subject().to_string(),
                ),
                None => (
                    IssuerKey {
                        subject: &root.subject_raw,
                        point: &root.point,
                        crl_sign: root.crl_sign,
                    },
                    root.subject.clone(),
                ),
            }
        };
        let issuers: Vec<IssuerKey<'_>> = (0..covered).map(|d| issuer_of(d).0).collect();
        let sel = self.crls.select(&issuers, now, &self.policy, notes);
        for n in cached.iter().flat_map(|ca| &ca.crl_notes) {
            if !notes.iter().any(|m| m.index == n.index) {
                notes.push(n.clone());
            }
        }
        let skew = self.policy.clock_skew.duration();
        for (d, c) in certs.iter().take(covered).enumerate() {
            let (key, issuer) = issuer_of(d);
            let Some(crl) = sel.for_issuer(key.subject) else {
                return Err(err(
                    Code::RevocationUnknown,
                    d,
                    format!(
                        "revocation: {revocation} requires a fresh CRL from \"{issuer}\", the issuer of the certificate at depth {d}, but {}",
                        sel.why_missing(key.subject)
                    ),
                ));
            };
            if crl.next_update + skew < now {
                return Err(err(
                    Code::RevocationUnknown,
                    d,
                    format!(
                        "the newest CRL from \"{}\" (CRL {}) is past its nextUpdate {} (checked at {}): the status of the certificate at depth {d} is unknown; fetch a current CRL from the provider",
                        crl.issuer,
                        crl.index,
                        fmt_time(crl.next_update),
                        fmt_time(now)
                    ),
                ));
            }
            match crl.crl.find_serial(c.raw_serial()) {
                Ok(None) => {}
                Ok(Some(entry)) => {
                    let when = OffsetDateTime::from_unix_timestamp(
                        i64::try_from(entry.revocation_date.as_secs()).unwrap_or(i64::MAX),
                    )
                    .map(fmt_time)
                    .unwrap_or_default();
                    let reason = entry
                        .reason_code
                        .map(|r| format!(", reason {r:?}"))
                        .unwrap_or_default();
                    return Err(err(
                        Code::Revoked,
                        d,
                        format!(
                            "the certificate at depth {d} (serial {}) is revoked: listed on CRL {}{} from \"{}\" (revoked at {when}{reason})",
                            profile::serial_hex(c.raw_serial()),
                            crl.index,
                            crl.number.as_ref().map(|n| format!(" number {n}")).unwrap_or_default(),
                            crl.issuer
                        ),
                    ));
                }
                Err(e) => {
                    return Err(err(
                        Code::RevocationUnknown,
                        d,
                        format!("CRL {} from \"{}\" could not be searched ({e:?}): the status of the certificate at depth {d} is unknown", crl.index, crl.issuer),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Chain indices from the leaf following issuer names (preferring, among certificates
    /// of the right name, one whose key verifies the signature, and an anchor over a
    /// presented certificate), and the anchor the topmost one names as issuer, if any.
    fn presented_path(&self, bundle: &Bundle<'_>) -> (Vec<usize>, Option<usize>) {
        let parsed = &bundle.parsed;
        let mut walk = vec![0usize];
        loop {
            let Some(cur) = bundle.get(*walk.last().unwrap_or(&0)) else {
                return (walk, None);
            };
            let issuer = cur.issuer().as_raw();
            let anchor = self
                .webpki_anchors
                .iter()
                .position(|a| a.subject.as_ref() == strip_sequence(issuer));
            let signs = |spki: &SubjectPublicKeyInfo<'_>| cur.verify_signature(Some(spki)).is_ok();
            let anchor_signs = anchor.is_some_and(|a| {
                X509Certificate::from_der(self.anchors[a].root_der.as_ref())
                    .is_ok_and(|(_, root)| signs(root.public_key()))
            });
            if anchor_signs {
                return (walk, anchor);
            }
            let named: Vec<usize> = (0..parsed.len())
                .filter(|j| !walk.contains(j))
                .filter(|&j| {
                    bundle
                        .get(j)
                        .is_some_and(|c| c.subject().as_raw() == issuer)
                })
                .collect();
            let signer = named
                .iter()
                .copied()
                .find(|&j| bundle.get(j).is_some_and(|c| signs(c.public_key())));
            match (signer, anchor, named.first()) {
                (Some(j), _, _) => walk.push(j),
                (None, Some(a), _) => return (walk, Some(a)),
                (None, None, Some(&j)) => walk.push(j),
                (None, None, None) => return (walk, None),
            }
        }
    }
}

/// Check 1 for one certificate: size, strict DER without trailing bytes, every extension
/// allowed by the profile's table and strict DER inside.
fn parse_cert<'a>(
    i: usize,
    der: &'a CertificateDer<'_>,
) -> Result<X509Certificate<'a>, VerifyError> {
    match read_cert(i, der) {
        (Some(cert), None) => Ok(cert),
        (_, Some(e)) => Err(e),
        (None, None) => Err(err(Code::Malformed, i, "unreadable certificate")),
    }
}

/// [`parse_cert`], keeping the parsed certificate (when it parses at all) next to why it
/// fails check 1: a candidate issuer that fails is still followed by name when explaining
/// why no path was found.
fn read_cert<'a>(
    i: usize,
    der: &'a CertificateDer<'_>,
) -> (Option<X509Certificate<'a>>, Option<VerifyError>) {
    if der.len() > MAX_CERT_LEN {
        let e = err(
            Code::Malformed,
            i,
            format!(
                "certificate {i} is {} bytes, more than the {MAX_CERT_LEN} allowed",
                der.len()
            ),
        );
        return (None, Some(e));
    }
    let (rest, cert) = match X509Certificate::from_der(der) {
        Ok(ok) => ok,
        Err(e) => {
            let e = err(
                Code::Malformed,
                i,
                format!("certificate {i} is not a well-formed DER X.509 certificate: {e}"),
            );
            return (None, Some(e));
        }
    };
    if !rest.is_empty() {
        let e = err(
            Code::Malformed,
            i,
            format!(
                "certificate {i} has {} trailing bytes after its DER",
                rest.len()
            ),
        );
        return (Some(cert), Some(e));
    }
    let e = check_extensions(&cert, i).err();
    (Some(cert), e)
}

/// The presented certificates, parsed (index = position in the chain; `None` when not
/// parsed or unreadable), and those left out of path building with the reason.
#[derive(Default)]
struct Bundle<'a> {
    parsed: Vec<Option<X509Certificate<'a>>>,
    /// (chain index, why it is not a candidate issuer).
    excluded: Vec<(usize, VerifyError)>,
}

impl<'a> Bundle<'a> {
    fn leaf(&self) -> &X509Certificate<'a> {
        self.parsed[0]
            .as_ref()
            .expect("the leaf is parsed before anything else")
    }

    fn get(&self, i: usize) -> Option<&X509Certificate<'a>> {
        self.parsed.get(i).and_then(Option::as_ref)
    }

    fn why_excluded(&self, i: usize) -> Option<&VerifyError> {
        self.excluded.iter().find(|(j, _)| *j == i).map(|(_, e)| e)
    }

    /// Parse chain[i] (i ≥ 1) as a candidate issuer: check 1, validity at `now` within the
    /// clock skew, and a P-256 key; one that fails is kept for explanations only.
    fn read_candidate(
        &mut self,
        i: usize,
        der: &'a CertificateDer<'_>,
        now: OffsetDateTime,
        skew: time::Duration,
    ) {
        let (cert, e) = read_cert(i, der);
        let e = e.or_else(|| {
            let c = cert.as_ref()?;
            validity_time(&[(not_before(c), not_after(c))], now, skew)
                .err()
                .map(|e| {
                    let message = e
                        .message()
                        .replace("at depth 0", &format!("{i} of the chain"));
                    err(e.code(), i, message)
                })
                .or_else(|| check_key(c, i).err())
        });
        if let Some(e) = e {
            self.excluded.push((i, e));
        }
        match self.parsed.get_mut(i) {
            Some(slot) => *slot = cert,
            None => self.parsed.push(cert),
        }
    }

    /// Parse the issuing CA skipped because of a cache hit, when it is needed after all.
    fn read_skipped(
        &mut self,
        chain: &'a [CertificateDer<'_>],
        now: OffsetDateTime,
        skew: time::Duration,
    ) {
        if chain.len() > 1 && self.parsed[1].is_none() && self.why_excluded(1).is_none() {
            self.read_candidate(1, &chain[1], now, skew);
        }
    }

    /// The DER of the candidate issuers, for webpki.
    fn candidates<'c>(&self, chain: &'c [CertificateDer<'_>]) -> Vec<CertificateDer<'c>> {
        (1..chain.len())
            .filter(|&i| self.why_excluded(i).is_none())
            .map(|i| CertificateDer::from(chain[i].as_ref()))
            .collect()
    }

    /// The validity of the leaf and of every parsed candidate.
    fn candidate_spans(&self) -> Vec<(OffsetDateTime, OffsetDateTime)> {
        self.parsed
            .iter()
            .enumerate()
            .filter(|(i, _)| self.why_excluded(*i).is_none())
            .filter_map(|(_, c)| c.as_ref().map(|c| (not_before(c), not_after(c))))
            .collect()
    }

    /// A note for each presented certificate the verified path does not use (a copy of
    /// an anchor's root excepted).
    fn note_unused(
        &self,
        chain: &[CertificateDer<'_>],
        on_path: &[usize],
        anchors: &[Anchor],
        notes: &mut Vec<CertNote>,
    ) {
        for (i, der) in chain.iter().enumerate().skip(1) {
            if on_path.contains(&i) || anchors.iter().any(|a| a.root_der.as_ref() == der.as_ref()) {
                continue;
            }
            let why = match self.why_excluded(i) {
                Some(e) => format!("not on the verified path; {}", e.message()),
                None => "not on the verified path".to_owned(),
            };
            notes.push(CertNote {
                index: i,
                subject: self
                    .get(i)
                    .map(|c| c.subject().to_string())
                    .unwrap_or_default(),
                message: why,
            });
        }
    }
}

/// The verification time for webpki: `now`, moved by at most the clock skew into the
/// validity of every span, when they have a time in common.
fn common_time(
    spans: &[(OffsetDateTime, OffsetDateTime)],
    leaf: (OffsetDateTime, OffsetDateTime),
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let lo = spans.iter().map(|s| s.0).fold(leaf.0, OffsetDateTime::max);
    let hi = spans.iter().map(|s| s.1).fold(leaf.1, OffsetDateTime::min);
    (lo <= hi).then(|| now.clamp(lo, hi))
}

/// Every key on the path is ECDSA P-256: webpki checks only the keys that verify a
/// signature, and never the leaf's own.
fn check_key(c: &X509Certificate<'_>, depth: usize) -> Result<(), VerifyError> {
    match profile::key_problem(c.public_key()) {
        None => Ok(()),
        Some(problem) => Err(err(
            Code::KeyAlgorithm,
            depth,
            format!(
                "the {} at depth {depth} has a key the profile does not allow: {problem}; every key on a mapping path must be ECDSA P-256",
                if depth == 0 { "leaf" } else { "CA" }
            ),
        )),
    }
}

fn malformed_scope(depth: usize, e: &dyn std::fmt::Display) -> VerifyError {
    err(
        Code::Malformed,
        depth,
        format!("the id-pe-mimiScope extension is malformed: {e}"),
    )
}

/// The `id-pe-mimiScope` of each CA below the root (`certs` is the path, leaf first).
fn ca_scopes(certs: &[&X509Certificate<'_>]) -> Result<Vec<Option<Scope>>, VerifyError> {
    certs
        .iter()
        .enumerate()
        .skip(1)
        .map(|(depth, c)| ca_scope(c).map_err(|e| malformed_scope(depth, &e)))
        .collect()
}

/// SHA-256 over the DER of the verified path (leaf first, root last), without copying it.
fn path_sha256<'a>(ders: impl Iterator<Item = &'a [u8]>) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for der in ders {
        ctx.update(der);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The contents of a DER SEQUENCE (webpki keeps names without their outer tag and length).
fn strip_sequence(der: &[u8]) -> &[u8] {
    let Some((&0x30, rest)) = der.split_first() else {
        return der;
    };
    match rest.split_first() {
        Some((&len, body)) if len < 0x80 => body,
        Some((&len, body)) => body.get(usize::from(len & 0x7f)..).unwrap_or(body),
        None => der,
    }
}

/// Depth of the first certificate on `walk` webpki cannot parse; 0 if none.
fn chain_der_depth(bundle: &Bundle<'_>, walk: &[usize]) -> usize {
    walk.iter()
        .position(|&i| {
            bundle.get(i).is_some_and(|c| {
                let der = CertificateDer::from(c.as_raw());
                EndEntityCert::try_from(&der).is_err()
            })
        })
        .unwrap_or(0)
}

fn is_ca(c: &X509Certificate<'_>) -> bool {
    matches!(c.basic_constraints(), Ok(Some(bc)) if bc.value.ca)
}

fn path_len(c: &X509Certificate<'_>) -> Option<usize> {
    match c.basic_constraints() {
        Ok(Some(bc)) => bc
            .value
            .path_len_constraint
            .map(|l| usize::try_from(l).unwrap_or(usize::MAX)),
        _ => None,
    }
}

/// keyUsage present with cRLSign: only then may a CA's CRLs be used (docs/spec.md#crl-acceptance).
fn has_crl_sign(c: &X509Certificate<'_>) -> bool {
    matches!(c.key_usage(), Ok(Some(ku)) if ku.value.crl_sign())
}

fn has_mimi_eku(c: &X509Certificate<'_>) -> bool {
    matches!(c.extended_key_usage(), Ok(Some(eku)) if eku.value.other.iter().any(|o| o.as_bytes() == oids::ID_KP_MIMI_MAPPING.der_value()))
}

/// The profile's table of processed extensions ([`profile::extensions`]), shared with the
/// lint: criticality, and strict DER inside every extension the profile reads.
fn check_extensions(c: &X509Certificate<'_>, depth: usize) -> Result<(), VerifyError> {
    use profile::extensions::ExtensionError;
    match profile::extensions::check_extensions(c) {
        Ok(()) => Ok(()),
        Err(e @ ExtensionError::NotDer { .. }) => Err(err(
            Code::Malformed,
            depth,
            format!("the certificate at depth {depth}: {e}"),
        )),
        Err(ExtensionError::UnknownCritical { dotted }) => Err(err(
            Code::UnknownCriticalExtension,
            depth,
            format!(
                "the certificate at depth {depth} has a critical extension {dotted}{} that this verifier does not process",
                oids::name(&dotted).map(|n| format!(" ({n})")).unwrap_or_default()
            ),
        )),
        Err(e) => Err(err(
            Code::UnknownCriticalExtension,
            depth,
            format!("the certificate at depth {depth}: {e}"),
        )),
    }
}

/// A time inside every certificate's validity and within the clock skew of `now`, or the
/// reason there is none.
fn validity_time(
    spans: &[(OffsetDateTime, OffsetDateTime)],
    now: OffsetDateTime,
    skew: time::Duration,
) -> Result<OffsetDateTime, VerifyError> {
    for (depth, &(nb, na)) in spans.iter().enumerate() {
        if nb > na {
            return Err(err(
                Code::Malformed,
                depth,
                format!(
                    "the certificate at depth {depth} has notBefore {} after notAfter {}",
                    fmt_time(nb),
                    fmt_time(na)
                ),
            ));
        }
        if nb > now + skew {
            return Err(err(
                Code::NotYetValid,
                depth,
                format!(
                    "the certificate at depth {depth} is not valid before {} (checked at {}, clock skew allowed {})",
                    fmt_time(nb),
                    fmt_time(now),
                    profile::Span::new(skew)
                ),
            ));
        }
        if na < now - skew {
            return Err(err(
                Code::Expired,
                depth,
                format!(
                    "the certificate at depth {depth} expired at {} (checked at {}, clock skew allowed {})",
                    fmt_time(na),
                    fmt_time(now),
                    profile::Span::new(skew)
                ),
            ));
        }
    }
    let lo = spans.iter().map(|s| s.0).max().unwrap_or(now);
    let (hi_depth, hi) = spans
        .iter()
        .map(|s| s.1)
        .enumerate()
        .min_by_key(|(_, t)| *t)
        .unwrap_or((0, now));
    if lo > hi {
        return Err(err(
            Code::Expired,
            hi_depth,
            format!(
                "the certificate at depth {hi_depth} expired at {}, before another certificate of the chain became valid ({})",
                fmt_time(hi),
                fmt_time(lo)
            ),
        ));
    }
    Ok(now.clamp(lo, hi))
}

/// basicConstraints and pathLenConstraint, the anchor's own included (webpki checks neither
/// on the anchor).
fn check_ca_constraints(c: &X509Certificate<'_>, depth: usize) -> Result<(), VerifyError> {
    if depth == 0 {
        if is_ca(c) {
            return Err(err(
                Code::NotCa,
                0,
                "the leaf has basicConstraints cA=TRUE: a mapping leaf must not be a CA",
            ));
        }
        return Ok(());
    }
    if !is_ca(c) {
        return Err(err(
            Code::NotCa,
            depth,
            format!("the certificate at depth {depth} issues certificates but lacks basicConstraints cA=TRUE"),
        ));
    }
    if let Some(len) = path_len(c) {
        if depth - 1 > len {
            return Err(err(
                Code::PathLen,
                depth,
                format!(
                    "the CA at depth {depth} has pathLenConstraint {len}, but {} CA(s) sit below it",
                    depth - 1
                ),
            ));
        }
    }
    Ok(())
}

fn check_key_usage(c: &X509Certificate<'_>, depth: usize) -> Result<(), VerifyError> {
    let ku = c.key_usage().map_err(|e| {
        err(
            Code::Malformed,
            depth,
            format!("the keyUsage extension at depth {depth} is malformed: {e}"),
        )
    })?;
    let Some(ku) = ku else {
        return Err(err(
            Code::KeyUsage,
            depth,
            format!("the certificate at depth {depth} has no keyUsage extension"),
        ));
    };
    if depth == 0 {
        if !ku.value.digital_signature() || ku.value.key_cert_sign() {
            return Err(err(
                Code::KeyUsage,
                0,
                format!(
                    "the leaf's keyUsage is {}, but a mapping leaf has digitalSignature and no keyCertSign",
                    ku.value
                ),
            ));
        }
    } else if !ku.value.key_cert_sign() {
        return Err(err(
            Code::KeyUsage,
            depth,
            format!(
                "the CA at depth {depth} has keyUsage {}, without keyCertSign",
                ku.value
            ),
        ));
    }
    Ok(())
}

/// `id-kp-mimiMapping` and nothing else, on the leaf and every CA (webpki does not look at
/// the anchor, and a CA vouching for other purposes could vouch for TLS or S/MIME).
fn check_eku(c: &X509Certificate<'_>, depth: usize) -> Result<(), VerifyError> {
    let eku = c.extended_key_usage().map_err(|e| {
        err(
            Code::Malformed,
            depth,
            format!("the extendedKeyUsage extension at depth {depth} is malformed: {e}"),
        )
    })?;
    let Some(eku) = eku else {
        return Err(err(
            Code::Eku,
            depth,
            format!(
                "the certificate at depth {depth} has no extendedKeyUsage: the profile requires {} on the leaf and every CA",
                oids::ID_KP_MIMI_MAPPING
            ),
        ));
    };
    let e = eku.value;
    let only_mimi = !(e.any
        || e.server_auth
        || e.client_auth
        || e.code_signing
        || e.email_protection
        || e.time_stamping
        || e.ocsp_signing)
        && e.other.len() == 1
        && e.other[0].as_bytes() == oids::ID_KP_MIMI_MAPPING.der_value();
    if !only_mimi {
        return Err(err(
            Code::Eku,
            depth,
            format!(
                "the certificate at depth {depth} has extendedKeyUsage other than {} alone",
                oids::ID_KP_MIMI_MAPPING
            ),
        ));
    }
    Ok(())
}
