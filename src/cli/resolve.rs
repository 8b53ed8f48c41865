//! `resolve`: rank every attestation given for one SII (one person on several providers),
//! with reassignment and conflicts, as `Verifier::resolve` does.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use mimi_attest::{
    chain_from_pem, Conflict, LogProofPolicy, Resolved, Sii, VerifiedMapping, VerifyError,
    VerifyOptions,
};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::verify::{
    load_verifier, parse_time, read_proof, result_json, result_text, time_utc, with_proof,
};
use super::{read_input, CliError, CliResult, Format, Verdict};

#[derive(Args)]
pub struct ResolveArgs {
    #[command(flatten)]
    trust: super::verify::TrustArgs,
    /// The SII to resolve (any accepted spelling) [default: the SII of the first chain that
    /// verifies]. Chains for another SII are listed as rejected (E_SII_MISMATCH).
    #[arg(long)]
    sii: Option<String>,
    /// A CRL file to check revocation with (repeatable), as for `verify`.
    #[arg(long = "crl", value_name = "FILE")]
    crls: Vec<PathBuf>,
    /// Resolve as of this time (RFC 3339) instead of now, e.g. 2026-01-02T00:00:00Z.
    #[arg(long, value_parser = parse_time)]
    at: Option<OffsetDateTime>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Chain files (PEM: leaf first, then the issuing CA), one attestation each. Each chain's
    /// log proof is the file beside it named like it plus `.tlog-proof`, if there is one,
    /// checked as the trust list's policy `log_proof` says, as for `verify`.
    #[arg(required = true)]
    chains: Vec<PathBuf>,
}

/// What is printed: a resolution, or, when no SII was given and no chain verifies, only the
/// rejections.
struct Report<'a> {
    sii: Option<&'a Sii>,
    mappings: &'a [Resolved],
    superseded: &'a [Resolved],
    rejected: Vec<(&'a str, &'a VerifyError)>,
    conflicts: &'a [Conflict],
    files: &'a [String],
}

impl Report<'_> {
    fn file(&self, index: usize) -> &str {
        self.files.get(index).map(String::as_str).unwrap_or("?")
    }

    /// A conflict in the words of the command line: chains named by their files.
    fn conflict_message(&self, c: &Conflict) -> String {
        match c {
            Conflict::Reassigned {
                index,
                provider,
                validated_at,
                superseded,
            } => format!(
                "reassigned: {provider} attests a new holder ({}, possession proven at {}); the earlier attestations are the previous holder's and are superseded: {}",
                self.file(*index),
                time_utc(*validated_at),
                superseded
                    .iter()
                    .map(|i| self.file(*i))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => other.to_string(),
        }
    }

    fn conflict_json(&self, c: &Conflict) -> Value {
        let message = self.conflict_message(c);
        match c {
            Conflict::Reassigned {
                index,
                provider,
                validated_at,
                superseded,
            } => json!({
                "kind": "reassigned",
                "file": self.file(*index),
                "provider": provider,
                "validated_at": time_utc(*validated_at),
                "superseded": superseded.iter().map(|i| self.file(*i)).collect::<Vec<_>>(),
                "message": message,
            }),
            // The library's form, with the message in the command line's words.
            other => {
                #[derive(serde::Serialize)]
                struct WithMessage<'a> {
                    #[serde(flatten)]
                    conflict: &'a Conflict,
                    message: String,
                }
                serde_json::to_value(WithMessage {
                    conflict: other,
                    message: message.clone(),
                })
                .unwrap_or_else(|_| json!({"kind": "other", "message": message}))
            }
        }
    }

    fn mapping_json(&self, r: &Resolved) -> Value {
        result_json(self.file(r.index), &Ok::<_, VerifyError>(r.mapping.clone()))
    }

    fn json(&self) -> Value {
        let mappings: Vec<Value> = self
            .mappings
            .iter()
            .enumerate()
            .map(|(rank, r)| {
                let mut v = self.mapping_json(r);
                v["rank"] = json!(rank + 1);
                v
            })
            .collect();
        json!({
            "sii": self.sii.map(Sii::canonical),
            "resolved": !self.mappings.is_empty(),
            "mappings": mappings,
            "superseded": self.superseded.iter().map(|r| self.mapping_json(r)).collect::<Vec<_>>(),
            "rejected": self
                .rejected
                .iter()
                .map(|(file, e)| result_json(file, &Err::<VerifiedMapping, _>((*e).clone())))
                .collect::<Vec<_>>(),
            "conflicts": self.conflicts.iter().map(|c| self.conflict_json(c)).collect::<Vec<_>>(),
        })
    }

    fn text(&self) -> String {
        let mut t = String::new();
        let name = self
            .sii
            .map(Sii::canonical)
            .unwrap_or_else(|| "(no SII: no chain verifies)".into());
        if self.mappings.is_empty() {
            t.push_str(&format!("{name}: no valid attestation\n"));
        } else {
            t.push_str(&format!(
                "{name}: resolved to {} attestation(s), best first\n",
                self.mappings.len()
            ));
        }
        let line = |r: &Resolved| {
            let m = &r.mapping;
            let mut flags = Vec::new();
            if m.flags.preferred {
                flags.push("preferred");
            }
            if m.flags.new_holder {
                flags.push("new holder");
            }
            format!(
                "{} as {} (anchor {}), proven by {} at {}{}  [{}]",
                m.provider,
                m.handle.as_deref().unwrap_or("(no handle)"),
                m.anchor,
                m.method,
                time_utc(m.validated_at),
                if flags.is_empty() {
                    String::new()
                } else {
                    format!("; {}", flags.join(", "))
                },
                self.file(r.index)
            )
        };
        for (rank, r) in self.mappings.iter().enumerate() {
            t.push_str(&format!("  {}. {}\n", rank + 1, line(r)));
        }
        if !self.superseded.is_empty() {
            t.push_str("superseded (the previous holder's, before a newHolder attestation):\n");
            for r in self.superseded {
                t.push_str(&format!("  - {}\n", line(r)));
            }
        }
        if !self.rejected.is_empty() {
            t.push_str("rejected:\n");
            for (file, e) in &self.rejected {
                for l in result_text(file, &Err((*e).clone())).lines() {
                    t.push_str(&format!("  {l}\n"));
                }
            }
        }
        for c in self.conflicts {
            t.push_str(&format!("conflict: {}\n", self.conflict_message(c)));
        }
        t
    }
}

pub fn resolve(a: ResolveArgs) -> CliResult {
    let (verifier, _) = load_verifier(&a.trust, &a.crls)?;
    let named = match &a.sii {
        Some(s) => Some(Sii::parse(s).map_err(|e| CliError(format!("--sii: {e}")))?),
        None => None,
    };
    let now = a.at.unwrap_or_else(OffsetDateTime::now_utc);
    let files: Vec<String> = a.chains.iter().map(|p| p.display().to_string()).collect();
    let pems = a
        .chains
        .iter()
        .map(read_input)
        .collect::<Result<Vec<_>, _>>()?;
    // Under `log_proof: off` proofs are ignored, so they are not read.
    let read_proofs = verifier.policy().log_proof != LogProofPolicy::Off;
    let proofs: Vec<_> = a
        .chains
        .iter()
        .map(|path| match read_proofs {
            true => read_proof(path, None),
            false => Ok(None),
        })
        .collect();
    let base = VerifyOptions::at(now);
    let options: Vec<_> = proofs.iter().map(|p| with_proof(&base, p)).collect();
    // A file that is not a chain is rejected as it stands; the others are resolved.
    let read: Vec<_> = pems.iter().map(|pem| chain_from_pem(pem)).collect();
    let (chains, chain_files): (Vec<_>, Vec<String>) = read
        .iter()
        .zip(&options)
        .zip(&files)
        .filter_map(|((r, o), f)| Some(((r.as_ref().ok()?.clone(), o.clone()), f.clone())))
        .unzip();
    // Without --sii, the first chain that verifies names the SII.
    let mut unverified = Vec::new();
    let sii = match named {
        Some(s) => Some(s),
        None => {
            let mut found = None;
            for (i, chain) in read.iter().enumerate() {
                let checked = chain
                    .clone()
                    .and_then(|c| verifier.verify_with(&c, &options[i]).result);
                match checked {
                    Ok(m) => {
                        eprintln!(
                            "note: resolving {}, the SII of {}; give --sii to resolve another",
                            m.sii, files[i]
                        );
                        found = Some(m.sii);
                        break;
                    }
                    Err(e) => unverified.push((i, e)),
                }
            }
            found
        }
    };
    let resolution = sii.as_ref().map(|s| verifier.resolve_with(s, &chains));
    let report = match &resolution {
        Some(r) => {
            // The resolution numbers the chains that were read; merge in the files that were
            // not, in input order.
            let at: Vec<usize> = (0..read.len()).filter(|&i| read[i].is_ok()).collect();
            let mut rejected: Vec<(usize, &VerifyError)> = read
                .iter()
                .enumerate()
                .filter_map(|(i, chain)| Some((i, chain.as_ref().err()?)))
                .chain(r.rejected.iter().map(|x| (at[x.index], &x.error)))
                .collect();
            rejected.sort_by_key(|&(i, _)| i);
            Report {
                sii: Some(&r.sii),
                mappings: &r.mappings,
                superseded: &r.superseded,
                rejected: rejected
                    .into_iter()
                    .map(|(i, e)| (files[i].as_str(), e))
                    .collect(),
                conflicts: &r.conflicts,
                files: &chain_files,
            }
        }
        None => Report {
            sii: None,
            mappings: &[],
            superseded: &[],
            rejected: unverified
                .iter()
                .map(|(i, e)| (files[*i].as_str(), e))
                .collect(),
            conflicts: &[],
            files: &files,
        },
    };
    let text = match a.format {
        Format::Json => {
            serde_json::to_string_pretty(&report.json())
                .map_err(|e| CliError(format!("cannot write JSON: {e}")))?
                + "\n"
        }
        Format::Text => report.text(),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError(format!("cannot write the results: {e}")))?;
    Ok(if report.mappings.is_empty() {
        Verdict::No
    } else {
        Verdict::Yes
    })
}
