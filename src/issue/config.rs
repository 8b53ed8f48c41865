//! The provider CA configuration (`ca-config/*.yaml`, copied into every CA directory as
//! `config.yaml`).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use time::Duration;

use super::{IssueError, NumberCheck};
use crate::profile::{self, ProviderDomain, Scope, Span};

/// Validity periods for the certificates a CA makes.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ValidityConfig {
    /// Provider root lifetime (default 10y).
    #[serde(default = "default_root")]
    pub root: Span,
    /// Issuing CA lifetime (default 1y).
    #[serde(default = "default_ca")]
    pub ca: Span,
    /// Leaf lifetime when a request names none (default 7d).
    #[serde(default = "default_leaf")]
    pub leaf_default: Span,
    /// The longest leaf this CA issues (default 90d).
    #[serde(default = "default_leaf_max")]
    pub leaf_max: Span,
    /// How long a proof of possession stays good (default 30d, the trust-list default): the
    /// CA never issues a leaf that would outlive `validatedAt` + this.
    #[serde(default = "default_max_validation_age")]
    pub max_validation_age: Span,
}

fn days(n: i64) -> Span {
    Span::new(Duration::days(n))
}
fn default_root() -> Span {
    days(3650)
}
fn default_ca() -> Span {
    days(365)
}
fn default_leaf() -> Span {
    profile::DEFAULT_LEAF_VALIDITY
}
fn default_leaf_max() -> Span {
    profile::MAX_LEAF_VALIDITY
}
fn default_max_validation_age() -> Span {
    profile::MAX_VALIDATION_AGE
}

impl Default for ValidityConfig {
    fn default() -> Self {
        ValidityConfig {
            root: default_root(),
            ca: default_ca(),
            leaf_default: default_leaf(),
            leaf_max: default_leaf_max(),
            max_validation_age: default_max_validation_age(),
        }
    }
}

/// Where and how often this CA publishes CRLs.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CrlConfig {
    /// The URL put in every leaf's cRLDistributionPoints.
    pub url: String,
    /// thisUpdate to nextUpdate (default 24h).
    #[serde(default = "default_crl_lifetime")]
    pub lifetime: Span,
}

fn default_crl_lifetime() -> Span {
    CrlConfig::default_lifetime()
}

impl CrlConfig {
    /// thisUpdate to nextUpdate when the config names none: 24h.
    pub fn default_lifetime() -> Span {
        Span::new(Duration::hours(24))
    }
}

/// The transparency log every leaf is written to before it is handed out.
///
/// ```yaml
/// log:
///   dir: ../chat-a-log          # a log directory made by `log init`
///   witnesses: [../witness-1]   # optional: witness directories asked to cosign each checkpoint
/// ```
///
/// Paths are relative to the CA directory (where the CA keeps this config as
/// `config.yaml`). The log's and the witnesses' keys are opened with the CA's passphrase
/// (`MIMI_ATTEST_PASSWORD`): make them with the same one.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LogConfig {
    /// The log directory.
    pub dir: PathBuf,
    /// Witness directories that cosign each new checkpoint, in order.
    #[serde(default)]
    pub witnesses: Vec<PathBuf>,
}

impl LogConfig {
    /// `path` as the CA directory `ca_dir` reads it: relative paths are joined to it.
    pub fn resolve(ca_dir: &Path, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            ca_dir.join(path)
        }
    }
}

/// An issuance store outside the CA directory, which several instances of one CA (on
/// several machines) share: PostgreSQL.
///
/// ```yaml
/// store:
///   url: postgres://mimi@db.internal/chat_a   # no password here
///   instance: 1                               # 1..127, unique per instance
///   password_file: ../secrets/store-password  # optional; else MIMI_ATTEST_STORE_PASSWORD
/// ```
///
/// Without `store:` the CA keeps its store in `store.db` in the CA directory (SQLite).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StoreConfig {
    /// The database, as a `postgres://` URL without a password.
    pub url: String,
    /// This instance's number (1..127): the first byte of every serial it issues.
    pub instance: u8,
    /// A file holding the database password (relative to the CA directory); without it the
    /// password comes from `MIMI_ATTEST_STORE_PASSWORD`, or the server needs none.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// The environment variable that holds the store's database password when the CA config
/// names no `store.password_file`.
pub const STORE_PASSWORD_ENV: &str = "MIMI_ATTEST_STORE_PASSWORD";

impl StoreConfig {
    /// Where the store is and who this process is in it, for the CA directory `ca_dir`
    /// (`password_file` is read relative to it; without one, [`STORE_PASSWORD_ENV`]).
    #[cfg(feature = "postgres")]
    pub(crate) fn target(&self, ca_dir: &Path) -> Result<crate::store::PgTarget, IssueError> {
        let password = match &self.password_file {
            Some(file) => {
                let path = LogConfig::resolve(ca_dir, file);
                let text = std::fs::read_to_string(&path).map_err(|e| IssueError::Io {
                    path: path.display().to_string(),
                    message: format!("cannot read the store password (store.password_file): {e}"),
                })?;
                let pw = text.trim_end_matches(['\n', '\r']);
                if pw.is_empty() {
                    return Err(IssueError::Io {
                        path: path.display().to_string(),
                        message: "the store password file (store.password_file) is empty: write the database password in it".into(),
                    });
                }
                Some(zeroize::Zeroizing::new(pw.to_owned()))
            }
            None => match std::env::var(STORE_PASSWORD_ENV) {
                Ok(pw) if !pw.is_empty() => Some(zeroize::Zeroizing::new(pw)),
                _ => None,
            },
        };
        Ok(crate::store::PgTarget {
            url: self.url.clone(),
            instance: self.instance,
            password,
        })
    }

    /// The refusal of a build without the PostgreSQL backend.
    #[cfg(not(feature = "postgres"))]
    pub(crate) fn no_backend(&self) -> IssueError {
        IssueError::Store(crate::store::StoreError::Failed {
            path: self.url.clone(),
            message: "the CA config names a PostgreSQL store (store:), and this build has no PostgreSQL backend: nothing was done; remove store: to keep the store in store.db, or use a build with that backend (feature postgres)".into(),
        })
    }

    /// Why `url` cannot be a store URL, if it cannot: not `postgres://`/`postgresql://`, or
    /// a password in it (a config file is no place for one).
    fn problem(&self) -> Option<String> {
        let url = &self.url;
        let Some(rest) = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
        else {
            return Some(format!(
                "store.url {url:?} must be a postgres:// URL (leave store: out to keep the store in store.db)"
            ));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let in_userinfo = authority
            .rsplit_once('@')
            .is_some_and(|(userinfo, _)| userinfo.contains(':'));
        let in_query = rest
            .split_once('?')
            .is_some_and(|(_, q)| q.split('&').any(|kv| kv.starts_with("password=")));
        if in_userinfo || in_query {
            return Some(
                "store.url holds a password: remove it from the URL and put it in the file named by store.password_file, or in MIMI_ATTEST_STORE_PASSWORD".into(),
            );
        }
        if !(1..=127).contains(&self.instance) {
            return Some(format!(
                "store.instance is {}: give each instance of this CA its own number from 1 to 127",
                self.instance
            ));
        }
        None
    }
}

/// A provider CA's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CaConfig {
    /// The provider's domain, lower-case; goes into every `MimiMapping`.
    pub provider: ProviderDomain,
    /// Subject O of the CA certificates.
    pub organization: String,
    /// What this CA may ever attest.
    pub scope: Scope,
    /// Validity periods.
    #[serde(default)]
    pub validity: ValidityConfig,
    /// CRL publication, if any.
    #[serde(default)]
    pub crl: Option<CrlConfig>,
    /// How strictly phone numbers are checked against the numbering plans before issuance
    /// (`possible`, the default, or `valid`).
    #[serde(default)]
    pub numbers: NumberCheck,
    /// The transparency log, if any: with one, `issue` and `issue-batch` hand out nothing
    /// that is not logged, under a checkpoint on disk, with its proof.
    #[serde(default)]
    pub log: Option<LogConfig>,
    /// Where the issuance store is, when not `store.db` in the CA directory.
    #[serde(default)]
    pub store: Option<StoreConfig>,
}

impl CaConfig {
    /// The trust-list (version 1) anchor entry a relying platform would write for this CA:
    /// `name`, this provider, the root certificate file `certificate`, and this CA's scope.
    /// A YAML list item, indented for the `anchors:` key.
    pub fn trust_list_anchor_yaml(&self, name: &str, certificate: &str) -> String {
        let list = |v: &[String]| {
            v.iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let s = self.scope.to_spec();
        format!(
            "  - name: {name}\n    provider: {}\n    certificate: {certificate}\n    scope:\n      tel: [{}]\n      email: [{}]\n",
            self.provider,
            list(&s.tel),
            list(&s.email)
        )
    }

    /// Parse and check a config from YAML text; `origin` names it in messages.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, IssueError> {
        let bad = |message: String| IssueError::Config {
            path: origin.to_owned(),
            message,
        };
        let config: CaConfig = serde_yaml::from_str(text).map_err(|e| bad(e.to_string()))?;
        // The provider was checked by `ProviderDomain::parse` as it was read.
        if config.organization.trim().is_empty() {
            return Err(bad("organization must not be empty".into()));
        }
        if config.scope.tel_prefixes().is_empty() && config.scope.email_domains().is_empty() {
            return Err(bad(
                "scope permits nothing: list phone prefixes under scope.tel and/or domains under scope.email".into(),
            ));
        }
        let v = &config.validity;
        let positive = |name: &str, s: Span| {
            if s.duration() <= Duration::ZERO {
                Err(bad(format!("validity.{name} must be longer than zero")))
            } else {
                Ok(())
            }
        };
        positive("root", v.root)?;
        positive("ca", v.ca)?;
        positive("leaf_default", v.leaf_default)?;
        positive("leaf_max", v.leaf_max)?;
        positive("max_validation_age", v.max_validation_age)?;
        if v.leaf_default > v.leaf_max {
            return Err(bad(format!(
                "validity.leaf_default ({}) is longer than validity.leaf_max ({})",
                v.leaf_default, v.leaf_max
            )));
        }
        if v.leaf_max > v.ca || v.ca > v.root {
            return Err(bad(format!(
                "validity must nest: leaf_max ({}) <= ca ({}) <= root ({})",
                v.leaf_max, v.ca, v.root
            )));
        }
        if let Some(crl) = &config.crl {
            if !(crl.url.starts_with("http://") || crl.url.starts_with("https://"))
                || crl.url.contains(char::is_whitespace)
            {
                return Err(bad(format!(
                    "crl.url {:?} must be an http:// or https:// URL",
                    crl.url
                )));
            }
            // Certificates carry it as an IA5String.
            if !crl.url.is_ascii() {
                return Err(bad(format!(
                    "crl.url {:?} must be ASCII: write the host in punycode (xn--...) and \
                     percent-encode other characters",
                    crl.url
                )));
            }
            positive("crl.lifetime", crl.lifetime)?;
        }
        if let Some(log) = &config.log {
            if log.dir.as_os_str().is_empty() {
                return Err(bad(
                    "log.dir is empty: name the log directory made by `log init`".into(),
                ));
            }
            if log.witnesses.iter().any(|w| w.as_os_str().is_empty()) {
                return Err(bad(
                    "log.witnesses lists an empty path: name each witness directory made by \
                     `witness init`"
                        .into(),
                ));
            }
        }
        if let Some(problem) = config.store.as_ref().and_then(StoreConfig::problem) {
            return Err(bad(problem));
        }
        Ok(config)
    }

    /// Refuse a `store:` that names a shared (PostgreSQL) store when this build has no
    /// backend for one: issuing into `store.db` instead would split the CA's records.
    pub fn refuse_shared_store(&self) -> Result<(), IssueError> {
        match &self.store {
            None => Ok(()),
            #[cfg(feature = "postgres")]
            Some(_) => Ok(()),
            #[cfg(not(feature = "postgres"))]
            Some(store) => Err(store.no_backend()),
        }
    }

    /// Read and check a config file.
    pub fn from_file(path: &Path) -> Result<Self, IssueError> {
        let text = std::fs::read_to_string(path).map_err(|e| IssueError::Io {
            path: path.display().to_string(),
            message: format!("cannot read the CA config: {e}"),
        })?;
        Self::from_yaml(&text, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str =
        "provider: chat-a.example\norganization: Chat A Inc.\nscope:\n  tel: [\"+1\"]\n";

    #[test]
    fn defaults() {
        let c = CaConfig::from_yaml(GOOD, "t").unwrap();
        assert_eq!(c.validity, ValidityConfig::default());
        assert!(c.crl.is_none());
        assert_eq!(c.numbers, NumberCheck::Possible);
        let valid = CaConfig::from_yaml(&format!("{GOOD}numbers: valid\n"), "t").unwrap();
        assert_eq!(valid.numbers, NumberCheck::Valid);
        assert!(c.log.is_none());
        let logged = CaConfig::from_yaml(
            &format!("{GOOD}log:\n  dir: ../log\n  witnesses: [../w1, /abs/w2]\n"),
            "t",
        )
        .unwrap()
        .log
        .unwrap();
        assert_eq!(logged.dir, Path::new("../log"));
        let ca = Path::new("/srv/ca");
        assert_eq!(
            LogConfig::resolve(ca, &logged.dir),
            Path::new("/srv/ca/../log")
        );
        assert_eq!(
            LogConfig::resolve(ca, &logged.witnesses[1]),
            Path::new("/abs/w2")
        );
        assert!(c.store.is_none());
        assert!(c.refuse_shared_store().is_ok());
        let shared = CaConfig::from_yaml(
            &format!("{GOOD}store:\n  url: postgres://mimi@db.internal/chat_a\n  instance: 127\n  password_file: ../pw\n"),
            "t",
        )
        .unwrap();
        #[cfg(not(feature = "postgres"))]
        {
            let refused = shared.refuse_shared_store().unwrap_err().to_string();
            assert!(
                refused.contains("no PostgreSQL backend") && refused.contains("db.internal"),
                "{refused}"
            );
        }
        #[cfg(feature = "postgres")]
        assert!(shared.refuse_shared_store().is_ok());
        let store = shared.store.unwrap();
        assert_eq!(store.url, "postgres://mimi@db.internal/chat_a");
        assert_eq!(store.instance, 127);
        assert_eq!(store.password_file.as_deref(), Some(Path::new("../pw")));
    }

    #[test]
    fn rejections_name_the_problem() {
        for (yaml, needle) in [
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\ncolour: red\n", "colour"),
            ("provider: Chat-A.example\norganization: X\nscope: {tel: [\"+1\"]}\n", "lower-case"),
            ("provider: chat_a.example\norganization: X\nscope: {tel: [\"+1\"]}\n", "provider \"chat_a.example\" is not a domain name"),
            ("provider: chat-a.example\norganization: X\nscope: {}\n", "permits nothing"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"1\"]}\n", "'+'"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\nvalidity: {leaf_default: 100d}\n", "leaf_max"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\nvalidity: {leaf_max: 2y}\n", "nest"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\nvalidity: {ca: soon}\n", "duration"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\ncrl: {url: \"ftp://x\"}\n", "http"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\ncrl: {url: \"http://crl.bücher.example/m.crl\"}\n", "punycode"),
            ("organization: X\nscope: {tel: [\"+1\"]}\n", "provider"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\nnumbers: strict\n", "possible"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\nlog: {dir: x, url: y}\n", "unknown field `url`"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\nlog: {witnesses: [w]}\n", "missing field `dir`"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\nlog: {dir: \"\"}\n", "log.dir is empty"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\nlog: {dir: l, witnesses: [\"\"]}\n", "empty path"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\nstore: {url: \"mysql://db/x\", instance: 1}\n", "must be a postgres:// URL"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\nstore: {url: \"postgres://mimi:hunter2@db/x\", instance: 1}\n", "holds a password"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\nstore: {url: \"postgresql://db/x?sslmode=require&password=x\", instance: 1}\n", "MIMI_ATTEST_STORE_PASSWORD"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\nstore: {url: \"postgres://db/x\", instance: 0}\n", "from 1 to 127"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\nstore: {url: \"postgres://db/x\", instance: 128}\n", "from 1 to 127"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\nstore: {url: \"postgres://db/x\"}\n", "missing field `instance`"),
            ("provider: chat-a.example\norganization: X\nscope: {tel: [\"+1\"]}\nstore: {url: \"postgres://db/x\", instance: 1, password: x}\n", "unknown field `password`"),
        ] {
            let e = CaConfig::from_yaml(yaml, "t.yaml").unwrap_err().to_string();
            assert!(e.contains(needle), "{yaml}: {e}");
            assert!(e.contains("t.yaml"), "{e}");
        }
    }
}
