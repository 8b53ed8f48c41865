//! `verify`: check mapping attestation chains against a trust list.

use std::path::PathBuf;

use clap::Args;
use mimi_attest::verify::{crls_from_pem, CrlNote, RevocationPolicy};
use mimi_attest::{Sii, TrustList, VerifiedMapping, Verifier, VerifyError};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{read_input, CliError, CliResult, Format, Verdict};

#[derive(Args)]
pub struct VerifyArgs {
    /// The relying platform's trust list (YAML), e.g. ca-config/trust-list.yaml.
    #[arg(long)]
    trust_list: PathBuf,
    /// Verify as of this time (RFC 3339) instead of now, e.g. 2026-01-02T00:00:00Z.
    #[arg(long, value_parser = parse_time)]
    at: Option<OffsetDateTime>,
    /// A CRL file to check revocation with (repeatable): a PEM bundle of `X509 CRL` blocks, as
    /// written by `mimi-attest crl` (one CRL per still-valid issuing CA), or one DER CRL.
    /// Consulted when the trust list's policy says `revocation: leaf` or `chain`. CRLs that
    /// are ignored for a chain (signature not from the CA on the path, or not fresh) are named
    /// on stderr as `note:` lines and, with `--format json`, in each result's `crl_notes`
    /// array (`[{"crl": "FILE#N", "issuer", "message"}]`, present whenever --crl is given).
    #[arg(long = "crl", value_name = "FILE")]
    crls: Vec<PathBuf>,
    /// Require every chain to attest this SII (any accepted spelling, e.g. "+1 555 123 4567").
    #[arg(long)]
    expect_sii: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Chain files (PEM: leaf first, then the issuing CA).
    #[arg(required = true)]
    chains: Vec<PathBuf>,
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
        format!("{s:?} is not an RFC 3339 time ({e}); write e.g. 2026-11-26T09:00:00Z")
    })
}

pub fn time_utc(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// The JSON object of one verification result.
pub fn result_json(file: &str, r: &Result<VerifiedMapping, VerifyError>) -> Value {
    match r {
        Ok(m) => json!({
            "file": file,
            "valid": true,
            "sii": m.sii.canonical(),
            "provider": m.provider,
            "handle": m.handle,
            "method": m.method.as_str(),
            "validated_at": time_utc(m.validated_at),
            "preferred": m.flags.preferred,
            "new_holder": m.flags.new_holder,
            "anchor": m.anchor,
            "not_before": time_utc(m.not_before),
            "not_after": time_utc(m.not_after),
            "chain_sha256": m.chain_sha256_hex(),
        }),
        Err(e) => json!({
            "file": file,
            "valid": false,
            "code": e.code().as_str(),
            "message": e.message(),
            "depth": e.depth(),
        }),
    }
}

/// The text lines of one verification result.
pub fn result_text(file: &str, r: &Result<VerifiedMapping, VerifyError>) -> String {
    match r {
        Ok(m) => format!(
            "{file}: valid\n  {} is served by {}{} (anchor {})\n  proven by {} at {}{}\n  valid {} to {}\n",
            m.sii,
            m.provider,
            m.handle
                .as_ref()
                .map(|h| format!(" as {h}"))
                .unwrap_or_default(),
            m.anchor,
            m.method,
            time_utc(m.validated_at),
            if m.flags.preferred { "; preferred" } else { "" },
            time_utc(m.not_before),
            time_utc(m.not_after),
        ),
        Err(e) => format!(
            "{file}: REJECTED {} (certificate at depth {})\n  {}\n",
            e.code(),
            e.depth(),
            e.message()
        ),
    }
}

pub fn verify(a: VerifyArgs) -> CliResult {
    let trust_list = TrustList::from_file(&a.trust_list).map_err(|e| {
        CliError(format!(
            "cannot use the trust list: {e} (see ca-config/trust-list.yaml for an example)"
        ))
    })?;
    let revocation = trust_list.policy().revocation;
    let mut verifier = Verifier::new(trust_list);
    // One label per CRL, in the order the verifier numbers them (CrlNote::index).
    let mut crl_labels: Vec<String> = Vec::new();
    for path in &a.crls {
        let bytes = read_input(path)?;
        let name = path.display().to_string();
        let cannot = |e: String| {
            CliError(format!(
                "cannot use the CRL file {name}: {e}\n  give a CRL written by `mimi-attest crl` (PEM \"X509 CRL\" blocks or one DER CRL)"
            ))
        };
        let crls = crls_from_pem(&bytes).map_err(|e| cannot(e.to_string()))?;
        let n = crls.len();
        verifier = verifier.with_crls(crls).map_err(|e| {
            cannot(format!(
                "CRL {} in the file: {}",
                e.index - crl_labels.len(),
                e.message
            ))
        })?;
        crl_labels.extend((0..n).map(|i| format!("{name}#{i}")));
    }
    if !a.crls.is_empty() && revocation == RevocationPolicy::Off {
        eprintln!(
            "note: the trust list's policy has revocation: off, so the CRLs given are not consulted; set policy.revocation to leaf or chain"
        );
    }
    let expected = match &a.expect_sii {
        Some(s) => Some(Sii::parse(s).map_err(|e| CliError(format!("--expect-sii: {e}")))?),
        None => None,
    };
    let now = a.at.unwrap_or_else(OffsetDateTime::now_utc);
    let mut all_valid = true;
    let mut json_out = Vec::new();
    for path in &a.chains {
        let bytes = read_input(path)?;
        let checked = verifier.verify_pem_with_notes(&bytes, now, expected.as_ref());
        let result = checked.result;
        all_valid &= result.is_ok();
        let name = path.display().to_string();
        let label = |n: &CrlNote| {
            crl_labels
                .get(n.index)
                .cloned()
                .unwrap_or_else(|| format!("CRL {}", n.index))
        };
        for n in &checked.crl_notes {
            eprintln!(
                "note: {name}: CRL {} from \"{}\" ignored: {}",
                label(n),
                n.issuer,
                n.message
            );
        }
        match a.format {
            Format::Json => {
                let mut v = result_json(&name, &result);
                if !a.crls.is_empty() {
                    v["crl_notes"] = Value::Array(
                        checked
                            .crl_notes
                            .iter()
                            .map(|n| json!({"crl": label(n), "issuer": n.issuer, "message": n.message}))
                            .collect(),
                    );
                }
                json_out.push(v)
            }
            Format::Text => print!("{}", result_text(&name, &result)),
        }
    }
    if a.format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&Value::Array(json_out))
                .map_err(|e| CliError(format!("cannot write JSON: {e}")))?
        );
    }
    Ok(if all_valid { Verdict::Yes } else { Verdict::No })
}
