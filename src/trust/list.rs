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

use time::OffsetDateTime;

use super::signers::{Decimal, SignersSpec};
use super::{LogProofPolicy, Policy, RevocationPolicy, ScopeRule, SignerSet};
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
    /// A signed list was refused: too few valid signatures, a rollback, an expired list, a
    /// signer rotation without the new set's signatures.
    #[error("{path}: {code}: {message}")]
    Refused {
        /// The trust-list file (or origin).
        path: String,
        /// Why, as a stable code.
        code: Refusal,
        /// What is wrong and what to do.
        message: String,
    },
    /// The signers file (the platform's bootstrap signer set) is unreadable or invalid.
    #[error("{path}: {message}")]
    Signers {
        /// The signers file.
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The state file (the last list accepted) is unreadable, corrupt, from another publisher,
    /// or cannot be written.
    #[error("{path}: {message}")]
    State {
        /// The state file.
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// Why a trust list was refused ([`TrustListError::Refused`]). Its strings (`E_*`) never
/// change; new ones may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// Fewer valid signatures of the trusted signer set than its threshold
    /// (`E_TRUST_LIST_SIGNATURES`), or a trusted key's signature that does not verify.
    Signatures,
    /// A sequence below the one accepted last, or the same sequence with other contents
    /// (`E_TRUST_LIST_ROLLBACK`).
    Rollback,
    /// The list's `expires` has passed (`E_TRUST_LIST_EXPIRED`).
    Expired,
    /// The list changes `signers` but is not signed by the new set's threshold
    /// (`E_TRUST_LIST_ROTATION`).
    Rotation,
    /// A signed list was given where a plain one was expected, or the other way round
    /// (`E_TRUST_LIST_FORM`).
    Form,
}

impl Refusal {
    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Signatures => "E_TRUST_LIST_SIGNATURES",
            Refusal::Rollback => "E_TRUST_LIST_ROLLBACK",
            Refusal::Expired => "E_TRUST_LIST_EXPIRED",
            Refusal::Rotation => "E_TRUST_LIST_ROTATION",
            Refusal::Form => "E_TRUST_LIST_FORM",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
    sequence: Option<Decimal>,
    issued: Option<String>,
    expires: Option<String>,
    anchors: Vec<AnchorSpec>,
    #[serde(default)]
    policy: PolicySpec,
    #[serde(default)]
    logs: Vec<LogSpec>,
    #[serde(default)]
    witnesses: Vec<WitnessSpec>,
    signers: Option<SignersSpec>,
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
    certificate: Option<PathBuf>,
    certificate_pem: Option<String>,
    client_auth_pem: Option<String>,
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
    client_auth: Option<CertificateDer<'static>>,
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

    /// The CA certificate that issues this provider's TLS client certificates for the
    /// exchange service (`client_auth_pem`, version 2 lists), if given.
    pub fn client_auth_der(&self) -> Option<&CertificateDer<'static>> {
        self.client_auth.as_ref()
    }

    /// Where the root certificate was read from (empty for an anchor given inline or as DER
    /// to a [`TrustListBuilder`]).
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
    versioned: Option<Versioned>,
}

/// What a version 2 list adds: its place in the publisher's sequence, its validity and who
/// may sign the next version.
#[derive(Clone, Debug)]
struct Versioned {
    sequence: u64,
    issued: OffsetDateTime,
    expires: OffsetDateTime,
    signers: Option<SignerSet>,
}

/// Where a list's `certificate:` paths are read from.
#[derive(Clone, Copy)]
pub(crate) enum Files<'a> {
    /// Relative to this directory (a plain list).
    Dir(&'a Path),
    /// Nowhere: the text of a signed list holds its certificates inline, since files beside
    /// it are not covered by the signatures.
    Inline,
}

impl TrustList {
    /// A trust list made in memory ([`TrustListBuilder`]).
    pub fn builder() -> TrustListBuilder {
        TrustListBuilder::default()
    }

    /// Read a trust list file; certificate paths are relative to its directory.
    /// Files larger than 1 MiB are refused before they are read.
    pub fn from_file(path: &Path) -> Result<TrustList, TrustListError> {
        Self::from_file_bytes(read_list_file(path)?, path)
    }

    /// The list in `bytes`, read from `path` (certificate paths are relative to its
    /// directory).
    pub(crate) fn from_file_bytes(
        bytes: Vec<u8>,
        path: &Path,
    ) -> Result<TrustList, TrustListError> {
        let text = String::from_utf8(bytes).map_err(|_| TrustListError::Io {
            path: path.display().to_string(),
            message: "the trust list is not UTF-8 text".into(),
        })?;
        let base = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Self::parse(&text, Files::Dir(&base), &path.display().to_string())
    }

    /// Parse a trust list from YAML text; certificate paths are relative to `base_dir`.
    pub fn from_yaml(text: &str, base_dir: &Path) -> Result<TrustList, TrustListError> {
        Self::parse(text, Files::Dir(base_dir), "trust list")
    }

    /// The format version: 1, or 2 for lists with a sequence, validity and signers.
    pub fn version(&self) -> u32 {
        if self.versioned.is_some() {
            2
        } else {
            1
        }
    }

    /// The publisher's sequence number of this list (version 2).
    pub fn sequence(&self) -> Option<u64> {
        self.versioned.as_ref().map(|v| v.sequence)
    }

    /// When the list was issued (version 2).
    pub fn issued(&self) -> Option<OffsetDateTime> {
        self.versioned.as_ref().map(|v| v.issued)
    }

    /// After this time the list must not be used (version 2): verification fails closed
    /// with `E_TRUST_LIST_EXPIRED`.
    pub fn expires(&self) -> Option<OffsetDateTime> {
        self.versioned.as_ref().map(|v| v.expires)
    }

    /// Who may sign the next version of this list (version 2, when given).
    pub fn signers(&self) -> Option<&SignerSet> {
        self.versioned.as_ref().and_then(|v| v.signers.as_ref())
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

    /// Parse the text of a signed list (version 2, certificates inline).
    pub(crate) fn from_signed_text(text: &str, origin: &str) -> Result<TrustList, TrustListError> {
        Self::parse(text, Files::Inline, origin)
    }

    fn parse(text: &str, files: Files<'_>, origin: &str) -> Result<TrustList, TrustListError> {
        let at = |(line, column): (usize, usize), message: String| TrustListError::Invalid {
            path: origin.to_owned(),
            line: Some(line),
            column: Some(column),
            message,
        };
        if let Some((pos, c)) = text_problem(text, matches!(files, Files::Dir(_))) {
            return Err(at(
                pos,
                format!(
                    "{c:?} is not allowed in a trust list: indent with spaces and keep to printable text (signed notes refuse tabs and control characters)"
                ),
            ));
        }
        if let Some(pos) = find_alias(text) {
            return Err(at(
                pos,
                "YAML anchors and aliases (&name, *name) are not allowed in a trust list: write each entry out in full".into(),
            ));
        }
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
        let versioned = match spec.version {
            1 => {
                let v2_only = [
                    ("sequence", spec.sequence.is_some()),
                    ("issued", spec.issued.is_some()),
                    ("expires", spec.expires.is_some()),
                    ("signers", spec.signers.is_some()),
                ];
                if let Some((field, _)) = v2_only.iter().find(|(_, present)| *present) {
                    return Err(invalid(
                        Some(&format!("{field}:")),
                        format!("{field} is a field of version 2 lists: write version: 2"),
                    ));
                }
                if let Some(a) = spec
                    .anchors
                    .iter()
                    .find(|a| a.client_auth_pem.is_some() || a.certificate_pem.is_some())
                {
                    return Err(invalid(
                        Some(&a.name),
                        format!(
                            "anchor {:?}: certificate_pem and client_auth_pem are fields of version 2 lists: write version: 2",
                            a.name
                        ),
                    ));
                }
                None
            }
            2 => Some(versioned(&spec).map_err(|(field, m)| invalid(Some(field), m))?),
            v => {
                return Err(invalid(
                    Some("version"),
                    format!(
                    "version {v} is not supported: this tool reads trust lists of version 1 and 2"
                ),
                ))
            }
        };
        if matches!(files, Files::Inline) && versioned.is_none() {
            return Err(invalid(
                Some("version"),
                "a signed trust list must be of version 2 (with sequence, issued and expires)"
                    .into(),
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
            let (name, provider) = (a.name.clone(), a.provider.clone());
            // Messages point at the anchor's own lines, not at the first anchor that shares
            // a word with it. Looked up only for a message: a scan of the text per anchor
            // made parsing quadratic in the anchors (BENCHMARKS.md "Trust lists").
            let near = |needle: &str| {
                anchor_line(text, &name)
                    .and_then(|s| line_from(text, s, needle))
                    .or_else(|| line_of(text, needle))
            };
            let err_near = |needle: &str, message: String| TrustListError::Invalid {
                path: origin.to_owned(),
                line: near(needle),
                column: None,
                message,
            };
            let (root_der, cert_path, needle) =
                match (&a.certificate, &a.certificate_pem, files) {
                    (Some(_), Some(_), _) => {
                        return Err(err_near(
                            "certificate",
                            format!("anchor {name:?}: give certificate or certificate_pem, not both"),
                        ))
                    }
                    (Some(file), None, Files::Dir(base)) => {
                        let cert_path = base.join(file);
                        let needle = file.display().to_string();
                        let der = read_root(&cert_path)
                            .map_err(|m| err_near(&needle, format!("anchor {name:?}: {m}")))?;
                        (der, cert_path, needle)
                    }
                    (Some(_), None, Files::Inline) => {
                        return Err(err_near(
                            "certificate:",
                            format!(
                                "anchor {name:?}: certificate: FILE is not allowed in a signed list (files beside it are not signed): put the root inline as certificate_pem"
                            ),
                        ))
                    }
                    (None, Some(pem), _) => {
                        let der = root_from_bytes(
                            pem.as_bytes(),
                            &format!("anchor {name:?}: certificate_pem"),
                        )
                        .map_err(|m| err_near("certificate_pem", m))?;
                        (der, PathBuf::new(), "certificate_pem".to_owned())
                    }
                    (None, None, _) => {
                        return Err(err_near(
                            &name,
                            format!(
                                "anchor {name:?} has no root certificate: give certificate_pem (inline PEM) or certificate: FILE"
                            ),
                        ))
                    }
                };
            let client_auth = match &a.client_auth_pem {
                Some(pem) => Some(
                    client_auth_from_pem(pem, &name).map_err(|m| err_near("client_auth_pem", m))?,
                ),
                None => None,
            };
            let field_needle = |field: Field| match field {
                Field::Name => {
                    if name.trim().is_empty() {
                        "name:".to_owned()
                    } else {
                        name.clone()
                    }
                }
                Field::Provider => provider.clone(),
                Field::Scope => "scope".to_owned(),
                Field::Certificate => needle.clone(),
            };
            let mut anchor = admission
                .admit(a.name, a.provider, a.scope, cert_path, root_der)
                .map_err(|(field, m)| err_near(&field_needle(field), m))?;
            anchor.client_auth = client_auth;
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
            versioned,
        })
    }
}

/// The version 2 fields: all of sequence, issued and expires, issued before expires, and a
/// valid signer set when one is given. Errors name the field.
fn versioned(spec: &TrustListSpec) -> Result<Versioned, (&'static str, String)> {
    let need = |field: &'static str| {
        (
            "version",
            format!("a version 2 list needs {field}: (see docs/spec.md#trust-list-v2)"),
        )
    };
    let sequence = spec.sequence.ok_or_else(|| need("sequence"))?.0;
    let time = |field: &'static str, v: &Option<String>| {
        let v = v.as_deref().ok_or_else(|| need(field))?;
        profile::parse_rfc3339(v).map_err(|m| (field, format!("{field}: {m}")))
    };
    let issued = time("issued", &spec.issued)?;
    let expires = time("expires", &spec.expires)?;
    if expires <= issued {
        return Err((
            "expires",
            format!(
                "expires ({}) is not after issued ({}): a list is valid from issued until expires",
                profile::rfc3339(expires),
                profile::rfc3339(issued)
            ),
        ));
    }
    let signers = match &spec.signers {
        Some(s) => Some(SignerSet::from_spec(s).map_err(|m| ("signers", format!("signers: {m}")))?),
        None => None,
    };
    Ok(Versioned {
        sequence,
        issued,
        expires,
        signers,
    })
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
            versioned: None,
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
            client_auth: None,
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
    root_from_bytes(&bytes, &path.display().to_string())
}

/// One root certificate from PEM (exactly one CERTIFICATE block) or DER bytes, checked to be
/// a well-formed P-256 CA certificate; `what` names it in messages.
fn root_from_bytes(bytes: &[u8], what: &str) -> Result<CertificateDer<'static>, String> {
    let der = single_pem_certificate(bytes, what)?;
    check_root_der(&der, what)?;
    Ok(CertificateDer::from(der))
}

/// The DER of the one CERTIFICATE block of PEM text, or the bytes themselves when they are
/// not PEM (DER).
fn single_pem_certificate(bytes: &[u8], what: &str) -> Result<Vec<u8>, String> {
    match std::str::from_utf8(bytes) {
        Ok(t) if t.trim_start().starts_with("-----BEGIN") => {
            let blocks = pem::parse_many(t).map_err(|e| format!("{what} is not valid PEM: {e}"))?;
            match blocks.as_slice() {
                [b] if b.tag() == "CERTIFICATE" => Ok(b.contents().to_vec()),
                _ => Err(format!(
                    "{what} must hold exactly one CERTIFICATE, found {} PEM block(s)",
                    blocks.len()
                )),
            }
        }
        _ => Ok(bytes.to_vec()),
    }
}

/// The exchange-service client CA of anchor `name`: one PEM CA certificate (any key type
/// TLS allows; it never signs mapping attestations).
fn client_auth_from_pem(pem: &str, name: &str) -> Result<CertificateDer<'static>, String> {
    let what = format!("anchor {name:?}: client_auth_pem");
    if !pem.trim_start().starts_with("-----BEGIN") {
        return Err(format!(
            "{what} is not PEM: give the client CA certificate as PEM text"
        ));
    }
    let der = single_pem_certificate(pem.as_bytes(), &what)?;
    if der.len() > MAX_CERT_LEN {
        return Err(format!("{what} is larger than {MAX_CERT_LEN} bytes"));
    }
    let (rest, cert) =
        X509Certificate::from_der(&der).map_err(|e| format!("{what} is not a certificate: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("{what} has trailing bytes after the certificate"));
    }
    if !matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca) {
        return Err(format!(
            "{what} is not a CA certificate (no basicConstraints cA=TRUE): give the CA that issues the provider's TLS client certificates"
        ));
    }
    Ok(CertificateDer::from(der))
}

/// The first character a trust list may not hold, with its 1-based line and column: a tab
/// or another control character except the line feed (and a carriage return before one,
/// in a plain list).
pub(crate) fn text_problem(text: &str, allow_crlf: bool) -> Option<((usize, usize), char)> {
    for (i, line) in text.split('\n').enumerate() {
        let line = match line.strip_suffix('\r') {
            Some(l) if allow_crlf => l,
            _ => line,
        };
        if let Some((col, c)) = line.chars().enumerate().find(|(_, c)| c.is_control()) {
            return Some(((i + 1, col + 1), c));
        }
    }
    None
}

/// The 1-based line and column of the first YAML anchor (`&name`) or alias (`*name`): a
/// token starting with `&` or `*` outside quotes, comments and block scalars. Trust lists
/// refuse them, so that no list can expand into a huge one (a "billion laughs") and each
/// entry is read where it is written.
fn find_alias(text: &str) -> Option<(usize, usize)> {
    // Indentation of the line that opened a block scalar (`key: |`), while inside it.
    let mut block: Option<usize> = None;
    // Inside a double- or single-quoted scalar that continues on the next line.
    let mut quote: Option<char> = None;
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(b) = block {
            if line.trim().is_empty() || indent > b {
                continue;
            }
            block = None;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        let mut token_start = quote.is_none();
        while i < chars.len() {
            let c = chars[i];
            if let Some(q) = quote {
                if c == q {
                    if q == '\'' && chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    quote = None;
                } else if c == '\\' && q == '"' {
                    i += 1;
                }
                i += 1;
                continue;
            }
            if c == ' ' {
                i += 1;
                continue;
            }
            if token_start {
                match c {
                    '&' | '*' => return Some((n + 1, i + 1)),
                    '"' | '\'' => {
                        quote = Some(c);
                        token_start = false;
                        i += 1;
                        continue;
                    }
                    '#' => break,
                    '|' | '>' => {
                        let rest: String = chars[i + 1..].iter().collect();
                        let rest = rest.split('#').next().unwrap_or("").trim();
                        if rest
                            .chars()
                            .all(|r| r == '-' || r == '+' || r.is_ascii_digit())
                        {
                            block = Some(indent);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            if c == '#' && i > 0 && chars[i - 1] == ' ' {
                break;
            }
            // A token starts after an indicator followed by a space, and after flow
            // punctuation.
            token_start = match c {
                '[' | '{' | ',' => true,
                '-' | ':' | '?' => chars.get(i + 1).is_none_or(|n| *n == ' '),
                _ => false,
            };
            i += 1;
        }
    }
    None
}

/// The 1-based line of the list item of the anchor named `name` (`- name: <name>`, or a
/// `name:` line inside an item).
pub(crate) fn anchor_line(text: &str, name: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ").trim();
            t.strip_prefix("name:").is_some_and(|v| {
                let v = v.split(" #").next().unwrap_or("").trim();
                v.trim_matches(|c| c == '"' || c == '\'') == name
            })
        })
        .map(|i| i + 1)
}

/// The 1-based number of the first line at or after line `from` containing `needle`.
fn line_from(text: &str, from: usize, needle: &str) -> Option<usize> {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
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

/// A trust-list file's bytes. A file larger than [`MAX_TRUST_LIST_LEN`] is refused unread,
/// as an invalid list (it is the list that is wrong); one that cannot be read is an I/O
/// error.
pub(crate) fn read_list_file(path: &Path) -> Result<Vec<u8>, TrustListError> {
    let origin = path.display().to_string();
    if let Ok(m) = std::fs::metadata(path) {
        if m.is_file() && m.len() > MAX_TRUST_LIST_LEN {
            return Err(TrustListError::Invalid {
                path: origin,
                line: None,
                column: None,
                message: format!(
                    "the file is {} bytes, larger than the {MAX_TRUST_LIST_LEN} bytes a trust list may have: platforms refuse it unread; list fewer or smaller anchors",
                    m.len()
                ),
            });
        }
    }
    read_bounded(path, MAX_TRUST_LIST_LEN).map_err(|message| TrustListError::Io {
        path: origin,
        message: format!("cannot read the trust list: {message}"),
    })
}

/// The whole file, unless it is larger than `max` bytes (refused without reading it).
pub(crate) fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_anchors_are_found_where_yaml_would_read_them() {
        assert_eq!(find_alias("a: &x 1\nb: *x\n"), Some((1, 4)));
        assert_eq!(find_alias("a:\n  - *x\n"), Some((2, 5)));
        assert_eq!(find_alias("a: [1, *x]\n"), Some((1, 8)));
        assert_eq!(find_alias("a: {b: *x}\n"), Some((1, 8)));
        assert_eq!(find_alias("- &x\n  name: a\n"), Some((1, 3)));
        assert_eq!(find_alias("<<: *base\n"), Some((1, 5)));
    }

    #[test]
    fn stars_and_ampersands_inside_values_quotes_comments_and_blocks_are_not_aliases() {
        for text in [
            "name: a*b & c\n",
            "name: \"*x\"\n",
            "name: '&x'\n",
            "name: 'it''s *x'\n",
            "name: a # *x\n",
            "# *x\n",
            "pem: |\n  *x &y\n  more\nname: a\n",
            "pem: >-\n  *x\nname: a\n",
            "scope: {tel: [\"+1\"], email: [\"a.example\"]}\n",
        ] {
            assert_eq!(find_alias(text), None, "{text:?}");
        }
        // After a block scalar ends, aliases count again.
        assert_eq!(find_alias("pem: |\n  x\nb: *x\n"), Some((3, 4)));
    }

    #[test]
    fn tabs_and_control_characters_are_placed_by_line_and_column() {
        assert_eq!(text_problem("a: 1\nb:\t2\n", false), Some(((2, 3), '\t')));
        assert_eq!(text_problem("a: 1\u{7}\n", true), Some(((1, 5), '\u{7}')));
        assert_eq!(text_problem("a: 1\r\nb: 2\r\n", true), None);
        assert_eq!(text_problem("a: 1\r\n", false), Some(((1, 5), '\r')));
        assert_eq!(text_problem("a: é ✓\n", false), None);
    }

    #[test]
    fn anchor_lines_are_the_items_of_their_names() {
        let text = "anchors:\n  - name: chat\n    provider: chat-a.example\n  - name: chat-a\n    provider: x\n";
        assert_eq!(anchor_line(text, "chat-a"), Some(4));
        assert_eq!(anchor_line(text, "chat"), Some(2));
        assert_eq!(line_from(text, 4, "provider"), Some(5));
    }
}
