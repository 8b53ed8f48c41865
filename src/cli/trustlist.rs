//! `trust-list keygen | sign | verify | check`: a federation's list publisher and the
//! platforms that accept its lists.

use std::path::PathBuf;

use clap::Args;
use mimi_attest::{
    check_trust_list, init_signing_key, open_signing_key, write_atomic, FileMode, Overwrite,
    Severity, SignedTrustList, SignerSet, TrustListError, TrustListSource,
};
use serde_json::json;
use time::OffsetDateTime;

use super::ca::{advise, KeyArgs};
use super::verify::parse_time;
use super::{read_input, rfc3339, CliError, CliResult, Format, Verdict};

#[derive(Args)]
pub struct KeygenArgs {
    /// The signer's key name, shown in signature lines (no spaces or `+`), e.g.
    /// fed-signer-1.
    #[arg(long)]
    name: String,
    /// The key file to write (mode 0600; never over an existing file).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    key: KeyArgs,
    /// Write the key unencrypted (protected by its 0600 mode alone).
    #[arg(long, conflicts_with = "password_file")]
    insecure_no_password: bool,
}

#[derive(Args)]
pub struct SignArgs {
    /// The signer's key file (from `trust-list keygen`).
    #[arg(long)]
    key: PathBuf,
    #[command(flatten)]
    passphrase: KeyArgs,
    /// Where to write the signed list (may be the input itself).
    #[arg(long)]
    out: PathBuf,
    /// A plain version 2 list (YAML, certificates inline) or a list already signed by other
    /// signers.
    input: PathBuf,
}

#[derive(Args)]
pub struct TrustVerifyArgs {
    /// The signer set the platform trusts before any list: YAML `{threshold: N, keys:
    /// [<vkey>, ...]}`.
    #[arg(long)]
    signers: PathBuf,
    /// The platform's state file: the last list accepted (refuses older ones) and the signer
    /// set after a rotation; written atomically when a newer list is accepted.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Check expiry as of this time (RFC 3339) instead of now.
    #[arg(long, value_parser = parse_time)]
    at: Option<OffsetDateTime>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// The signed list.
    list: PathBuf,
}

#[derive(Args)]
pub struct CheckArgs {
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Exit 1 when a finding at or above this severity remains (every finding is shown).
    #[arg(long, value_enum, default_value_t = CheckSeverity::Warning)]
    severity: CheckSeverity,
    /// Report expiry (of the list and of its roots) as of this time instead of now.
    #[arg(long, value_parser = parse_time)]
    at: Option<OffsetDateTime>,
    /// The list as its operator writes it: plain YAML or signed.
    list: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum CheckSeverity {
    Error,
    Warning,
    Notice,
}

pub fn keygen(a: KeygenArgs) -> CliResult {
    let protection = a
        .key
        .protection(a.insecure_no_password, "trust-list signing keys")?;
    let encrypted = protection.passphrase().is_some();
    let vkey = init_signing_key(&a.out, &a.name, &protection).map_err(advise)?;
    eprintln!(
        "wrote the signing key of {} to {} (mode 0600{}); list its verifier key below under `signers` and in the platforms' signers files",
        a.name,
        a.out.display(),
        if encrypted { ", encrypted" } else { ", NOT encrypted" }
    );
    println!("{vkey}");
    Ok(Verdict::Yes)
}

pub fn sign(a: SignArgs) -> CliResult {
    let key = open_signing_key(&a.key, a.passphrase.passphrase()?.as_ref()).map_err(advise)?;
    let bytes = read_input(&a.input)?;
    let origin = a.input.display().to_string();
    let unacceptable = |e: TrustListError| {
        CliError(format!(
            "{e}\n  a list is signed only when platforms could accept it: fix it (see `mimi-attest trust-list check`)"
        ))
    };
    let mut list = if SignedTrustList::is_signed(&bytes) {
        // Each signer checks the text it signs, not only the first.
        let signed = SignedTrustList::parse(&bytes, &origin)?;
        SignedTrustList::from_list_text(signed.text(), &origin).map_err(unacceptable)?;
        signed
    } else {
        let text = String::from_utf8(bytes)
            .map_err(|_| CliError(format!("{origin} is not UTF-8 text")))?;
        SignedTrustList::from_list_text(&text, &origin).map_err(unacceptable)?
    };
    list.sign(&key)?;
    write_atomic(&a.out, &list.to_bytes(), FileMode::Public, Overwrite::Allow)
        .map_err(|e| CliError(format!("cannot write {}: {e}", a.out.display())))?;
    let names = list.signature_names();
    eprintln!(
        "signed by {}: {} now carries {} signature line(s) ({})",
        key.verifier_key().name(),
        a.out.display(),
        names.len(),
        names.join(", ")
    );
    Ok(Verdict::Yes)
}

pub fn verify(a: TrustVerifyArgs) -> CliResult {
    let signers = SignerSet::from_file(&a.signers).map_err(|e| CliError(e.to_string()))?;
    let mut source = TrustListSource::signed(&a.list, signers);
    if let Some(s) = &a.state {
        source = source.with_state(s);
    }
    let now = a.at.unwrap_or_else(OffsetDateTime::now_utc);
    match source.load(now) {
        Ok(acc) => {
            let list = acc.list();
            let next = acc.next_signers();
            match a.format {
                Format::Json => println!(
                    "{}",
                    json!({
                        "accepted": true,
                        "unchanged": acc.is_unchanged(),
                        "sequence": list.sequence(),
                        "issued": list.issued().map(rfc3339),
                        "expires": list.expires().map(rfc3339),
                        "sha256": mimi_attest::hex(&acc.sha256()),
                        "signed_by": acc.signed_by(),
                        "rotated": acc.rotated(),
                        "next_signers": next.map(|s| json!({
                            "threshold": s.threshold(),
                            "keys": s.keys().iter().map(|k| k.to_string()).collect::<Vec<_>>(),
                        })),
                        "anchors": list.anchors().len(),
                    })
                ),
                Format::Text => {
                    let seq = list.sequence().unwrap_or(0);
                    if acc.is_unchanged() {
                        println!("unchanged: sequence {seq} is the list accepted before");
                    } else {
                        println!(
                            "accepted: sequence {seq}, {} anchor(s), signed by {}, expires {}",
                            list.anchors().len(),
                            acc.signed_by().join(", "),
                            list.expires().map(rfc3339).unwrap_or_default()
                        );
                    }
                    if acc.rotated() {
                        if let Some(n) = next {
                            println!("rotated: the next list must be signed by {n}");
                        }
                    }
                }
            }
            Ok(Verdict::Yes)
        }
        Err(e) => {
            let refused = matches!(
                e,
                TrustListError::Refused { .. } | TrustListError::Invalid { .. }
            );
            if !refused {
                return Err(CliError(e.to_string()));
            }
            let code = match &e {
                TrustListError::Refused { code, .. } => code.as_str(),
                _ => "E_TRUST_LIST_INVALID",
            };
            match a.format {
                Format::Json => println!(
                    "{}",
                    json!({"accepted": false, "code": code, "error": e.to_string()})
                ),
                Format::Text => println!("refused: {e}"),
            }
            if a.state.is_some() {
                eprintln!(
                    "the list was not accepted; the state file still holds the one accepted before"
                );
            }
            Ok(Verdict::No)
        }
    }
}

pub fn check(a: CheckArgs) -> CliResult {
    let now = a.at.unwrap_or_else(OffsetDateTime::now_utc);
    let findings = check_trust_list(&a.list, now).map_err(|e| CliError(e.to_string()))?;
    let threshold = match a.severity {
        CheckSeverity::Error => Severity::Error,
        CheckSeverity::Warning => Severity::Warning,
        CheckSeverity::Notice => Severity::Notice,
    };
    let file = a.list.display().to_string();
    match a.format {
        Format::Json => println!("{}", json!({ "file": file, "findings": findings })),
        Format::Text => {
            for f in &findings {
                let at = f.line.map(|l| format!(":{l}")).unwrap_or_default();
                println!(
                    "{file}{at}: {} {}: {}",
                    f.severity.as_str(),
                    f.id,
                    f.message
                );
            }
            if findings.is_empty() {
                println!("{file}: clean");
            }
        }
    }
    Ok(if findings.iter().any(|f| f.severity >= threshold) {
        Verdict::No
    } else {
        Verdict::Yes
    })
}
