//! `serve.yaml`: what the exchange service listens on, its TLS identity, the trust list whose
//! anchors' client CAs authenticate platforms, the CA directory whose store is served, and
//! the limits. Unknown keys are errors at their line and column; relative paths are read
//! relative to the config file's directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::ServeError;
use crate::issue::Passphrase;
use crate::log::{KeyType, NoteVerifierKey};
use crate::profile::Span;

/// Largest `serve.yaml` read, in bytes: a config is a few hundred bytes.
const MAX_CONFIG_LEN: u64 = 64 * 1024;

/// The exchange service's configuration, paths resolved.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServeConfig {
    /// The address to listen on (`127.0.0.1:8443`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// The server's TLS certificate chain (PEM, leaf first).
    pub certificate: PathBuf,
    /// The server's TLS private key (PEM: PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
    /// The trust list whose anchors' `client_auth_pem` CAs authenticate clients.
    pub trust_list: PathBuf,
    /// The signer set of a signed trust list (YAML `{threshold, keys}`).
    pub signers: Option<PathBuf>,
    /// The rollback state file of a signed trust list.
    pub state: Option<PathBuf>,
    /// The CA directory whose issuance store is served (opened read-only).
    pub ca: PathBuf,
    /// The CA's transparency log directory: a found leaf that the store records as logged
    /// is answered with its tlog-proof against the log's current checkpoint.
    pub log: Option<PathBuf>,
    /// The witness served at `POST /witness/add-checkpoint`, when one is configured.
    pub witness: Option<WitnessConfig>,
    /// The passphrase of the log's keys, when they are encrypted (never in the file: the
    /// command takes it from --password-file or the environment).
    pub passphrase: Option<Passphrase>,
    /// Per-client quota.
    pub rate_limit: RateLimit,
    /// Most SIIs in one lookup.
    pub max_batch: usize,
    /// Connection limits.
    pub limits: Limits,
}

/// A witness directory (made by `witness init`) and the logs it cosigns for.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WitnessConfig {
    /// The witness directory.
    pub dir: PathBuf,
    /// The verifier keys (vkeys) of the logs it witnesses; a checkpoint of any other origin
    /// is answered 404.
    pub log_keys: Vec<NoteVerifierKey>,
}

/// A GCRA quota per client certificate key: each SII looked up costs one unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Units replenished per minute.
    pub per_client_per_minute: u32,
    /// Units a client may spend at once (at least `max_batch`).
    pub burst: u32,
}

/// Limits on connections, against slow and idle clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Time a client has to complete the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time a client has to send a request's headers (slowloris). On HTTP/1 the timer runs
    /// from the moment the connection waits for a request, so it also bounds how long a
    /// keep-alive connection idles between requests.
    pub header_timeout: Duration,
    /// A connection with no traffic for this long is closed (keep-alive idle; on HTTP/2 the
    /// server also pings at this interval).
    pub idle_timeout: Duration,
}

/// Defaults of the optional keys.
const DEFAULT_MAX_BATCH: usize = 100;
const DEFAULT_PER_MINUTE: u32 = 6000;
const DEFAULT_MAX_CONNECTIONS: usize = 1024;
const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeYaml {
    listen: String,
    tls: TlsYaml,
    trust_list: PathBuf,
    signers: Option<PathBuf>,
    state: Option<PathBuf>,
    ca: PathBuf,
    log: Option<PathBuf>,
    witness: Option<WitnessYaml>,
    rate_limit: Option<RateLimitYaml>,
    max_batch: Option<usize>,
    limits: Option<LimitsYaml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsYaml {
    certificate: PathBuf,
    key: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessYaml {
    dir: PathBuf,
    log_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitYaml {
    per_client_per_minute: u32,
    burst: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsYaml {
    max_connections: Option<usize>,
    handshake_timeout: Option<Span>,
    header_timeout: Option<Span>,
    idle_timeout: Option<Span>,
}

impl ServeConfig {
    /// Read `serve.yaml` at `path`.
    pub fn from_file(path: &Path) -> Result<ServeConfig, ServeError> {
        use std::io::Read;
        let cannot = |message: String| ServeError::Config {
            path: path.display().to_string(),
            line: None,
            column: None,
            message,
        };
        let file = std::fs::File::open(path).map_err(|e| cannot(format!("cannot read: {e}")))?;
        let mut text = String::new();
        file.take(MAX_CONFIG_LEN + 1)
            .read_to_string(&mut text)
            .map_err(|e| cannot(format!("cannot read as UTF-8 text: {e}")))?;
        if text.len() as u64 > MAX_CONFIG_LEN {
            return Err(cannot(format!(
                "larger than {} KiB: give the serve config itself",
                MAX_CONFIG_LEN >> 10
            )));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_yaml(&text, base, &path.display().to_string())
    }

    /// Parse a config's text; relative paths are taken relative to `base_dir`, and errors
    /// name `origin`.
    pub fn from_yaml(text: &str, base_dir: &Path, origin: &str) -> Result<ServeConfig, ServeError> {
        let invalid = |line, column, message: String| ServeError::Config {
            path: origin.to_owned(),
            line,
            column,
            message,
        };
        let y: ServeYaml = serde_yaml::from_str(text).map_err(|e| {
            let loc = e.location();
            invalid(
                loc.as_ref().map(|l| l.line()),
                loc.as_ref().map(|l| l.column()),
                e.to_string(),
            )
        })?;
        let listen: SocketAddr = y.listen.parse().map_err(|e| {
            invalid(
                None,
                None,
                format!(
                    "listen: {:?} is not an address and port ({e}); write e.g. 127.0.0.1:8443 or [::]:8443",
                    y.listen
                ),
            )
        })?;
        let max_batch = y.max_batch.unwrap_or(DEFAULT_MAX_BATCH);
        if max_batch == 0 {
            return Err(invalid(
                None,
                None,
                "max_batch: 0 would refuse every lookup; give at least 1 (default 100)".into(),
            ));
        }
        let rate_limit = match y.rate_limit {
            Some(r) => RateLimit {
                per_client_per_minute: r.per_client_per_minute,
                burst: r.burst.unwrap_or(max_batch as u32),
            },
            None => RateLimit {
                per_client_per_minute: DEFAULT_PER_MINUTE,
                burst: (max_batch as u32).max(DEFAULT_MAX_BATCH as u32),
            },
        };
        if rate_limit.per_client_per_minute == 0 {
            return Err(invalid(None, None, "rate_limit.per_client_per_minute: 0 would refuse every lookup; give the SIIs a client may look up per minute".into()));
        }
        if (rate_limit.burst as usize) < max_batch {
            return Err(invalid(
                None,
                None,
                format!(
                    "rate_limit.burst {} is below max_batch {max_batch}: a full batch could never pass; raise burst to at least max_batch, or lower max_batch",
                    rate_limit.burst
                ),
            ));
        }
        let l = y.limits.unwrap_or(LimitsYaml {
            max_connections: None,
            handshake_timeout: None,
            header_timeout: None,
            idle_timeout: None,
        });
        let secs = |s: Option<Span>,
                    default: Duration,
                    key: &str|
         -> Result<Duration, ServeError> {
            match s {
                None => Ok(default),
                Some(s) => {
                    let d = s.duration();
                    if d.is_zero() {
                        return Err(invalid(
                            None,
                            None,
                            format!("limits.{key}: 0s would close every connection; give e.g. 10s"),
                        ));
                    }
                    Ok(Duration::from_secs(d.whole_seconds() as u64))
                }
            }
        };
        let limits = Limits {
            max_connections: l.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
            handshake_timeout: secs(
                l.handshake_timeout,
                DEFAULT_HANDSHAKE_TIMEOUT,
                "handshake_timeout",
            )?,
            header_timeout: secs(l.header_timeout, DEFAULT_HEADER_TIMEOUT, "header_timeout")?,
            idle_timeout: secs(l.idle_timeout, DEFAULT_IDLE_TIMEOUT, "idle_timeout")?,
        };
        if limits.max_connections == 0 {
            return Err(invalid(
                None,
                None,
                "limits.max_connections: 0 would serve no one; give at least 1 (default 1024)"
                    .into(),
            ));
        }
        let path = |p: PathBuf| if p.is_absolute() { p } else { base_dir.join(p) };
        if y.state.is_some() && y.signers.is_none() {
            return Err(invalid(None, None, "state: only a signed trust list has a rollback state; give signers too, or remove state".into()));
        }
        let witness = match y.witness {
            Some(w) => {
                if w.log_keys.is_empty() {
                    return Err(invalid(None, None, "witness.log_keys is empty: the witness would refuse every log; list the verifier keys (vkeys) of the logs it cosigns for".into()));
                }
                let mut log_keys = Vec::new();
                for (i, k) in w.log_keys.iter().enumerate() {
                    let key = NoteVerifierKey::parse(k)
                        .ok()
                        .filter(|k| k.key_type() == KeyType::Ed25519)
                        .ok_or_else(|| {
                            invalid(None, None, format!("witness.log_keys[{i}] is not a log's verifier key (<origin>+<key id>+<base64>, type 0x01): copy it from `mimi-attest log show`"))
                        })?;
                    log_keys.push(key);
                }
                Some(WitnessConfig {
                    dir: path(w.dir),
                    log_keys,
                })
            }
            None => None,
        };
        Ok(ServeConfig {
            listen,
            witness,
            certificate: path(y.tls.certificate),
            key: path(y.tls.key),
            trust_list: path(y.trust_list),
            signers: y.signers.map(path),
            state: y.state.map(path),
            ca: path(y.ca),
            log: y.log.map(path),
            passphrase: None,
            rate_limit,
            max_batch,
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "listen: 127.0.0.1:0\ntls: {certificate: tls/server.pem, key: tls/server.key}\ntrust_list: trust.yaml\nca: ca\n";

    #[test]
    fn relative_paths_are_read_from_the_config_directory_and_defaults_apply() {
        let c = ServeConfig::from_yaml(MINIMAL, Path::new("/etc/mimi"), "serve.yaml").unwrap();
        assert_eq!(c.certificate, Path::new("/etc/mimi/tls/server.pem"));
        assert_eq!(c.ca, Path::new("/etc/mimi/ca"));
        assert_eq!(c.max_batch, 100);
        assert_eq!(c.rate_limit.burst, 100);
        assert_eq!(c.limits.header_timeout, Duration::from_secs(10));
    }

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../../ca-config/serve.yaml");
        let c = ServeConfig::from_yaml(text, Path::new("/x/ca-config"), "serve.yaml").unwrap();
        assert_eq!(c.listen.port(), 8443);
        assert_eq!(c.ca, Path::new("/x/ca-config/../ca-a"));
        assert_eq!(c.rate_limit.burst, 200);
        assert_eq!(c.limits.idle_timeout, Duration::from_secs(60));
    }

    #[test]
    fn an_unknown_key_is_refused_at_its_line_and_column() {
        let text = format!("{MINIMAL}rate_limit:\n  per_client_per_minut: 10\n");
        let e = ServeConfig::from_yaml(&text, Path::new("."), "serve.yaml").unwrap_err();
        let ServeError::Config {
            line,
            column,
            message,
            ..
        } = &e
        else {
            panic!("{e}")
        };
        assert_eq!((*line, *column), (Some(6), Some(3)), "{e}");
        assert!(message.contains("per_client_per_minut"), "{e}");
        assert!(e.to_string().contains("serve.yaml:6:3"), "{e}");
    }

    #[test]
    fn a_burst_below_the_batch_size_is_refused() {
        let text = format!("{MINIMAL}rate_limit: {{per_client_per_minute: 10, burst: 5}}\n");
        let e = ServeConfig::from_yaml(&text, Path::new("."), "serve.yaml").unwrap_err();
        assert!(e.to_string().contains("raise burst"), "{e}");
    }
}
