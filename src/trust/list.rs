//! The relying platform's trust list (YAML): which provider roots are accepted, which
//! provider each may speak for, what each may assert, and the verification policy.
//!
//! ```yaml
//! version: 1
//! anchors:
//!   - name: chat-a                  # label shown in results
//!     provider: chat-a.example      # the only provider this anchor may speak for
//!     certificate: chat-a-root.pem  # path relative to this file
//!     scope:
//!       tel: ["+1", "+44"]
//!       email: ["chat-a.example"]
//! policy:                           # optional; these are the defaults
//!   clock_skew: 5m
//!   max_leaf_validity: 90d
//!   max_validation_age: 30d
//!   scope_rule: trust-list-narrows  # or strict
//!   revocation: off                 # or leaf, chain (see RevocationPolicy)
//!   max_crl_age: 2d                 # oldest CRL thisUpdate accepted
//!   log_proof: off                  # or optional, required (see LogProofPolicy)
//!   witness_quorum: 0               # cosignatures needed from the witnesses below
//! logs:                             # optional: the transparency logs accepted
//!   - name: shared-log              # label shown in results
//!     key: log.example/mapping+1a2b3c4d+AQ...   # the checkpoint key (vkey, type 0x01)
//!     vrf_key: 3q2+7w...            # base64 of the 32-byte VRF public key
//!     origin: log.example/mapping   # optional; must be the key's name, which it defaults to
//! witnesses:                        # optional: the witnesses whose cosignatures count
//!   - name: w1
//!     key: witness.example/w1+5e6f7a8b+BA...    # cosignature/v1 key (vkey, type 0x04)
//! ```

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use rustls_pki_types::{CertificateDer, TrustAnchor};
use serde::Deserialize;
use x509_parser::prelude::{FromDer, X509Certificate};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::{LogProofPolicy, Policy, RevocationPolicy, ScopeRule};
use crate::log::{KeyType, LogKeys, NoteVerifierKey, VrfPublicKey};
use crate::profile::{self, ProviderDomain, Scope, Span, MAX_CERT_LEN};

/// Why a trust list could not be loaded. Messages name the file and, where known, the line
/// and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustListError {
    /// A file could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong and what to do.
        message: String,
    },
    /// The YAML is invalid, has unknown keys or bad values.
    #[error("{path}{}: {message}", location(*line, *column))]
    Invalid {
        /// The trust-list file (or origin).
        path: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What is wrong and what to do.
        message: String,
    },
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustListSpec {
    version: u32,
    anchors: Vec<AnchorSpec>,
    #[serde(default)]
    policy: PolicySpec,
    #[serde(default)]
    logs: Vec<LogSpec>,
    #[serde(default)]
    witnesses: Vec<WitnessSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogSpec {
    name: String,
    origin: Option<String>,
    key: String,
    vrf_key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessSpec {
    name: String,
    key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnchorSpec {
    name: String,
    provider: String,
    certificate: PathBuf,
    scope: Scope,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    clock_skew: Option<Span>,
    max_leaf_validity: Option<Span>,
    max_validation_age: Option<Span>,
    scope_rule: Option<ScopeRule>,
    revocation: Option<RevocationPolicy>,
    max_crl_age: Option<Span>,
    log_proof: Option<LogProofPolicy>,
    witness_quorum: Option<u32>,
}

/// One accepted provider root.
#[derive(Clone, Debug)]
pub struct Anchor {
    name: String,
    provider: ProviderDomain,
    certificate_path: PathBuf,
    scope: Scope,
    pub(crate) root_der: CertificateDer<'static>,
    pub(crate) trust_anchor: TrustAnchor<'static>,
}

impl Anchor {
    /// The label shown in results.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The only provider (domain) this anchor may speak for.
    pub fn provider(&self) -> &ProviderDomain {
        &self.provider
    }

    /// What this anchor may assert (the trust-list scope).
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Where the root certificate was read from (empty for an anchor given as DER to a
    /// [`TrustListBuilder`]).
    pub fn certificate_path(&self) -> &Path {
        &self.certificate_path
    }

    /// The root certificate (DER).
    pub fn certificate_der(&self) -> &CertificateDer<'static> {
        &self.root_der
    }
}

/// A transparency log the trust list accepts proofs from.
#[derive(Clone, Debug)]
pub struct TrustedLog {
    name: String,
    keys: LogKeys,
}

impl TrustedLog {
    /// The label shown in results.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its origin, checkpoint key and VRF key.
    pub fn keys(&self) -> &LogKeys {
        &self.keys
    }
}

/// A witness whose cosignatures count towards [`Policy::witness_quorum`].
#[derive(Clone, Debug)]
pub struct TrustedWitness {
    name: String,
    key: NoteVerifierKey,
}

impl TrustedWitness {
    /// The label given in the trust list.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its cosignature/v1 key (type 0x04).
    pub fn key(&self) -> &NoteVerifierKey {
        &self.key
    }
}

/// A loaded and checked trust list.
#[derive(Clone, Debug)]
pub struct TrustList {
    anchors: Vec<Anchor>,
    policy: Policy,
    logs: Vec<TrustedLog>,
    witnesses: Vec<TrustedWitness>,
}

impl TrustList {
    /// A trust list made in memory ([`TrustListBuilder`]).
    pub fn builder() -> TrustListBuilder {
        TrustListBuilder::default()
    }

    /// Read a trust list file; certificate paths are relative to its directory.
    /// Files larger than 1 MiB are refused before they are read.
    pub fn from_file(path: &Path) -> Result<TrustList, TrustListError> {
        let bytes =
            read_bounded(path, MAX_TRUST_LIST_LEN).map_err(|message| TrustListError::Io {
                path: path.display().to_string(),
                message: format!("cannot read the trust list: {message}"),
            })?;
        let text = String::from_utf8(bytes).map_err(|_| TrustListError::Io {
            path: path.display().to_string(),
            message: "the trust list is not UTF-8 text".into(),
        })?;
        let base = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Self::parse(&text, &base, &path.display().to_string())
    }

    /// Parse a trust list from YAML text; certificate paths are relative to `base_dir`.
    pub fn from_yaml(text: &str, base_dir: &Path) -> Result<TrustList, TrustListError> {
        Self::parse(text, base_dir, "trust list")
    }

    /// The anchors, in file order.
    pub fn anchors(&self) -> &[Anchor] {
        &self.anchors
    }

    /// The verification policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The transparency logs accepted, in file order.
    pub fn logs(&self) -> &[TrustedLog] {
        &self.logs
    }

    /// The witnesses whose cosignatures count, in file order.
    pub fn witnesses(&self) -> &[TrustedWitness] {
        &self.witnesses
    }

    /// This trust list with another policy. A witness quorum larger than the listed
    /// witnesses cannot be met: every proof is then rejected with `E_WITNESS_QUORUM`.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    pub(crate) fn into_parts(self) -> (Vec<Anchor>, Policy, Vec<TrustedLog>, Vec<TrustedWitness>) {
        (self.anchors, self.policy, self.logs, self.witnesses)
    }

    fn parse(text: &str, base: &Path, origin: &str) -> Result<TrustList, TrustListError> {
        let spec: TrustListSpec = serde_yaml::from_str(text).map_err(|e| {
            let loc = e.location();
            TrustListError::Invalid {
                path: origin.to_owned(),
                line: loc.as_ref().map(|l| l.line()),
                column: loc.as_ref().map(|l| l.column()),
                message: e.to_string(),
            }
        })?;
        let invalid = |needle: Option<&str>, message: String| TrustListError::Invalid {
            path: origin.to_owned(),
            line: needle.and_then(|n| line_of(text, n)),
            column: None,
            message,
        };
        if spec.version != 1 {
            return Err(invalid(
                Some("version"),
                format!(
                    "version {} is not supported: this tool reads trust lists of version 1",
                    spec.version
                ),
            ));
        }
        if spec.anchors.is_empty() {
            return Err(invalid(
                Some("anchors"),
                "the trust list has no anchors: list at least one provider root under anchors"
                    .into(),
            ));
        }
        let defaults = Policy::default();
        let policy = Policy {
            clock_skew: spec.policy.clock_skew.unwrap_or(defaults.clock_skew),
            max_leaf_validity: spec
                .policy
                .max_leaf_validity
                .unwrap_or(defaults.max_leaf_validity),
            max_validation_age: spec
                .policy
                .max_validation_age
                .unwrap_or(defaults.max_validation_age),
            scope_rule: spec.policy.scope_rule.unwrap_or(defaults.scope_rule),
            revocation: spec.policy.revocation.unwrap_or(defaults.revocation),
            max_crl_age: spec.policy.max_crl_age.unwrap_or(defaults.max_crl_age),
            log_proof: spec.policy.log_proof.unwrap_or(defaults.log_proof),
            witness_quorum: spec
                .policy
                .witness_quorum
                .unwrap_or(defaults.witness_quorum),
        };
        let mut admission = Admission::default();
        let mut anchors = Vec::with_capacity(spec.anchors.len());
        for a in spec.anchors {
            let cert_path = base.join(&a.certificate);
            let needle = a.certificate.display().to_string();
            let (name, provider) = (a.name.clone(), a.provider.clone());
            let at = |field: Field| match field {
                Field::Name => Some(if name.trim().is_empty() {
                    "name:"
                } else {
                    name.as_str()
                }),
                Field::Provider => Some(provider.as_str()),
                Field::Scope => Some(name.as_str()),
                Field::Certificate => Some(needle.as_str()),
            };
            let root_der = read_root(&cert_path)
                .map_err(|m| invalid(Some(&needle), format!("anchor {:?}: {m}", a.name)))?;
            let anchor = admission
                .admit(a.name, a.provider, a.scope, cert_path, root_der)
                .map_err(|(field, m)| invalid(at(field), m))?;
            anchors.push(anchor);
        }
        let mut logs = LogAdmission::default();
        for l in spec.logs {
            let keys = parse_log(&l).map_err(|m| invalid(Some(&l.key), m))?;
            logs.admit_log(l.name.clone(), keys)
                .map_err(|m| invalid(Some(&l.name), m))?;
        }
        for w in spec.witnesses {
            let key = parse_witness_key(&w.name, &w.key).map_err(|m| invalid(Some(&w.key), m))?;
            logs.admit_witness(w.name.clone(), key)
                .map_err(|m| invalid(Some(&w.name), m))?;
        }
        let (logs, witnesses) = logs
            .finish(&policy)
            .map_err(|m| invalid(Some("witness_quorum"), m))?;
        Ok(TrustList {
            anchors,
            policy,
            logs,
            witnesses,
        })
    }
}

/// The keys of a trust list's `logs:` item: the vkey (type 0x01) named by its origin, and the
/// VRF key as base64.
fn parse_log(l: &LogSpec) -> Result<LogKeys, String> {
    let name = &l.name;
    let key = NoteVerifierKey::parse(&l.key).map_err(|e| format!("log {name:?}: key: {e}"))?;
    if key.key_type() != KeyType::Ed25519 {
        return Err(format!(
            "log {name:?}: key is not a checkpoint key (type 0x01, Ed25519): give the key from the log's log.yaml"
        ));
    }
    let origin = l.origin.clone().unwrap_or_else(|| key.name().to_owned());
    if origin != key.name() {
        return Err(format!(
            "log {name:?}: origin {origin:?} is not the name of its key ({:?}): a log's checkpoint key is named after its origin",
            key.name()
        ));
    }
    let vrf = B64
        .decode(l.vrf_key.trim())
        .map_err(|_| {
            format!("log {name:?}: vrf_key is not base64: give the vrf_key of the log's log.yaml")
        })
        .and_then(|b| {
            VrfPublicKey::from_bytes(&b).map_err(|e| format!("log {name:?}: vrf_key: {e}"))
        })?;
    Ok(LogKeys::new(origin, key, vrf))
}

/// A witness's vkey, which must be a cosignature/v1 key (type 0x04).
fn parse_witness_key(name: &str, vkey: &str) -> Result<NoteVerifierKey, String> {
    let key = NoteVerifierKey::parse(vkey).map_err(|e| format!("witness {name:?}: key: {e}"))?;
    if key.key_type() != KeyType::Cosignature {
        return Err(format!(
            "witness {name:?}: key is not a cosignature/v1 key (type 0x04): give the key from the witness's witness.yaml"
        ));
    }
    Ok(key)
}

/// The checks every log and witness of one list passes, however the list is made.
#[derive(Debug, Default)]
struct LogAdmission {
    logs: Vec<TrustedLog>,
    witnesses: Vec<TrustedWitness>,
}

impl LogAdmission {
    fn admit_log(&mut self, name: String, keys: LogKeys) -> Result<(), String> {
        if name.trim().is_empty() {
            return Err("a log has an empty name: give each log a label".into());
        }
        if self.logs.iter().any(|l| l.name == name) {
            return Err(format!(
                "log name {name:?} appears twice: give each log its own name"
            ));
        }
        if let Some(other) = self.logs.iter().find(|l| l.keys.origin == keys.origin) {
            return Err(format!(
                "log {name:?} has the origin {:?} of log {:?}: list each log once",
                keys.origin, other.name
            ));
        }
        self.logs.push(TrustedLog { name, keys });
        Ok(())
    }

    fn admit_witness(&mut self, name: String, key: NoteVerifierKey) -> Result<(), String> {
        if name.trim().is_empty() {
            return Err("a witness has an empty name: give each witness a label".into());
        }
        if let Some(other) = self.witnesses.iter().find(|w| {
            w.name == name || (w.key.name() == key.name() && w.key.key_id() == key.key_id())
        }) {
            return Err(format!(
                "witness {name:?} repeats witness {:?} (same label or same key): list each witness once, so that it counts once",
                other.name
            ));
        }
        self.witnesses.push(TrustedWitness { name, key });
        Ok(())
    }

    fn finish(self, policy: &Policy) -> Result<(Vec<TrustedLog>, Vec<TrustedWitness>), String> {
        let n = self.witnesses.len();
        if policy.witness_quorum as usize > n {
            return Err(format!(
                "witness_quorum {} is more than the {n} witness(es) listed: list more witnesses or lower the quorum",
                policy.witness_quorum
            ));
        }
        if policy.log_proof != LogProofPolicy::Off && self.logs.is_empty() {
            return Err(format!(
                "log_proof is {} but no log is listed: list the accepted logs under logs, or set log_proof: off",
                policy.log_proof
            ));
        }
        Ok((self.logs, self.witnesses))
    }
}

/// A trust list made in memory: anchors from DER root certificates, no files. Each anchor
/// gets the checks a YAML list's anchors get (a name of its own, a lower-case provider
/// domain, a scope that permits something, a P-256 CA root listed once).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let root_der: rustls_pki_types::CertificateDer<'static> = std::fs::read("certs/chat-a-root.pem")
/// #     .map(|pem| mimi_attest::chain_from_pem(&pem).unwrap().remove(0))?;
/// use mimi_attest::{Scope, TrustList, Verifier};
/// let scope = Scope::new(&["+1", "+44"], &["chat-a.example"])?;
/// let list = TrustList::builder()
///     .anchor("chat-a", "chat-a.example", root_der, scope)?
///     .build()?;
/// let verifier = Verifier::new(list);
/// # let _ = verifier; Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct TrustListBuilder {
    anchors: Vec<Anchor>,
    admission: Admission,
    policy: Policy,
    logs: LogAdmission,
}

impl TrustListBuilder {
    /// Accept `root_der` as the root of `provider` (a lower-case domain), for what `scope`
    /// permits; `name` labels results.
    pub fn anchor(
        mut self,
        name: &str,
        provider: &str,
        root_der: CertificateDer<'static>,
        scope: Scope,
    ) -> Result<Self, TrustListError> {
        check_root_der(&root_der, "the root certificate")
            .map_err(|m| in_memory(format!("anchor {name:?}: {m}")))?;
        let anchor = self
            .admission
            .admit(
                name.to_owned(),
                provider.to_owned(),
                scope,
                PathBuf::new(),
                root_der,
            )
            .map_err(|(_, m)| in_memory(m))?;
        self.anchors.push(anchor);
        Ok(self)
    }

    /// Accept proofs from the log of `keys` (its checkpoint key must be of type 0x01 and
    /// named by its origin); `name` labels results.
    pub fn log(mut self, name: &str, keys: LogKeys) -> Result<Self, TrustListError> {
        if keys.key.key_type() != KeyType::Ed25519 || keys.key.name() != keys.origin {
            return Err(in_memory(format!(
                "log {name:?}: the checkpoint key must be an Ed25519 key (type 0x01) named after the origin {:?}",
                keys.origin
            )));
        }
        self.logs
            .admit_log(name.to_owned(), keys)
            .map_err(in_memory)?;
        Ok(self)
    }

    /// Count the cosignatures of the witness with `key` (a cosignature/v1 key, type 0x04);
    /// `name` labels it.
    pub fn witness(mut self, name: &str, key: NoteVerifierKey) -> Result<Self, TrustListError> {
        if key.key_type() != KeyType::Cosignature {
            return Err(in_memory(format!(
                "witness {name:?}: the key must be a cosignature/v1 key (type 0x04)"
            )));
        }
        self.logs
            .admit_witness(name.to_owned(), key)
            .map_err(in_memory)?;
        Ok(self)
    }

    /// The policy (default: [`Policy::default`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The trust list; refused when it has no anchor, when the witness quorum is larger
    /// than the witnesses given, or when log proofs are asked for without a log.
    pub fn build(self) -> Result<TrustList, TrustListError> {
        if self.anchors.is_empty() {
            return Err(in_memory(
                "the trust list has no anchors: add at least one provider root".into(),
            ));
        }
        let (logs, witnesses) = self.logs.finish(&self.policy).map_err(in_memory)?;
        Ok(TrustList {
            anchors: self.anchors,
            policy: self.policy,
            logs,
            witnesses,
        })
    }
}

/// An error of a trust list built in memory.
fn in_memory(message: String) -> TrustListError {
    TrustListError::Invalid {
        path: "(trust list built in memory)".to_owned(),
        line: None,
        column: None,
        message,
    }
}

/// Which part of an anchor a problem is in (YAML errors point at its line).
enum Field {
    Name,
    Provider,
    Scope,
    Certificate,
}

/// The checks every anchor of one list passes, however the list is made.
#[derive(Debug, Default)]
struct Admission {
    names: HashSet<String>,
    roots: HashSet<Vec<u8>>,
}

impl Admission {
    /// `root_der` has passed [`check_root_der`].
    fn admit(
        &mut self,
        name: String,
        provider: String,
        scope: Scope,
        certificate_path: PathBuf,
        root_der: CertificateDer<'static>,
    ) -> Result<Anchor, (Field, String)> {
        if name.trim().is_empty() {
            return Err((
                Field::Name,
                "an anchor has an empty name: give each anchor a label".into(),
            ));
        }
        if self.names.contains(&name) {
            return Err((
                Field::Name,
                format!("anchor name {name:?} appears twice: give each anchor its own name"),
            ));
        }
        let provider = ProviderDomain::parse(&provider)
            .map_err(|e| (Field::Provider, format!("anchor {name:?}: {e}")))?;
        if scope.tel_prefixes().is_empty() && scope.email_domains().is_empty() {
            return Err((
                Field::Scope,
                format!(
                    "anchor {name:?}: scope permits nothing: list phone prefixes under scope.tel and/or domains under scope.email"
                ),
            ));
        }
        if self.roots.contains(root_der.as_ref()) {
            return Err((
                Field::Certificate,
                format!(
                    "anchor {name:?}: the same root certificate is listed twice: one root may speak for one provider only"
                ),
            ));
        }
        let trust_anchor = webpki::anchor_from_trusted_cert(&root_der)
            .map_err(|e| {
                (
                    Field::Certificate,
                    format!(
                        "anchor {name:?}: {} cannot be used as a trust anchor: {e:?}",
                        if certificate_path.as_os_str().is_empty() {
                            "the root certificate".to_owned()
                        } else {
                            certificate_path.display().to_string()
                        }
                    ),
                )
            })?
            .to_owned();
        self.names.insert(name.clone());
        self.roots.insert(root_der.as_ref().to_vec());
        Ok(Anchor {
            name,
            provider,
            certificate_path,
            scope,
            root_der,
            trust_anchor,
        })
    }
}

impl fmt::Display for TrustList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for a in &self.anchors {
            writeln!(f, "{} ({}): {}", a.name, a.provider, a.scope)?;
        }
        Ok(())
    }
}

/// The 1-based number of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

/// One root certificate from a PEM (exactly one CERTIFICATE block) or DER file, checked to
/// be a well-formed CA certificate.
fn read_root(path: &Path) -> Result<CertificateDer<'static>, String> {
    // A PEM certificate is about 4/3 of its DER, plus header lines and comments.
    let bytes = read_bounded(path, 4 * MAX_CERT_LEN as u64)
        .map_err(|e| format!("cannot read the root certificate {}: {e}", path.display()))?;
    let der = match std::str::from_utf8(&bytes) {
        Ok(t) if t.trim_start().starts_with("-----BEGIN") => {
            let blocks = pem::parse_many(t)
                .map_err(|e| format!("{} is not valid PEM: {e}", path.display()))?;
            match blocks.as_slice() {
                [b] if b.tag() == "CERTIFICATE" => b.contents().to_vec(),
                _ => {
                    return Err(format!(
                        "{} must hold exactly one CERTIFICATE (the provider root), found {} PEM block(s)",
                        path.display(),
                        blocks.len()
                    ))
                }
            }
        }
        _ => bytes,
    };
    check_root_der(&der, &path.display().to_string())?;
    Ok(CertificateDer::from(der))
}

/// A root certificate (DER) is a well-formed P-256 CA certificate; `what` names it in
/// messages.
fn check_root_der(der: &[u8], what: &str) -> Result<(), String> {
    if der.len() > MAX_CERT_LEN {
        return Err(format!(
            "{what} is {} bytes, larger than the {MAX_CERT_LEN} bytes a certificate may have",
            der.len()
        ));
    }
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("{what} is not a certificate: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("{what} has trailing bytes after the certificate"));
    }
    if profile::key_problem(cert.public_key()).is_some() {
        return Err(format!(
            "{what} does not hold a P-256 key: provider roots are ECDSA P-256 (profile mapping-v1)"
        ));
    }
    let is_ca = matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    if !is_ca {
        return Err(format!(
            "{what} is not a CA certificate (no basicConstraints cA=TRUE): list the provider's root certificate"
        ));
    }
    Ok(())
}

/// Largest trust-list file read, in bytes.
pub(crate) const MAX_TRUST_LIST_LEN: u64 = 1024 * 1024;

/// The whole file, unless it is larger than `max` bytes (refused without reading it).
fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    if buf.len() as u64 > max {
        return Err(format!("the file is larger than {max} bytes"));
    }
    Ok(buf)
}
