//! Throwaway TLS certificates for a test federation (`mimi-attest dev-certs`): a dev CA and
//! the server certificate it signs, and per platform a client CA and the client certificate
//! it signs (ECDSA P-256, rcgen). Each platform has its own client CA because the server
//! tells platforms apart by the anchor whose `client_auth_pem` issued the certificate.
//!
//! Keys are written unencrypted (the server and the client read plain PEM keys), mode 0600,
//! every file through [`write_atomic`]. Nothing is written when any target exists, unless
//! the caller allows overwriting; the set is made whole in memory first, so a refusal or a
//! bad name leaves the directory as it was.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use time::{Duration, OffsetDateTime};

use crate::issue::files::{write_atomic, FileMode, Overwrite};
use crate::issue::keys::{encode_key, KeyProtection};

/// How long dev certificates are valid: long enough for a test federation, short enough that
/// a forgotten one dies.
pub const DEV_CERT_VALIDITY: Duration = Duration::days(90);

/// What `dev-certs` should make.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DevCertsRequest {
    /// The directory written (created if missing).
    pub dir: PathBuf,
    /// The server's names: DNS names or IP addresses, the first also its common name.
    pub server_names: Vec<String>,
    /// The platforms that get a client CA and a client certificate (their anchor names).
    pub platforms: Vec<String>,
    /// A plain trust list (version 1 or 2) to copy as `trust-list.yaml` into `dir`, as a
    /// version 2 list with each platform's client CA as its anchor's `client_auth_pem` (and
    /// the roots inline), valid from `now` for [`DEV_CERT_VALIDITY`]: the server's list.
    pub trust_list: Option<PathBuf>,
    /// Whether existing files may be replaced.
    pub overwrite: Overwrite,
    /// The start of the certificates' validity.
    pub now: OffsetDateTime,
}

impl DevCertsRequest {
    /// A request for `dir`, refusing to overwrite, valid from `now`.
    pub fn new(
        dir: impl Into<PathBuf>,
        server_names: Vec<String>,
        platforms: Vec<String>,
        now: OffsetDateTime,
    ) -> Self {
        DevCertsRequest {
            dir: dir.into(),
            server_names,
            platforms,
            trust_list: None,
            overwrite: Overwrite::Refuse,
            now,
        }
    }
}

/// One file written.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DevFile {
    /// Where.
    pub path: PathBuf,
    /// What it holds, for people ("dev CA certificate", ...).
    pub what: String,
}

/// What `dev-certs` wrote.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DevCerts {
    /// Every file, in the order written.
    pub files: Vec<DevFile>,
    /// The dev CA (the server's `--server-ca` for clients).
    pub ca: PathBuf,
    /// The server's certificate and key (serve.yaml `tls:`).
    pub server_cert: PathBuf,
    /// The server's key.
    pub server_key: PathBuf,
    /// Per platform: its name, client CA (the anchor's `client_auth_pem`), client
    /// certificate and key (`lookup --client-cert/--client-key`).
    pub platforms: Vec<DevPlatform>,
    /// The server's trust list, when one was asked for.
    pub trust_list: Option<PathBuf>,
}

/// One platform's files.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DevPlatform {
    /// The platform (anchor) name.
    pub name: String,
    /// Its client CA certificate (PEM).
    pub client_ca: PathBuf,
    /// The PEM text of the client CA, for the trust list's `client_auth_pem`.
    pub client_ca_pem: String,
    /// Its client certificate.
    pub cert: PathBuf,
    /// Its client key.
    pub key: PathBuf,
}

/// Why no dev certificates were written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevCertsError {
    /// A server name or platform name cannot be used.
    #[error("{0}")]
    Name(String),
    /// A target file exists and overwriting was not allowed.
    #[error("{} already exists: nothing was written; remove it, choose another directory, or allow overwriting (--force)", .0.display())]
    Exists(PathBuf),
    /// rcgen refused to make a certificate.
    #[error("cannot make the {what}: {message}")]
    Certificate {
        /// Which certificate.
        what: String,
        /// Why.
        message: String,
    },
    /// The trust list to copy cannot be used.
    #[error("trust list {}: {message}", path.display())]
    TrustList {
        /// The list given.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A file could not be written.
    #[error("cannot write {}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// A CA made here, able to sign the certificates below it.
struct DevCa {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

fn cert_err(what: &str) -> impl Fn(rcgen::Error) -> DevCertsError + '_ {
    move |e| DevCertsError::Certificate {
        what: what.to_owned(),
        message: e.to_string(),
    }
}

fn p256() -> Result<KeyPair, DevCertsError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(cert_err("P-256 key"))
}

fn base_params(cn: &str, now: OffsetDateTime) -> Result<CertificateParams, DevCertsError> {
    let mut params =
        CertificateParams::new(Vec::<String>::new()).map_err(cert_err("certificate"))?;
    params.distinguished_name.push(DnType::CommonName, cn);
    params.distinguished_name.push(
        DnType::OrganizationName,
        "mimi-attest dev-certs (throwaway)",
    );
    // A minute back, for clocks a little behind.
    params.not_before = now - Duration::minutes(1);
    params.not_after = now + DEV_CERT_VALIDITY;
    Ok(params)
}

impl DevCa {
    fn new(cn: &str, now: OffsetDateTime) -> Result<DevCa, DevCertsError> {
        let key = p256()?;
        let mut params = base_params(cn, now)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let pem = params.self_signed(&key).map_err(cert_err(cn))?.pem();
        Ok(DevCa { params, key, pem })
    }

    /// An end-entity certificate (PEM) and its key, for a server (with these SANs) or a client.
    fn issue(
        &self,
        cn: &str,
        sans: Vec<SanType>,
        usage: ExtendedKeyUsagePurpose,
        now: OffsetDateTime,
    ) -> Result<(String, KeyPair), DevCertsError> {
        let key = p256()?;
        let mut params = base_params(cn, now)?;
        params.subject_alt_names = sans;
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).map_err(cert_err(cn))?;
        Ok((cert.pem(), key))
    }
}

/// A server name as a SAN: an IP address, else a DNS name.
fn san_of(name: &str) -> Result<SanType, DevCertsError> {
    if let Ok(ip) = name.parse::<std::net::IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !ok {
        return Err(DevCertsError::Name(format!(
            "server name {name:?} is neither an IP address nor a DNS name (letters, digits, '-', labels joined by '.'): give the name clients connect to, e.g. localhost or 127.0.0.1"
        )));
    }
    let dns = name
        .to_ascii_lowercase()
        .try_into()
        .map_err(cert_err("server certificate"))?;
    Ok(SanType::DnsName(dns))
}

/// A platform name is a file name and an anchor name: letters, digits, '.', '_', '-'.
fn check_platform(name: &str) -> Result<(), DevCertsError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(DevCertsError::Name(format!(
            "platform name {name:?}: use the anchor's name in the trust list (letters, digits, '.', '_', '-'; at most 64, not starting with '.')"
        )))
    }
}

/// Make the dev CA, the server certificate and each platform's client CA and certificate, and
/// write them under `req.dir`: `ca.pem`, `ca.key`, `server.pem`, `server.key`, and per
/// platform `<p>-client-ca.pem`, `<p>-client-ca.key`, `<p>-client.pem`, `<p>-client.key`.
pub fn write_dev_certs(req: &DevCertsRequest) -> Result<DevCerts, DevCertsError> {
    if req.server_names.is_empty() {
        return Err(DevCertsError::Name(
            "no server name: give the name clients connect to (--server-name localhost)".into(),
        ));
    }
    if req.platforms.is_empty() {
        return Err(DevCertsError::Name(
            "no platform: give at least one --platform, named as its anchor in the trust list"
                .into(),
        ));
    }
    let sans = req
        .server_names
        .iter()
        .map(|n| san_of(n))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, p) in req.platforms.iter().enumerate() {
        check_platform(p)?;
        if req.platforms[..i].contains(p) {
            return Err(DevCertsError::Name(format!(
                "platform {p:?} is named twice: give each platform once"
            )));
        }
    }

    // Everything is made before anything is written.
    let now = req.now;
    let dir = &req.dir;
    let mut out: Vec<(PathBuf, String, String, FileMode)> = Vec::new();
    let key_pem = |k: &KeyPair| -> Result<String, DevCertsError> {
        encode_key(k, &KeyProtection::Insecure)
            .map(|p| p.to_string())
            .map_err(|e| DevCertsError::Certificate {
                what: "key file".into(),
                message: e.to_string(),
            })
    };
    let ca = DevCa::new("mimi-attest dev TLS CA", now)?;
    out.push((
        dir.join("ca.pem"),
        "dev CA certificate (clients' --server-ca)".into(),
        ca.pem.clone(),
        FileMode::Public,
    ));
    out.push((
        dir.join("ca.key"),
        "dev CA key".into(),
        key_pem(&ca.key)?,
        FileMode::Private,
    ));
    let (server_pem, server_key) = ca.issue(
        &req.server_names[0],
        sans,
        ExtendedKeyUsagePurpose::ServerAuth,
        now,
    )?;
    out.push((
        dir.join("server.pem"),
        format!("server certificate for {}", req.server_names.join(", ")),
        server_pem,
        FileMode::Public,
    ));
    out.push((
        dir.join("server.key"),
        "server key".into(),
        key_pem(&server_key)?,
        FileMode::Private,
    ));
    let mut platforms = Vec::new();
    for p in &req.platforms {
        let client_ca = DevCa::new(&format!("{p} dev client CA"), now)?;
        let (cert, key) = client_ca.issue(
            &format!("{p} dev client"),
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
            now,
        )?;
        let paths = [
            dir.join(format!("{p}-client-ca.pem")),
            dir.join(format!("{p}-client-ca.key")),
            dir.join(format!("{p}-client.pem")),
            dir.join(format!("{p}-client.key")),
        ];
        platforms.push(DevPlatform {
            name: p.clone(),
            client_ca: paths[0].clone(),
            client_ca_pem: client_ca.pem.clone(),
            cert: paths[2].clone(),
            key: paths[3].clone(),
        });
        let [ca_pem, ca_key, cert_pem, cert_key] = paths;
        out.push((
            ca_pem,
            format!("{p}'s client CA (its anchor's client_auth_pem)"),
            client_ca.pem.clone(),
            FileMode::Public,
        ));
        out.push((
            ca_key,
            format!("{p}'s client CA key"),
            key_pem(&client_ca.key)?,
            FileMode::Private,
        ));
        out.push((
            cert_pem,
            format!("{p}'s client certificate (--client-cert)"),
            cert,
            FileMode::Public,
        ));
        out.push((
            cert_key,
            format!("{p}'s client key (--client-key)"),
            key_pem(&key)?,
            FileMode::Private,
        ));
    }

    let trust_list = match &req.trust_list {
        Some(path) => {
            let target = dir.join("trust-list.yaml");
            let text = server_trust_list(path, &platforms, now)?;
            out.push((
                target.clone(),
                format!(
                    "the server's trust list: {} with the client CAs of {}",
                    path.display(),
                    req.platforms.join(", ")
                ),
                text,
                FileMode::Public,
            ));
            Some(target)
        }
        None => None,
    };

    if req.overwrite == Overwrite::Refuse {
        if let Some((path, ..)) = out.iter().find(|(p, ..)| p.exists()) {
            return Err(DevCertsError::Exists(path.clone()));
        }
    }
    let io = |path: &Path, e: std::io::Error| DevCertsError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut files = Vec::new();
    for (path, what, text, mode) in out {
        write_atomic(&path, text.as_bytes(), mode, req.overwrite).map_err(|e| io(&path, e))?;
        files.push(DevFile { path, what });
    }
    Ok(DevCerts {
        files,
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
        platforms,
        trust_list,
    })
}

/// The text of `list` as a version 2 list: roots inline, each platform's client CA as its
/// anchor's `client_auth_pem`, valid from `now` for [`DEV_CERT_VALIDITY`]. Checked by
/// parsing it back.
fn server_trust_list(
    list: &Path,
    platforms: &[DevPlatform],
    now: OffsetDateTime,
) -> Result<String, DevCertsError> {
    use serde_yaml::{Mapping, Value};
    let bad = |message: String| DevCertsError::TrustList {
        path: list.to_owned(),
        message,
    };
    // Loading it first gives the list's own errors, with their lines.
    crate::trust::TrustList::from_file(list).map_err(|e| bad(e.to_string()))?;
    let text = std::fs::read_to_string(list).map_err(|e| bad(format!("cannot read: {e}")))?;
    let mut doc: Mapping = serde_yaml::from_str(&text).map_err(|_| {
        bad("not a plain YAML list (a signed list cannot be changed: give the list before it was signed)".into())
    })?;
    let base = list.parent().unwrap_or(Path::new("."));
    let key = |k: &str| Value::String(k.to_owned());
    let anchors = doc
        .get_mut("anchors")
        .and_then(Value::as_sequence_mut)
        .ok_or_else(|| bad("has no anchors".into()))?;
    let mut given = Vec::new();
    for anchor in anchors.iter_mut() {
        let Some(a) = anchor.as_mapping_mut() else {
            continue;
        };
        if let Some(Value::String(file)) = a.remove("certificate") {
            let path = base.join(file);
            let pem = std::fs::read_to_string(&path)
                .map_err(|e| bad(format!("cannot read the root {}: {e}", path.display())))?;
            a.insert(key("certificate_pem"), Value::String(pem));
        }
        let name = a
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Some(p) = platforms.iter().find(|p| p.name == name) {
            a.insert(
                key("client_auth_pem"),
                Value::String(p.client_ca_pem.clone()),
            );
            given.push(name);
        }
    }
    if let Some(p) = platforms.iter().find(|p| !given.contains(&p.name)) {
        return Err(bad(format!(
            "has no anchor named {:?}: name each --platform as its anchor in the list",
            p.name
        )));
    }
    let time = |t: OffsetDateTime| {
        Value::String(crate::profile::rfc3339(
            t.replace_nanosecond(0).unwrap_or(t),
        ))
    };
    doc.insert(key("version"), Value::Number(2.into()));
    if !doc.contains_key("sequence") {
        doc.insert(key("sequence"), Value::Number(1.into()));
    }
    doc.insert(key("issued"), time(now - Duration::minutes(1)));
    doc.insert(key("expires"), time(now + DEV_CERT_VALIDITY));
    // The version fields first, as lists are written.
    let mut ordered = Mapping::new();
    for k in ["version", "sequence", "issued", "expires"] {
        if let Some(v) = doc.remove(k) {
            ordered.insert(key(k), v);
        }
    }
    ordered.extend(doc);
    let out = format!(
        "# Made by `mimi-attest dev-certs` from {} for a test federation: the server's trust list,\n# with each platform's dev client CA as its anchor's client_auth_pem.\n{}",
        list.display(),
        serde_yaml::to_string(&Value::Mapping(ordered))
            .map_err(|e| bad(format!("cannot write it as YAML: {e}")))?
    );
    crate::trust::TrustList::from_yaml(&out, base).map_err(|e| {
        bad(format!(
            "the version 2 list made from it does not load: {e}"
        ))
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_and_existing_files_write_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("tls");
        let now = OffsetDateTime::now_utc();
        let req = |names: &[&str], platforms: &[&str]| {
            DevCertsRequest::new(
                &dir,
                names.iter().map(|s| s.to_string()).collect(),
                platforms.iter().map(|s| s.to_string()).collect(),
                now,
            )
        };
        for (names, platforms, says) in [
            (&["local host"][..], &["chat-b"][..], "neither an IP"),
            (&["localhost"], &["../x"], "platform name"),
            (&["localhost"], &["a", "a"], "named twice"),
            (&[], &["a"], "no server name"),
            (&["localhost"], &[], "no platform"),
        ] {
            let e = write_dev_certs(&req(names, platforms)).unwrap_err();
            assert!(e.to_string().contains(says), "{e}");
            assert!(!dir.exists());
        }
        let done = write_dev_certs(&req(&["localhost", "127.0.0.1"], &["chat-b"])).unwrap();
        assert_eq!(done.files.len(), 8);
        std::fs::remove_file(&done.server_key).unwrap();
        let e = write_dev_certs(&req(&["localhost"], &["chat-b"])).unwrap_err();
        assert!(matches!(e, DevCertsError::Exists(_)), "{e}");
        assert!(!done.server_key.exists(), "nothing written after a refusal");
        let mut force = req(&["localhost"], &["chat-b"]);
        force.overwrite = Overwrite::Allow;
        write_dev_certs(&force).unwrap();
        assert!(done.server_key.exists());
    }
}
