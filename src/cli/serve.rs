//! `serve` and `lookup`: the exchange service and its client.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use mimi_attest::{
    write_dev_certs, ClientError, DevCertsRequest, LookupClient, Overwrite, Reload, ServeConfig,
    Server, ServerEvent, VerifyOptions,
};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::ca::KeyArgs;
use super::verify::{load_verifier, parse_time, result_json, result_text, TrustArgs};
use super::{CliError, CliResult, Format, Verdict};

#[derive(Args)]
pub struct ServeArgs {
    /// The service's config (YAML: listen, tls, trust_list, ca, rate_limit, max_batch,
    /// limits; see ca-config/serve.yaml).
    #[arg(long)]
    config: PathBuf,
    /// The passphrase of the log's and the witness's keys, when the config names a `log` or a
    /// `witness` whose keys are encrypted.
    #[command(flatten)]
    keys: KeyArgs,
}

#[derive(Args)]
pub struct LookupArgs {
    /// The exchange service, e.g. https://lookup.chat-b.example:8443.
    #[arg(long)]
    server: String,
    /// This platform's TLS client certificate (PEM), issued by the client CA the server's
    /// trust list names for it.
    #[arg(long, value_name = "PEM")]
    client_cert: PathBuf,
    /// Its private key (PEM, unencrypted).
    #[arg(long, value_name = "PEM")]
    client_key: PathBuf,
    /// The CA of the server's TLS certificate (PEM); without it, the system's roots.
    #[arg(long, value_name = "PEM")]
    server_ca: Option<PathBuf>,
    #[command(flatten)]
    trust: TrustArgs,
    /// Verify as of this time (RFC 3339) instead of now.
    #[arg(long, value_parser = parse_time)]
    at: Option<OffsetDateTime>,
    /// Output format. JSON: an array, one object per SII in order, `{"sii", "found",
    /// "valid", ...}` with the fields of `verify --format json` (less `file`) when found.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// The SIIs to look up (any accepted spelling; the server answers in canonical form).
    #[arg(required = true)]
    siis: Vec<String>,
}

#[derive(Args)]
pub struct DevCertsArgs {
    /// The directory to write (created if missing).
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// A name clients connect to (DNS name or IP address); repeat for more. The first is the
    /// certificate's common name.
    #[arg(long = "server-name", value_name = "NAME", required = true)]
    server_names: Vec<String>,
    /// A platform that looks up, named as its anchor in the trust list; repeat for more. Each
    /// gets its own client CA and a client certificate.
    #[arg(long = "platform", value_name = "NAME", required = true)]
    platforms: Vec<String>,
    /// A plain trust list to copy into DIR/trust-list.yaml as the server's list: version 2,
    /// roots inline, each platform's client CA as its anchor's client_auth_pem.
    #[arg(long, value_name = "LIST")]
    trust_list: Option<PathBuf>,
    /// Replace files that exist (otherwise nothing is written when any does).
    #[arg(long)]
    force: bool,
}

pub fn dev_certs(a: DevCertsArgs) -> CliResult {
    let mut req = DevCertsRequest::new(
        &a.dir,
        a.server_names,
        a.platforms,
        OffsetDateTime::now_utc(),
    );
    req.trust_list = a.trust_list;
    if a.force {
        req.overwrite = Overwrite::Allow;
    }
    let done = write_dev_certs(&req)?;
    let mut out = std::io::stdout().lock();
    let write_err = |e: std::io::Error| CliError(format!("cannot write the summary: {e}"));
    let d = |p: &std::path::Path| p.display().to_string();
    let mut text = String::from(
        "wrote throwaway TLS certificates for a test federation (ECDSA P-256, 90 days; keys 0600, unencrypted):\n",
    );
    for f in &done.files {
        text.push_str(&format!("  {:<40} {}\n", d(&f.path), f.what));
    }
    text.push_str("\nnext:\n");
    match &done.trust_list {
        Some(list) => text.push_str(&format!(
            "  in serve.yaml:  tls: {{certificate: {}, key: {}}}\n                  trust_list: {}\n",
            d(&done.server_cert),
            d(&done.server_key),
            d(list)
        )),
        None => text.push_str(&format!(
            "  in serve.yaml:  tls: {{certificate: {}, key: {}}}\n  in the server's trust list (version 2), each platform's anchor gets\n                  client_auth_pem: the text of <platform>-client-ca.pem (or run again with --trust-list LIST)\n",
            d(&done.server_cert),
            d(&done.server_key)
        )),
    }
    text.push_str("  mimi-attest serve --config serve.yaml\n");
    if let Some(p) = done.platforms.first() {
        text.push_str(&format!(
            "  mimi-attest lookup --server https://{}:8443 --client-cert {} --client-key {} --server-ca {} --trust-list TRUST_LIST SII...\n",
            req.server_names[0],
            d(&p.cert),
            d(&p.key),
            d(&done.ca)
        ));
    }
    out.write_all(text.as_bytes()).map_err(write_err)?;
    Ok(Verdict::Yes)
}

pub fn serve(a: ServeArgs) -> CliResult {
    let mut config = ServeConfig::from_file(&a.config)?;
    if config.log.is_some() || config.witness.is_some() {
        config.passphrase = a.keys.passphrase()?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError(format!("cannot start the I/O runtime: {e}")))?;
    runtime.block_on(async move {
        let server = Server::bind(config).await?.on_event(|e| match e {
            ServerEvent::Access(l) => {
                // One write a line: stderr is unbuffered, and `eprintln!` writes each piece.
                let line = format!(
                    "access anchor={} method={} path={} status={} siis={} latency_ms={:.3}\n",
                    l.anchor.unwrap_or("-"),
                    l.method,
                    l.path,
                    l.status,
                    l.siis,
                    l.latency.as_secs_f64() * 1e3
                );
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            ServerEvent::Reloaded { sequence } => eprintln!(
                "trust list reloaded (file changed){}",
                sequence
                    .map(|s| format!(": sequence {s}"))
                    .unwrap_or_default()
            ),
            ServerEvent::ReloadFailed { message } => {
                eprintln!("trust list not reloaded, the list in force stays: {message}")
            }
            _ => {}
        });
        let addr = server
            .local_addr()
            .map_err(|e| CliError(format!("cannot read the listening address: {e}")))?;
        let handle = server.handle();
        let signals = tokio::spawn(signals(handle));
        eprintln!("listening on {addr}");
        let result = server.run().await;
        signals.abort();
        result?;
        eprintln!("stopped: every connection finished");
        Ok::<_, CliError>(Verdict::Yes)
    })
}

/// SIGTERM and SIGINT shut the server down (draining); SIGHUP reloads the trust list.
async fn signals(handle: mimi_attest::ServerHandle) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        eprintln!("warning: cannot listen for signals; stop the server with SIGKILL");
        return;
    };
    let handle = Arc::new(handle);
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                let h = Arc::clone(&handle);
                match tokio::task::spawn_blocking(move || h.reload()).await {
                    Ok(Ok(Reload::Swapped { sequence })) => eprintln!(
                        "trust list reloaded (SIGHUP){}",
                        sequence.map(|s| format!(": sequence {s}")).unwrap_or_default()
                    ),
                    Ok(Ok(_)) => eprintln!("trust list unchanged (SIGHUP)"),
                    Ok(Err(e)) => eprintln!("trust list not reloaded, the list in force stays: {e}"),
                    Err(e) => eprintln!("trust list not reloaded: {e}"),
                }
            }
        }
    }
    eprintln!("shutting down: no new connections; finishing the requests in flight");
    handle.shutdown();
}

pub fn lookup(a: LookupArgs) -> CliResult {
    let (verifier, _) = load_verifier(&a.trust, &[])?;
    let client = LookupClient::new(
        &a.server,
        &a.client_cert,
        &a.client_key,
        a.server_ca.as_deref(),
    )
    .map_err(|e| CliError(e.to_string()))?;
    let answer = client.lookup_blocking(&a.siis).map_err(|e| match e {
        ClientError::Refused {
            retry_after: Some(s),
            ..
        } => CliError(format!("{e} (retry after {s} s)")),
        e => CliError(e.to_string()),
    })?;
    let options = VerifyOptions::at(a.at.unwrap_or_else(OffsetDateTime::now_utc));
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let write_err = |e: std::io::Error| CliError(format!("cannot write the results: {e}"));
    let mut all = true;
    let mut json_items: Vec<Value> = Vec::new();
    for item in &answer.results {
        let result = item
            .verify(&verifier, &options)
            .map(|v| v.and_then(|v| v.result));
        all &= matches!(result, Some(Ok(_)));
        match (a.format, &result) {
            (Format::Text, Some(r)) => out.write_all(result_text(&item.sii, r).as_bytes()),
            (Format::Text, None) => out.write_all(
                format!(
                    "{}: NOT FOUND\n  the server has no valid attestation for it\n",
                    item.sii
                )
                .as_bytes(),
            ),
            (Format::Json, Some(r)) => {
                let mut v = result_json(&item.sii, r);
                if let Value::Object(m) = &mut v {
                    m.remove("file");
                    let mut o = serde_json::Map::new();
                    o.insert("sii".into(), json!(item.sii));
                    o.insert("found".into(), json!(true));
                    o.extend(std::mem::take(m));
                    *m = o;
                }
                json_items.push(v);
                Ok(())
            }
            (Format::Json, None) => {
                json_items.push(json!({"sii": item.sii, "found": false, "valid": false}));
                Ok(())
            }
        }
        .map_err(write_err)?;
    }
    if a.format == Format::Json {
        let text = serde_json::to_string_pretty(&json_items)
            .map_err(|e| CliError(format!("cannot write JSON: {e}")))?;
        writeln!(out, "{text}").map_err(write_err)?;
    }
    out.flush().map_err(write_err)?;
    Ok(if all { Verdict::Yes } else { Verdict::No })
}
