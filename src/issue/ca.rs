//! A provider CA directory: creating it (`ca init`), opening it and issuing mapping leaves.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
    PKCS_ECDSA_P256_SHA256,
};
use ring::rand::{SecureRandom, SystemRandom};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate, X509CertificationRequest};

use super::files::{write_atomic, FileMode, Overwrite};
use super::keys::{encode_key, load_key, KeyProtection, Passphrase};
use super::leaf::LeafTemplate;
use super::{CaConfig, IssueError};
use crate::profile::{
    self, certificate_policies_der, oids, serial_hex, MappingFlags, Method, Span,
};
use crate::sii::Sii;
use crate::store::{CertKind, CertStatus, IssuanceStore, StoredCert};

/// File names inside a CA directory.
pub(crate) const ROOT_PEM: &str = "root.pem";
pub(crate) const ROOT_KEY: &str = "root.key";
pub(crate) const CA_PEM: &str = "ca.pem";
pub(crate) const CA_KEY: &str = "ca.key";
pub(crate) const CONFIG: &str = "config.yaml";

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
    pub serial: String,
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
}

/// An open provider CA directory.
pub struct ProviderCa {
    pub(super) dir: PathBuf,
    pub(super) config: CaConfig,
    root_pem: String,
    pub(super) ca_pem: String,
    pub(super) ca_serial: String,
    /// The issuing CA's subjectKeyIdentifier, repeated as AKI in its CRLs.
    pub(super) ca_ski: Vec<u8>,
    pub(super) ca_not_before: OffsetDateTime,
    pub(super) ca_not_after: OffsetDateTime,
    pub(super) issuer: Issuer<'static, KeyPair>,
    /// What every leaf of the issuing CA shares, encoded once.
    pub(super) leaf_template: LeafTemplate,
    pub(super) store: IssuanceStore,
    /// The passphrase the CA was opened with (for the retired keys under `previous/`).
    pub(super) passphrase: Option<Passphrase>,
}

pub(super) fn io_err(path: &Path, what: &str, e: std::io::Error) -> IssueError {
    IssueError::Io {
        path: path.display().to_string(),
        message: format!("{what}: {e}"),
    }
}

pub(super) fn sign_err(e: rcgen::Error) -> IssueError {
    IssueError::Sign(e.to_string())
}

pub(crate) use crate::profile::rfc3339;

/// 128 random bits, positive, first byte non-zero (so every serial has the same length).
pub(super) fn random_serial() -> Result<Vec<u8>, IssueError> {
    let rng = SystemRandom::new();
    let mut b = [0u8; 16];
    loop {
        rng.fill(&mut b)
            .map_err(|_| IssueError::Sign("the system random generator failed".into()))?;
        if b[0] != 0 {
            return Ok(b.to_vec());
        }
    }
}

fn mimi_eku() -> ExtendedKeyUsagePurpose {
    ExtendedKeyUsagePurpose::Other(oids::ID_KP_MIMI_MAPPING.arcs().to_vec())
}

fn policies_ext() -> CustomExtension {
    CustomExtension::from_oid_content(&[2, 5, 29, 32], certificate_policies_der())
}

pub(super) fn ca_params(
    config: &CaConfig,
    common_name: String,
    path_len: u8,
    serial: &[u8],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, IssueError> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, config.organization.as_str());
    dn.push(DnType::CommonName, common_name);
    p.distinguished_name = dn;
    p.serial_number = Some(SerialNumber::from_slice(serial));
    p.not_before = not_before;
    p.not_after = not_after;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.extended_key_usages = vec![mimi_eku()];
    p.use_authority_key_identifier_extension = path_len == 0;
    p.custom_extensions = vec![
        policies_ext(),
        CustomExtension::from_oid_content(oids::ID_PE_MIMI_SCOPE.arcs(), config.scope.to_der()?),
    ];
    Ok(p)
}

/// The CA certificate's validity and serial, read back from its DER.
pub(super) fn cert_facts(der: &[u8]) -> Result<(String, OffsetDateTime, OffsetDateTime), String> {
    let (_, c) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    Ok((
        serial_hex(c.raw_serial()),
        c.validity().not_before.to_datetime(),
        c.validity().not_after.to_datetime(),
    ))
}

pub(super) fn ca_row(
    kind: CertKind,
    der: &[u8],
    issuer_serial: Option<String>,
    now: OffsetDateTime,
) -> Result<StoredCert, IssueError> {
    let (serial, not_before, not_after) = cert_facts(der).map_err(IssueError::Sign)?;
    Ok(StoredCert {
        serial,
        kind,
        request_id: None,
        request_sha256: None,
        sii: None,
        handle: None,
        method: None,
        validated_at: None,
        not_before,
        not_after,
        issuer_serial,
        der: Some(der.to_vec()),
        csr_sha256: None,
        status: CertStatus::Issued,
        created_at: now,
        revoked_at: None,
        revocation_reason: None,
    })
}

pub(super) fn read_text(path: &Path, dir: &Path) -> Result<String, IssueError> {
    if !path.exists() {
        return Err(IssueError::NotCaDir {
            dir: dir.display().to_string(),
            missing: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        });
    }
    fs::read_to_string(path).map_err(|e| io_err(path, "cannot read", e))
}

/// A certificate's subjectKeyIdentifier.
pub(super) fn cert_ski(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
}

/// Reject key files that group or others can read.
pub(crate) fn check_key_permissions(path: &Path) -> Result<(), IssueError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(|e| io_err(path, "cannot read", e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(IssueError::Io {
                path: path.display().to_string(),
                message: format!(
                    "private key is readable by group or others (mode {:o}): run `chmod 600 {}`",
                    mode & 0o777,
                    path.display()
                ),
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl ProviderCa {
    /// Create a new CA directory at `dir` from `config` (whose YAML text `config_yaml` is kept
    /// as `config.yaml`): a provider root, an issuing CA under it, their keys (0600) and an
    /// issuance store holding both certificates. The directory appears whole or not at all;
    /// an existing non-empty directory is never touched.
    ///
    /// The keys are written unencrypted (as [`KeyProtection::Insecure`]); operators use
    /// [`ProviderCa::init_with`] with a passphrase.
    pub fn init(
        config_yaml: &str,
        config_origin: &str,
        dir: &Path,
        now: OffsetDateTime,
    ) -> Result<ProviderCa, IssueError> {
        Self::init_with(
            config_yaml,
            config_origin,
            dir,
            now,
            &KeyProtection::Insecure,
        )
    }

    /// [`ProviderCa::init`] with the CA keys (`root.key`, `ca.key`) protected as asked:
    /// encrypted PKCS#8 under a passphrase, or plain.
    pub fn init_with(
        config_yaml: &str,
        config_origin: &str,
        dir: &Path,
        now: OffsetDateTime,
        protection: &KeyProtection,
    ) -> Result<ProviderCa, IssueError> {
        let config = CaConfig::from_yaml(config_yaml, config_origin)?;
        let now = now.replace_nanosecond(0).unwrap_or(now);
        if dir.exists() {
            let empty = dir.is_dir()
                && fs::read_dir(dir)
                    .map_err(|e| io_err(dir, "cannot read", e))?
                    .next()
                    .is_none();
            if !empty {
                return Err(IssueError::DirExists {
                    dir: dir.display().to_string(),
                });
            }
        }
        let parent = super::files::parent_dir(dir);
        fs::create_dir_all(parent).map_err(|e| io_err(parent, "cannot create", e))?;
        let staging = tempfile::Builder::new()
            .prefix(".mimi-attest-ca-init-")
            .tempdir_in(parent)
            .map_err(|e| io_err(parent, "cannot create a staging directory", e))?;

        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(sign_err)?;
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(sign_err)?;
        let root_not_after = now + config.validity.root.duration();
        let root_params = ca_params(
            &config,
            format!("{} Mapping Root", config.organization),
            1,
            &random_serial()?,
            now,
            root_not_after,
        )?;
        let root_cert = root_params.self_signed(&root_key).map_err(sign_err)?;
        let root_issuer = Issuer::from_params(&root_params, &root_key);
        let ca_not_after = (now + config.validity.ca.duration()).min(root_not_after);
        let ca_cert = ca_params(
            &config,
            format!("{} Mapping Issuing CA 1", config.organization),
            0,
            &random_serial()?,
            now,
            ca_not_after,
        )?
        .signed_by(&ca_key, &root_issuer)
        .map_err(sign_err)?;

        let s = staging.path();
        let write = |name: &str, data: &[u8], mode: FileMode| {
            let p = s.join(name);
            write_atomic(&p, data, mode, Overwrite::Refuse)
                .map_err(|e| io_err(&p, "cannot write", e))
        };
        write(ROOT_PEM, root_cert.pem().as_bytes(), FileMode::Public)?;
        write(
            ROOT_KEY,
            encode_key(&root_key, protection)?.as_bytes(),
            FileMode::Private,
        )?;
        write(CA_PEM, ca_cert.pem().as_bytes(), FileMode::Public)?;
        write(
            CA_KEY,
            encode_key(&ca_key, protection)?.as_bytes(),
            FileMode::Private,
        )?;
        write(CONFIG, config_yaml.as_bytes(), FileMode::Public)?;
        {
            let mut store = IssuanceStore::create(&s.join(crate::store::STORE_FILE))?;
            let root_row = ca_row(CertKind::Root, root_cert.der(), None, now)?;
            let ca_row = ca_row(
                CertKind::Ca,
                ca_cert.der(),
                Some(root_row.serial.clone()),
                now,
            )?;
            store.write(|tx| {
                IssuanceStore::insert(tx, &root_row)?;
                IssuanceStore::insert(tx, &ca_row).map(|_| ())
            })?;
            // Fold the WAL into the main file so the directory is self-contained.
            store.checkpoint()?;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(s, fs::Permissions::from_mode(0o700))
                .map_err(|e| io_err(s, "cannot set permissions", e))?;
        }
        let staged = staging.keep();
        if let Err(e) = fs::rename(&staged, dir) {
            let _ = fs::remove_dir_all(&staged);
            return Err(match e.kind() {
                std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::DirectoryNotEmpty => {
                    IssueError::DirExists {
                        dir: dir.display().to_string(),
                    }
                }
                _ => io_err(dir, "cannot create the CA directory", e),
            });
        }
        super::files::sync_parent(dir).map_err(|e| io_err(dir, "cannot sync", e))?;
        ProviderCa::open_with(dir, protection.passphrase())
    }

    /// Open an existing CA directory whose keys are not encrypted.
    pub fn open(dir: &Path) -> Result<ProviderCa, IssueError> {
        Self::open_with(dir, None)
    }

    /// Open an existing CA directory; `passphrase` decrypts its encrypted keys (`ca.key`, and
    /// the retired keys under `previous/` when CRLs are signed). An encrypted key without a
    /// passphrase, or with a wrong one, is an [`IssueError::Key`].
    pub fn open_with(
        dir: &Path,
        passphrase: Option<&Passphrase>,
    ) -> Result<ProviderCa, IssueError> {
        if !dir.is_dir() {
            return Err(IssueError::NotCaDir {
                dir: dir.display().to_string(),
                missing: "the directory itself".into(),
            });
        }
        super::lifecycle::finish_rotation(dir)?;
        let config_path = dir.join(CONFIG);
        let config = CaConfig::from_yaml(
            &read_text(&config_path, dir)?,
            &config_path.display().to_string(),
        )?;
        let root_pem = read_text(&dir.join(ROOT_PEM), dir)?;
        let ca_pem = read_text(&dir.join(CA_PEM), dir)?;
        let key_path = dir.join(CA_KEY);
        if !key_path.exists() {
            read_text(&key_path, dir)?;
        }
        let key = load_key(&key_path, passphrase)?;
        let ca_der =
            CertificateDer::from_pem_slice(ca_pem.as_bytes()).map_err(|e| IssueError::Io {
                path: dir.join(CA_PEM).display().to_string(),
                message: format!("not a PEM certificate: {e}"),
            })?;
        let (_, parsed) = X509Certificate::from_der(&ca_der).map_err(|e| IssueError::Io {
            path: dir.join(CA_PEM).display().to_string(),
            message: format!("not a valid certificate: {e}"),
        })?;
        if parsed.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(IssueError::Io {
                path: key_path.display().to_string(),
                message: "this key does not belong to ca.pem: restore the matching ca.key".into(),
            });
        }
        let ca_serial = serial_hex(parsed.raw_serial());
        let ca_ski = cert_ski(&parsed).ok_or_else(|| IssueError::Io {
            path: dir.join(CA_PEM).display().to_string(),
            message: "the issuing CA has no subjectKeyIdentifier: re-create the CA with `ca init`"
                .into(),
        })?;
        let ca_not_before = parsed.validity().not_before.to_datetime();
        let ca_not_after = parsed.validity().not_after.to_datetime();
        let issuer = Issuer::from_ca_cert_der(&ca_der, key).map_err(sign_err)?;
        let leaf_template = LeafTemplate::new(&ca_der, &ca_ski, &config)?;
        let store = IssuanceStore::open(&dir.join(crate::store::STORE_FILE))?;
        Ok(ProviderCa {
            dir: dir.to_owned(),
            config,
            root_pem,
            ca_pem,
            ca_serial,
            ca_ski,
            ca_not_before,
            ca_not_after,
            issuer,
            leaf_template,
            store,
            passphrase: passphrase.cloned(),
        })
    }

    /// The CA directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration.
    pub fn config(&self) -> &CaConfig {
        &self.config
    }

    /// The provider root certificate, PEM.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The issuing CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The issuance store.
    pub fn store(&self) -> &IssuanceStore {
        &self.store
    }

    /// Issue one leaf: checked, reserved in the store, signed, stored, then handed out.
    pub fn issue(&mut self, req: &IssueRequest, now: OffsetDateTime) -> Result<Issued, IssueError> {
        let mut out = self.issue_many(std::slice::from_ref(req), now)?;
        out.pop()
            .unwrap_or_else(|| Err(IssueError::Sign("the request got no result".into())))
    }

    /// Issue several leaves: every serial is reserved in the store before it is signed, and
    /// a leaf is handed out only after it is stored as issued, in sub-batches that overlap
    /// storing with signing.
    /// Results come back in request order; a bad request fails alone. A repeated request id
    /// is answered from the store (the stored certificate for the same request, an error for
    /// a different one); the same id twice among the requests in flight together is refused.
    /// A store failure fails the call; sub-batches stored before it stay issued (a retry
    /// with the same request ids answers them from the store).
    pub fn issue_many(
        &mut self,
        reqs: &[IssueRequest],
        now: OffsetDateTime,
    ) -> Result<Vec<Result<Issued, IssueError>>, IssueError> {
        let mut taken = 0;
        let mut out = Vec::with_capacity(reqs.len());
        self.issue_stream(
            &mut |n| {
                let end = (taken + n).min(reqs.len());
                let next = reqs[taken..end].iter().cloned().map(Ok).collect();
                taken = end;
                Ok(next)
            },
            &|| now,
            &mut |results| {
                out.extend(results);
                Ok(())
            },
        )?;
        Ok(out)
    }
}

/// Checks every certificate passes before it is stored as issued and handed out: the leaf
/// lints of [`crate::profile::lint`] run on the signed DER, and any error-level finding refuses it.
pub(crate) fn pre_issuance_check(der: &[u8]) -> Result<(), IssueError> {
    use crate::profile::lint::{lint_certificate_min, Role, Severity};
    let (_, findings) = lint_certificate_min(der, Some(Role::Leaf), Severity::Error)
        .map_err(|e| IssueError::Sign(format!("produced an unparsable certificate: {e}")))?;
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("{}: {} ({})", f.id, f.message, f.detail))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(IssueError::LintFailed {
            findings: errors.join("\n"),
        })
    }
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
