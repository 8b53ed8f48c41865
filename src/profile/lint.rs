//! The lint catalogue and its checks: profile mapping-v1 and RFC 5280 basics, for
//! certificates (leaf, issuing CA, root), CRLs and the users' CSRs. One catalogue for the
//! pre-issuance check (`issue`) and the auditor's `lint` (`audit`, which runs it over inputs
//! and reports); it shares the table of processed extensions with the verifier.

use std::cell::OnceCell;
use std::fmt;

use serde::Serialize;
use time::Duration;
use x509_parser::prelude::{
    CertificateRevocationList, FromDer, GeneralName, ParsedExtension, X509Certificate,
    X509CertificationRequest, X509Version,
};

use crate::profile::{self, oids, MimiMapping, ProfileError};

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; not wrong.
    Notice,
    /// Allowed, but against the profile's recommendation.
    Warning,
    /// Violates the profile or RFC 5280: verifiers reject it or should.
    Error,
}

impl Severity {
    /// `error`, `warning` or `notice`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A certificate's place in a mapping chain, decided from basicConstraints and whether it
/// is self-issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Role {
    /// Not a CA (no basicConstraints, or cA=FALSE): a mapping leaf.
    Leaf,
    /// A CA whose issuer is another certificate: a provider issuing CA.
    IssuingCa,
    /// A self-issued CA: a provider root.
    Root,
}

impl Role {
    /// `leaf`, `issuing-ca` or `root`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leaf => "leaf",
            Role::IssuingCa => "issuing-ca",
            Role::Root => "root",
        }
    }

    /// The role of a parsed certificate.
    pub fn of(cert: &X509Certificate<'_>) -> Role {
        let ca = matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
        if !ca {
            Role::Leaf
        } else if cert.subject().as_raw() == cert.issuer().as_raw() {
            Role::Root
        } else {
            Role::IssuingCa
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What a lint applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LintTarget {
    /// Mapping leaves.
    Leaf,
    /// Issuing CAs.
    IssuingCa,
    /// Roots.
    Root,
    /// CRLs.
    Crl,
    /// A certificate together with its issuer, when both are in the same input.
    Chain,
    /// PKCS#10 requests (a user's CSR, before issuance).
    Csr,
}

impl LintTarget {
    /// `leaf`, `issuing-ca`, `root`, `crl`, `chain` or `csr` (as in the JSON catalogue).
    pub fn as_str(self) -> &'static str {
        match self {
            LintTarget::Leaf => "leaf",
            LintTarget::IssuingCa => "issuing-ca",
            LintTarget::Root => "root",
            LintTarget::Crl => "crl",
            LintTarget::Chain => "chain",
            LintTarget::Csr => "csr",
        }
    }
}

type CertCheck = fn(&Cert<'_, '_>) -> Option<String>;
type CrlCheck = fn(&CertificateRevocationList<'_>) -> Option<String>;
type PairCheck = fn(&X509Certificate<'_>, &X509Certificate<'_>) -> Option<String>;
type CsrCheck = fn(&X509CertificationRequest<'_>) -> Option<String>;

#[derive(Clone, Copy)]
enum Check {
    Cert(CertCheck),
    Crl(CrlCheck),
    /// (certificate, its issuer).
    Pair(PairCheck),
    Csr(CsrCheck),
}

/// One entry of the lint catalogue.
#[derive(Clone, Copy, Serialize)]
#[non_exhaustive]
pub struct Lint {
    /// Stable id: `e_` error, `w_` warning, `n_` notice. Never renamed.
    pub id: &'static str,
    /// Severity of a finding.
    pub severity: Severity,
    /// What it applies to.
    pub applies_to: &'static [LintTarget],
    /// One line saying what is wrong when it fires.
    pub message: &'static str,
    /// Where the rule comes from (a `docs/spec.md#…` section or an RFC 5280 section).
    pub citation: &'static str,
    #[serde(skip)]
    check: Check,
}

impl fmt::Debug for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lint").field("id", &self.id).finish()
    }
}

/// A lint that fired on an object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// The lint's id.
    pub id: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// The lint's one-line message.
    pub message: &'static str,
    /// The lint's citation.
    pub citation: &'static str,
    /// What exactly was found.
    pub detail: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {} ({}) [{}]",
            self.severity, self.id, self.message, self.detail, self.citation
        )
    }
}

/// A parsed certificate and what the lints share about it, each part decoded at most once
/// per run and only when a lint asks for it.
struct Cert<'c, 'a> {
    cert: &'c X509Certificate<'a>,
    /// The leaf's `id-pe-mimiMapping`, decoded for the first lint that reads it.
    mapping: OnceCell<Result<MimiMapping, ProfileError>>,
}

impl<'c, 'a> Cert<'c, 'a> {
    fn new(cert: &'c X509Certificate<'a>) -> Self {
        Cert {
            cert,
            mapping: OnceCell::new(),
        }
    }

    /// The extensions with this OID (DER contents octets), in order.
    fn ext<'s>(
        &'s self,
        oid: &'s [u8],
    ) -> impl Iterator<Item = &'c x509_parser::extensions::X509Extension<'a>> + 's {
        self.cert
            .extensions()
            .iter()
            .filter(move |e| e.oid.as_bytes() == oid)
    }

    fn has_ext(&self, oid: &[u8]) -> bool {
        self.ext(oid).next().is_some()
    }

    /// [`profile::leaf_mapping`], decoded once.
    fn mapping(&self) -> Result<&MimiMapping, &ProfileError> {
        self.mapping
            .get_or_init(|| profile::leaf_mapping(self.cert))
            .as_ref()
    }

    fn validity_len(&self) -> Duration {
        let v = self.cert.validity();
        v.not_after.to_datetime() - v.not_before.to_datetime()
    }
}

// The OIDs the lints look for, from the one table (compared by DER contents octets, as
// x509-parser holds them; named by their dotted form only in a finding's detail).
use oids::ProfileOid as Oid;
const OID_EKU: Oid = oids::EXT_KEY_USAGE;
const OID_POLICIES: Oid = oids::CERTIFICATE_POLICIES;
const OID_SKI: Oid = oids::SUBJECT_KEY_IDENTIFIER;
const OID_AKI: Oid = oids::AUTHORITY_KEY_IDENTIFIER;
const OID_CRL_NUMBER: Oid = oids::CRL_NUMBER;
const ECDSA_SHA256: Oid = oids::ECDSA_WITH_SHA256;
const EC_PUBLIC_KEY: Oid = oids::EC_PUBLIC_KEY;
const P256: Oid = oids::PRIME256V1;
pub(crate) const OID_ECDSA_SHA256: &str = ECDSA_SHA256.dotted;
pub(crate) const OID_EC_PUBLIC_KEY: &str = EC_PUBLIC_KEY.dotted;
pub(crate) const OID_P256: &str = P256.dotted;

/// The DER of an extKeyUsage naming `id-kp-mimiMapping` only: SEQUENCE { OID }. DER is
/// canonical, so any other value is another list (or not a list).
const EKU_MIMI_ONLY: [u8; 10] = {
    let v = oids::ID_KP_MIMI_MAPPING.der_value();
    [0x30, 0x08, 0x06, 0x06, v[0], v[1], v[2], v[3], v[4], v[5]]
};

/// The OIDs (dotted) of a SEQUENCE OF OBJECT IDENTIFIER (extKeyUsage), or `None` when it is
/// not one.
pub(crate) fn oid_sequence(value: &[u8]) -> Option<Vec<String>> {
    let tlvs = yasna::parse_der(value, |r| r.collect_sequence_of(|r| r.read_der())).ok()?;
    tlvs.iter()
        .map(|t| match t.as_slice() {
            [0x06, len, rest @ ..] if usize::from(*len) == rest.len() && *len < 0x80 => {
                Some(oids::dotted(rest))
            }
            _ => None,
        })
        .collect()
}

/// The extKeyUsage OIDs (dotted) and criticality, if the extension is there and readable.
pub(crate) fn eku(cert: &X509Certificate<'_>) -> Option<(bool, Option<Vec<String>>)> {
    let ext = cert
        .extensions()
        .iter()
        .find(|e| e.oid.as_bytes() == OID_EKU.der_value())?;
    Some((ext.critical, oid_sequence(ext.value)))
}

/// The certificate policy OIDs (dotted), if the extension is there and readable.
pub(crate) fn policies(cert: &X509Certificate<'_>) -> Option<(bool, Vec<String>)> {
    let ext = cert
        .extensions()
        .iter()
        .find(|e| e.oid.as_bytes() == OID_POLICIES.der_value())?;
    match ext.parsed_extension() {
        ParsedExtension::CertificatePolicies(p) => Some((
            ext.critical,
            p.iter()
                .map(|i| oids::dotted(i.policy_id.as_bytes()))
                .collect(),
        )),
        _ => Some((ext.critical, Vec::new())),
    }
}

// ---------------------------------------------------------------------------------------
// Checks. Each returns `Some(detail)` when the lint fires.

fn leaf_sii_count(c: &Cert<'_, '_>) -> Option<String> {
    match c.cert.subject_alternative_name() {
        Ok(None) => Some("no subjectAltName".into()),
        Ok(Some(san)) if san.value.general_names.len() != 1 => Some(format!(
            "subjectAltName holds {} names",
            san.value.general_names.len()
        )),
        _ => None,
    }
}

fn leaf_sii_not_canonical(c: &Cert<'_, '_>) -> Option<String> {
    match c.cert.subject_alternative_name() {
        Ok(Some(san)) if san.value.general_names.len() == 1 => match profile::leaf_sii(c.cert) {
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        },
        _ => None,
    }
}

fn leaf_san_not_critical(c: &Cert<'_, '_>) -> Option<String> {
    match c.cert.subject_alternative_name() {
        Ok(Some(san)) if !san.critical => Some("subjectAltName is not critical".into()),
        _ => None,
    }
}

fn leaf_subject_not_empty(c: &Cert<'_, '_>) -> Option<String> {
    (c.cert.subject().iter().next().is_some()).then(|| format!("subject is {}", c.cert.subject()))
}

fn leaf_mapping_missing(c: &Cert<'_, '_>) -> Option<String> {
    (!c.has_ext(oids::ID_PE_MIMI_MAPPING.der_value()))
        .then(|| format!("no {}", oids::ID_PE_MIMI_MAPPING))
}

fn leaf_mapping_malformed(c: &Cert<'_, '_>) -> Option<String> {
    match c.mapping() {
        Ok(_) | Err(ProfileError::MappingMissing) => None,
        Err(e) => Some(e.to_string()),
    }
}

fn mapping_critical(c: &Cert<'_, '_>) -> Option<String> {
    c.ext(oids::ID_PE_MIMI_MAPPING.der_value())
        .any(|e| e.critical)
        .then(|| "id-pe-mimiMapping is marked critical".into())
}

fn scope_critical(c: &Cert<'_, '_>) -> Option<String> {
    c.ext(oids::ID_PE_MIMI_SCOPE.der_value())
        .any(|e| e.critical)
        .then(|| "id-pe-mimiScope is marked critical".into())
}

fn eku_not_mimi_only(c: &Cert<'_, '_>) -> Option<String> {
    let ext = c.ext(OID_EKU.der_value()).next();
    if ext.is_some_and(|e| e.value == EKU_MIMI_ONLY) {
        return None;
    }
    match eku(c.cert) {
        None => Some("no extKeyUsage".into()),
        Some((_, None)) => Some("extKeyUsage is malformed".into()),
        Some((_, Some(list))) if list != [oids::ID_KP_MIMI_MAPPING.dotted] => {
            Some(format!("extKeyUsage is [{}]", list.join(", ")))
        }
        _ => None,
    }
}

fn leaf_ku_not_digital_signature(c: &Cert<'_, '_>) -> Option<String> {
    match c.cert.key_usage() {
        Ok(None) => Some("no keyUsage".into()),
        Ok(Some(ku)) => {
            let k = ku.value;
            let others = k.non_repudiation()
                || k.key_encipherment()
                || k.data_encipherment()
                || k.key_agreement()
                || k.key_cert_sign()
                || k.crl_sign()
                || k.encipher_only()
                || k.decipher_only();
            (!k.digital_signature() || others).then(|| format!("keyUsage is {k}"))
        }
        Err(_) => None,
    }
}

fn ca_ku_missing(c: &Cert<'_, '_>) -> Option<String> {
    match c.cert.key_usage() {
        Ok(None) => Some("no keyUsage".into()),
        Ok(Some(ku)) if !(ku.value.key_cert_sign() && ku.value.crl_sign()) => {
            Some(format!("keyUsage is {}", ku.value))
        }
        _ => None,
    }
}

fn ku_not_critical(c: &Cert<'_, '_>) -> Option<String> {
    match c.cert.key_usage() {
        Ok(Some(ku)) if !ku.critical => Some("keyUsage is not critical".into()),
        _ => None,
    }
}

fn leaf_bc_not_critical(c: &Cert<'_, '_>) -> Option<String> {
    match c.cert.basic_constraints() {
        Ok(None) => Some("no basicConstraints".into()),
        Ok(Some(bc)) if !bc.critical => Some("basicConstraints is not critical".into()),
        _ => None,
    }
}

fn ca_bc_not_critical(c: &Cert<'_, '_>) -> Option<String> {
    match c.cert.basic_constraints() {
        Ok(Some(bc)) if !bc.critical => Some("basicConstraints is not critical".into()),
        _ => None,
    }
}

fn path_len(c: &Cert<'_, '_>, want: u32) -> Option<String> {
    match c.cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.path_len_constraint != Some(want) => {
            Some(match bc.value.path_len_constraint {
                Some(n) => format!("pathLenConstraint is {n}"),
                None => "no pathLenConstraint".into(),
            })
        }
        _ => None,
    }
}

fn ca_path_len(c: &Cert<'_, '_>) -> Option<String> {
    path_len(c, 0)
}

fn root_path_len(c: &Cert<'_, '_>) -> Option<String> {
    path_len(c, 1)
}

fn signature_not_ecdsa_sha256(c: &Cert<'_, '_>) -> Option<String> {
    let outer = c.cert.signature_algorithm.algorithm.as_bytes();
    let inner = c.cert.tbs_certificate.signature.algorithm.as_bytes();
    if outer == ECDSA_SHA256.der_value() && inner == outer {
        return None;
    }
    let outer = oids::dotted(outer);
    let inner = oids::dotted(inner);
    if outer != OID_ECDSA_SHA256 {
        Some(format!("signatureAlgorithm is {outer}"))
    } else if inner != outer {
        Some(format!(
            "tbsCertificate.signature is {inner}, outer is {outer}"
        ))
    } else {
        None
    }
}

fn key_not_p256(c: &Cert<'_, '_>) -> Option<String> {
    // The verifier's rule (E_KEY_ALGORITHM), from the one place it is written.
    profile::key_problem(c.cert.public_key())
}

/// The serial's magnitude: the INTEGER contents without leading zero bytes.
fn serial_magnitude(raw: &[u8]) -> &[u8] {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    &raw[start..]
}

fn serial_bits(raw: &[u8]) -> usize {
    match serial_magnitude(raw) {
        [] => 0,
        [first, rest @ ..] => 8 * rest.len() + (8 - first.leading_zeros() as usize),
    }
}

fn serial_not_positive(c: &Cert<'_, '_>) -> Option<String> {
    let raw = c.cert.raw_serial();
    if raw.first().is_some_and(|b| b & 0x80 != 0) {
        Some(format!("serial {} is negative", profile::hex(raw)))
    } else if serial_magnitude(raw).is_empty() {
        Some("serial is zero".into())
    } else {
        None
    }
}

fn serial_too_short(c: &Cert<'_, '_>) -> Option<String> {
    let bits = serial_bits(c.cert.raw_serial());
    (bits > 0 && bits < 64).then(|| format!("serial has {bits} bits"))
}

fn serial_under_128_bits(c: &Cert<'_, '_>) -> Option<String> {
    let bits = serial_bits(c.cert.raw_serial());
    (64..121)
        .contains(&bits)
        .then(|| format!("serial has {bits} bits"))
}

fn serial_too_long(c: &Cert<'_, '_>) -> Option<String> {
    let len = c.cert.raw_serial().len();
    (len > 20).then(|| format!("serial is {len} octets"))
}

fn missing_ski(c: &Cert<'_, '_>) -> Option<String> {
    (!c.has_ext(OID_SKI.der_value())).then(|| "no subjectKeyIdentifier".into())
}

fn missing_aki(c: &Cert<'_, '_>) -> Option<String> {
    let has_key_id = c.ext(OID_AKI.der_value()).any(|e| {
        matches!(e.parsed_extension(), ParsedExtension::AuthorityKeyIdentifier(a) if a.key_identifier.is_some())
    });
    (!has_key_id).then(|| "no authorityKeyIdentifier with a keyIdentifier".into())
}

fn policy_missing(c: &Cert<'_, '_>) -> Option<String> {
    let names_mimi = c.ext(OID_POLICIES.der_value()).next().is_some_and(|e| {
        matches!(e.parsed_extension(), ParsedExtension::CertificatePolicies(p)
            if p.iter().any(|i| i.policy_id.as_bytes() == oids::ID_CP_MIMI_MAPPING_V1.der_value()))
    });
    if names_mimi {
        return None;
    }
    match policies(c.cert) {
        None => Some("no certificatePolicies".into()),
        Some((_, list)) if !list.iter().any(|p| p == oids::ID_CP_MIMI_MAPPING_V1.dotted) => {
            Some(format!("certificatePolicies is [{}]", list.join(", ")))
        }
        _ => None,
    }
}

fn scope_malformed(c: &Cert<'_, '_>) -> Option<String> {
    match profile::ca_scope(c.cert) {
        Err(e) => Some(e.to_string()),
        Ok(_) => None,
    }
}

fn ca_no_scope(c: &Cert<'_, '_>) -> Option<String> {
    (!c.has_ext(oids::ID_PE_MIMI_SCOPE.der_value()))
        .then(|| "no id-pe-mimiScope: this CA is limited only by its issuer".into())
}

fn leaf_has_scope(c: &Cert<'_, '_>) -> Option<String> {
    c.has_ext(oids::ID_PE_MIMI_SCOPE.der_value())
        .then(|| "leaf carries id-pe-mimiScope".into())
}

fn ca_has_mapping(c: &Cert<'_, '_>) -> Option<String> {
    c.has_ext(oids::ID_PE_MIMI_MAPPING.der_value())
        .then(|| "CA certificate carries id-pe-mimiMapping".into())
}

fn validity_inverted(c: &Cert<'_, '_>) -> Option<String> {
    let v = c.cert.validity();
    (v.not_after.to_datetime() < v.not_before.to_datetime()).then(|| {
        format!(
            "notAfter {} is before notBefore {}",
            super::rfc3339(v.not_after.to_datetime()),
            super::rfc3339(v.not_before.to_datetime())
        )
    })
}

fn fmt_days(d: Duration) -> String {
    let secs = d.whole_seconds();
    if secs % 86_400 == 0 {
        format!("{}d", secs / 86_400)
    } else {
        format!("{:.2}d", secs as f64 / 86_400.0)
    }
}

fn leaf_validity_over_7d(c: &Cert<'_, '_>) -> Option<String> {
    let len = c.validity_len();
    (len > profile::DEFAULT_LEAF_VALIDITY.duration()
        && len <= profile::MAX_LEAF_VALIDITY.duration())
    .then(|| format!("valid for {}", fmt_days(len)))
}

fn leaf_validity_over_90d(c: &Cert<'_, '_>) -> Option<String> {
    let len = c.validity_len();
    (len > profile::MAX_LEAF_VALIDITY.duration()).then(|| format!("valid for {}", fmt_days(len)))
}

fn mapping_validated_after_not_before(c: &Cert<'_, '_>) -> Option<String> {
    let m = c.mapping().ok()?;
    let nb = c.cert.validity().not_before.to_datetime();
    (m.validated_at > nb).then(|| {
        format!(
            "validatedAt {} is after notBefore {}",
            super::rfc3339(m.validated_at),
            super::rfc3339(nb)
        )
    })
}

fn mapping_validated_at_old(c: &Cert<'_, '_>) -> Option<String> {
    let m = c.mapping().ok()?;
    let age = c.cert.validity().not_before.to_datetime() - m.validated_at;
    (age > profile::MAX_VALIDATION_AGE.duration()).then(|| {
        format!(
            "validatedAt {} is {} before notBefore",
            super::rfc3339(m.validated_at),
            fmt_days(age)
        )
    })
}

fn mapping_provider_not_lowercase(c: &Cert<'_, '_>) -> Option<String> {
    let m = c.mapping().ok()?;
    if crate::profile::scope::is_plain_canonical_domain(&m.provider) {
        return None;
    }
    match profile::ProviderDomain::parse(&m.provider) {
        Ok(_) => None,
        Err(ProfileError::ProviderNotCanonical { canonical, .. }) => Some(format!(
            "provider {:?} (canonical form {canonical:?})",
            m.provider
        )),
        Err(ProfileError::ProviderNotDomain { reason, .. }) => {
            Some(format!("provider {:?}: {reason}", m.provider))
        }
        Err(e) => Some(e.to_string()),
    }
}

fn mapping_handle_not_bound(c: &Cert<'_, '_>) -> Option<String> {
    let m = c.mapping().ok()?;
    let handle = m.handle.as_deref()?;
    // A provider that is not lower-case is a finding of its own.
    profile::check_handle(handle, &m.provider.to_ascii_lowercase())
        .err()
        .map(|e| e.to_string())
}

fn unknown_critical_extension(c: &Cert<'_, '_>) -> Option<String> {
    // The profile's one table of processed extensions, which the verifier uses too.
    let unknown = |e: &&x509_parser::extensions::X509Extension<'_>| {
        e.critical && profile::extensions::processed(e.oid.as_bytes()).is_none()
    };
    let exts = c.cert.extensions();
    if !exts.iter().any(|e| unknown(&e)) {
        return None;
    }
    let unknown: Vec<String> = exts
        .iter()
        .filter(unknown)
        .map(|e| oids::dotted(e.oid.as_bytes()))
        .collect();
    Some(format!("critical: {}", unknown.join(", ")))
}

fn extension_must_not_be_critical(c: &Cert<'_, '_>) -> Option<String> {
    use profile::extensions::{Criticality, PROCESSED};
    let found: Vec<&str> = PROCESSED
        .iter()
        .filter(|p| p.criticality == Criticality::MustNot)
        // The profile's own extensions have lints of their own (e_mapping_critical,
        // e_scope_critical).
        .filter(|p| {
            p.oid != oids::ID_PE_MIMI_MAPPING.der_value()
                && p.oid != oids::ID_PE_MIMI_SCOPE.der_value()
        })
        .filter(|p| c.ext(p.oid).any(|e| e.critical))
        .map(|p| p.name)
        .collect();
    (!found.is_empty()).then(|| format!("critical: {}", found.join(", ")))
}

fn extension_not_der(c: &Cert<'_, '_>) -> Option<String> {
    let bad: Vec<String> = c
        .cert
        .extensions()
        .iter()
        .filter_map(|e| profile::extensions::check_value(e).err())
        .map(|e| e.to_string())
        .collect();
    (!bad.is_empty()).then(|| bad.join("; "))
}

fn duplicate_extension(c: &Cert<'_, '_>) -> Option<String> {
    // Distinct DER means distinct dotted forms, except for OIDs too long to read (which
    // `oids::dotted` names by length only): only then, or on a repeat, compare dotted.
    let exts = c.cert.extensions();
    let suspect = exts.iter().enumerate().any(|(i, e)| {
        let o = e.oid.as_bytes();
        o.len() >= 128 || exts[..i].iter().any(|p| p.oid.as_bytes() == o)
    });
    if !suspect {
        return None;
    }
    let dotted: Vec<String> = exts
        .iter()
        .map(|e| oids::dotted(e.oid.as_bytes()))
        .collect();
    let mut seen: Vec<&str> = Vec::new();
    let mut dups: Vec<&str> = Vec::new();
    for o in dotted.iter().map(String::as_str) {
        if seen.contains(&o) {
            if !dups.contains(&o) {
                dups.push(o);
            }
        } else {
            seen.push(o);
        }
    }
    (!dups.is_empty()).then(|| format!("more than once: {}", dups.join(", ")))
}

fn utc_generalized_time(c: &Cert<'_, '_>) -> Option<String> {
    let v = c.cert.validity();
    let mut bad = Vec::new();
    for (name, t) in [("notBefore", v.not_before), ("notAfter", v.not_after)] {
        let year = t.to_datetime().year();
        let want_utc = (1950..2050).contains(&year);
        if want_utc != t.is_utctime() {
            bad.push(format!(
                "{name} ({year}) is {}",
                if t.is_utctime() {
                    "UTCTime"
                } else {
                    "GeneralizedTime"
                }
            ));
        }
    }
    (!bad.is_empty()).then(|| bad.join("; "))
}

fn version_not_v3(c: &Cert<'_, '_>) -> Option<String> {
    (c.cert.version() != X509Version::V3).then(|| format!("version is v{}", c.cert.version().0 + 1))
}

fn crl_ext<'a>(
    crl: &'a CertificateRevocationList<'_>,
    oid: Oid,
) -> Option<&'a x509_parser::extensions::X509Extension<'a>> {
    crl.extensions()
        .iter()
        .find(|e| e.oid.as_bytes() == oid.der_value())
}

fn crl_missing_number(crl: &CertificateRevocationList<'_>) -> Option<String> {
    crl_ext(crl, OID_CRL_NUMBER)
        .is_none()
        .then(|| "no cRLNumber".into())
}

fn crl_next_update_missing(crl: &CertificateRevocationList<'_>) -> Option<String> {
    crl.next_update().is_none().then(|| "no nextUpdate".into())
}

fn crl_aki_missing(crl: &CertificateRevocationList<'_>) -> Option<String> {
    crl_ext(crl, OID_AKI)
        .is_none()
        .then(|| "no authorityKeyIdentifier".into())
}

fn crl_not_v2(crl: &CertificateRevocationList<'_>) -> Option<String> {
    (crl.version() != Some(X509Version::V2)).then(|| match crl.version() {
        None => "no version field (v1)".into(),
        Some(v) => format!("version is v{}", v.0 + 1),
    })
}

fn crl_signature_not_ecdsa_sha256(crl: &CertificateRevocationList<'_>) -> Option<String> {
    let a = oids::dotted(crl.signature_algorithm.algorithm.as_bytes());
    (a != OID_ECDSA_SHA256).then(|| format!("signatureAlgorithm is {a}"))
}

// CRLs: what can be judged from the CRL alone.

fn crl_number_critical(crl: &CertificateRevocationList<'_>) -> Option<String> {
    crl_ext(crl, OID_CRL_NUMBER)
        .filter(|e| e.critical)
        .map(|_| "cRLNumber is marked critical: verifiers ignore this CRL".into())
}

fn crl_number_invalid(crl: &CertificateRevocationList<'_>) -> Option<String> {
    let value = crl_ext(crl, OID_CRL_NUMBER)?.value;
    // INTEGER, short-form length: a number of up to 20 octets never needs more.
    let contents = match value {
        [0x02, len, rest @ ..] if usize::from(*len) == rest.len() && *len < 0x80 => rest,
        _ => {
            return Some(format!(
                "cRLNumber is not a DER INTEGER of at most 20 octets ({} bytes: {})",
                value.len(),
                profile::hex(value)
            ))
        }
    };
    match contents {
        [] => Some("cRLNumber is an empty INTEGER".into()),
        [first, ..] if first & 0x80 != 0 => {
            Some(format!("cRLNumber {} is negative", profile::hex(contents)))
        }
        [0, second, ..] if second & 0x80 == 0 => Some(format!(
            "cRLNumber {} has a leading zero byte (not DER)",
            profile::hex(contents)
        )),
        _ if serial_magnitude(contents).len() > 20 => Some(format!(
            "cRLNumber is {} octets",
            serial_magnitude(contents).len()
        )),
        _ => None,
    }
}

fn crl_issuer_empty(crl: &CertificateRevocationList<'_>) -> Option<String> {
    crl.issuer()
        .iter()
        .next()
        .is_none()
        .then(|| "the issuer name is empty".into())
}

fn crl_next_update_before_this_update(crl: &CertificateRevocationList<'_>) -> Option<String> {
    let (this, next) = (crl.last_update(), crl.next_update()?);
    (next < this).then(|| {
        format!(
            "nextUpdate {} is before thisUpdate {}",
            super::rfc3339(next.to_datetime()),
            super::rfc3339(this.to_datetime())
        )
    })
}

fn crl_not_full(crl: &CertificateRevocationList<'_>) -> Option<String> {
    let has = |oid: &[u8]| crl.extensions().iter().any(|e| e.oid.as_bytes() == oid);
    match (
        has(oids::ISSUING_DISTRIBUTION_POINT.der_value()),
        has(oids::DELTA_CRL_INDICATOR.der_value()),
    ) {
        (false, false) => None,
        (true, false) => Some("issuingDistributionPoint: a partial CRL".into()),
        (false, true) => Some("deltaCRLIndicator: a delta CRL".into()),
        (true, true) => {
            Some("issuingDistributionPoint and deltaCRLIndicator: a partial delta CRL".into())
        }
    }
}

// CSRs: what the issuer will check before it signs.

/// The names of every subjectAltName the CSR requests; `None` when it requests none.
fn csr_names<'a>(csr: &'a X509CertificationRequest<'_>) -> Option<Vec<&'a GeneralName<'a>>> {
    let mut names = None;
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext {
            names
                .get_or_insert_with(Vec::new)
                .extend(san.general_names.iter());
        }
    }
    names
}

fn csr_version_not_v1(csr: &X509CertificationRequest<'_>) -> Option<String> {
    let v = csr.certification_request_info.version;
    (v != X509Version::V1).then(|| format!("version field is {} (v1 is 0)", v.0))
}

fn csr_signature_invalid(csr: &X509CertificationRequest<'_>) -> Option<String> {
    csr.verify_signature().err().map(|e| {
        format!("the self-signature does not verify with the CSR's own key ({e}): the issuer refuses it")
    })
}

fn csr_key_not_p256(csr: &X509CertificationRequest<'_>) -> Option<String> {
    profile::key_problem(&csr.certification_request_info.subject_pki)
        .map(|d| format!("{d}: the issuer refuses it"))
}

fn csr_sii_count(csr: &X509CertificationRequest<'_>) -> Option<String> {
    match csr_names(csr) {
        None => Some("the CSR requests no subjectAltName: the issuer needs the SII there".into()),
        Some(n) if n.len() != 1 => Some(format!("subjectAltName holds {} names", n.len())),
        Some(_) => None,
    }
}

/// The one requested name as the issuer reads it (lenient) and as a leaf must carry it
/// (canonical).
fn csr_sii(
    csr: &X509CertificationRequest<'_>,
) -> Option<(Result<crate::Sii, String>, Result<(), crate::SiiError>)> {
    let names = csr_names(csr)?;
    let [name] = names.as_slice() else {
        return None;
    };
    let lenient = |v: &str| crate::Sii::parse(v).map_err(|e| e.to_string());
    Some(match name {
        GeneralName::URI(u) => (lenient(u), crate::Sii::from_san_uri(u).map(|_| ())),
        GeneralName::RFC822Name(a) => (lenient(a), crate::Sii::from_san_rfc822(a).map(|_| ())),
        other => (
            Err(format!(
                "the name is a {}, not a tel: URI or an rfc822Name",
                profile::general_name_kind(other)
            )),
            Ok(()),
        ),
    })
}

fn csr_sii_invalid(csr: &X509CertificationRequest<'_>) -> Option<String> {
    match csr_sii(csr)? {
        (Err(e), _) => Some(e),
        _ => None,
    }
}

fn csr_sii_not_canonical(csr: &X509CertificationRequest<'_>) -> Option<String> {
    match csr_sii(csr)? {
        (Ok(sii), Err(crate::SiiError::NotCanonical { input, canonical })) => Some(format!(
            "the CSR asks for {input:?}; the certificate would carry {canonical:?} ({sii})"
        )),
        (Ok(sii), Err(e)) => Some(format!("{e}; the certificate would carry {sii}")),
        _ => None,
    }
}

// Certificates of other profiles.

/// The id of the note that leads the findings of a certificate of another profile.
const NOT_MAPPING_V1: &str = "n_not_mapping_v1";

/// Whether the certificate carries any mark of profile mapping-v1: the EKU, one of our
/// extensions, or the policy.
fn is_mapping_v1(c: &Cert<'_, '_>) -> bool {
    let mimi_eku = || matches!(eku(c.cert), Some((_, Some(list))) if list.iter().any(|o| o == oids::ID_KP_MIMI_MAPPING.dotted));
    let mimi_policy = || matches!(policies(c.cert), Some((_, list)) if list.iter().any(|p| p == oids::ID_CP_MIMI_MAPPING_V1.dotted));
    c.has_ext(oids::ID_PE_MIMI_MAPPING.der_value())
        || c.has_ext(oids::ID_PE_MIMI_SCOPE.der_value())
        || mimi_eku()
        || mimi_policy()
}

/// What a certificate of another profile looks like, from its EKU and extensions.
fn looks_like(c: &Cert<'_, '_>) -> Option<&'static str> {
    if c.has_ext(oids::TN_AUTH_LIST.der_value()) {
        return Some("a STIR/SHAKEN certificate (it carries TNAuthList, RFC 8226)");
    }
    let purposes = match eku(c.cert) {
        Some((_, Some(list))) => list,
        _ => Vec::new(),
    };
    let has = |oid: &str| purposes.iter().any(|p| p == oid);
    if has("1.3.6.1.5.5.7.3.1") {
        Some("a TLS server certificate (extKeyUsage serverAuth)")
    } else if has("1.3.6.1.5.5.7.3.2") {
        Some("a TLS client certificate (extKeyUsage clientAuth)")
    } else if has("1.3.6.1.5.5.7.3.4") {
        Some("an S/MIME certificate (extKeyUsage emailProtection)")
    } else if has("1.3.6.1.5.5.7.3.3") {
        Some("a code-signing certificate (extKeyUsage codeSigning)")
    } else {
        None
    }
}

fn not_mapping_v1(c: &Cert<'_, '_>) -> Option<String> {
    if is_mapping_v1(c) {
        return None;
    }
    let what = looks_like(c)
        .map(|w| format!("; it looks like {w}"))
        .unwrap_or_default();
    Some(format!(
        "no id-kp-mimiMapping extKeyUsage, no id-pe-mimiMapping or id-pe-mimiScope, no id-cp-mimiMappingV1 policy{what}. The findings that follow say what it lacks as a mapping-v1 certificate"
    ))
}

// Chain checks: a certificate and its issuer from the same input.

fn chain_signature_invalid(
    c: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
) -> Option<String> {
    c.verify_signature(Some(issuer.public_key()))
        .err()
        .map(|e| format!("the signature does not verify with the issuer's key ({e})"))
}

pub(crate) fn key_id(c: &X509Certificate<'_>, want_ski: bool) -> Option<Vec<u8>> {
    c.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) if want_ski => Some(k.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(a) if !want_ski => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
}

fn chain_aki_mismatch(c: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> Option<String> {
    match (key_id(c, false), key_id(issuer, true)) {
        (Some(aki), Some(ski)) if aki != ski => Some(format!(
            "authorityKeyIdentifier {} but the issuer's subjectKeyIdentifier is {}",
            profile::hex(&aki),
            profile::hex(&ski)
        )),
        _ => None,
    }
}

fn chain_outlives_issuer(c: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> Option<String> {
    let (mine, theirs) = (c.validity().not_after, issuer.validity().not_after);
    (mine > theirs).then(|| {
        format!(
            "valid until {} but its issuer only until {}",
            super::rfc3339(mine.to_datetime()),
            super::rfc3339(theirs.to_datetime())
        )
    })
}

fn chain_sii_outside_issuer_scope(
    c: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
) -> Option<String> {
    if Role::of(c) != Role::Leaf {
        return None;
    }
    let sii = profile::leaf_sii(c).ok()?;
    let scope = profile::ca_scope(issuer).ok()??;
    (!scope.permits(&sii)).then(|| format!("{sii} is outside the issuer's scope ({scope})"))
}

fn chain_scope_widened(c: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> Option<String> {
    if Role::of(c) == Role::Leaf {
        return None;
    }
    let mine = profile::ca_scope(c).ok()??;
    let theirs = profile::ca_scope(issuer).ok()??;
    (!mine.is_within(&theirs))
        .then(|| format!("scope ({mine}) is wider than the issuer's ({theirs})"))
}

// ---------------------------------------------------------------------------------------
// The catalogue.

use LintTarget::{Chain, Crl, IssuingCa, Leaf, Root};
const LEAF: &[LintTarget] = &[Leaf];
const CAS: &[LintTarget] = &[IssuingCa, Root];
const CERTS: &[LintTarget] = &[Leaf, IssuingCa, Root];
const NON_ROOT: &[LintTarget] = &[Leaf, IssuingCa];
const CRLS: &[LintTarget] = &[Crl];
const CHAIN: &[LintTarget] = &[Chain];
const CSRS: &[LintTarget] = &[LintTarget::Csr];

const PROFILE: &str = "docs/spec.md#profile";
const PROFILE_LEAF: &str = "docs/spec.md#leaf";

/// `lint!(id, Severity, targets, message, citation, Kind check)` with `Kind` one of `Cert`,
/// `Pair` or `Crl` (the [`Check`] variant the function goes in).
macro_rules! lint {
    ($id:literal, $sev:ident, $to:expr, $msg:literal, $cite:expr, $kind:ident $f:expr) => {
        Lint {
            id: $id,
            severity: Severity::$sev,
            applies_to: $to,
            message: $msg,
            citation: $cite,
            check: Check::$kind($f),
        }
    };
}

static CATALOGUE: &[Lint] = &[
    // Leaf: the SII.
    lint!("e_leaf_sii_count", Error, LEAF, "the leaf's subjectAltName must hold exactly one name, the SII", PROFILE_LEAF, Cert leaf_sii_count),
    lint!("e_leaf_sii_not_canonical", Error, LEAF, "the SII must be a canonical tel: URI or a canonical rfc822Name (sii-v1)", "docs/spec.md#sii-v1", Cert leaf_sii_not_canonical),
    lint!("e_leaf_san_not_critical", Error, LEAF, "the leaf's subjectAltName must be critical (its subject is empty)", "docs/spec.md#leaf; RFC 5280 4.2.1.6", Cert leaf_san_not_critical),
    lint!("e_leaf_subject_not_empty", Error, LEAF, "the leaf's subject must be empty; no SII anywhere but the SAN", PROFILE_LEAF, Cert leaf_subject_not_empty),
    // Leaf: the mapping.
    lint!("e_leaf_mapping_missing", Error, LEAF, "the leaf must carry id-pe-mimiMapping (2.999.6464.2.1)", PROFILE_LEAF, Cert leaf_mapping_missing),
    lint!("e_leaf_mapping_malformed", Error, LEAF, "id-pe-mimiMapping must be a well-formed MimiMapping v1 (strict DER)", PROFILE_LEAF, Cert leaf_mapping_malformed),
    lint!("e_mapping_critical", Error, CERTS, "id-pe-mimiMapping must be non-critical", PROFILE_LEAF, Cert mapping_critical),
    lint!("e_mapping_validated_after_not_before", Error, LEAF, "validatedAt must not be after the leaf's notBefore", "docs/spec.md#verify-leaf", Cert mapping_validated_after_not_before),
    lint!("w_mapping_validated_at_old", Warning, LEAF, "validatedAt is more than 30 days before notBefore (default max_validation_age)", "docs/spec.md#trust-list-policy; docs/spec.md#verify-leaf", Cert mapping_validated_at_old),
    lint!("e_mapping_provider_not_lowercase", Error, LEAF, "the mapping's provider must be a lower-case ASCII domain name", PROFILE_LEAF, Cert mapping_provider_not_lowercase),
    lint!("e_mapping_handle_not_bound", Error, LEAF, "the mapping's handle must be an absolute URI on the provider's domain or a subdomain of it", "docs/spec.md#handle-binding", Cert mapping_handle_not_bound),
    lint!("e_leaf_has_scope", Error, LEAF, "id-pe-mimiScope belongs on CA certificates, not on a leaf", PROFILE, Cert leaf_has_scope),
    // Leaf: usages and validity.
    lint!("e_leaf_eku_not_mimi_only", Error, LEAF, "the leaf's extKeyUsage must be id-kp-mimiMapping only", PROFILE_LEAF, Cert eku_not_mimi_only),
    lint!("e_leaf_ku_not_digital_signature", Error, LEAF, "the leaf's keyUsage must be digitalSignature only", PROFILE_LEAF, Cert leaf_ku_not_digital_signature),
    lint!("e_leaf_bc_not_critical", Error, LEAF, "the leaf must carry basicConstraints cA=FALSE, critical", PROFILE_LEAF, Cert leaf_bc_not_critical),
    lint!("w_leaf_validity_over_7d", Warning, LEAF, "the leaf is valid for more than the 7-day default", PROFILE_LEAF, Cert leaf_validity_over_7d),
    lint!("e_leaf_validity_over_90d", Error, LEAF, "the leaf is valid for more than 90 days (default max_leaf_validity: verifiers reject it)", "docs/spec.md#leaf-validity; docs/spec.md#trust-list-policy", Cert leaf_validity_over_90d),
    // CA certificates.
    lint!("e_ca_eku_not_mimi_only", Error, CAS, "a provider CA's extKeyUsage must be id-kp-mimiMapping only (never TLS or S/MIME)", PROFILE, Cert eku_not_mimi_only),
    lint!("e_ca_ku_missing", Error, CAS, "a CA's keyUsage must include keyCertSign and cRLSign", "docs/spec.md#ca-certificates; RFC 5280 4.2.1.3", Cert ca_ku_missing),
    lint!("e_ku_not_critical", Error, CERTS, "keyUsage must be critical", "docs/spec.md#criticality; RFC 5280 4.2.1.3", Cert ku_not_critical),
    lint!("e_ca_bc_not_critical", Error, CAS, "a CA's basicConstraints must be critical", "RFC 5280 4.2.1.9", Cert ca_bc_not_critical),
    lint!("e_ca_path_len", Error, &[IssuingCa], "an issuing CA must have pathLenConstraint 0", PROFILE, Cert ca_path_len),
    lint!("e_root_path_len", Error, &[Root], "a provider root must have pathLenConstraint 1", PROFILE, Cert root_path_len),
    lint!("e_scope_malformed", Error, CAS, "id-pe-mimiScope must be a well-formed MimiScope", PROFILE, Cert scope_malformed),
    lint!("e_scope_critical", Error, CAS, "id-pe-mimiScope must be non-critical", PROFILE, Cert scope_critical),
    lint!("n_ca_no_scope", Notice, CAS, "the CA has no id-pe-mimiScope: only its issuer and the trust list limit what it attests", PROFILE, Cert ca_no_scope),
    lint!("e_ca_has_mapping", Error, CAS, "id-pe-mimiMapping belongs on leaves, not on CA certificates", PROFILE, Cert ca_has_mapping),
    // Every certificate.
    lint!("e_signature_not_ecdsa_sha256", Error, CERTS, "signatures must be ecdsa-with-SHA256, the same inside and outside tbsCertificate", "docs/spec.md#algorithms; RFC 5280 4.1.1.2", Cert signature_not_ecdsa_sha256),
    lint!("e_key_not_p256", Error, CERTS, "keys must be EC P-256 (id-ecPublicKey, prime256v1)", PROFILE, Cert key_not_p256),
    lint!("e_serial_not_positive", Error, CERTS, "the serial must be a positive integer", "RFC 5280 4.1.2.2", Cert serial_not_positive),
    lint!("e_serial_too_short", Error, CERTS, "the serial has fewer than 64 bits (the profile uses 128 random bits)", "docs/spec.md#serials", Cert serial_too_short),
    lint!("w_serial_under_128_bits", Warning, CERTS, "the serial has fewer than 121 significant bits: shorter than the profile's 128 random bits", "docs/spec.md#serials", Cert serial_under_128_bits),
    lint!("e_serial_too_long", Error, CERTS, "the serial is longer than 20 octets", "RFC 5280 4.1.2.2", Cert serial_too_long),
    lint!("e_missing_ski", Error, CERTS, "every certificate must carry subjectKeyIdentifier", "docs/spec.md#common-fields; RFC 5280 4.2.1.2", Cert missing_ski),
    lint!("e_missing_aki", Error, NON_ROOT, "every certificate but the root must carry authorityKeyIdentifier (keyIdentifier)", "docs/spec.md#common-fields; RFC 5280 4.2.1.1", Cert missing_aki),
    lint!("e_policy_missing", Error, CERTS, "certificatePolicies must name id-cp-mimiMappingV1 (2.999.6464.3.1)", PROFILE, Cert policy_missing),
    lint!("e_validity_inverted", Error, CERTS, "notAfter is before notBefore", "RFC 5280 4.1.2.5", Cert validity_inverted),
    lint!("e_utc_generalized_time", Error, CERTS, "validity dates through 2049 must be UTCTime, from 2050 GeneralizedTime", "RFC 5280 4.1.2.5", Cert utc_generalized_time),
    lint!("e_unknown_critical_extension", Error, CERTS, "a critical extension this profile does not know: verifiers reject the certificate", "docs/spec.md#criticality; RFC 5280 4.2", Cert unknown_critical_extension),
    lint!("e_extension_must_not_be_critical", Error, CERTS, "subjectKeyIdentifier, authorityKeyIdentifier and certificatePolicies must not be critical: verifiers reject the certificate", "docs/spec.md#criticality; RFC 5280 4.2.1.1, 4.2.1.2, 4.2.1.4", Cert extension_must_not_be_critical),
    lint!("e_extension_not_der", Error, CERTS, "an extension the profile reads is not strict DER (trailing bytes, an over-long length): verifiers reject the certificate", "docs/spec.md#strict-der", Cert extension_not_der),
    lint!("e_duplicate_extension", Error, CERTS, "an extension appears more than once", "RFC 5280 4.2", Cert duplicate_extension),
    lint!("e_version_not_v3", Error, CERTS, "a certificate with extensions must be version 3", "RFC 5280 4.1.2.1", Cert version_not_v3),
    // A certificate and its issuer, when the input holds both.
    lint!("e_chain_signature_invalid", Error, CHAIN, "the certificate's signature does not verify with its issuer's key", "RFC 5280 6.1.3 (a)(1)", Pair chain_signature_invalid),
    lint!("e_chain_aki_mismatch", Error, CHAIN, "authorityKeyIdentifier does not match the issuer's subjectKeyIdentifier", "RFC 5280 4.2.1.1", Pair chain_aki_mismatch),
    lint!("e_chain_outlives_issuer", Error, CHAIN, "the certificate is valid after its issuer expires", "docs/spec.md#leaf-validity", Pair chain_outlives_issuer),
    lint!("e_chain_sii_outside_issuer_scope", Error, CHAIN, "the leaf's SII is outside its issuing CA's id-pe-mimiScope: verifiers reject it", "docs/spec.md#verify-scope", Pair chain_sii_outside_issuer_scope),
    lint!("e_chain_scope_widened", Error, CHAIN, "a CA's id-pe-mimiScope is wider than its issuer's: delegation may only narrow", "docs/spec.md#scope-delegation", Pair chain_scope_widened),
    // CRLs.
    lint!("e_crl_missing_number", Error, CRLS, "a CRL must carry cRLNumber", "RFC 5280 5.2.3", Crl crl_missing_number),
    lint!("e_crl_next_update_missing", Error, CRLS, "a CRL must carry nextUpdate", "RFC 5280 5.1.2.5", Crl crl_next_update_missing),
    lint!("e_crl_aki_missing", Error, CRLS, "a CRL must carry authorityKeyIdentifier", "RFC 5280 5.2.1", Crl crl_aki_missing),
    lint!("e_crl_not_v2", Error, CRLS, "a CRL with extensions must be version 2", "RFC 5280 5.1.2.1", Crl crl_not_v2),
    lint!("e_crl_signature_not_ecdsa_sha256", Error, CRLS, "CRLs must be signed with ecdsa-with-SHA256", "docs/spec.md#algorithms; RFC 5280 5.1.1.2", Crl crl_signature_not_ecdsa_sha256),
    lint!("e_crl_number_critical", Error, CRLS, "cRLNumber must be non-critical: verifiers ignore a CRL whose number is critical", "docs/spec.md#crl; RFC 5280 5.2.3", Crl crl_number_critical),
    lint!("e_crl_number_invalid", Error, CRLS, "cRLNumber must be a non-negative DER INTEGER of at most 20 octets", "docs/spec.md#crl; RFC 5280 5.2.3", Crl crl_number_invalid),
    lint!("e_crl_issuer_empty", Error, CRLS, "a CRL's issuer must be a non-empty distinguished name", "docs/spec.md#crl; RFC 5280 5.1.2.3", Crl crl_issuer_empty),
    lint!("e_crl_next_update_before_this_update", Error, CRLS, "nextUpdate is before thisUpdate", "docs/spec.md#crl; RFC 5280 5.1.2.5", Crl crl_next_update_before_this_update),
    lint!("e_crl_not_full", Error, CRLS, "the CRL is partial (issuingDistributionPoint) or a delta CRL: verifiers use complete CRLs only", "docs/spec.md#crl; RFC 5280 5.2.4, 5.2.5", Crl crl_not_full),
    // Certificates of another profile: said once, before what they lack as mapping-v1.
    lint!("n_not_mapping_v1", Notice, CERTS, "not a mapping-v1 certificate: it carries none of the profile's marks (EKU, extensions, policy)", "docs/spec.md#profile", Cert not_mapping_v1),
    // CSRs: what the issuer checks before it signs.
    lint!("e_csr_version_not_v1", Error, CSRS, "a CSR must be version 1 (version field 0)", "docs/spec.md#csr; RFC 2986 4.1", Csr csr_version_not_v1),
    lint!("e_csr_signature_invalid", Error, CSRS, "the CSR's signature must verify with the key it carries (the user's proof of possession)", "docs/spec.md#csr; RFC 2986 3", Csr csr_signature_invalid),
    lint!("e_csr_key_not_p256", Error, CSRS, "the CSR's key must be EC P-256 (id-ecPublicKey, prime256v1)", "docs/spec.md#csr", Csr csr_key_not_p256),
    lint!("e_csr_sii_count", Error, CSRS, "the CSR must request a subjectAltName holding exactly one name, the SII", "docs/spec.md#csr", Csr csr_sii_count),
    lint!("e_csr_sii_invalid", Error, CSRS, "the CSR's name must be an SII: a tel: URI or an rfc822Name email address", "docs/spec.md#csr", Csr csr_sii_invalid),
    lint!("w_csr_sii_not_canonical", Warning, CSRS, "the CSR's SII is not in canonical form (sii-v1): the certificate will name the canonical form, not the one the user signed", "docs/spec.md#csr", Csr csr_sii_not_canonical),
];

/// Why an object could not be linted: it does not parse as what it was given as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LintError {
    /// Not a valid certificate, CRL or CSR (DER), and why.
    #[error("{0}")]
    Unreadable(String),
}

/// Every lint, in catalogue order.
pub fn catalogue() -> &'static [Lint] {
    CATALOGUE
}

pub(crate) fn sort(findings: &mut [Finding]) {
    // Most severe first, except the note that the certificate is of another profile: it
    // explains every finding after it.
    let lead = |f: &Finding| f.id == NOT_MAPPING_V1;
    findings.sort_by(|a, b| {
        lead(b)
            .cmp(&lead(a))
            .then(b.severity.cmp(&a.severity))
            .then(a.id.cmp(b.id))
    });
}

fn finding(l: &Lint, detail: String) -> Finding {
    Finding {
        id: l.id,
        severity: l.severity,
        message: l.message,
        citation: l.citation,
        detail,
    }
}

/// Runs the certificate lints for `role` whose severity is at least `min`.
pub(crate) fn run_cert(cert: &X509Certificate<'_>, role: Role, min: Severity) -> Vec<Finding> {
    let target = match role {
        Role::Leaf => Leaf,
        Role::IssuingCa => IssuingCa,
        Role::Root => Root,
    };
    let ctx = Cert::new(cert);
    let mut out: Vec<Finding> = CATALOGUE
        .iter()
        .filter(|l| l.severity >= min && l.applies_to.contains(&target))
        .filter_map(|l| match l.check {
            Check::Cert(f) => f(&ctx).map(|d| finding(l, d)),
            Check::Crl(_) | Check::Pair(..) | Check::Csr(_) => None,
        })
        .collect();
    sort(&mut out);
    out
}

/// Lints one certificate (DER). Its role is decided from the certificate itself
/// ([`Role::of`]) unless `role` is given (pre-issuance linting lints as a leaf).
pub fn lint_certificate(der: &[u8], role: Option<Role>) -> Result<(Role, Vec<Finding>), LintError> {
    lint_certificate_min(der, role, Severity::Notice)
}

/// Like [`lint_certificate`], but runs only the lints of at least `min` severity: the
/// findings are exactly those of [`lint_certificate`] at that severity or above, for less
/// work (pre-issuance linting asks for [`Severity::Error`] only).
pub fn lint_certificate_min(
    der: &[u8],
    role: Option<Role>,
    min: Severity,
) -> Result<(Role, Vec<Finding>), LintError> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| LintError::Unreadable(format!("not a valid certificate: {e}")))?;
    let role = role.unwrap_or_else(|| Role::of(&cert));
    Ok((role, run_cert(&cert, role, min)))
}

/// Lints one CRL (DER).
pub fn lint_crl(der: &[u8]) -> Result<Vec<Finding>, LintError> {
    let (_, crl) = CertificateRevocationList::from_der(der)
        .map_err(|e| LintError::Unreadable(format!("not a valid CRL: {e}")))?;
    Ok(run_crl(&crl))
}

pub(crate) fn run_crl(crl: &CertificateRevocationList<'_>) -> Vec<Finding> {
    let mut out: Vec<Finding> = CATALOGUE
        .iter()
        .filter_map(|l| match l.check {
            Check::Crl(f) => f(crl).map(|d| finding(l, d)),
            Check::Cert(_) | Check::Pair(..) | Check::Csr(_) => None,
        })
        .collect();
    sort(&mut out);
    out
}

/// Lints one CSR (DER): what the issuer checks before it signs (version, proof of
/// possession, P-256 key, exactly one SII, and whether it is canonical).
pub fn lint_csr(der: &[u8]) -> Result<Vec<Finding>, LintError> {
    let (_, csr) = X509CertificationRequest::from_der(der)
        .map_err(|e| LintError::Unreadable(format!("not a valid CSR: {e}")))?;
    Ok(run_csr(&csr))
}

pub(crate) fn run_csr(csr: &X509CertificationRequest<'_>) -> Vec<Finding> {
    let mut out: Vec<Finding> = CATALOGUE
        .iter()
        .filter_map(|l| match l.check {
            Check::Csr(f) => f(csr).map(|d| finding(l, d)),
            Check::Cert(_) | Check::Crl(_) | Check::Pair(..) => None,
        })
        .collect();
    sort(&mut out);
    out
}

pub(crate) fn run_pair(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> Vec<Finding> {
    CATALOGUE
        .iter()
        .filter_map(|l| match l.check {
            Check::Pair(f) => f(cert, issuer).map(|d| finding(l, d)),
            Check::Cert(_) | Check::Crl(_) | Check::Csr(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eku_mimi_only_is_what_oid_sequence_reads() {
        assert_eq!(
            oid_sequence(&EKU_MIMI_ONLY),
            Some(vec![oids::ID_KP_MIMI_MAPPING.dotted.to_owned()])
        );
    }
}
