//! The exchange service: relying platforms look attestations up at the provider that serves
//! an SII, over HTTPS with mutual TLS ([`Server`], `mimi-attest serve`), and the client that
//! fetches and then verifies them ([`LookupClient`], `mimi-attest lookup`).
//!
//! Every client is a platform of the trust list: its TLS client certificate must chain to one
//! anchor's `client_auth_pem` CA, and that anchor is who asked. Nobody else gets an answer,
//! and each platform has its own quota (GCRA, one unit per SII), because scraping cannot be
//! prevented, only bounded.
//!
//! Layer: above `verify`, `store`, `issue` and `trust`; below `cli`. Feature `server`.

mod client;
mod config;
mod devcerts;
mod http;
mod metrics;
mod server;
mod tls;

pub use client::{ClientError, LookupAnswer, LookupClient, LookupItem};
pub use config::{Limits, RateLimit, ServeConfig, WitnessConfig};
pub use devcerts::{
    write_dev_certs, DevCerts, DevCertsError, DevCertsRequest, DevFile, DevPlatform,
    DEV_CERT_VALIDITY,
};
pub use server::{AccessLogLine, Server, ServerEvent, ServerHandle};

use crate::store::StoreError;
use crate::trust::TrustListError;

/// Largest lookup request body, in bytes: 100 SIIs are about 3 KiB; a larger body is
/// refused (413) before it is read, when its Content-Length says so, or as soon as it
/// passes this.
pub const MAX_BODY_LEN: usize = 64 * 1024;

/// Why the service could not start or reload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The config file is not a valid `serve.yaml`.
    #[error("{path}{}: {message}", location(*line, *column))]
    Config {
        /// The config file.
        path: String,
        /// The line of the problem, when known.
        line: Option<usize>,
        /// Its column.
        column: Option<usize>,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// The server's certificate or key cannot be used.
    #[error("TLS {what} {path}: {message}")]
    Tls {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The trust list cannot be used.
    #[error("cannot use the trust list: {0}")]
    TrustList(#[from] TrustListError),
    /// No anchor of the trust list has a `client_auth_pem`: no platform could connect.
    #[error("the trust list {path} gives no anchor a client_auth_pem (the CA of its platform's TLS client certificates), so no client could connect: add client_auth_pem to the anchors of the platforms that may look up (a version 2 list)")]
    NoClientCas {
        /// The trust-list file.
        path: String,
    },
    /// Two anchors name the same client CA (name and key): their platforms' clients could
    /// not be told apart.
    #[error("the trust list {path} names one client CA for two anchors, {first} and {second}: a client certificate it issued would authenticate either platform, so the list is not served; give each platform a client CA of its own (mimi-attest dev-certs makes one per platform)")]
    SharedClientCa {
        /// The trust-list file.
        path: String,
        /// The first anchor naming the CA.
        first: String,
        /// The second.
        second: String,
    },
    /// The transparency log cannot be opened.
    #[error("cannot hand out proofs from the log {dir}: {source}")]
    Log {
        /// The log directory.
        dir: String,
        /// Why.
        #[source]
        source: Box<crate::issue::IssueError>,
    },
    /// The witness directory cannot be used.
    #[error("cannot serve the witness {dir}: {source}")]
    Witness {
        /// The witness directory.
        dir: String,
        /// Why.
        #[source]
        source: Box<crate::issue::IssueError>,
    },
    /// The CA directory's store cannot be read.
    #[error("cannot serve the CA directory {dir}: {source}")]
    Store {
        /// The CA directory.
        dir: String,
        /// Why.
        #[source]
        source: Box<StoreError>,
    },
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {message}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
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
