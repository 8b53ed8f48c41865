//! Command-line interface. Data goes to stdout, diagnostics to stderr. Exit codes:
//! 0 = yes (valid, clean), 1 = no (rejected, lint error), 2 = could not run.

mod audit;
mod ca;
mod demo;
mod log;
mod resolve;
mod serve;
mod story;
mod trustlist;
mod verify;

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Mapping attestations for messaging interoperability: providers issue short-lived X.509
/// certificates binding phone numbers and email addresses to their service; relying
/// platforms verify them offline against a trust list; auditors inspect and lint them.
#[derive(Parser)]
#[command(name = "mimi-attest", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create and manage a provider CA.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Issue one mapping attestation (leaf + issuing CA chain, PEM).
    Issue(ca::IssueArgs),
    /// Issue many attestations from a JSON-lines file, idempotently.
    IssueBatch(ca::BatchArgs),
    /// Revoke an attestation (by serial) or every live attestation of an SII; with
    /// --issuing-ca, an issuing CA.
    Revoke(ca::RevokeArgs),
    /// Sign new CRLs for the issuing CA (and any still-valid one retired by `ca rotate`);
    /// with --root, the root CRL listing revoked issuing CAs.
    Crl(ca::CrlArgs),
    /// Re-issue an attestation (or every one due) with a new validity.
    Renew(ca::RenewArgs),
    /// Exit 0 if a certificate is due for renewal, 1 if not (for scripts).
    NeedsRenewal(ca::NeedsRenewalArgs),
    /// Verify mapping attestation chains against a relying platform's trust list.
    Verify(verify::VerifyArgs),
    /// Resolve one SII from several attestation chains: the valid ones ranked (preferred
    /// first, then newest validatedAt), those superseded by a new holder, the rejected ones
    /// and the conflicts. Exit 1 when no attestation for the SII is valid.
    Resolve(resolve::ResolveArgs),
    /// Run the whole story on the example configs: two providers, attestations, a trust
    /// list, verification, resolution and rejected forgeries.
    Demo(demo::DemoArgs),
    /// Show every field of certificates, chains, CSRs and CRLs (PEM or DER).
    Inspect(audit::InspectArgs),
    /// Check certificates, chains and CRLs against profile mapping-v1 and RFC 5280, and
    /// CSRs against what the issuer requires of them.
    /// Exit 1 when a finding at or above --severity remains.
    Lint(audit::LintArgs),
    /// Read a CA's issuance store (auditors: no keys needed), or upgrade its schema.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Run a transparency log (mapping-log-v1): create it, log chains, cosign, labels.
    #[command(subcommand)]
    Log(LogCommand),
    /// Run a witness of transparency logs: cosign checkpoints consistent with the last one.
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// Follow a transparency log as an auditor (see `monitor --help`).
    Monitor(log::MonitorArgs),
    /// Run the exchange service: attestations from a CA directory's store, over HTTPS with
    /// mutual TLS, to the platforms of a trust list, within per-platform quotas. SIGTERM or
    /// SIGINT drain and stop it (exit 0); SIGHUP reloads the trust list.
    Serve(serve::ServeArgs),
    /// Look SIIs up at a provider's exchange service and verify every chain returned (and
    /// its log proof) against the trust list, printed like `verify`. Exit 0 when all were
    /// found and valid, 1 when any was not found or rejected, 2 when the lookup failed.
    Lookup(serve::LookupArgs),
    /// Make throwaway TLS certificates for a test federation: a dev CA and a server
    /// certificate, and per platform a client CA and client certificate (keys 0600);
    /// optionally the server's trust list with those client CAs. Never for production.
    DevCerts(serve::DevCertsArgs),
    /// Publish and accept signed trust lists (version 2): signing keys, signatures,
    /// acceptance with rollback protection, and a lint for list operators.
    #[command(subcommand)]
    TrustList(TrustListCommand),
}

#[derive(Subcommand)]
enum TrustListCommand {
    /// Make a signer's key (0600, encrypted like CA keys); prints its verifier key (vkey).
    Keygen(trustlist::KeygenArgs),
    /// Add this signer's signature line to a list (a plain version 2 list, or one already
    /// signed by others).
    Sign(trustlist::SignArgs),
    /// Accept a signed list as a platform would: the signers' threshold, a sequence above
    /// the state file's, not expired, TUF's rule for a new signer set. Exit 0 accepted,
    /// 1 refused, 2 could not run.
    Verify(trustlist::TrustVerifyArgs),
    /// Lint a list as its operator writes it, each finding with its line. Exit 1 when a
    /// finding at or above --severity remains.
    Check(trustlist::CheckArgs),
}

#[derive(Subcommand)]
enum LogCommand {
    /// Create a log directory: keys (0600, encrypted like CA keys), log.yaml, an empty tree.
    /// Prints the checkpoint verifier key (vkey).
    Init(log::LogInitArgs),
    /// Log chains (leaf + issuing CA) in one batch and write <CHAIN>.tlog-proof beside each.
    /// Exit 1 when a chain was refused (not a mapping leaf and its issuer: nothing logged
    /// for it, no proof written) or a --witness refused; the others are logged.
    Add(log::LogAddArgs),
    /// Have witness directories cosign the log's current checkpoint (from the size each
    /// holds) and publish their cosignatures with it.
    Cosign(log::LogCosignArgs),
    /// Write the tlog-witness add-checkpoint request for the log's current checkpoint, for a
    /// witness that is not a local directory (its body: old size, consistency proof,
    /// checkpoint).
    WitnessRequest(log::LogWitnessRequestArgs),
    /// Attach a witness's answer (its cosignature lines) to the log's current checkpoint,
    /// each line checked first against the --witness-key given.
    AddCosignature(log::LogAddCosignatureArgs),
    /// Operator side: the label and VRF proof of an SII (for its authenticated owner only).
    Label(log::LogLabelArgs),
    /// The log's origin, size, root hash and keys, from its public files only.
    Show(log::LogShowArgs),
}

#[derive(Subcommand)]
enum WitnessCommand {
    /// Create a witness directory: its cosigning key (0600, encrypted) and empty state.
    /// Prints its cosignature verifier key (vkey).
    Init(log::WitnessInitArgs),
    /// The witness's name and cosignature verifier key.
    Show(log::WitnessShowArgs),
    /// Answer a tlog-witness add-checkpoint request: print the cosignature line, or exit 1
    /// with the refusal's status (409: and the size held).
    Cosign(log::WitnessCosignArgs),
}

#[derive(Subcommand)]
enum StoreCommand {
    /// List the store's records with their state now.
    List(audit::StoreListArgs),
    /// Write every issued certificate as PEM, each preceded by its record as `# key: value`
    /// comment lines.
    Export(audit::StoreExportArgs),
    /// Upgrade the store to this build's schema (the one explicit schema change; other
    /// commands refuse an older store and say to run this).
    Migrate(ca::StoreMigrateArgs),
}

#[derive(Subcommand)]
enum CaCommand {
    /// Create a new CA directory: provider root, issuing CA, keys and issuance store.
    Init(ca::InitArgs),
    /// Make a new issuing CA under the same root; the old one keeps serving its leaves.
    Rotate(ca::RotateArgs),
}

/// Output format for commands that report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// Stable JSON, documented in the README.
    Json,
}

/// The answer of a command that ran: yes (exit 0) or no (exit 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Valid, clean, done.
    Yes,
    /// A chain rejected, a lint error found.
    No,
}

/// A command that could not run (exit 2). The message says what was wrong and what to do.
#[derive(Debug)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError(e.to_string())
    }
}

/// Shorthand for command results.
pub type CliResult = Result<Verdict, CliError>;

/// Largest input file (or standard input) any command reads, in bytes. Chains, CSRs, keys
/// and configs are a few KiB; this bound keeps a hostile 50 MB file from being read at all.
pub const MAX_INPUT_LEN: u64 = 16 * 1024 * 1024;

/// Read a whole file, or stdin for `-`, with a message naming the file on failure; inputs
/// over [`MAX_INPUT_LEN`] are refused after reading at most one byte more than it.
pub fn read_input(path: &PathBuf) -> Result<Vec<u8>, CliError> {
    use std::io::Read;
    let (reader, name): (Box<dyn Read>, String) = if path.as_os_str() == "-" {
        (Box::new(std::io::stdin()), "standard input".into())
    } else {
        let f = std::fs::File::open(path)
            .map_err(|e| CliError(format!("cannot read {}: {e}", path.display())))?;
        if f.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(CliError(format!(
                "cannot read {}: it is a directory",
                path.display()
            )));
        }
        (Box::new(f), path.display().to_string())
    };
    let mut buf = Vec::new();
    reader
        .take(MAX_INPUT_LEN + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CliError(format!("cannot read {name}: {e}")))?;
    if buf.len() as u64 > MAX_INPUT_LEN {
        return Err(CliError(format!(
            "{name} is larger than {} MiB, more than any input this tool reads: give the certificate, chain, CSR or config itself",
            MAX_INPUT_LEN >> 20
        )));
    }
    Ok(buf)
}

/// A time as every output of the command writes it: RFC 3339, in UTC (as the library's JSON).
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// Run the command line; never panics on bad input, never prints a backtrace.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Ca(CaCommand::Init(a)) => ca::init(a),
        Command::Issue(a) => ca::issue(a),
        Command::IssueBatch(a) => ca::issue_batch(a),
        Command::Revoke(a) => ca::revoke(a),
        Command::Crl(a) => ca::crl(a),
        Command::Renew(a) => ca::renew(a),
        Command::NeedsRenewal(a) => ca::needs_renewal(a),
        Command::Ca(CaCommand::Rotate(a)) => ca::rotate(a),
        Command::Verify(a) => verify::verify(a),
        Command::Resolve(a) => resolve::resolve(a),
        Command::Demo(a) => demo::demo(a),
        Command::Inspect(a) => audit::inspect(a),
        Command::Lint(a) => audit::lint(a),
        Command::Store(StoreCommand::List(a)) => audit::store_list(a),
        Command::Store(StoreCommand::Export(a)) => audit::store_export(a),
        Command::Store(StoreCommand::Migrate(a)) => ca::store_migrate(a),
        Command::Log(LogCommand::Init(a)) => log::init(a),
        Command::Log(LogCommand::Add(a)) => log::add(a),
        Command::Log(LogCommand::Cosign(a)) => log::cosign(a),
        Command::Log(LogCommand::WitnessRequest(a)) => log::witness_request(a),
        Command::Log(LogCommand::AddCosignature(a)) => log::add_cosignature(a),
        Command::Log(LogCommand::Label(a)) => log::label(a),
        Command::Log(LogCommand::Show(a)) => log::show(a),
        Command::Witness(WitnessCommand::Init(a)) => log::witness_init(a),
        Command::Witness(WitnessCommand::Show(a)) => log::witness_show(a),
        Command::Witness(WitnessCommand::Cosign(a)) => log::witness_cosign(a),
        Command::Monitor(a) => log::monitor(a),
        Command::Serve(a) => serve::serve(a),
        Command::Lookup(a) => serve::lookup(a),
        Command::DevCerts(a) => serve::dev_certs(a),
        Command::TrustList(TrustListCommand::Keygen(a)) => trustlist::keygen(a),
        Command::TrustList(TrustListCommand::Sign(a)) => trustlist::sign(a),
        Command::TrustList(TrustListCommand::Verify(a)) => trustlist::verify(a),
        Command::TrustList(TrustListCommand::Check(a)) => trustlist::check(a),
    };
    match result {
        Ok(Verdict::Yes) => ExitCode::SUCCESS,
        Ok(Verdict::No) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
