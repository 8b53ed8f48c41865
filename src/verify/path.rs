//! Check 2 (docs/spec.md#verification): a path from the leaf to a trust-list anchor.
//! rustls-webpki builds it and checks signatures, validity at one time within the clock
//! skew, basicConstraints, pathLen and the EKU; this module picks that time, explains
//! webpki's errors with a code and the depth they concern, and adds what webpki leaves out:
//! the anchor's own certificate (read once into [`RootFacts`]), keyUsage, the EKU holding
//! `id-kp-mimiMapping` alone, and every key on the path being ECDSA P-256.

use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};
use time::OffsetDateTime;
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::prelude::{FromDer, SubjectPublicKeyInfo, X509Certificate};

use super::parse::{check_extensions, not_after, not_before, read_cert, Bundle};
use super::revocation::OwnedIssuer;
use super::{err, Code, VerifyError, MAX_CHAIN_LEN};
use crate::profile::{self, ca_scope, oids, rfc3339 as fmt_time, Scope};
use crate::trust::Anchor;

/// The only signature algorithm of profile mapping-v1: ECDSA P-256 with SHA-256.
pub(super) static ALGS: &[&dyn SignatureVerificationAlgorithm] = &[webpki::ring::ECDSA_P256_SHA256];

/// `id-kp-mimiMapping` is required on the leaf and every CA.
pub(super) const MIMI_EKU: KeyUsage = KeyUsage::required(oids::ID_KP_MIMI_MAPPING.der_value());

/// A presented certificate that is not on the verified path: ignored. Serialized as
/// `{"index", "subject", "message"}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
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
/// the path length (never 0: it is not the leaf), so the depth-dependent checks are kept for
/// every depth it can take.
#[derive(Clone, Debug)]
pub(super) struct RootFacts {
    pub(super) not_before: OffsetDateTime,
    pub(super) not_after: OffsetDateTime,
    /// [`check_extensions`] with the root at depth `d`, at index `d - 1`.
    pub(super) critical: Vec<Result<(), VerifyError>>,
    /// [`check_ca_constraints`], [`check_key_usage`], [`check_eku`] and [`check_key`] with
    /// the root at depth `d`, at index `d - 1`.
    pub(super) ca_checks: Vec<Result<(), VerifyError>>,
    /// Its `id-pe-mimiScope`, or why that is malformed.
    pub(super) scope: Result<Option<Scope>, String>,
    /// As the issuer of the CRLs that cover the certificate below it.
    pub(super) issuer: OwnedIssuer,
    /// Its SubjectPublicKeyInfo (DER), for the log entry of a leaf it issued directly.
    pub(super) spki: Vec<u8>,
}

impl RootFacts {
    /// At depth ≥ 1 the extension, keyUsage, EKU and key checks name the depth in their
    /// message but pass or fail alike at every depth, so when they pass at depth 1 they are
    /// not run again for each deeper one (a new verifier then runs them once, not
    /// [`MAX_CHAIN_LEN`] times); the pathLen check depends on the depth and runs at each.
    pub(super) fn read(der: &CertificateDer<'_>) -> Result<Self, String> {
        let (_, root) = X509Certificate::from_der(der.as_ref()).map_err(|e| e.to_string())?;
        let depth_free = |d: usize| -> Result<(), VerifyError> {
            check_key_usage(&root, d)?;
            check_eku(&root, d)?;
            check_key(&root, d)
        };
        let (critical_1, depth_free_1) = (check_extensions(&root, 1), depth_free(1));
        let depths = 1..=MAX_CHAIN_LEN;
        Ok(RootFacts {
            not_before: not_before(&root),
            not_after: not_after(&root),
            critical: depths
                .clone()
                .map(|d| match (d, &critical_1) {
                    (1, r) => r.clone(),
                    (_, Ok(())) => Ok(()),
                    (_, Err(_)) => check_extensions(&root, d),
                })
                .collect(),
            ca_checks: depths
                .map(|d| {
                    check_ca_constraints(&root, d)?;
                    match (d, &depth_free_1) {
                        (1, r) => r.clone(),
                        (_, Ok(())) => Ok(()),
                        (_, Err(_)) => depth_free(d),
                    }
                })
                .collect(),
            scope: ca_scope(&root).map_err(|e| e.to_string()),
            issuer: OwnedIssuer::read(&root),
            spki: root.public_key().raw.to_vec(),
        })
    }

    /// The result kept for the root at `depth`; a path too long to have one is malformed.
    pub(super) fn at(results: &[Result<(), VerifyError>], depth: usize) -> Result<(), VerifyError> {
        depth
            .checked_sub(1)
            .and_then(|i| results.get(i))
            .cloned()
            .unwrap_or_else(|| {
                Err(err(
                    Code::Malformed,
                    depth,
                    format!("the path is longer than the {MAX_CHAIN_LEN} certificates allowed"),
                ))
            })
    }
}

/// Candidate issuers: check 1, then validity and key checks (path building leaves out
/// those that fail; they still explain why no path was found).
impl<'a> Bundle<'a> {
    /// The presented chain with its parsed `leaf` (check 1 passed) and every other
    /// certificate read as a candidate issuer, except the issuing CA (chain[1]) when
    /// `skip_issuer`: it was verified before and is not parsed unless needed.
    pub(super) fn read(
        leaf: X509Certificate<'a>,
        chain: &'a [CertificateDer<'_>],
        skip_issuer: bool,
        now: OffsetDateTime,
        skew: time::Duration,
    ) -> Self {
        let mut bundle = Bundle::default();
        bundle.parsed.push(Some(leaf));
        for (i, der) in chain.iter().enumerate().skip(1) {
            if i == 1 && skip_issuer {
                bundle.parsed.push(None);
            } else {
                bundle.read_candidate(i, der, now, skew);
            }
        }
        bundle
    }

    /// Parse chain[i] (i ≥ 1) as a candidate issuer: check 1, validity at `now` within the
    /// clock skew, and a P-256 key; one that fails is kept for explanations only.
    pub(super) fn read_candidate(
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
    pub(super) fn read_skipped(
        &mut self,
        chain: &'a [CertificateDer<'_>],
        now: OffsetDateTime,
        skew: time::Duration,
    ) {
        if chain.len() > 1 && self.parsed[1].is_none() && self.why_excluded(1).is_none() {
            self.read_candidate(1, &chain[1], now, skew);
        }
    }

    /// A note for each presented certificate the verified path does not use (a copy of
    /// an anchor's root excepted).
    pub(super) fn note_unused(
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

/// The verification time for webpki: inside the leaf's validity within the clock skew of
/// `now` (or the leaf's error), and when there is one, a time inside the validity of every
/// candidate too (`extra`: the validity of an issuing CA that was not parsed), as webpki
/// checks each certificate of the path it builds at this one time.
pub(super) fn verification_time(
    bundle: &Bundle<'_>,
    extra: Option<(OffsetDateTime, OffsetDateTime)>,
    now: OffsetDateTime,
    skew: time::Duration,
) -> Result<(OffsetDateTime, UnixTime), VerifyError> {
    let leaf_span = (not_before(bundle.leaf()), not_after(bundle.leaf()));
    let mut spans = bundle.candidate_spans();
    spans.extend(extra);
    let at = validity_time(&[leaf_span], now, skew)?;
    let at = common_time(&spans, leaf_span, now).unwrap_or(at);
    let unix_at = u64::try_from(at.unix_timestamp())
        .map(|s| UnixTime::since_unix_epoch(std::time::Duration::from_secs(s)))
        .map_err(|_| err(Code::Malformed, 0, "verification time before 1970"))?;
    Ok((at, unix_at))
}

/// The leaf as webpki reads it; when webpki cannot, the error explained (with the skipped
/// issuing CA parsed, so that the explanation sees the whole chain).
pub(super) fn end_entity<'c>(
    chain: &'c [CertificateDer<'_>],
    bundle: &mut Bundle<'c>,
    anchors: &[Anchor],
    at: OffsetDateTime,
    now: OffsetDateTime,
    skew: time::Duration,
) -> Result<EndEntityCert<'c>, VerifyError> {
    EndEntityCert::try_from(&chain[0]).map_err(|e| {
        bundle.read_skipped(chain, now, skew);
        explain(e, bundle, at, anchors)
    })
}

/// Check 2 in full: webpki builds and checks the path to an anchor (two signature checks
/// for root → issuing CA → leaf). Returns the anchor's index and the chain indices of
/// the path below the root, leaf first.
pub(super) fn build(
    ee: &EndEntityCert<'_>,
    chain: &[CertificateDer<'_>],
    bundle: &Bundle<'_>,
    at: OffsetDateTime,
    unix_at: UnixTime,
    anchors: &[Anchor],
    webpki_anchors: &[TrustAnchor<'static>],
) -> Result<(usize, Vec<usize>), VerifyError> {
    let candidates = bundle.candidates(chain);
    let path = ee
        .verify_for_usage(
            ALGS,
            webpki_anchors,
            &candidates,
            unix_at,
            MIMI_EKU,
            None,
            None,
        )
        .map_err(|e| explain(e, bundle, at, anchors))?;
    let anchor_index = anchors
        .iter()
        .position(|a| {
            a.trust_anchor.subject == path.anchor().subject
                && a.trust_anchor.subject_public_key_info == path.anchor().subject_public_key_info
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

/// The checks on the certificates of the verified path that webpki does not make: the
/// anchor's root (its extensions and validity, read once into `root`), and basicConstraints,
/// keyUsage, EKU and key algorithm of the certificates in `certs` (leaf first) and of the
/// root at `root_depth`.
pub(super) fn check_certificates(
    certs: &[&X509Certificate<'_>],
    root: &RootFacts,
    root_depth: usize,
    anchor: &Anchor,
    now: OffsetDateTime,
    skew: time::Duration,
) -> Result<(), VerifyError> {
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
    RootFacts::at(&root.ca_checks, root_depth)
}

/// A webpki error as a code, with the depth of the certificate it concerns, found by
/// following issuer names up the presented chain. When no path was found and a
/// certificate left out of path building is the one the chain names as issuer, its own
/// fault (expired, malformed, a key the profile does not allow) is the answer.
pub(super) fn explain(
    e: webpki::Error,
    bundle: &Bundle<'_>,
    at: OffsetDateTime,
    anchors: &[Anchor],
) -> VerifyError {
    use webpki::Error as W;
    let (walk, anchor) = presented_path(bundle, anchors);
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
                X509Certificate::from_der(anchors[a].root_der.as_ref())
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

/// Chain indices from the leaf following issuer names (preferring, among certificates
/// of the right name, one whose key verifies the signature, and an anchor over a
/// presented certificate), and the anchor the topmost one names as issuer, if any.
fn presented_path(bundle: &Bundle<'_>, anchors: &[Anchor]) -> (Vec<usize>, Option<usize>) {
    let parsed = &bundle.parsed;
    let mut walk = vec![0usize];
    loop {
        let Some(cur) = bundle.get(*walk.last().unwrap_or(&0)) else {
            return (walk, None);
        };
        let issuer = cur.issuer().as_raw();
        let anchor = anchors
            .iter()
            .position(|a| a.trust_anchor.subject.as_ref() == strip_sequence(issuer));
        let signs = |spki: &SubjectPublicKeyInfo<'_>| cur.verify_signature(Some(spki)).is_ok();
        let anchor_signs = anchor.is_some_and(|a| {
            X509Certificate::from_der(anchors[a].root_der.as_ref())
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

/// A time inside every certificate's validity and within the clock skew of `now`, or the
/// reason there is none.
pub(super) fn validity_time(
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
pub(super) fn check_key(c: &X509Certificate<'_>, depth: usize) -> Result<(), VerifyError> {
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

/// The contents of a DER SEQUENCE (webpki keeps names without their outer tag and length).
pub(super) fn strip_sequence(der: &[u8]) -> &[u8] {
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

fn has_mimi_eku(c: &X509Certificate<'_>) -> bool {
    matches!(c.extended_key_usage(), Ok(Some(eku)) if eku.value.other.iter().any(|o| o.as_bytes() == oids::ID_KP_MIMI_MAPPING.der_value()))
}

/// basicConstraints and pathLenConstraint, the anchor's own included (webpki checks neither
/// on the anchor).
pub(super) fn check_ca_constraints(
    c: &X509Certificate<'_>,
    depth: usize,
) -> Result<(), VerifyError> {
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

pub(super) fn check_key_usage(c: &X509Certificate<'_>, depth: usize) -> Result<(), VerifyError> {
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
pub(super) fn check_eku(c: &X509Certificate<'_>, depth: usize) -> Result<(), VerifyError> {
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

#[cfg(test)]
mod tests {
    use rcgen::{BasicConstraints, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose};
    use time::Duration;

    use super::*;
    use crate::verify::testing::{ca_params, der, leaf_params, now, parsed};

    const SKEW: Duration = Duration::minutes(5);

    fn code<T: std::fmt::Debug>(r: Result<T, VerifyError>) -> (Code, usize) {
        let e = r.unwrap_err();
        (e.code(), e.depth())
    }

    /// What [`RootFacts`] keeps for each depth is what the checks say at that depth, for a
    /// good root, one whose pathLen fails only deeper down, and one failing a depth-free check.
    #[test]
    fn root_facts_at_every_depth_are_the_checks_at_that_depth() {
        let now = now();
        let mut no_cert_sign = ca_params(now, 3);
        no_cert_sign.key_usages = vec![rcgen::KeyUsagePurpose::CrlSign];
        let mut critical = ca_params(now, 3);
        let mut ext = rcgen::CustomExtension::from_oid_content(&[1, 2, 3, 4], vec![0x05, 0x00]);
        ext.set_criticality(true);
        critical.custom_extensions.push(ext);
        for p in [ca_params(now, 7), ca_params(now, 1), no_cert_sign, critical] {
            let der = CertificateDer::from(der(&p));
            let root = parsed(&der);
            let facts = RootFacts::read(&der).unwrap();
            for d in 1..=MAX_CHAIN_LEN {
                let full = check_ca_constraints(&root, d)
                    .and_then(|()| check_key_usage(&root, d))
                    .and_then(|()| check_eku(&root, d))
                    .and_then(|()| check_key(&root, d));
                assert_eq!(RootFacts::at(&facts.ca_checks, d), full, "depth {d}");
                let full = check_extensions(&root, d);
                assert_eq!(RootFacts::at(&facts.critical, d), full, "depth {d}");
            }
            let e = RootFacts::at(&facts.ca_checks, MAX_CHAIN_LEN + 1).unwrap_err();
            assert_eq!(e.code(), Code::Malformed);
        }
        // pathLen 1: a root at depth 2 has one CA below it, at depth 3 two.
        let der = CertificateDer::from(der(&ca_params(now, 1)));
        let facts = RootFacts::read(&der).unwrap();
        assert!(RootFacts::at(&facts.ca_checks, 2).is_ok());
        let e = RootFacts::at(&facts.ca_checks, 3).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::PathLen, 3));
    }

    #[test]
    fn validity_time_within_every_span_and_the_clock_skew() {
        let now = now();
        let day = Duration::days(1);
        let good = (now - day, now + day);
        assert_eq!(validity_time(&[good, good], now, SKEW).unwrap(), now);
        // notBefore after notAfter is malformed, whatever the time.
        assert_eq!(
            code(validity_time(&[good, (now + day, now - day)], now, SKEW)),
            (Code::Malformed, 1)
        );
        // Not yet valid and expired, beyond the skew only.
        let later = (now + SKEW, now + day);
        assert_eq!(validity_time(&[later], now, SKEW).unwrap(), now + SKEW);
        let later = (now + SKEW + Duration::seconds(1), now + day);
        assert_eq!(
            code(validity_time(&[good, later], now, SKEW)),
            (Code::NotYetValid, 1)
        );
        let earlier = (now - day, now - SKEW);
        assert_eq!(validity_time(&[earlier], now, SKEW).unwrap(), now - SKEW);
        let earlier = (now - day, now - SKEW - Duration::seconds(1));
        let e = validity_time(&[earlier], now, SKEW).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::Expired, 0));
        assert!(e.message().contains("clock skew allowed 5m"), "{e}");
        // Each valid within the skew, but with no time in common: the first to end expired.
        let a = (now - day, now - Duration::minutes(2));
        let b = (now + Duration::minutes(2), now + day);
        assert_eq!(code(validity_time(&[b, a], now, SKEW)), (Code::Expired, 1));
    }

    #[test]
    fn common_time_is_now_moved_into_every_span() {
        let now = now();
        let day = Duration::days(1);
        let leaf = (now - day, now + day);
        assert_eq!(common_time(&[], leaf, now), Some(now));
        let ca = (now + Duration::minutes(1), now + day);
        assert_eq!(
            common_time(&[ca], leaf, now),
            Some(now + Duration::minutes(1))
        );
        let old = (now - 2 * day, now - day - Duration::seconds(1));
        assert_eq!(common_time(&[old], leaf, now), None);
    }

    #[test]
    fn ca_constraints_on_the_leaf_and_every_ca() {
        let now = now();
        assert!(check_ca_constraints(&parsed(&der(&leaf_params(now))), 0).is_ok());
        let mut ca_leaf = leaf_params(now);
        ca_leaf.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        assert_eq!(
            code(check_ca_constraints(&parsed(&der(&ca_leaf)), 0)),
            (Code::NotCa, 0)
        );
        // A certificate above the leaf that is no CA.
        assert_eq!(
            code(check_ca_constraints(&parsed(&der(&leaf_params(now))), 1)),
            (Code::NotCa, 1)
        );
        // pathLenConstraint 0: no CA below it.
        let ca = der(&ca_params(now, 0));
        assert!(check_ca_constraints(&parsed(&ca), 1).is_ok());
        assert_eq!(
            code(check_ca_constraints(&parsed(&ca), 2)),
            (Code::PathLen, 2)
        );
        assert!(check_ca_constraints(&parsed(&der(&ca_params(now, 1))), 2).is_ok());
    }

    #[test]
    fn key_usage_digital_signature_on_leaves_key_cert_sign_on_cas() {
        let now = now();
        let leaf = der(&leaf_params(now));
        let ca = der(&ca_params(now, 0));
        assert!(check_key_usage(&parsed(&leaf), 0).is_ok());
        assert!(check_key_usage(&parsed(&ca), 1).is_ok());
        assert_eq!(code(check_key_usage(&parsed(&ca), 0)), (Code::KeyUsage, 0));
        assert_eq!(
            code(check_key_usage(&parsed(&leaf), 1)),
            (Code::KeyUsage, 1)
        );
        let mut none = leaf_params(now);
        none.key_usages.clear();
        let e = check_key_usage(&parsed(&der(&none)), 0).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::KeyUsage, 0));
        assert!(e.message().contains("no keyUsage extension"), "{e}");
        let mut signing_ca = ca_params(now, 0);
        signing_ca.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        assert_eq!(
            code(check_key_usage(&parsed(&der(&signing_ca)), 1)),
            (Code::KeyUsage, 1)
        );
    }

    #[test]
    fn eku_mimi_mapping_alone() {
        let now = now();
        assert!(check_eku(&parsed(&der(&leaf_params(now))), 0).is_ok());
        assert!(check_eku(&parsed(&der(&ca_params(now, 0))), 1).is_ok());
        let mut more = ca_params(now, 0);
        more.extended_key_usages
            .push(ExtendedKeyUsagePurpose::ServerAuth);
        assert_eq!(code(check_eku(&parsed(&der(&more)), 1)), (Code::Eku, 1));
        let mut none = leaf_params(now);
        none.extended_key_usages.clear();
        let e = check_eku(&parsed(&der(&none)), 0).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::Eku, 0));
        assert!(e.message().contains("has no extendedKeyUsage"), "{e}");
        let mut other = leaf_params(now);
        other.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(vec![1, 2, 3, 4])];
        assert_eq!(code(check_eku(&parsed(&der(&other)), 0)), (Code::Eku, 0));
    }

    #[test]
    fn every_key_is_p256() {
        let now = now();
        assert!(check_key(&parsed(&der(&leaf_params(now))), 0).is_ok());
        let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let der = ca_params(now, 0).self_signed(&p384).unwrap().der().to_vec();
        let e = check_key(&parsed(&der), 1).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::KeyAlgorithm, 1));
        assert!(
            e.message().starts_with("the CA at depth 1 has a key"),
            "{e}"
        );
    }

    #[test]
    fn strip_sequence_gives_the_contents() {
        assert_eq!(strip_sequence(&[0x30, 0x02, 1, 2]), [1, 2]);
        assert_eq!(strip_sequence(&[0x30, 0x81, 0x02, 1, 2]), [1, 2]);
        // Not a SEQUENCE, or truncated: unchanged.
        assert_eq!(strip_sequence(&[0x31, 0x00]), [0x31, 0x00]);
        assert_eq!(strip_sequence(&[0x30]), [0x30]);
    }
}
