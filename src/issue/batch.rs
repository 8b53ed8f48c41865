//! `issue-batch`: one JSON request a line in, one JSON result a line out, in input order.
//!
//! Input fields: `id` (idempotency key, required), `sii`, and optionally `handle`, `method`,
//! `validated_at` (RFC 3339), `validity` (e.g. `7d`), `preferred`, `new_holder`, and `csr`
//! (PEM) or `public_key` (PEM). Output: `{"line","id","serial","sii","not_after","chain_pem"}`
//! (plus `private_key_pem` when the CA generated the key, and `replayed: true` when the id
//! was issued before) or `{"line","id","error"}`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufRead, Read, Write};

use serde::Deserialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::ca::rfc3339;
use super::{IssueError, IssueRequest, Issued, ProviderCa, SubjectKey};
use crate::profile::{MappingFlags, Method, Span};
use crate::sii::Sii;

/// Longest request line read, in bytes (a request with a PEM CSR is about 1 KiB).
pub const MAX_LINE_LEN: u64 = 64 * 1024;

/// What a batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchSummary {
    /// Requests read (non-empty lines).
    pub requests: u64,
    /// Newly issued certificates.
    pub issued: u64,
    /// Requests answered from the store (their id was issued before).
    pub replayed: u64,
    /// Requests that failed (reported in the output).
    pub failed: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: Option<String>,
    sii: Option<String>,
    handle: Option<String>,
    method: Option<String>,
    validated_at: Option<String>,
    validity: Option<String>,
    preferred: Option<bool>,
    new_holder: Option<bool>,
    csr: Option<String>,
    public_key: Option<String>,
}

fn parse_line(text: &str) -> (Option<String>, Result<IssueRequest, IssueError>) {
    let line: Line = match serde_json::from_str(text) {
        Ok(l) => l,
        Err(e) => {
            return (
                None,
                Err(IssueError::Request(format!(
                    "not a valid request object: {e}"
                ))),
            )
        }
    };
    let id = line.id.clone();
    (id, to_request(line))
}

fn to_request(line: Line) -> Result<IssueRequest, IssueError> {
    let id = line.id.ok_or_else(|| {
        IssueError::Request("missing \"id\": every batch request needs an idempotency key".into())
    })?;
    let sii = line.sii.ok_or_else(|| {
        IssueError::Request(
            "missing \"sii\": name the phone number or email address to attest".into(),
        )
    })?;
    let sii = Sii::parse(&sii)?;
    let method = line
        .method
        .as_deref()
        .map(str::parse::<Method>)
        .transpose()?;
    let validated_at = line
        .validated_at
        .as_deref()
        .map(|t| {
            OffsetDateTime::parse(t, &Rfc3339).map_err(|e| {
                IssueError::Request(format!(
                    "validated_at {t:?} is not an RFC 3339 time ({e}): write e.g. 2026-11-26T09:00:00Z"
                ))
            })
        })
        .transpose()?;
    let validity = line
        .validity
        .as_deref()
        .map(str::parse::<Span>)
        .transpose()?;
    let key = match (line.csr, line.public_key) {
        (Some(_), Some(_)) => {
            return Err(IssueError::Request(
                "give either \"csr\" or \"public_key\", not both".into(),
            ))
        }
        (Some(csr), None) => SubjectKey::csr_from_bytes(csr.as_bytes())?,
        (None, Some(pk)) => SubjectKey::public_key_from_bytes(pk.as_bytes())?,
        (None, None) => SubjectKey::Generate,
    };
    Ok(IssueRequest {
        sii,
        handle: line.handle,
        method,
        validated_at,
        validity,
        flags: MappingFlags {
            preferred: line.preferred.unwrap_or(false),
            new_holder: line.new_holder.unwrap_or(false),
        },
        key,
        request_id: Some(id),
    })
}

/// One result line of the output.
fn result_value(
    line: u64,
    id: Option<String>,
    result: Result<Issued, IssueError>,
) -> serde_json::Value {
    match result {
        Ok(i) => {
            let mut v = json!({
                "line": line,
                "id": id,
                "serial": i.serial,
                "sii": i.sii.canonical(),
                "not_after": rfc3339(i.not_after),
                "chain_pem": i.chain_pem,
            });
            if let Some(k) = i.private_key_pem {
                v["private_key_pem"] = k.into();
            }
            if i.replayed {
                v["replayed"] = true.into();
            }
            v
        }
        Err(e) => json!({ "line": line, "id": id, "error": e.to_string() }),
    }
}

/// Run a batch: read requests from `input`, issue them (the pipeline of
/// [`ProviderCa::issue_many`], fed one sub-batch of lines at a time: parsing, preparing and
/// signing on all cores, store commits overlapping the signing; at most three sub-batches
/// in memory), and write one result line per request to `output`, in input order. A bad request is reported on its line and does not stop the batch; a store
/// or I/O failure does. `clock` gives "now" for each sub-batch; `progress` is told the last
/// input line whose result is written.
pub fn run_batch(
    ca: &mut ProviderCa,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
    clock: &dyn Fn() -> OffsetDateTime,
    progress: &mut dyn FnMut(u64),
) -> Result<BatchSummary, IssueError> {
    let io_err = |what: &str, e: std::io::Error| IssueError::Io {
        path: what.to_owned(),
        message: e.to_string(),
    };
    // Line number and id of every request handed to the pipeline and not answered yet.
    let pending: RefCell<VecDeque<(u64, Option<String>)>> = RefCell::new(VecDeque::new());
    let mut line_no: u64 = 0;
    let mut at_end = false;
    let mut source = |n: usize| -> Result<Vec<Result<IssueRequest, IssueError>>, IssueError> {
        // Read up to n non-empty lines.
        let mut lines: Vec<(u64, String)> = Vec::with_capacity(n);
        while lines.len() < n && !at_end {
            let mut buf = String::new();
            let read = (&mut *input)
                .take(MAX_LINE_LEN + 1)
                .read_line(&mut buf)
                .map_err(|e| io_err(&format!("batch input line {}", line_no + 1), e))?;
            if read == 0 {
                at_end = true;
                break;
            }
            line_no += 1;
            if read as u64 > MAX_LINE_LEN {
                return Err(IssueError::Request(format!(
                    "batch input line {line_no} is longer than {MAX_LINE_LEN} bytes: one JSON request a line"
                )));
            }
            if !buf.trim().is_empty() {
                lines.push((line_no, buf));
            }
        }
        // Parse (JSON, PEM keys, SIIs) on this thread: it runs beside the signing of an
        // earlier sub-batch, which has the rayon pool (see `ProviderCa::issue_stream`).
        let parsed: Vec<(u64, Option<String>, Result<IssueRequest, IssueError>)> = lines
            .into_iter()
            .map(|(line, buf)| {
                let (id, req) = parse_line(buf.trim_end_matches(['\n', '\r']));
                (line, id, req)
            })
            .collect();
        let mut pending = pending.borrow_mut();
        Ok(parsed
            .into_iter()
            .map(|(line, id, req)| {
                pending.push_back((line, id));
                req
            })
            .collect())
    };
    let mut summary = BatchSummary::default();
    let mut sink = |results: Vec<Result<Issued, IssueError>>| -> Result<(), IssueError> {
        let mut tagged = Vec::with_capacity(results.len());
        {
            let mut pending = pending.borrow_mut();
            for result in results {
                let (line, id) = pending.pop_front().ok_or_else(|| IssueError::Io {
                    path: "batch output".into(),
                    message: "more results than requests".into(),
                })?;
                summary.requests += 1;
                match &result {
                    Ok(i) if i.replayed => summary.replayed += 1,
                    Ok(_) => summary.issued += 1,
                    Err(_) => summary.failed += 1,
                }
                tagged.push((line, id, result));
            }
        }
        let last_line = tagged.last().map(|(line, _, _)| *line);
        // Encode the result lines (on this thread, as above), write them in input order.
        let encoded: Vec<Result<String, serde_json::Error>> = tagged
            .into_iter()
            .map(|(line, id, result)| serde_json::to_string(&result_value(line, id, result)))
            .collect();
        for text in encoded {
            let text = text.map_err(|e| io_err("batch output", e.into()))?;
            output
                .write_all(text.as_bytes())
                .and_then(|()| output.write_all(b"\n"))
                .map_err(|e| io_err("batch output", e))?;
        }
        if let Some(line) = last_line {
            progress(line);
        }
        Ok(())
    };
    ca.issue_stream(&mut source, clock, &mut sink)?;
    Ok(summary)
}
