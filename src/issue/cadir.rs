//! A provider CA directory on disk: the one place that knows its file names and reads or
//! writes them.
//!
//! ```text
//! config.yaml            the CA config it was made from
//! root.pem, root.key     the provider root (root.key may be kept offline)
//! ca.pem, ca.key         the current issuing CA
//! previous/ca-<serial>.{pem,key}   issuing CAs retired by `ca rotate`
//! store.db               the issuance store; issue.lock beside it
//! ```
//!
//! Every CA certificate is opened for signing the same way ([`CaDir::signer`]): its key
//! read (and decrypted), checked to belong to the certificate, and the certificate's
//! serial, validity and subjectKeyIdentifier read back.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{Issuer, KeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::error::{io_err, sign_err, IssueError};
use super::files::{parent_dir, sync_parent, write_atomic, FileMode, Overwrite};
use super::keys::{load_key, Passphrase};
use super::{CaConfig, StoreConfig};
use crate::profile::Serial;
use crate::store::{IssuanceStore, IssueLock, StoredCert, STORE_FILE};

/// File names inside a CA directory.
pub(crate) const ROOT_PEM: &str = "root.pem";
pub(crate) const ROOT_KEY: &str = "root.key";
pub(crate) const CA_PEM: &str = "ca.pem";
pub(crate) const CA_KEY: &str = "ca.key";
pub(crate) const CONFIG: &str = "config.yaml";
/// Where retired issuing CAs live inside a CA directory.
pub(crate) const PREVIOUS: &str = "previous";
/// What a rotation stages the new issuing CA's files as, before it swaps them in.
const NEXT_SUFFIX: &str = ".next";

/// Where the provider root's private key is read from, for the two steps that sign with it
/// (`ca rotate`, `crl --root`). `ca init` writes it as `root.key` in the CA directory; an
/// operator who keeps it offline gives its path for those steps instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RootKey<'a> {
    /// `root.key` in the CA directory.
    #[default]
    InCaDir,
    /// This file (PKCS#8 PEM as `ca init` wrote it, mode 0600, encrypted under the same
    /// passphrase as the CA keys or not at all).
    File(&'a Path),
}

/// A CA certificate opened for signing, with what is read back from it.
pub(crate) struct CaSigner {
    /// The certificate, DER.
    pub(crate) der: CertificateDer<'static>,
    /// Its serial, lower-case hex.
    pub(crate) serial: Serial,
    /// Its subjectKeyIdentifier (the AKI of what it signs).
    pub(crate) ski: Vec<u8>,
    /// notBefore.
    pub(crate) not_before: OffsetDateTime,
    /// notAfter.
    pub(crate) not_after: OffsetDateTime,
    /// The signer.
    pub(crate) issuer: Issuer<'static, KeyPair>,
}

/// The files `ca init` writes, as they are written.
pub(crate) struct NewCaFiles<'a> {
    pub(crate) config_yaml: &'a str,
    pub(crate) root_pem: &'a str,
    pub(crate) root_key: &'a str,
    pub(crate) ca_pem: &'a str,
    pub(crate) ca_key: &'a str,
}

/// A provider CA directory.
#[derive(Clone, Debug)]
pub(crate) struct CaDir {
    path: PathBuf,
}

impl CaDir {
    /// Create the CA directory `dir` with `files` and a store holding `rows`. It appears
    /// whole or not at all (staged beside it, then renamed); an existing non-empty
    /// directory is never touched.
    pub(crate) fn create(
        dir: &Path,
        files: &NewCaFiles<'_>,
        store: Option<&StoreConfig>,
        rows: &[StoredCert],
    ) -> Result<CaDir, IssueError> {
        create_whole(dir, |s| {
            write_new(
                &s.join(ROOT_PEM),
                files.root_pem.as_bytes(),
                FileMode::Public,
            )?;
            write_new(
                &s.join(ROOT_KEY),
                files.root_key.as_bytes(),
                FileMode::Private,
            )?;
            write_new(&s.join(CA_PEM), files.ca_pem.as_bytes(), FileMode::Public)?;
            write_new(&s.join(CA_KEY), files.ca_key.as_bytes(), FileMode::Private)?;
            write_new(
                &s.join(CONFIG),
                files.config_yaml.as_bytes(),
                FileMode::Public,
            )?;
            let mut store = match store {
                None => IssuanceStore::create(&s.join(STORE_FILE))?,
                // The password file is read relative to the staging directory, a sibling of
                // the CA directory: the same file for paths that leave the directory (`..`).
                #[cfg(feature = "postgres")]
                Some(config) => IssuanceStore::create_postgres(&config.target(s)?)?,
                #[cfg(not(feature = "postgres"))]
                Some(config) => return Err(config.no_backend()),
            };
            store.write(|tx| rows.iter().try_for_each(|row| tx.insert(row).map(|_| ())))?;
            // Fold the WAL into the main file so the directory is self-contained.
            store.checkpoint()?;
            Ok(())
        })?;
        Ok(CaDir {
            path: dir.to_owned(),
        })
    }

    /// An existing CA directory, for issuing: a rotation a crash interrupted is finished
    /// (or discarded) first.
    pub(crate) fn open(dir: &Path) -> Result<CaDir, IssueError> {
        if !dir.is_dir() {
            return Err(IssueError::NotCaDir {
                dir: dir.to_owned(),
                missing: "the directory itself".into(),
            });
        }
        let ca_dir = CaDir {
            path: dir.to_owned(),
        };
        ca_dir.finish_rotation()?;
        Ok(ca_dir)
    }

    /// An existing CA directory, for its records only (no keys): it must hold `config.yaml`
    /// and `ca.pem`.
    pub(crate) fn open_records(dir: &Path) -> Result<CaDir, IssueError> {
        for name in [CONFIG, CA_PEM] {
            if !dir.join(name).is_file() {
                return Err(IssueError::NotCaDir {
                    dir: dir.to_owned(),
                    missing: if dir.is_dir() {
                        name.into()
                    } else {
                        "the directory itself".into()
                    },
                });
            }
        }
        Ok(CaDir {
            path: dir.to_owned(),
        })
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The text of the file `name`; a missing one means this is no (complete) CA directory.
    fn read_text(&self, name: &str) -> Result<String, IssueError> {
        let path = self.path.join(name);
        if !path.exists() {
            return Err(self.missing(name));
        }
        fs::read_to_string(&path).map_err(|e| io_err(&path, "cannot read", e))
    }

    fn missing(&self, name: &str) -> IssueError {
        IssueError::NotCaDir {
            dir: self.path.clone(),
            missing: name.into(),
        }
    }

    /// `config.yaml`, read and checked.
    pub(crate) fn config(&self) -> Result<CaConfig, IssueError> {
        let text = self.read_text(CONFIG)?;
        CaConfig::from_yaml(&text, &self.path.join(CONFIG).display().to_string())
    }

    /// The provider root certificate, PEM.
    pub(crate) fn root_pem(&self) -> Result<String, IssueError> {
        self.read_text(ROOT_PEM)
    }

    /// The current issuing CA certificate, PEM.
    pub(crate) fn ca_pem(&self) -> Result<String, IssueError> {
        self.read_text(CA_PEM)
    }

    /// The issuance store's file.
    pub(crate) fn store_path(&self) -> PathBuf {
        self.path.join(STORE_FILE)
    }

    /// Open the issuance store for issuing and revoking: `store.db`, or the PostgreSQL
    /// store the config names (as its instance, lease held; refused by a build without the
    /// backend, see [`CaConfig::refuse_shared_store`]).
    pub(crate) fn open_store(&self) -> Result<IssuanceStore, IssueError> {
        let config = self.config()?;
        config.refuse_shared_store()?;
        match &config.store {
            #[cfg(feature = "postgres")]
            Some(store) => Ok(IssuanceStore::open_postgres(&store.target(&self.path)?)?),
            _ => Ok(IssuanceStore::open(&self.store_path())?),
        }
    }

    /// Take the issuing lock (one issuing process at a time per CA directory).
    pub(crate) fn lock(&self) -> Result<IssueLock, IssueError> {
        Ok(IssueLock::acquire(&self.path)?)
    }

    /// Open the current issuing CA (`ca.pem`, `ca.key`) for signing; its PEM too.
    pub(crate) fn issuing_ca(
        &self,
        passphrase: Option<&Passphrase>,
    ) -> Result<(String, CaSigner), IssueError> {
        let pem = self.ca_pem()?;
        let key_path = self.path.join(CA_KEY);
        if !key_path.exists() {
            return Err(self.missing(CA_KEY));
        }
        let signer = signer(
            &self.path.join(CA_PEM),
            pem.as_bytes(),
            &key_path,
            passphrase,
        )?;
        Ok((pem, signer))
    }

    /// Serial of the current issuing CA (`ca.pem`); needs no key.
    pub(crate) fn current_ca_serial(&self) -> Result<Serial, IssueError> {
        let path = self.path.join(CA_PEM);
        let pem = self.ca_pem()?;
        CertificateDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|der| {
                X509Certificate::from_der(&der)
                    .map(|(_, c)| Serial::from_contents(c.raw_serial()))
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| IssueError::Io {
                path: path.display().to_string(),
                message: format!("not a readable certificate: {e}"),
            })
    }

    /// Open the provider root for signing (`ca rotate`, `crl --root`): its key (from
    /// `root_key`) must be present, decrypt under `passphrase`, match `root.pem`, and the
    /// root must be valid at `now`. `step` names the operation in the messages.
    pub(crate) fn root(
        &self,
        root_key: RootKey<'_>,
        passphrase: Option<&Passphrase>,
        step: &'static str,
        now: OffsetDateTime,
    ) -> Result<CaSigner, IssueError> {
        let root_pem = self.root_pem()?;
        let key_path = match root_key {
            RootKey::InCaDir => self.path.join(ROOT_KEY),
            RootKey::File(p) => p.to_owned(),
        };
        if !key_path.exists() {
            return Err(IssueError::RootKeyMissing {
                path: key_path,
                step,
                in_ca_dir: root_key == RootKey::InCaDir,
            });
        }
        let root = signer(
            &self.path.join(ROOT_PEM),
            root_pem.as_bytes(),
            &key_path,
            passphrase,
        )?;
        if now >= root.not_after {
            return Err(IssueError::IssuerNotValid {
                now,
                not_before: root.not_before,
                not_after: root.not_after,
            });
        }
        Ok(root)
    }

    /// The retired issuing CAs kept under `previous/`, opened for signing their CRLs, in
    /// the order of their file names.
    pub(crate) fn previous_issuers(
        &self,
        passphrase: Option<&Passphrase>,
    ) -> Result<Vec<CaSigner>, IssueError> {
        let Ok(entries) = fs::read_dir(self.path.join(PREVIOUS)) else {
            return Ok(Vec::new());
        };
        let mut names: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        names
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "pem"))
            .map(|pem_path| {
                let pem = fs::read(&pem_path).map_err(|e| io_err(&pem_path, "cannot read", e))?;
                signer(&pem_path, &pem, &pem_path.with_extension("key"), passphrase)
            })
            .collect()
    }

    /// Keep the current issuing CA (serial `serial`) under `previous/ca-<serial>.{pem,key}`
    /// before a rotation replaces it. Idempotent.
    pub(crate) fn retire_current(&self, serial: &Serial) -> Result<(), IssueError> {
        let previous = self.path.join(PREVIOUS);
        fs::create_dir_all(&previous).map_err(|e| io_err(&previous, "cannot create", e))?;
        for (src, dst, mode) in [
            (CA_PEM, format!("ca-{serial}.pem"), FileMode::Public),
            (CA_KEY, format!("ca-{serial}.key"), FileMode::Private),
        ] {
            let src = self.path.join(src);
            let data = fs::read(&src).map_err(|e| io_err(&src, "cannot read", e))?;
            let dst = previous.join(dst);
            match fs::read(&dst) {
                Ok(existing) if existing == data => {}
                _ => write_atomic(&dst, &data, mode, Overwrite::Allow)
                    .map_err(|e| io_err(&dst, "cannot write", e))?,
            }
        }
        Ok(())
    }

    /// Stage a new issuing CA as `ca.{key,pem}.next`; [`CaDir::finish_rotation`] swaps it
    /// in once the store records it.
    pub(crate) fn stage_next(&self, key_pem: &str, cert_pem: &str) -> Result<(), IssueError> {
        for (name, data, mode) in [
            (CA_KEY, key_pem, FileMode::Private),
            (CA_PEM, cert_pem, FileMode::Public),
        ] {
            let p = self.path.join(format!("{name}{NEXT_SUFFIX}"));
            write_atomic(&p, data.as_bytes(), mode, Overwrite::Allow)
                .map_err(|e| io_err(&p, "cannot write", e))?;
        }
        Ok(())
    }

    /// Complete (or discard) a rotation that staged `ca.{key,pem}.next`: complete it when
    /// the store already records the new CA, discard it otherwise.
    pub(crate) fn finish_rotation(&self) -> Result<(), IssueError> {
        let dir = &self.path;
        let next_pem = dir.join(format!("{CA_PEM}{NEXT_SUFFIX}"));
        let next_key = dir.join(format!("{CA_KEY}{NEXT_SUFFIX}"));
        if !next_pem.exists() && !next_key.exists() {
            return Ok(());
        }
        let recorded = match fs::read(&next_pem) {
            Ok(pem) => {
                let serial = CertificateDer::from_pem_slice(&pem).ok().and_then(|der| {
                    X509Certificate::from_der(&der)
                        .ok()
                        .map(|(_, c)| Serial::from_contents(c.raw_serial()))
                });
                match serial {
                    Some(s) => self.open_store()?.get(&s)?.is_some(),
                    None => false,
                }
            }
            // The pem was already renamed into place: the key must follow.
            Err(_) => true,
        };
        if recorded {
            for (next, target) in [(&next_key, dir.join(CA_KEY)), (&next_pem, dir.join(CA_PEM))] {
                if next.exists() {
                    fs::rename(next, &target)
                        .map_err(|e| io_err(&target, "cannot finish CA rotation", e))?;
                }
            }
            sync_parent(&dir.join(CA_PEM)).map_err(|e| io_err(dir, "cannot sync", e))?;
        } else {
            let _ = fs::remove_file(&next_pem);
            let _ = fs::remove_file(&next_key);
        }
        Ok(())
    }
}

/// Open the CA certificate `pem` (read from `cert_path`) for signing with the key in
/// `key_path`: the key must decrypt under `passphrase`, be the certificate's, and the
/// certificate must carry a subjectKeyIdentifier.
fn signer(
    cert_path: &Path,
    pem: &[u8],
    key_path: &Path,
    passphrase: Option<&Passphrase>,
) -> Result<CaSigner, IssueError> {
    let key = load_key(key_path, passphrase)?;
    let der = CertificateDer::from_pem_slice(pem).map_err(|e| IssueError::Io {
        path: cert_path.display().to_string(),
        message: format!("not a PEM certificate: {e}"),
    })?;
    let (_, cert) = X509Certificate::from_der(&der).map_err(|e| IssueError::Io {
        path: cert_path.display().to_string(),
        message: format!("not a valid certificate: {e}"),
    })?;
    if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err(IssueError::Io {
            path: key_path.display().to_string(),
            message: format!(
                "this key does not belong to {}: give the key that was written with it",
                cert_path.display()
            ),
        });
    }
    let ski = cert_ski(&cert).ok_or_else(|| IssueError::Io {
        path: cert_path.display().to_string(),
        message: "the certificate has no subjectKeyIdentifier: re-create the CA with `ca init`"
            .into(),
    })?;
    let (serial, not_before, not_after) = (
        Serial::from_contents(cert.raw_serial()),
        cert.validity().not_before.to_datetime(),
        cert.validity().not_after.to_datetime(),
    );
    let der = der.into_owned();
    let issuer = Issuer::from_ca_cert_der(&der, key).map_err(sign_err)?;
    Ok(CaSigner {
        der,
        serial,
        ski,
        not_before,
        not_after,
        issuer,
    })
}

/// A certificate's subjectKeyIdentifier.
fn cert_ski(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
}

/// Creates the directory `dir` whole or not at all: `fill` writes its contents into a staging
/// directory beside it (mode 0700), which is then renamed into place. An existing non-empty
/// directory is never touched. CA, log and witness directories are made this way.
pub(crate) fn create_whole(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), IssueError>,
) -> Result<(), IssueError> {
    if dir.exists() {
        let empty = dir.is_dir()
            && fs::read_dir(dir)
                .map_err(|e| io_err(dir, "cannot read", e))?
                .next()
                .is_none();
        if !empty {
            return Err(IssueError::DirExists {
                dir: dir.to_owned(),
            });
        }
    }
    let parent = parent_dir(dir);
    fs::create_dir_all(parent).map_err(|e| io_err(parent, "cannot create", e))?;
    let staging = tempfile::Builder::new()
        .prefix(".mimi-attest-init-")
        .tempdir_in(parent)
        .map_err(|e| io_err(parent, "cannot create a staging directory", e))?;
    fill(staging.path())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o700))
            .map_err(|e| io_err(staging.path(), "cannot set permissions", e))?;
    }
    let staged = staging.keep();
    if let Err(e) = fs::rename(&staged, dir) {
        let _ = fs::remove_dir_all(&staged);
        return Err(match e.kind() {
            std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::DirectoryNotEmpty => {
                IssueError::DirExists {
                    dir: dir.to_owned(),
                }
            }
            _ => io_err(dir, "cannot create the directory", e),
        });
    }
    sync_parent(dir).map_err(|e| io_err(dir, "cannot sync", e))
}

/// Writes a new file (never over an existing one) with its mode, whole.
pub(crate) fn write_new(path: &Path, data: &[u8], mode: FileMode) -> Result<(), IssueError> {
    write_atomic(path, data, mode, Overwrite::Refuse).map_err(|e| io_err(path, "cannot write", e))
}
