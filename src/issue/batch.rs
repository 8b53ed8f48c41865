//! `issue-batch`: one JSON request a line in, one JSON result a line out, in input order.
//!
//! Input fields: `id` (idempotency key, required), `sii`, and optionally `handle`, `method`,
//! `validated_at` (RFC 3339), `validity` (e.g. `7d`), `preferred`, `new_holder`, and `csr`
//! (PEM) or `public_key` (PEM). Output: `{"line","id","serial","sii","not_after","chain_pem"}`
//! (plus `private_key_pem` when the CA generated the key, and `replayed: true` when the id
//! was issued before, and `tlog_proof`, the proof's text, when the CA config has a `log:`)
//! or `{"line","id","error"}`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufRead, Read, Write};
use std::ops::Deref;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{IssueError, IssueRequest, Issued, ProviderCa, SubjectKey};
use crate::profile::rfc3339;
use crate::profile::{MappingFlags, Method, Serial, Span};
use crate::sii::Sii;

/// Longest request line read, in bytes (a request with a PEM CSR is about 1 KiB).
pub const MAX_LINE_LEN: u64 = 64 * 1024;

/// What a batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
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

/// A string field of a request line: borrowed from the line when it has no escapes, owned
/// (unescaped) when it has (a PEM's line breaks are escapes, so PEM fields are owned). A
/// newtype because serde borrows only into a bare `Cow` field: an `Option<Cow<str>>` field,
/// even with `#[serde(borrow)]`, is always deserialized owned.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Text<'_> {
    fn into_owned(self) -> String {
        self.0.into_owned()
    }
}

/// One request line, borrowing from the line buffer where it can.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow)]
    id: Option<Text<'a>>,
    #[serde(borrow)]
    sii: Option<Text<'a>>,
    #[serde(borrow)]
    handle: Option<Text<'a>>,
    #[serde(borrow)]
    method: Option<Text<'a>>,
    #[serde(borrow)]
    validated_at: Option<Text<'a>>,
    #[serde(borrow)]
    validity: Option<Text<'a>>,
    preferred: Option<bool>,
    new_holder: Option<bool>,
    #[serde(borrow)]
    csr: Option<Text<'a>>,
    #[serde(borrow)]
    public_key: Option<Text<'a>>,
}

/// The request on one line (without its line break), and its id when the line is a JSON
/// request object that has one.
fn parse_line(text: &str) -> (Option<String>, Result<IssueRequest, IssueError>) {
    let line: Line<'_> = match serde_json::from_str(text) {
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
    let id = line.id.as_deref().map(str::to_owned);
    (id, to_request(line))
}

fn to_request(line: Line<'_>) -> Result<IssueRequest, IssueError> {
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
        handle: line.handle.map(Text::into_owned),
        method,
        validated_at,
        validity,
        flags: MappingFlags {
            preferred: line.preferred.unwrap_or(false),
            new_holder: line.new_holder.unwrap_or(false),
        },
        key,
        request_id: Some(id.into_owned()),
    })
}

/// A result line of an issued (or replayed) request. The keys are written in field order,
/// the order `issue-batch` has always written them in; readers may rely on it.
#[derive(Serialize)]
struct IssuedLine<'a> {
    line: u64,
    id: Option<&'a str>,
    serial: &'a Serial,
    sii: &'a str,
    not_after: &'a str,
    chain_pem: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key_pem: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    replayed: bool,
    /// The tlog-proof text, when the CA logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    tlog_proof: Option<&'a str>,
}

/// A result line of a request that failed.
#[derive(Serialize)]
struct FailedLine<'a> {
    line: u64,
    id: Option<&'a str>,
    error: &'a str,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Write one result line (the JSON object, then `\n`) straight into `output`.
fn write_result(
    output: &mut dyn Write,
    line: u64,
    id: Option<&str>,
    result: &Result<Issued, IssueError>,
) -> serde_json::Result<()> {
    match result {
        Ok(i) => {
            let sii = i.sii.canonical();
            let not_after = rfc3339(i.not_after);
            let proof = i.tlog_proof.as_ref().map(|p| p.to_text());
            serde_json::to_writer(
                &mut *output,
                &IssuedLine {
                    line,
                    id,
                    serial: &i.serial,
                    sii: &sii,
                    not_after: &not_after,
                    chain_pem: &i.chain_pem,
                    private_key_pem: i.private_key_pem.as_deref(),
                    replayed: i.replayed,
                    tlog_proof: proof.as_deref(),
                },
            )?;
        }
        Err(e) => {
            let error = e.to_string();
            serde_json::to_writer(
                &mut *output,
                &FailedLine {
                    line,
                    id,
                    error: &error,
                },
            )?;
        }
    }
    output.write_all(b"\n").map_err(serde_json::Error::io)
}

/// Run a batch: read requests from `input`, issue them (the pipeline of
/// [`ProviderCa::issue_many`], fed one sub-batch of lines at a time: lines are read, parsed
/// and prepared on the calling thread while earlier sub-batches are reserved and stored on
/// a store thread and signed on all cores; up to five sub-batches at once), and write one
/// result line per request to `output`, in input order. A bad request is reported on its
/// line and does not stop the batch; a store or I/O failure does. `clock` gives "now" for
/// each sub-batch; `progress` is told the last input line whose result is written.
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
    // One line buffer for the whole input.
    let mut buf = String::new();
    let mut source = |n: usize| -> Result<Vec<Result<IssueRequest, IssueError>>, IssueError> {
        // Read and parse up to n non-empty lines. Parsing (JSON, PEM keys, SIIs) runs on this
        // thread: beside the signing of an earlier sub-batch, which has the rayon pool (see
        // `Pipeline::issue_stream`).
        let mut requests = Vec::with_capacity(n);
        let mut tags = Vec::with_capacity(n);
        while requests.len() < n && !at_end {
            buf.clear();
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
            if buf.trim().is_empty() {
                continue;
            }
            let (id, request) = parse_line(buf.trim_end_matches(['\n', '\r']));
            tags.push((line_no, id));
            requests.push(request);
        }
        pending.borrow_mut().extend(tags);
        Ok(requests)
    };
    let mut summary = BatchSummary::default();
    let mut sink = |results: Vec<Result<Issued, IssueError>>| -> Result<(), IssueError> {
        let mut pending = pending.borrow_mut();
        let mut last_line = None;
        // Encode each result straight into the output (on this thread, as above), in input
        // order.
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
            write_result(output, line, id.as_deref(), &result)
                .map_err(|e| io_err("batch output", e.into()))?;
            last_line = Some(line);
        }
        if let Some(line) = last_line {
            progress(line);
        }
        Ok(())
    };
    ca.pipeline().issue_stream(&mut source, clock, &mut sink)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str =
        "provider: chat-a.example\norganization: Chat A Inc.\nscope:\n  tel: [\"+1\"]\n";

    /// A new CA in `dir`.
    fn new_ca(dir: &tempfile::TempDir) -> ProviderCa {
        ProviderCa::init(
            CONFIG,
            "batch",
            &dir.path().join("ca"),
            OffsetDateTime::now_utc(),
        )
        .unwrap()
    }

    /// `run_batch` over `input`: what it returned, and what it wrote.
    fn run(ca: &mut ProviderCa, input: &str) -> (Result<BatchSummary, IssueError>, Vec<u8>) {
        let mut output = Vec::new();
        let result = run_batch(
            ca,
            &mut input.as_bytes(),
            &mut output,
            &OffsetDateTime::now_utc,
            &mut |_| {},
        );
        (result, output)
    }

    /// `run_batch` over `input`: the result lines as text, and the summary.
    fn batch(ca: &mut ProviderCa, input: &str) -> (Vec<String>, BatchSummary) {
        let (summary, output) = run(ca, input);
        let text = String::from_utf8(output).unwrap();
        assert!(text.ends_with('\n'), "every result line ends with \\n");
        (text.lines().map(str::to_owned).collect(), summary.unwrap())
    }

    /// The keys of a result line in the order written (serde_json keeps it:
    /// `preserve_order`), after checking that the line is exactly what serde_json writes for
    /// an object with those keys and values, as `issue-batch` always wrote them (a `json!`
    /// value, printed with `to_string`).
    fn keys(line: &str) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), line, "byte for byte");
        v.as_object().unwrap().keys().cloned().collect()
    }

    /// The output format, byte for byte: the keys of every kind of result line in their
    /// order (issued with a public key, a CSR or a generated key, replayed, failed), line
    /// numbers across blank lines, the messages of bad lines, and values as before.
    #[test]
    fn result_lines_keep_their_keys_order_and_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let mut ca = new_ca(&tmp);
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.subject_alt_names =
            vec![rcgen::SanType::URI("tel:+15550000002".try_into().unwrap())];
        let csr = params.serialize_request(&key).unwrap().pem().unwrap();
        let first = [
            serde_json::json!({"id": "pk", "sii": "+15550000001", "public_key": key.public_key_pem()})
                .to_string(),
            serde_json::json!({"id": "csr", "sii": "+15550000002", "csr": csr}).to_string(),
            "   ".to_owned(),
            serde_json::json!({"id": "gen", "sii": "+15550000003", "handle": "mimi://chat-a.example/u/3"})
                .to_string(),
            serde_json::json!({"id": "bad", "sii": "not a number"}).to_string(),
            // Escapes in short fields: parsed as the characters they stand for.
            r#"{"id":"esc\u0061pe","sii":"\u002b15550000004"}"#.to_owned(),
            r#"{"id":"x","sii":"+15550000005","colour":"red"}"#.to_owned(),
            r#"{"id":"y","sii":5}"#.to_owned(),
            "not json".to_owned(),
        ];
        let (out, summary) = batch(&mut ca, &(first.join("\n") + "\r\n\n"));
        assert_eq!(
            summary,
            BatchSummary {
                requests: 8,
                issued: 4,
                replayed: 0,
                failed: 4
            }
        );
        const ISSUED: [&str; 6] = ["line", "id", "serial", "sii", "not_after", "chain_pem"];
        const FAILED: [&str; 3] = ["line", "id", "error"];
        let with = |extra: &'static str| {
            let mut k = ISSUED.to_vec();
            k.push(extra);
            k
        };
        let expected_keys = [
            ISSUED.to_vec(),
            ISSUED.to_vec(),
            with("private_key_pem"),
            FAILED.to_vec(),
            with("private_key_pem"),
            FAILED.to_vec(),
            FAILED.to_vec(),
            FAILED.to_vec(),
        ];
        assert_eq!(out.len(), expected_keys.len());
        for (line, expected) in out.iter().zip(&expected_keys) {
            assert_eq!(keys(line), *expected, "{line}");
        }
        let v: Vec<serde_json::Value> = out
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let line_nos: Vec<u64> = v.iter().map(|x| x["line"].as_u64().unwrap()).collect();
        assert_eq!(line_nos, [1, 2, 4, 5, 6, 7, 8, 9], "blank lines skipped");
        // A line that is not a request object has no id (null), even if it names one.
        let ids: Vec<serde_json::Value> = v.iter().map(|x| x["id"].clone()).collect();
        assert_eq!(
            serde_json::Value::Array(ids),
            serde_json::json!(["pk", "csr", "gen", "bad", "escape", null, null, null])
        );
        assert_eq!(v[0]["sii"], "tel:+15550000001");
        assert_eq!(v[4]["sii"], "tel:+15550000004");
        assert_eq!(v[0]["serial"].as_str().unwrap().len(), 32);
        assert!(v[2]["private_key_pem"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY"));
        let not_after =
            OffsetDateTime::parse(v[0]["not_after"].as_str().unwrap(), &Rfc3339).unwrap();
        assert_eq!(rfc3339(not_after), v[0]["not_after"]);
        let errors: Vec<&str> = v[3..].iter().filter_map(|x| x["error"].as_str()).collect();
        assert_eq!(
            errors,
            [
                "\"not a number\" is not a phone number or an email address: it must be a phone \
                 number in international form like +15551234567 or an email address like \
                 alice@example.com",
                "not a valid request object: unknown field `colour`, expected one of `id`, \
                 `sii`, `handle`, `method`, `validated_at`, `validity`, `preferred`, \
                 `new_holder`, `csr`, `public_key` at line 1 column 39",
                "not a valid request object: invalid type: integer `5`, expected a string at \
                 line 1 column 17",
                "not a valid request object: expected ident at line 1 column 2",
            ]
        );

        // The same ids again in a second run: answered from the store, `replayed: true`,
        // the same certificate.
        let second = [first[3].clone(), String::new(), first[0].clone()];
        let (again, summary) = batch(&mut ca, &(second.join("\n") + "\n"));
        assert_eq!(
            summary,
            BatchSummary {
                requests: 2,
                issued: 0,
                replayed: 2,
                failed: 0
            }
        );
        assert_eq!(keys(&again[0]), with("replayed"), "no key shown twice");
        assert_eq!(keys(&again[1]), with("replayed"));
        let w: Vec<serde_json::Value> = again
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            (w[0]["line"].as_u64(), w[1]["line"].as_u64()),
            (Some(1), Some(3))
        );
        assert_eq!(w[0]["chain_pem"], v[2]["chain_pem"]);
        assert_eq!(w[1]["serial"], v[0]["serial"]);
        assert_eq!(w[1]["replayed"], true);
    }

    /// Short fields borrow from the line; fields with escapes are unescaped.
    #[test]
    fn request_fields_borrow_unless_escaped() {
        let line: Line<'_> =
            serde_json::from_str(r#"{"id":"a","sii":"\u002b1555","csr":"x\ny"}"#).unwrap();
        assert!(matches!(line.id.as_ref().unwrap().0, Cow::Borrowed("a")));
        assert!(matches!(line.sii.as_ref().unwrap().0, Cow::Owned(ref s) if s == "+1555"));
        assert_eq!(line.csr.as_deref(), Some("x\ny"));
        assert!(line.handle.is_none());
    }

    /// An over-long line stops the batch with its line number, counted across blank lines,
    /// before anything is issued.
    #[test]
    fn an_over_long_line_stops_the_batch() {
        let tmp = tempfile::tempdir().unwrap();
        let mut ca = new_ca(&tmp);
        let long = format!(
            "{{\"id\":\"a\",\"sii\":\"+15550000001\",\"handle\":\"{}\"}}",
            "x".repeat(MAX_LINE_LEN as usize)
        );
        let input = format!("{{\"id\":\"b\",\"sii\":\"+15550000002\"}}\n\n{long}\n");
        let (result, output) = run(&mut ca, &input);
        assert_eq!(
            result.unwrap_err().to_string(),
            "batch input line 3 is longer than 65536 bytes: one JSON request a line"
        );
        assert!(output.is_empty());
    }
}
