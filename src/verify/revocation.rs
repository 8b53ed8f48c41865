//! Revocation for the relying platform (docs/spec.md#revocation): CRLs loaded once, chosen per
//! chain, and searched for the serials on the verified path.
//!
//! How a chain is checked when the policy is `leaf` or `chain`:
//!
//! 1. For each certificate that must be checked (the leaf; under `chain` also every CA below
//!    the trust anchor), the CRLs naming its issuer are looked at. They are ignored, and a
//!    [`CrlNote`] says why, when that issuer has no keyUsage cRLSign, when the CRL has no CRL
//!    number or a critical one (RFC 5280 5.2.3), when its signature does not verify with that
//!    issuer's key, or when its thisUpdate is older than `max_crl_age` or in the future. Of the rest, the one
//!    with the highest CRL number (then the latest thisUpdate) is used.
//! 2. The certificate's serial is looked up in that CRL. Listed → `E_REVOKED`; no usable
//!    CRL, or the CRL past its nextUpdate → `E_REVOCATION_UNKNOWN` (fail closed).
//!
//! The CRLs are parsed once, when given ([`crate::Verifier::with_crls`]), into
//! webpki's `OwnedCertRevocationList` (serials in a `BTreeMap`); a verification borrows them
//! and copies nothing. The signature check of a CRL against an issuer key is done once per
//! (CRL, key) pair and remembered. (Handing the CRLs to rustls-webpki's own revocation
//! options instead would re-verify the CRL's signature, hashing the whole list, on every
//! chain; docs/relying-platform-revocation.md has the measurement.) CRLs this toolkit cannot judge safely —
//! delta CRLs and CRLs with an issuingDistributionPoint (partial scope) — are refused when
//! loaded rather than half-understood.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use rustls_pki_types::CertificateRevocationListDer;
use time::OffsetDateTime;
use webpki::{CertRevocationList, OwnedCertRevocationList};
use x509_parser::oid_registry::OID_SIG_ECDSA_WITH_SHA256;
use x509_parser::prelude::{CertificateRevocationList, FromDer, X509Certificate};

use super::{err, Code, VerifyError};
use crate::profile;
use crate::trust::{Policy, RevocationPolicy};

/// A CRL that could not be loaded: not PEM `X509 CRL` blocks or one DER CRL, or a CRL
/// rustls-webpki cannot use (RFC 5280 v2 with nextUpdate and a CRL number is required).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("CRL {index}: {message}")]
#[non_exhaustive]
pub struct CrlError {
    /// Position of the CRL in the list given (0-based); for [`crls_from_pem`], of the PEM
    /// block.
    pub index: usize,
    /// What is wrong and what to do.
    pub message: String,
}

/// A CRL that was given but not used for a chain, and why: the CA on the path that it names as
/// issuer has no keyUsage cRLSign, it has no CRL number or a critical one, its signature does
/// not verify with that CA's key, or it is not fresh. Serialized as
/// `{"index", "issuer", "message"}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct CrlNote {
    /// Position of the CRL in the list given to [`crate::Verifier::with_crls`]
    /// (0-based, over all calls).
    pub index: usize,
    /// The CRL's issuer name, as text.
    pub issuer: String,
    /// Why it was ignored.
    pub message: String,
}

impl fmt::Display for CrlNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CRL {} from \"{}\" ignored: {}",
            self.index, self.issuer, self.message
        )
    }
}

/// The CRLs of a PEM bundle (`X509 CRL` blocks only), or of one DER CRL. The provider's
/// `crl` command writes such bundles (one CRL per still-valid issuing CA).
pub fn crls_from_pem(bytes: &[u8]) -> Result<Vec<CertificateRevocationListDer<'static>>, CrlError> {
    let bad = |index, message: String| CrlError { index, message };
    let text = match crate::profile::input_form(bytes) {
        crate::profile::InputForm::Der => {
            return Ok(vec![CertificateRevocationListDer::from(bytes.to_vec())])
        }
        crate::profile::InputForm::Pem(text) => text,
        _ => std::str::from_utf8(bytes)
            .map_err(|_| bad(0, "neither PEM text nor a DER CRL".into()))?,
    };
    let blocks = pem::parse_many(text).map_err(|e| bad(0, format!("not valid PEM ({e})")))?;
    if blocks.is_empty() {
        return Err(bad(0, "no PEM \"X509 CRL\" block found".into()));
    }
    blocks
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            if b.tag() == "X509 CRL" {
                Ok(CertificateRevocationListDer::from(b.into_contents()))
            } else {
                Err(bad(
                    i,
                    format!(
                        "PEM block {i} is a \"{}\", but a CRL file holds only \"X509 CRL\" blocks",
                        b.tag()
                    ),
                ))
            }
        })
        .collect()
}

/// One CRL, parsed once.
pub(crate) struct LoadedCrl {
    pub(crate) index: usize,
    /// webpki's form: the revoked serials in a `BTreeMap`.
    pub(crate) crl: CertRevocationList<'static>,
    /// The issuer name, DER with its SEQUENCE tag (compared with certificates' issuer).
    issuer_raw: Vec<u8>,
    pub(crate) issuer: String,
    /// CRL number as hex, if any.
    pub(crate) number: Option<String>,
    number_bytes: Vec<u8>,
    pub(crate) this_update: OffsetDateTime,
    pub(crate) next_update: OffsetDateTime,
    /// Why the CRL can never be used, whoever signed it (no CRL number, or a critical one).
    unusable: Option<String>,
    /// For our own signature check (once per issuer key).
    tbs: Vec<u8>,
    signature: Vec<u8>,
    ecdsa_sha256: bool,
}

impl LoadedCrl {
    fn load(index: usize, der: &[u8]) -> Result<LoadedCrl, CrlError> {
        let bad = |message: String| CrlError { index, message };
        let (rest, parsed) = CertificateRevocationList::from_der(der)
            .map_err(|e| bad(format!("not a DER X.509 CRL: {e}")))?;
        if !rest.is_empty() {
            return Err(bad(format!("{} trailing bytes after the CRL", rest.len())));
        }
        for ext in parsed.extensions() {
            let oid = profile::oids::dotted(ext.oid.as_bytes());
            let refused = match oid.as_str() {
                "2.5.29.28" => Some("an issuingDistributionPoint (a partial CRL)"),
                "2.5.29.27" => Some("a deltaCRLIndicator (a delta CRL)"),
                _ => None,
            };
            if let Some(what) = refused {
                return Err(bad(format!(
                    "the CRL carries {what}; only full CRLs are supported: give the issuer's complete CRL"
                )));
            }
        }
        let next_update = parsed.next_update().ok_or_else(|| {
            bad("the CRL has no nextUpdate: without it its freshness cannot be judged".into())
        })?;
        let crl = OwnedCertRevocationList::from_der(der)
            .map_err(|e| bad(format!("rustls-webpki cannot use this CRL: {e:?}")))?;
        let number_bytes = parsed
            .crl_number()
            .map(|n| n.to_bytes_be())
            .unwrap_or_default();
        // RFC 5280 5.2.3: a conforming CRL carries a non-critical CRL number; without one,
        // CRLs of an issuer cannot be ordered (and a critical one is not what issuers write).
        let number_ext = parsed
            .extensions()
            .iter()
            .find(|e| e.oid.as_bytes() == CRL_NUMBER);
        let unusable = match number_ext {
            None => Some("it has no cRLNumber (RFC 5280 5.2.3 requires one): ask the provider for a conforming CRL".to_owned()),
            Some(e) if e.critical => Some("its cRLNumber is marked critical (RFC 5280 5.2.3: it must be non-critical): ask the provider for a conforming CRL".to_owned()),
            Some(_) => None,
        };
        Ok(LoadedCrl {
            index,
            crl: crl.into(),
            issuer_raw: parsed.issuer().as_raw().to_vec(),
            issuer: parsed.issuer().to_string(),
            number: (!number_bytes.is_empty()).then(|| profile::hex(&number_bytes)),
            number_bytes,
            unusable,
            this_update: parsed.last_update().to_datetime(),
            next_update: next_update.to_datetime(),
            tbs: parsed.tbs_cert_list.as_ref().to_vec(),
            signature: parsed.signature_value.data.to_vec(),
            ecdsa_sha256: parsed.signature_algorithm.algorithm == OID_SIG_ECDSA_WITH_SHA256,
        })
    }

    fn label(&self) -> String {
        match &self.number {
            Some(n) => format!("CRL {} (number {n})", self.index),
            None => format!("CRL {}", self.index),
        }
    }

    fn note(&self, message: String) -> CrlNote {
        CrlNote {
            index: self.index,
            issuer: self.issuer.clone(),
            message,
        }
    }

    /// Newer first: higher CRL number, then later thisUpdate.
    fn newer_than(&self, other: &LoadedCrl) -> bool {
        let (a, b) = (&self.number_bytes, &other.number_bytes);
        let by_number = a.len().cmp(&b.len()).then_with(|| a.cmp(b));
        by_number
            .then_with(|| self.this_update.cmp(&other.this_update))
            .is_gt()
    }
}

/// The CRLs a verifier holds, and the signature checks already made.
#[derive(Default)]
pub(crate) struct CrlSet {
    pub(crate) crls: Vec<Arc<LoadedCrl>>,
    /// (CRL index, issuer EC point) → signature verifies.
    verified: Mutex<HashMap<(usize, Vec<u8>), bool>>,
}

impl Clone for CrlSet {
    fn clone(&self) -> Self {
        CrlSet {
            crls: self.crls.clone(),
            verified: Mutex::new(self.verified.lock().map(|m| m.clone()).unwrap_or_default()),
        }
    }
}

impl fmt::Debug for CrlSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.crls.iter().map(|c| {
                format!(
                    "{} from \"{}\", thisUpdate {}, nextUpdate {}",
                    c.label(),
                    c.issuer,
                    c.this_update,
                    c.next_update
                )
            }))
            .finish()
    }
}

/// A CA certificate as the issuer of CRLs, read once and kept (an anchor's root, a cached
/// issuing CA): its subject (DER with tag, and as text), its EC point, and whether its
/// keyUsage has cRLSign.
#[derive(Clone, Debug)]
pub(crate) struct OwnedIssuer {
    pub(crate) subject_raw: Vec<u8>,
    pub(crate) subject: String,
    pub(crate) point: Vec<u8>,
    pub(crate) crl_sign: bool,
}

impl OwnedIssuer {
    pub(crate) fn read(c: &X509Certificate<'_>) -> Self {
        OwnedIssuer {
            subject_raw: c.subject().as_raw().to_vec(),
            subject: c.subject().to_string(),
            point: c.public_key().subject_public_key.data.to_vec(),
            crl_sign: has_crl_sign(c),
        }
    }

    /// As the issuer of the certificate below it, for the revocation check.
    pub(crate) fn key(&self) -> (IssuerKey<'_>, &str) {
        (
            IssuerKey {
                subject: &self.subject_raw,
                point: &self.point,
                crl_sign: self.crl_sign,
            },
            &self.subject,
        )
    }
}

/// A possible issuer of a certificate on the path: its subject (DER, with tag) and EC point.
#[derive(Clone, Copy)]
pub(crate) struct IssuerKey<'a> {
    pub(crate) subject: &'a [u8],
    pub(crate) point: &'a [u8],
    /// Whether its keyUsage has cRLSign: CRLs of an issuer without it are not used.
    pub(crate) crl_sign: bool,
}

impl<'a> IssuerKey<'a> {
    /// A certificate on the path as the issuer of the one below it.
    pub(crate) fn of(c: &'a X509Certificate<'_>) -> Self {
        IssuerKey {
            subject: c.subject().as_raw(),
            point: c.public_key().subject_public_key.data.as_ref(),
            crl_sign: has_crl_sign(c),
        }
    }
}

/// keyUsage present with cRLSign: only then may a CA's CRLs be used (docs/spec.md#crl-acceptance).
pub(crate) fn has_crl_sign(c: &X509Certificate<'_>) -> bool {
    matches!(c.key_usage(), Ok(Some(ku)) if ku.value.crl_sign())
}

/// The CRLs chosen for one chain, and for each issuer without one, why not.
pub(crate) struct Selection<'a> {
    pub(crate) chosen: Vec<&'a LoadedCrl>,
    missing: Vec<(Vec<u8>, String)>,
}

impl<'a> Selection<'a> {
    /// The chosen CRL of an issuer (by subject DER).
    pub(crate) fn for_issuer(&self, subject: &[u8]) -> Option<&'a LoadedCrl> {
        self.chosen
            .iter()
            .copied()
            .find(|c| c.issuer_raw == subject)
    }

    /// Why the issuer `subject` has no chosen CRL.
    pub(crate) fn why_missing(&self, subject: &[u8]) -> String {
        self.missing
            .iter()
            .find(|(s, _)| s == subject)
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| "no CRL from this issuer was given".into())
    }
}

impl CrlSet {
    /// Append CRLs, parsing each once.
    pub(crate) fn extend<'d>(
        &mut self,
        crls: impl IntoIterator<Item = CertificateRevocationListDer<'d>>,
    ) -> Result<(), CrlError> {
        for der in crls {
            let index = self.crls.len();
            self.crls
                .push(Arc::new(LoadedCrl::load(index, der.as_ref())?));
        }
        Ok(())
    }

    fn signature_verifies(&self, crl: &LoadedCrl, point: &[u8]) -> bool {
        let key = (crl.index, point.to_vec());
        if let Some(ok) = self.verified.lock().ok().and_then(|m| m.get(&key).copied()) {
            return ok;
        }
        let ok = crl.ecdsa_sha256
            && UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
                .verify(&crl.tbs, &crl.signature)
                .is_ok();
        if let Ok(mut m) = self.verified.lock() {
            m.insert(key, ok);
        }
        ok
    }

    /// The verification times around `now` in which the CRL chosen for `issuer` stays the
    /// same (no CRL from it becomes or stops being fresh by thisUpdate and `max_crl_age`)
    /// and is not past its nextUpdate; `None` when no CRL is chosen at `now`. Within the
    /// window, [`CrlSet::select`] makes the same choice and the same notes for this issuer.
    pub(crate) fn selection_window(
        &self,
        issuer: &IssuerKey<'_>,
        now: OffsetDateTime,
        policy: &Policy,
    ) -> Option<(OffsetDateTime, OffsetDateTime)> {
        let skew = policy.clock_skew.duration();
        let max_age = policy.max_crl_age.duration();
        let eps = time::Duration::nanoseconds(1);
        let (mut lo, mut hi) = (OffsetDateTime::UNIX_EPOCH, OffsetDateTime::UNIX_EPOCH);
        let (mut lo_set, mut hi_set) = (false, false);
        let mut raise = |t: OffsetDateTime| {
            if !lo_set || t > lo {
                (lo, lo_set) = (t, true);
            }
        };
        let mut lower = |t: OffsetDateTime| {
            if !hi_set || t < hi {
                (hi, hi_set) = (t, true);
            }
        };
        for c in self.crls.iter().filter(|c| c.issuer_raw == issuer.subject) {
            if !issuer.crl_sign || c.unusable.is_some() || !self.signature_verifies(c, issuer.point)
            {
                continue; // never usable, whatever the time
            }
            // Usable (fresh by thisUpdate) exactly on [from, to].
            let (from, to) = (c.this_update - skew, c.this_update + max_age + skew);
            if from <= now {
                raise(from);
            } else {
                lower(from - eps);
            }
            if to >= now {
                lower(to);
            } else {
                raise(to + eps);
            }
        }
        let chosen = self.select(std::slice::from_ref(issuer), now, policy, &mut Vec::new());
        let crl = chosen.for_issuer(issuer.subject)?;
        lower(crl.next_update + skew);
        Some((
            if lo_set { lo } else { now - max_age - skew },
            if hi_set { hi } else { now },
        ))
    }

    /// Choose, for each possible issuer, its freshest CRL whose signature verifies with the
    /// issuer's key; say why the others were ignored.
    pub(crate) fn select<'s>(
        &'s self,
        issuers: &[IssuerKey<'_>],
        now: OffsetDateTime,
        policy: &Policy,
        notes: &mut Vec<CrlNote>,
    ) -> Selection<'s> {
        let skew = policy.clock_skew.duration();
        let max_age = policy.max_crl_age;
        let mut sel = Selection {
            chosen: Vec::new(),
            missing: Vec::new(),
        };
        for issuer in issuers {
            let named: Vec<&LoadedCrl> = self
                .crls
                .iter()
                .map(|c| &**c)
                .filter(|c| c.issuer_raw == issuer.subject)
                .collect();
            let mut best: Option<&LoadedCrl> = None;
            let mut reasons = Vec::new();
            for c in &named {
                let why = if !issuer.crl_sign {
                    Some(format!(
                        "the CA \"{}\" on the path has no keyUsage cRLSign, so it may not sign CRLs: its CRLs are not used",
                        c.issuer
                    ))
                } else if let Some(why) = &c.unusable {
                    Some(why.clone())
                } else if !self.signature_verifies(c, issuer.point) {
                    Some(format!(
                        "its signature does not verify with the key of the CA \"{}\" on the path: it was signed by another CA (perhaps one with the same name) or altered",
                        c.issuer
                    ))
                } else if c.this_update > now + skew {
                    Some(format!(
                        "its thisUpdate {} is in the future",
                        fmt_time(c.this_update)
                    ))
                } else if now - c.this_update > max_age.duration() + skew {
                    Some(format!(
                        "its thisUpdate {} is older than the policy's max_crl_age {max_age}: fetch a current CRL from the provider",
                        fmt_time(c.this_update)
                    ))
                } else {
                    None
                };
                match why {
                    Some(m) => {
                        reasons.push(format!("{}: {m}", c.label()));
                        if !notes.iter().any(|n| n.index == c.index) {
                            notes.push(c.note(m));
                        }
                    }
                    None if best.is_none_or(|b| c.newer_than(b)) => best = Some(c),
                    None => {}
                }
            }
            match best {
                Some(b) => {
                    if !sel.chosen.iter().any(|c| c.index == b.index) {
                        sel.chosen.push(b);
                    }
                }
                None => {
                    let why = if named.is_empty() {
                        format!(
                            "none of the {} CRL(s) given is from this issuer",
                            self.crls.len()
                        )
                    } else {
                        format!("no usable CRL from this issuer ({})", reasons.join("; "))
                    };
                    sel.missing.push((issuer.subject.to_vec(), why));
                }
            }
        }
        sel
    }

    /// docs/spec.md#verify-revocation on the verified path: `certs` (leaf first, up to the topmost
    /// intermediate) under the anchor `root`. Under `leaf` the leaf, under `chain` every
    /// certificate below the root, must have a fresh CRL from its issuer (signature checked
    /// once per CRL and key, then cached) that does not list its serial. The lookup is a
    /// `BTreeMap` search in the CRL parsed at load: a million-entry CRL costs no more per
    /// chain than a short one.
    ///
    /// `top` is the issuer of the topmost certificate in `certs` (its key and name): the
    /// anchor's root, or an issuing CA whose status was checked when it was cached (and
    /// holds within the cache entry's window); `known` are the notes made then about the
    /// CRLs of the issuers above, reported again.
    pub(crate) fn check_path(
        &self,
        policy: &Policy,
        certs: &[&X509Certificate<'_>],
        top: (IssuerKey<'_>, &str),
        known: &[CrlNote],
        now: OffsetDateTime,
        notes: &mut Vec<CrlNote>,
    ) -> Result<(), VerifyError> {
        let revocation = policy.revocation;
        let covered = match revocation {
            RevocationPolicy::Off => return Ok(()),
            RevocationPolicy::Leaf => 1,
            RevocationPolicy::Chain => certs.len(),
        };
        // The issuer of the certificate at depth d: the next one up, or the root.
        let issuer_of = |d: usize| -> (IssuerKey<'_>, String) {
            match certs.get(d + 1) {
                Some(c) => (IssuerKey::of(c), c.subject().to_string()),
                None => (top.0, top.1.to_owned()),
            }
        };
        let issuers: Vec<IssuerKey<'_>> = (0..covered).map(|d| issuer_of(d).0).collect();
        let sel = self.select(&issuers, now, policy, notes);
        for n in known {
            if !notes.iter().any(|m| m.index == n.index) {
                notes.push(n.clone());
            }
        }
        let skew = policy.clock_skew.duration();
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
                            profile::Serial::from_contents(c.raw_serial()),
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
}

pub(crate) use crate::profile::rfc3339 as fmt_time;

/// id-ce-cRLNumber, DER contents octets.
const CRL_NUMBER: &[u8] = profile::oids::CRL_NUMBER.der_value();

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::testing::{ca_params, der, leaf_params, now, parsed};

    #[test]
    fn check_path_fails_closed_without_a_crl() {
        let now = now();
        let (leaf, ca) = (der(&leaf_params(now)), der(&ca_params(now, 0)));
        let (leaf, ca) = (parsed(&leaf), parsed(&ca));
        let crls = CrlSet::default();
        let top = (IssuerKey::of(&ca), "the CA");
        let mut notes = Vec::new();
        // Off: nothing is looked up.
        crls.check_path(&Policy::default(), &[&leaf], top, &[], now, &mut notes)
            .unwrap();
        let policy = Policy::default().with_revocation(RevocationPolicy::Leaf);
        let e = crls
            .check_path(&policy, &[&leaf], top, &[], now, &mut notes)
            .unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::RevocationUnknown, 0));
        assert!(
            e.message().contains(
                "requires a fresh CRL from \"the CA\", the issuer of the certificate at depth 0"
            ),
            "{e}"
        );
        // Under chain the CA below the anchor needs one too: the first missing is the leaf's.
        let policy = Policy::default().with_revocation(RevocationPolicy::Chain);
        let e = crls
            .check_path(&policy, &[&leaf, &ca], top, &[], now, &mut notes)
            .unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::RevocationUnknown, 0));
        assert!(notes.is_empty());
    }

    #[test]
    fn known_notes_are_reported_once() {
        let now = now();
        let (leaf, ca) = (der(&leaf_params(now)), der(&ca_params(now, 0)));
        let (leaf, ca) = (parsed(&leaf), parsed(&ca));
        let known = [CrlNote {
            index: 3,
            issuer: "root".into(),
            message: "stale".into(),
        }];
        let policy = Policy::default().with_revocation(RevocationPolicy::Leaf);
        let mut notes = known.to_vec();
        let top = (IssuerKey::of(&ca), "the CA");
        let _ = CrlSet::default().check_path(&policy, &[&leaf], top, &known, now, &mut notes);
        assert_eq!(notes, known);
        let mut notes = Vec::new();
        let _ = CrlSet::default().check_path(&policy, &[&leaf], top, &known, now, &mut notes);
        assert_eq!(notes, known);
    }
}
