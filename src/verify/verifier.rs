//! The chain verifier: docs/spec.md#verification, steps 1 to 8, fail-closed. One module per
//! check ([`parse`], [`path`], [`revocation`], [`leaf`], [`scope`], [`binding`],
//! [`logproof`]); `check` runs them in order, with the verified-intermediate cache
//! ([`super::cache`]) around check 2 and the verified-checkpoint cache inside check 8.

use std::sync::Arc;

use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, TrustAnchor};
use time::OffsetDateTime;
use x509_parser::prelude::X509Certificate;

use super::cache::IntermediateCache;
use super::logproof::{LogInclusion, LogTrust, ProofInput};
use super::parse::{self, Bundle};
use super::path::{self, CertNote, RootFacts};
use super::revocation::CrlSet;
use super::{binding, err, leaf, scope, ser, Code, CrlError, CrlNote, VerifyError};
use crate::log::TlogProof;
use crate::profile::{self, MappingFlags, Method, ProviderDomain, Scope, Serial};
use crate::sii::Sii;
use crate::trust::{Anchor, Policy, TrustList};

/// A verified mapping attestation: "SII `sii` is served by `provider` as `handle`".
///
/// Serialized (`serde`) as the `mimi-attest verify --format json` object without its
/// `file` and `valid` keys: `sii` (canonical), `provider`, `handle`, `method`,
/// `validated_at`, `preferred`, `new_holder`, `anchor`, `not_before`, `not_after` (RFC 3339,
/// UTC), `chain_sha256` and `serial` (lower-case hex), `subject_public_key_info` (base64 of
/// the DER), `consent` (hex or null), and `log` ([`LogInclusion`]) only when a log proof was
/// checked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct VerifiedMapping {
    /// The attested SII (canonical).
    #[serde(serialize_with = "ser::sii")]
    pub sii: Sii,
    /// The provider serving it; always the anchor's provider.
    pub provider: ProviderDomain,
    /// The handle (SSI) on that provider, if the attestation names one.
    pub handle: Option<String>,
    /// How possession of the SII was proven.
    #[serde(serialize_with = "ser::method")]
    pub method: Method,
    /// When possession was last proven.
    #[serde(serialize_with = "ser::time")]
    pub validated_at: OffsetDateTime,
    /// Preference and new-holder flags.
    #[serde(flatten)]
    pub flags: MappingFlags,
    /// The name of the trust-list anchor the chain led to.
    pub anchor: String,
    /// The leaf's notBefore.
    #[serde(serialize_with = "ser::time")]
    pub not_before: OffsetDateTime,
    /// The leaf's notAfter.
    #[serde(serialize_with = "ser::time")]
    pub not_after: OffsetDateTime,
    /// SHA-256 over the DER of the verified path, leaf first and root last, concatenated.
    #[serde(serialize_with = "ser::hex")]
    pub chain_sha256: [u8; 32],
    /// The leaf's serial number (shown as lower-case hex, as `inspect`, `store list` and
    /// CRLs show serials).
    pub serial: Serial,
    /// The leaf's subjectPublicKeyInfo (DER): the user's key, always ECDSA P-256, that the
    /// attestation binds to the SII.
    #[serde(serialize_with = "ser::base64")]
    pub subject_public_key_info: Vec<u8>,
    /// SHA-256 of the user's signed CSR (DER), when the leaf was issued from one
    /// (`MimiMapping.consent`).
    #[serde(serialize_with = "ser::hex_opt")]
    pub consent: Option<[u8; 32]>,
    /// Where the chain's log proof led (docs/spec.md#verify-log), when one was checked: the
    /// policy's `log_proof` is `required`, or `optional` and a proof was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<LogInclusion>,
}

impl VerifiedMapping {
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
/// use mimi_attest::{chain_from_pem, IssueRequest, ProviderCa, Sii, TrustList, Verifier, VerifyOptions};
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
/// let checked = verifier.verify_with(&chain, &VerifyOptions::at(now).expect_sii(&other));
/// assert_eq!(checked.result.unwrap_err().code().as_str(), "E_SII_MISMATCH");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Verifier {
    pub(super) anchors: Vec<Anchor>,
    pub(super) webpki_anchors: Vec<TrustAnchor<'static>>,
    /// What the checks need of each anchor's root, read once (same order as `anchors`).
    pub(super) roots: Vec<Result<RootFacts, String>>,
    pub(super) policy: Policy,
    /// Parsed once; shared (not copied) by clones and by every verification.
    pub(super) crls: Arc<CrlSet>,
    /// Issuing CAs already verified to an anchor under these anchors, policy and CRLs.
    /// Shared by clones (same verdicts); [`Verifier::with_crls`] starts a new one.
    pub(super) cache: Arc<IntermediateCache>,
    /// The trust list's logs and witnesses, and the checkpoints verified with them (CRLs do
    /// not change those verdicts, so [`Verifier::with_crls`] keeps them).
    pub(super) logs: Arc<LogTrust>,
    /// The trust list's `expires` (version 2 lists).
    pub(super) expires: Option<OffsetDateTime>,
}

/// The outcome of one verification, with the CRLs that were ignored for it and why.
/// Serialized as `{"result": {"Ok": mapping} or {"Err": error}, "crl_notes", "cert_notes"}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
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

/// What [`Verifier::verify_with`] checks a chain for: the time of verification, and what else
/// to require of the chain.
///
/// ```
/// # use mimi_attest::{Sii, VerifyOptions};
/// let sii = Sii::parse("+1 555 123 4567")?;
/// let options = VerifyOptions::at(time::OffsetDateTime::now_utc()).expect_sii(&sii);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerifyOptions<'a> {
    now: OffsetDateTime,
    expected_sii: Option<&'a Sii>,
    log_proof: Option<ProofInput<'a>>,
}

impl<'a> VerifyOptions<'a> {
    /// Verify as of `now`, requiring nothing more than the trust list and its policy do.
    pub fn at(now: OffsetDateTime) -> Self {
        VerifyOptions {
            now,
            expected_sii: None,
            log_proof: None,
        }
    }

    /// The chain's log proof, checked as the policy's `log_proof` says
    /// (docs/spec.md#verify-log): ignored under `off`; under `optional` and `required` it
    /// must verify ([`Code::LogProofInvalid`], [`Code::LogUnknown`],
    /// [`Code::WitnessQuorum`] otherwise).
    pub fn log_proof(mut self, proof: &'a TlogProof) -> Self {
        self.log_proof = Some(ProofInput::Parsed(proof));
        self
    }

    /// The chain's log proof as the text of its `.tlog-proof` file: as
    /// [`VerifyOptions::log_proof`], and text that is not a tlog-proof is
    /// [`Code::LogProofInvalid`] (unless the policy's `log_proof` is `off`).
    pub fn log_proof_text(mut self, text: &'a [u8]) -> Self {
        self.log_proof = Some(ProofInput::Text(text));
        self
    }

    /// A log proof was given with the chain but could not be read (`why`, e.g. the file's
    /// I/O error): [`Code::LogProofInvalid`] with that reason, unless the policy's `log_proof`
    /// is `off`.
    pub fn log_proof_unreadable(mut self, why: &'a str) -> Self {
        self.log_proof = Some(ProofInput::Unreadable(why));
        self
    }

    /// Also require that the chain attests `sii` ([`Code::SiiMismatch`] otherwise).
    pub fn expect_sii(mut self, sii: &'a Sii) -> Self {
        self.expected_sii = Some(sii);
        self
    }
}

impl From<TrustList> for Verifier {
    fn from(list: TrustList) -> Self {
        Verifier::new(list)
    }
}

impl Verifier {
    /// A verifier for the anchors and policy of `trust_list`.
    pub fn new(trust_list: TrustList) -> Self {
        let expires = trust_list.expires();
        let (anchors, policy, logs, witnesses) = trust_list.into_parts();
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
            logs: Arc::new(LogTrust::new(logs, witnesses)),
            expires,
        }
    }

    /// This verifier with more CRLs (DER; see [`crate::crls_from_pem`] for PEM
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

    /// The verified-checkpoint cache: (entries, checkpoints whose signatures were verified
    /// rather than found in the cache). For tests and benchmarks.
    #[doc(hidden)]
    pub fn checkpoint_cache_stats(&self) -> (usize, u64) {
        self.logs.cache_stats()
    }

    /// How many CRLs this verifier holds.
    pub fn crl_count(&self) -> usize {
        self.crls.crls.len()
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
    /// `now`. PEM goes through [`crate::chain_from_pem`] first.
    pub fn verify(
        &self,
        chain: &[CertificateDer<'_>],
        now: OffsetDateTime,
    ) -> Result<VerifiedMapping, VerifyError> {
        self.check(chain, now, None, None, &mut Vec::new(), &mut Vec::new())
    }

    /// Verify `chain` as `options` say (the time, an SII to require, a log proof), and also report the
    /// CRLs and presented certificates that were not used for it.
    pub fn verify_with(
        &self,
        chain: &[CertificateDer<'_>],
        options: &VerifyOptions<'_>,
    ) -> Verification {
        let (mut crl_notes, mut cert_notes) = (Vec::new(), Vec::new());
        let result = self.check(
            chain,
            options.now,
            options.expected_sii,
            options.log_proof,
            &mut crl_notes,
            &mut cert_notes,
        );
        Verification {
            result,
            crl_notes,
            cert_notes,
        }
    }

    /// docs/spec.md#verification, steps 1 to 8, in order; the first that fails decides.
    /// The cache layer (`cache.rs`) may stand in for verifying the issuing CA in check 2.
    fn check(
        &self,
        chain: &[CertificateDer<'_>],
        now: OffsetDateTime,
        expected: Option<&Sii>,
        proof: Option<ProofInput<'_>>,
        notes: &mut Vec<CrlNote>,
        cert_notes: &mut Vec<CertNote>,
    ) -> Result<VerifiedMapping, VerifyError> {
        let skew = self.policy.clock_skew.duration();

        // 0. A trust list past its `expires` is not used (no clock skew: fail closed).
        if let Some(expires) = self.expires {
            if now >= expires {
                return Err(err(
                    Code::TrustListExpired,
                    0,
                    format!(
                        "the trust list expired at {}: accept the publisher's current list",
                        profile::rfc3339(expires)
                    ),
                ));
            }
        }

        // 1. Strict DER, size limits, no unknown critical extension. The leaf decides, so it
        //    must pass; any other certificate is only a candidate for the path: one that
        //    fails check 1 (or is not valid at `now`, or has a key the profile does not
        //    allow) is left out, and decides the verdict only if the path then cannot be
        //    built without it. An issuing CA found in the cache is not parsed again.
        parse::check_chain_len(chain)?;
        let leaf = parse::parse_cert(0, &chain[0])?;
        let hit = self.cached_ca(chain, &leaf, now);
        let mut bundle = Bundle::read(leaf, chain, hit.is_some(), now, skew);

        // 2. Path to an anchor (webpki): validity with clock skew, signatures,
        //    basicConstraints, pathLen, EKU; then what webpki leaves to us. A leaf under a
        //    cached issuing CA is checked against that CA alone.
        let hit_span = hit.as_ref().map(|ca| (ca.not_before, ca.not_after));
        let (at, unix_at) = path::verification_time(&bundle, hit_span, now, skew)?;
        let ee = path::end_entity(chain, &mut bundle, &self.anchors, at, now, skew)?;
        let cached = self.cached_path(hit, &ee, unix_at);
        let (anchor_index, on_path) = match &cached {
            Some(ca) => (ca.anchor, vec![0usize, 1]),
            None => {
                // Verify in full, with the issuing CA parsed.
                bundle.read_skipped(chain, now, skew);
                path::build(
                    &ee,
                    chain,
                    &bundle,
                    at,
                    unix_at,
                    &self.anchors,
                    &self.webpki_anchors,
                )?
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
        let certs: Vec<&X509Certificate<'_>> =
            on_path.iter().filter_map(|&i| bundle.get(i)).collect();
        let root_depth = on_path.len();
        path::check_certificates(&certs, root, root_depth, anchor, now, skew)?;
        // Only the verified path decides: say which presented certificates it did not use.
        bundle.note_unused(chain, &on_path, &self.anchors, cert_notes);

        // 3. Revocation, on the verified path: each covered certificate's serial is looked up
        //    in the freshest CRL its issuer (the next certificate up the path) signed. A
        //    cached CA's own status was checked when it was cached.
        let (top, known) = match &cached {
            Some(ca) => (ca.issuer.key(), &ca.crl_notes[..]),
            None => (root.issuer.key(), &[][..]),
        };
        self.crls
            .check_path(&self.policy, &certs, top, known, now, notes)?;

        // 4. Leaf profile.
        let (sii, mapping) = leaf::check_leaf(certs[0], &self.policy, now)?;

        // 5. Scope at every hop (delegation between CAs only when not cached).
        let parsed_scopes = match &cached {
            Some(_) => Vec::new(),
            None => scope::ca_scopes(&certs)?,
        };
        let mut scopes: Vec<Option<&Scope>> = match &cached {
            Some(ca) => vec![ca.scope.as_ref()],
            None => parsed_scopes.iter().map(Option::as_ref).collect(),
        };
        scopes.push(scope::root_scope(&root.scope, root_depth)?);
        scope::check_scope(
            anchor.scope(),
            anchor.name(),
            self.policy.scope_rule,
            &scopes,
            cached.is_none(),
            &sii,
        )?;

        // 6. Provider binding, 7. the SII asked for.
        binding::check_provider(&mapping, anchor.name(), anchor.provider().as_str())?;
        binding::check_expected(&sii, expected)?;

        // 8. Log proof, for the leaf and the CA that signed it.
        let issuer_spki = match (&cached, certs.get(1)) {
            (Some(ca), _) => &ca.spki[..],
            (None, Some(ca)) => ca.public_key().raw,
            (None, None) => &root.spki[..],
        };
        let log = self
            .logs
            .check(&self.policy, proof, chain[0].as_ref(), &sii, issuer_spki)?;

        if cached.is_none() && on_path.len() == 2 {
            let scope = scopes[0].cloned();
            self.remember(
                anchor_index,
                certs[1],
                chain[on_path[1]].as_ref(),
                root,
                scope,
                now,
            );
        }

        let (nb, na) = (parse::not_before(certs[0]), parse::not_after(certs[0]));
        Ok(VerifiedMapping {
            sii,
            provider: anchor.provider().clone(),
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
            serial: Serial::from_contents(certs[0].raw_serial()),
            subject_public_key_info: certs[0].public_key().raw.to_vec(),
            consent: mapping.consent,
            log,
        })
    }
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
