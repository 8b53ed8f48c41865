//! `inspect`, `lint`, `store list`, `store export`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use mimi_attest::Sii;
use mimi_attest::{
    catalogue, export_pem, lint_objects, read_objects, store_records, Inspection, LintRun,
    LintedFile, RecordState, Severity, StoreQuery,
};
use serde::Serialize;

use super::ca::now;
use super::{read_input, CliError, CliResult, Format, Verdict};

#[derive(Args)]
pub struct InspectArgs {
    /// Output format (json is stable and documented in docs/auditor.md).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Certificates, chains, CSRs or CRLs, PEM or DER; `-` reads standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SeverityArg {
    Error,
    Warning,
    Notice,
}

impl From<SeverityArg> for Severity {
    fn from(s: SeverityArg) -> Self {
        match s {
            SeverityArg::Error => Severity::Error,
            SeverityArg::Warning => Severity::Warning,
            SeverityArg::Notice => Severity::Notice,
        }
    }
}

#[derive(Args)]
pub struct LintArgs {
    /// Output format (json is stable and documented in docs/auditor.md).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 1 when a finding at or above this severity remains (every finding is shown).
    #[arg(long, value_enum, default_value_t = SeverityArg::Error)]
    severity: SeverityArg,
    /// Print the lint catalogue (id, severity, applies to, message, citation) and exit.
    #[arg(long)]
    list: bool,
    /// Certificates, chains, CRLs or CSRs, PEM or DER; `-` reads standard input.
    #[arg(required_unless_present = "list")]
    files: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum StateArg {
    Valid,
    Revoked,
    Expired,
    NotYetValid,
    Reserved,
    Abandoned,
}

impl From<StateArg> for RecordState {
    fn from(s: StateArg) -> Self {
        match s {
            StateArg::Valid => RecordState::Valid,
            StateArg::Revoked => RecordState::Revoked,
            StateArg::Expired => RecordState::Expired,
            StateArg::NotYetValid => RecordState::NotYetValid,
            StateArg::Reserved => RecordState::Reserved,
            StateArg::Abandoned => RecordState::Abandoned,
        }
    }
}

#[derive(Args)]
pub struct StoreListArgs {
    /// CA directory made by `ca init` (only its store.db is read; no keys needed).
    #[arg(long)]
    ca: PathBuf,
    /// Only records for this SII (any accepted spelling, e.g. +1 555 123 4567).
    #[arg(long)]
    sii: Option<String>,
    /// Only records in this state now.
    #[arg(long, value_enum)]
    status: Option<StateArg>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Writes every certificate the store holds (issued or revoked; root and issuing CA
/// included), oldest first, as PEM. Each certificate is preceded by its store record as
/// `# key: value` comment lines (serial, kind, state, status, sii, handle, method,
/// validated_at, not_before, not_after, issuer_serial, request_id, csr_sha256,
/// sha256_fingerprint, created_at, revoked_at, revocation_reason; absent values omitted).
/// `inspect` and `lint` read the output as it is.
#[derive(Args)]
pub struct StoreExportArgs {
    /// CA directory made by `ca init` (only its store.db is read; no keys needed).
    #[arg(long)]
    ca: PathBuf,
}

fn out(text: &str) -> Result<(), CliError> {
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| CliError(format!("cannot write to stdout: {e}")))
}

fn json<T: Serialize>(v: &T) -> Result<(), CliError> {
    let mut s = serde_json::to_string_pretty(v)?;
    s.push('\n');
    out(&s)
}

fn load(path: &PathBuf) -> Result<Vec<mimi_attest::Object>, CliError> {
    let name = if path.as_os_str() == "-" {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    read_objects(&read_input(path)?).map_err(|e| CliError(format!("{name}: {e}")))
}

#[derive(Serialize)]
struct InspectFile {
    file: String,
    #[serde(flatten)]
    inspection: Inspection,
}

#[derive(Serialize)]
struct InspectOutput {
    files: Vec<InspectFile>,
}

pub fn inspect(a: InspectArgs) -> CliResult {
    let now = now();
    let mut files = Vec::new();
    for path in &a.files {
        let objects = load(path)?;
        let inspection = mimi_attest::inspect(&objects, now)
            .map_err(|e| CliError(format!("{}: {e}", path.display())))?;
        files.push(InspectFile {
            file: path.display().to_string(),
            inspection,
        });
    }
    match a.format {
        Format::Json => json(&InspectOutput { files })?,
        Format::Text => {
            let mut s = String::new();
            for f in &files {
                if files.len() > 1 {
                    s.push_str(&format!("== {} ==\n", f.file));
                }
                s.push_str(&f.inspection.render_text());
            }
            out(&s)?;
        }
    }
    Ok(Verdict::Yes)
}

fn list() -> CliResult {
    Ok(Verdict::Yes)
}

pub fn lint(a: LintArgs) -> CliResult {
    if a.list {
        match a.format {
            Format::Json => json(&catalogue())?,
            Format::Text => {
                let mut s = String::new();
                for l in catalogue() {
                    let to: Vec<&str> = l.applies_to.iter().map(|t| t.as_str()).collect();
                    s.push_str(&format!(
                        "{:<38} {:<8} {:<22} {}\n{:<70}[{}]\n",
                        l.id,
                        l.severity,
                        to.join(","),
                        l.message,
                        "",
                        l.citation
                    ));
                }
                out(&s)?;
            }
        }
        return list();
    }
    let threshold = Severity::from(a.severity);
    let mut files = Vec::new();
    for path in &a.files {
        let objects = load(path)?;
        files.push(LintedFile::new(
            path.display().to_string(),
            lint_objects(&objects),
        ));
    }
    let run = LintRun::new(threshold, files);
    match a.format {
        Format::Json => json(&run)?,
        Format::Text => {
            let mut s = String::new();
            for f in &run.files {
                for o in &f.report.objects {
                    let what = match o.role {
                        Some(r) => format!("{} {r}", o.kind.as_str()),
                        None => o.kind.as_str().to_owned(),
                    };
                    let serial = o
                        .serial
                        .as_ref()
                        .map(|s| format!(" serial {s}"))
                        .unwrap_or_default();
                    s.push_str(&format!("{} [{}] {what}{serial}\n", f.file, o.index));
                    if o.findings.is_empty() {
                        s.push_str("  clean\n");
                    }
                    for x in &o.findings {
                        s.push_str(&format!(
                            "  {:<7} {}: {}\n          {}  [{}]\n",
                            x.severity, x.id, x.message, x.detail, x.citation
                        ));
                    }
                }
            }
            s.push_str(&format!(
                "{} error(s), {} warning(s), {} notice(s); threshold {threshold}: {}\n",
                run.summary.error,
                run.summary.warning,
                run.summary.notice,
                if run.passed { "PASS" } else { "FAIL" }
            ));
            out(&s)?;
        }
    }
    Ok(if run.passed {
        Verdict::Yes
    } else {
        Verdict::No
    })
}

pub fn store_list(a: StoreListArgs) -> CliResult {
    let sii = a.sii.as_deref().map(Sii::parse).transpose()?;
    let mut query = StoreQuery::default();
    query.sii = sii;
    query.state = a.status.map(RecordState::from);
    let records = store_records(&a.ca, &query, now())?;
    note_outdated_schema(&a.ca)?;
    match a.format {
        Format::Json => json(&records)?,
        Format::Text => {
            let states: Vec<String> = records.iter().map(|r| r.state_text()).collect();
            let w = states.iter().map(String::len).max().unwrap_or(0).max(13);
            let mut s = format!(
                "{:<32}  {:<4}  {:<w$}  {:<20}  {}\n",
                "SERIAL", "KIND", "STATE", "NOT AFTER", "SII"
            );
            for (r, state) in records.iter().zip(&states) {
                s.push_str(&format!(
                    "{:<32}  {:<4}  {:<w$}  {:<20}  {}\n",
                    r.serial,
                    r.kind,
                    state,
                    r.not_after,
                    r.sii.as_deref().unwrap_or("-")
                ));
            }
            out(&s)?;
            eprintln!("{} record(s)", records.len());
        }
    }
    Ok(Verdict::Yes)
}

pub fn store_export(a: StoreExportArgs) -> CliResult {
    out(&export_pem(&a.ca, now())?)?;
    note_outdated_schema(&a.ca)?;
    Ok(Verdict::Yes)
}

/// Say on stderr when the store was read as an older schema (it was not changed).
fn note_outdated_schema(ca: &std::path::Path) -> Result<(), CliError> {
    let version = mimi_attest::store_schema_version(ca)?;
    if version < mimi_attest::STORE_SCHEMA_VERSION {
        eprintln!(
            "note: the store has schema version {version}, older than the version {} this build writes; it was read as it is and not changed. Before this CA issues, revokes or signs CRLs again, its operator upgrades it once with `mimi-attest store migrate --ca {}`",
            mimi_attest::STORE_SCHEMA_VERSION,
            ca.display()
        );
    }
    Ok(())
}
