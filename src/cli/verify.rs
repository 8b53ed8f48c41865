//! `verify`: check mapping attestation chains against a trust list.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use mimi_attest::{
    chain_from_pem, crls_from_pem, Code, CrlNote, LogProofPolicy, RevocationPolicy, SignerSet, Sii,
    TrustList, TrustListSource, Verification, VerifiedMapping, Verifier, VerifyError,
    VerifyOptions,
};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{read_input, CliError, CliResult, Format, Verdict};

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    trust: TrustArgs,
    /// Verify as of this time (RFC 3339) instead of now, e.g. 2026-01-02T00:00:00Z.
    #[arg(long, value_parser = parse_time)]
    at: Option<OffsetDateTime>,
    /// A CRL file to check revocation with (repeatable): a PEM bundle of `X509 CRL` blocks, as
    /// written by `mimi-attest crl` (one CRL per still-valid issuing CA), or one DER CRL.
    /// Consulted when the trust list's policy says `revocation: leaf` or `chain`. CRLs that
    /// are ignored for a chain (signature not from the CA on the path, or not fresh) are named
    /// on stderr as `note:` lines and, with `--format json`, in each result's `crl_notes`
    /// array (`[{"crl": "FILE#N", "issuer", "message"}]`, present whenever --crl is given).
    /// Certificates of a chain file that are not on the verified path are ignored, named
    /// the same way and in `cert_notes` (`[{"index", "subject", "message"}]`, present when
    /// there is one).
    #[arg(long = "crl", value_name = "FILE")]
    crls: Vec<PathBuf>,
    /// Require every chain to attest this SII (any accepted spelling, e.g. "+1 555 123 4567").
    #[arg(long)]
    expect_sii: Option<String>,
    /// The chain's log proof (tlog-proof), for a single chain; without it each chain's proof
    /// is the file beside it named like it plus `.tlog-proof` (`alice.pem.tlog-proof`), if
    /// there is one. Checked as the trust list's policy `log_proof` says (ignored under
    /// `off`); a proof that cannot be read or parsed rejects its chain with
    /// E_LOG_PROOF_INVALID. A chain whose proof was checked has a `log` object in its JSON
    /// result (`{"log", "origin", "index", "tree_size", "witnesses"}`).
    #[arg(long, value_name = "FILE")]
    proof: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Chain files (PEM: leaf first, then the issuing CA).
    #[arg(required = true)]
    chains: Vec<PathBuf>,
}

/// The trust list `verify`, `resolve` and `lookup` verify against: plain, or signed.
#[derive(Args)]
pub struct TrustArgs {
    /// The relying platform's trust list: plain YAML (e.g. ca-config/trust-list.yaml), or a
    /// signed list (then give --signers).
    #[arg(long)]
    trust_list: PathBuf,
    /// The list is signed: accept it only with the threshold of signatures of this signer
    /// set (YAML `{threshold: N, keys: [<vkey>, ...]}`), or of the set a list accepted
    /// before named (kept in --state).
    #[arg(long, value_name = "FILE")]
    signers: Option<PathBuf>,
    /// The platform's state file for signed lists: refuses a list older than the last one
    /// accepted, and records a newer one (atomically).
    #[arg(long, value_name = "FILE", requires = "signers")]
    state: Option<PathBuf>,
}

impl TrustArgs {
    /// The list, accepted now by the rules of its form.
    fn load(&self) -> Result<TrustList, CliError> {
        load_trust_list(
            &self.trust_list,
            self.signers.as_deref(),
            self.state.as_deref(),
        )
    }
}

/// The trust list at `path`, accepted now: plain, or signed when a signers file is given
/// (with the rollback state in `state`, if given).
pub(super) fn load_trust_list(
    path: &Path,
    signers: Option<&Path>,
    state: Option<&Path>,
) -> Result<TrustList, CliError> {
    let source = match signers {
        Some(signers) => {
            let signers = SignerSet::from_file(signers).map_err(|e| CliError(e.to_string()))?;
            let source = TrustListSource::signed(path, signers);
            match state {
                Some(s) => source.with_state(s),
                None => source,
            }
        }
        None => TrustListSource::plain(path),
    };
    let accepted = source.load(OffsetDateTime::now_utc()).map_err(|e| {
        CliError(format!(
            "cannot use the trust list: {e} (see ca-config/trust-list.yaml for an example)"
        ))
    })?;
    Ok(accepted.into_list())
}

/// Chain files read and verified at once, per core: enough to keep every core busy, few
/// enough that memory does not grow with the number of files.
const WINDOW_PER_THREAD: usize = 256;

pub(super) fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
        format!("{s:?} is not an RFC 3339 time ({e}); write e.g. 2026-11-26T09:00:00Z")
    })
}

pub use super::rfc3339 as time_utc;

/// The JSON object of one verification result: the library's serialization of the mapping
/// or the error, after the file's name and whether it is valid.
pub fn result_json(file: &str, r: &Result<VerifiedMapping, VerifyError>) -> Value {
    #[derive(Serialize)]
    struct Entry<'a> {
        file: &'a str,
        valid: bool,
        #[serde(flatten)]
        result: Outcome<'a>,
    }
    #[derive(Serialize)]
    #[serde(untagged)]
    enum Outcome<'a> {
        Valid(&'a VerifiedMapping),
        Rejected(&'a VerifyError),
    }
    let entry = Entry {
        file,
        valid: r.is_ok(),
        result: match r {
            Ok(m) => Outcome::Valid(m),
            Err(e) => Outcome::Rejected(e),
        },
    };
    // Only maps with non-string keys fail to serialize; these have none.
    serde_json::to_value(&entry)
        .unwrap_or_else(|e| json!({"file": file, "valid": false, "error": e.to_string()}))
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
        ) + &m
            .log
            .as_ref()
            .map(|l| {
                format!(
                    "  logged in {} ({}) at index {} of {}{}\n",
                    l.log,
                    l.origin,
                    l.index,
                    l.tree_size,
                    if l.witnesses.is_empty() {
                        String::new()
                    } else {
                        format!(", cosigned by {}", l.witnesses.join(", "))
                    }
                )
            })
            .unwrap_or_default(),
        // An expired trust list is about no certificate of the chain.
        Err(e) if e.code() == Code::TrustListExpired => {
            format!("{file}: REJECTED {}\n  {}\n", e.code(), e.message())
        }
        Err(e) => format!(
            "{file}: REJECTED {} (certificate at depth {})\n  {}\n",
            e.code(),
            e.depth(),
            e.message()
        ),
    }
}

/// The verifier of a `--trust-list` with every `--crl` file given, and one label per CRL in
/// the order the verifier numbers them (`CrlNote::index`); `verify` and `resolve` share it.
pub(super) fn load_verifier(
    trust: &TrustArgs,
    crl_files: &[PathBuf],
) -> Result<(Verifier, Vec<String>), CliError> {
    let trust_list = trust.load()?;
    let revocation = trust_list.policy().revocation;
    let mut verifier = Verifier::new(trust_list);
    // One label per CRL, in the order the verifier numbers them (CrlNote::index).
    let mut crl_labels: Vec<String> = Vec::new();
    for path in crl_files {
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
    if !crl_files.is_empty() && revocation == RevocationPolicy::Off {
        eprintln!(
            "note: the trust list's policy has revocation: off, so the CRLs given are not consulted; set policy.revocation to leaf or chain"
        );
    }
    Ok((verifier, crl_labels))
}

/// The proof of the chain at `chain`: `--proof FILE` if given, else the `.tlog-proof` file
/// beside the chain if there is one. `Ok(None)` when there is none; `Err` with why a proof
/// that is there could not be read. `verify` and `resolve` both pick proofs up with it.
pub(super) fn read_proof(
    chain: &Path,
    explicit: Option<&PathBuf>,
) -> Result<Option<Vec<u8>>, String> {
    let path = match explicit {
        Some(p) => p.clone(),
        None if chain.as_os_str() == "-" => return Ok(None),
        None => {
            let mut name = chain.as_os_str().to_owned();
            name.push(".tlog-proof");
            let beside = PathBuf::from(name);
            if !beside.exists() {
                return Ok(None);
            }
            beside
        }
    };
    read_input(&path).map(Some).map_err(|e| e.0)
}

/// `options` with the proof [`read_proof`] found: its text, none, or why it could not be read
/// (which rejects the chain with E_LOG_PROOF_INVALID unless the policy ignores proofs).
pub(super) fn with_proof<'a>(
    options: &VerifyOptions<'a>,
    proof: &'a Result<Option<Vec<u8>>, String>,
) -> VerifyOptions<'a> {
    match proof {
        Ok(Some(text)) => options.clone().log_proof_text(text),
        Ok(None) => options.clone(),
        Err(why) => options.clone().log_proof_unreadable(why),
    }
}

pub fn verify(a: VerifyArgs) -> CliResult {
    if a.proof.is_some() && a.chains.len() != 1 {
        return Err(CliError(format!(
            "--proof is the proof of one chain, and {} chain files were given: give one chain with --proof, or put each chain's proof beside it as CHAIN.tlog-proof",
            a.chains.len()
        )));
    }
    let (verifier, crl_labels) = load_verifier(&a.trust, &a.crls)?;
    // Under `log_proof: off` proofs are ignored, so they are not read.
    let read_proofs = verifier.policy().log_proof != LogProofPolicy::Off;
    let expected = match &a.expect_sii {
        Some(s) => Some(Sii::parse(s).map_err(|e| CliError(format!("--expect-sii: {e}")))?),
        None => None,
    };
    let now = a.at.unwrap_or_else(OffsetDateTime::now_utc);
    let mut options = VerifyOptions::at(now);
    if let Some(sii) = &expected {
        options = options.expect_sii(sii);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let write_err = |e: std::io::Error| CliError(format!("cannot write the results: {e}"));
    let mut all_valid = true;
    // The messages of the files that could not be read, for the one `error:` line.
    let mut unreadable: Vec<String> = Vec::new();
    let label = |n: &CrlNote| {
        crl_labels
            .get(n.index)
            .cloned()
            .unwrap_or_else(|| format!("CRL {}", n.index))
    };
    // Chains are read and verified on all cores, a window at a time, so memory stays bounded
    // however many files are given; results are written in input order.
    let window = WINDOW_PER_THREAD * rayon::current_num_threads().max(1);
    let mut first = true;
    for paths in a.chains.chunks(window) {
        let results: Vec<Result<Result<Verification, VerifyError>, CliError>> = paths
            .par_iter()
            .map(|path| {
                let bytes = read_input(path)?;
                let proof = match read_proofs {
                    true => read_proof(path, a.proof.as_ref()),
                    false => Ok(None),
                };
                let options = with_proof(&options, &proof);
                // A file that is not a chain is rejected before any CRL or certificate is
                // looked at: no notes.
                Ok(chain_from_pem(&bytes).map(|chain| verifier.verify_with(&chain, &options)))
            })
            .collect();
        for (path, checked) in paths.iter().zip(results) {
            let name = path.display().to_string();
            // A file that cannot be read gets its own entry and the run goes on: every file
            // has a result, and the JSON array is always closed.
            let (result, crl_notes, cert_notes) = match checked {
                Ok(Ok(v)) => (v.result, v.crl_notes, v.cert_notes),
                Ok(Err(e)) => (Err(e), Vec::new(), Vec::new()),
                Err(e) => {
                    match a.format {
                        Format::Json => {
                            let v = json!({"file": name, "valid": false, "error": e.0});
                            write_json_item(&mut out, &v, first)?;
                        }
                        Format::Text => out
                            .write_all(format!("{name}: NOT READ\n  {e}\n").as_bytes())
                            .map_err(write_err)?,
                    }
                    first = false;
                    unreadable.push(e.0);
                    continue;
                }
            };
            let result = &result;
            all_valid &= result.is_ok();
            for n in &crl_notes {
                eprintln!(
                    "note: {name}: CRL {} from \"{}\" ignored: {}",
                    label(n),
                    n.issuer,
                    n.message
                );
            }
            for n in &cert_notes {
                eprintln!("note: {name}: {n}");
            }
            match a.format {
                Format::Json => {
                    let mut v = result_json(&name, result);
                    if !cert_notes.is_empty() {
                        v["cert_notes"] = Value::Array(
                            cert_notes
                                .iter()
                                .map(|n| serde_json::to_value(n).unwrap_or(Value::Null))
                                .collect(),
                        );
                    }
                    if !a.crls.is_empty() {
                        v["crl_notes"] = Value::Array(
                            crl_notes
                                .iter()
                                .map(|n| json!({"crl": label(n), "issuer": n.issuer, "message": n.message}))
                                .collect(),
                        );
                    }
                    write_json_item(&mut out, &v, first)?;
                }
                Format::Text => out
                    .write_all(result_text(&name, result).as_bytes())
                    .map_err(write_err)?,
            }
            first = false;
        }
    }
    if a.format == Format::Json {
        out.write_all(if first { b"[]\n" } else { b"\n]\n" })
            .map_err(write_err)?;
    }
    out.flush().map_err(write_err)?;
    // The worst outcome decides: a file not read (could not run, 2) over a rejected chain
    // (1) over all valid (0).
    if !unreadable.is_empty() {
        const SHOWN: usize = 3;
        let mut list = unreadable[..unreadable.len().min(SHOWN)].join("; ");
        if unreadable.len() > SHOWN {
            list.push_str(&format!("; and {} more", unreadable.len() - SHOWN));
        }
        return Err(CliError(format!(
            "{} of {} file(s) could not be read: {list}; every file has its result on stdout: check the paths and run again",
            unreadable.len(),
            a.chains.len()
        )));
    }
    Ok(if all_valid { Verdict::Yes } else { Verdict::No })
}

/// Write one element of the JSON result array: the same text as `to_string_pretty` of the
/// whole array, one element at a time (JSON strings hold no raw newlines).
fn write_json_item(out: &mut impl Write, v: &Value, first: bool) -> Result<(), CliError> {
    let write_err = |e: std::io::Error| CliError(format!("cannot write the results: {e}"));
    let item =
        serde_json::to_string_pretty(v).map_err(|e| CliError(format!("cannot write JSON: {e}")))?;
    out.write_all(if first { b"[\n" } else { b",\n" })
        .map_err(write_err)?;
    for (i, line) in item.lines().enumerate() {
        if i > 0 {
            out.write_all(b"\n").map_err(write_err)?;
        }
        write!(out, "  {line}").map_err(write_err)?;
    }
    Ok(())
}
