//! `log init|add|cosign|label|show`, `witness init|show|cosign`, `monitor`: the transparency
//! log's operator, its witnesses and its monitors, on directories.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clap::Args;
use mimi_attest::{
    chain_from_pem, init_log, init_witness, log_keys, open_log, open_witness, witness_key,
    write_atomic, AddCheckpoint, FileMode, IssueError, LogKeys, LogOperator, MappingLogEntry,
    Monitor, MonitorReport, NoteVerifierKey, Overwrite, Passphrase, Sii, Submission, VrfPublicKey,
    WitnessError,
};
use serde_json::{json, Value};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::ca::{advise, now, KeyArgs};
use super::{read_input, CliError, CliResult, Format, Verdict};

/// The file written beside each chain `log add` logs.
const PROOF_SUFFIX: &str = ".tlog-proof";

#[derive(Args)]
pub struct LogInitArgs {
    /// Directory to create; must not exist (or be empty).
    #[arg(long)]
    dir: PathBuf,
    /// The log's origin, its name in checkpoints and proofs (no spaces or `+`), e.g.
    /// log.example/mapping.
    #[arg(long)]
    origin: String,
    #[command(flatten)]
    key: KeyArgs,
    /// Write the log keys unencrypted (protected by their 0600 mode alone).
    #[arg(long, conflicts_with = "password_file")]
    insecure_no_password: bool,
}

#[derive(Args)]
pub struct LogShowArgs {
    /// Log directory made by `log init` (only its public files are read: no passphrase).
    #[arg(long)]
    log: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(Args)]
pub struct LogAddArgs {
    /// Log directory made by `log init`.
    #[arg(long)]
    log: PathBuf,
    /// A witness directory (made by `witness init`, same passphrase source) to cosign the new
    /// checkpoint before the proofs are written, so they carry its cosignature; repeatable.
    #[arg(long, value_name = "W_DIR")]
    witness: Vec<PathBuf>,
    #[command(flatten)]
    key: KeyArgs,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Chains (leaf, then its issuing CA; PEM), each logged and given
    /// `<CHAIN>.tlog-proof` beside it.
    #[arg(required = true, value_name = "CHAIN.pem")]
    chains: Vec<PathBuf>,
}

#[derive(Args)]
pub struct LogCosignArgs {
    /// Log directory made by `log init`.
    #[arg(long)]
    log: PathBuf,
    /// A witness directory made by `witness init` (same passphrase source); repeatable.
    #[arg(long, value_name = "W_DIR", required = true)]
    witness: Vec<PathBuf>,
    #[command(flatten)]
    key: KeyArgs,
}

#[derive(Args)]
pub struct LogWitnessRequestArgs {
    /// Log directory made by `log init`.
    #[arg(long)]
    log: PathBuf,
    /// The tree size the witness holds for this log: 0 for a witness new to it, else the size
    /// of the last checkpoint it cosigned (what a 409 answer names).
    #[arg(long, value_name = "SIZE")]
    old: u64,
    /// Write the request here (whole, or not at all) instead of to stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    key: KeyArgs,
}

#[derive(Args)]
pub struct LogAddCosignatureArgs {
    /// Log directory made by `log init`.
    #[arg(long)]
    log: PathBuf,
    /// The cosignature verifier key (vkey, as `witness show` prints it) of the witness that
    /// answered; repeatable. Every line given must be a valid cosignature of the log's
    /// current checkpoint by one of them.
    #[arg(long = "witness-key", value_name = "VKEY", required = true)]
    witness_keys: Vec<String>,
    #[command(flatten)]
    key: KeyArgs,
    /// The witness's answer: its cosignature line(s), as `witness cosign` prints them; `-`
    /// for stdin.
    #[arg(value_name = "COSIGNATURE_FILE")]
    cosignature: PathBuf,
}

#[derive(Args)]
pub struct LogLabelArgs {
    /// Log directory made by `log init` (the VRF key is needed: give its passphrase).
    #[arg(long)]
    log: PathBuf,
    /// The phone number or email address; answer only its authenticated owner (or the
    /// owner's provider): the proof lets its holder test guesses against the log.
    #[arg(long)]
    sii: String,
    #[command(flatten)]
    key: KeyArgs,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(Args)]
pub struct WitnessInitArgs {
    /// Directory to create; must not exist (or be empty).
    #[arg(long)]
    dir: PathBuf,
    /// The witness's name, the key name in its cosignatures, e.g. witness.example/w1.
    #[arg(long)]
    name: String,
    #[command(flatten)]
    key: KeyArgs,
    /// Write the witness key unencrypted (protected by its 0600 mode alone).
    #[arg(long, conflicts_with = "password_file")]
    insecure_no_password: bool,
}

#[derive(Args)]
pub struct WitnessShowArgs {
    /// Witness directory made by `witness init` (no passphrase needed).
    #[arg(long)]
    dir: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(Args)]
pub struct WitnessCosignArgs {
    /// Witness directory made by `witness init`.
    #[arg(long)]
    dir: PathBuf,
    /// A log's checkpoint verifier key (vkey, as `log show` prints it); repeatable. The
    /// request's checkpoint must be signed by the key named after its origin.
    #[arg(long = "log-key", value_name = "VKEY", required = true)]
    log_keys: Vec<String>,
    #[command(flatten)]
    key: KeyArgs,
    /// The tlog-witness add-checkpoint request (`old <size>`, the consistency proof, a blank
    /// line, the checkpoint); `-` for stdin.
    #[arg(value_name = "ADD_CHECKPOINT_REQUEST")]
    request: PathBuf,
}

/// Follow a log: verify its checkpoint and cosignatures, check it against what this state
/// saw last, recompute the tree from the bundles, report per provider and every label two
/// providers hold at once. Exit 1 when the log is inconsistent (rolled back, two views,
/// bundles that are not its tree); exit 0 otherwise, conflicts included.
///
/// The log's keys come from --log-key and --vrf-key, or else from <LOG_DIR>/log.yaml (taking
/// them from a trust list is not supported yet).
#[derive(Args)]
pub struct MonitorArgs {
    /// The log: a log directory (its public/ is read) or a copy of the public tree itself.
    #[arg(long)]
    log: PathBuf,
    /// The monitor's state directory (created if missing); one per log.
    #[arg(long)]
    state: PathBuf,
    /// The log's checkpoint verifier key (vkey) [default: from <LOG>/log.yaml].
    #[arg(long, value_name = "VKEY", requires = "vrf_key")]
    log_key: Option<String>,
    /// The log's VRF public key, base64 [default: from <LOG>/log.yaml].
    #[arg(long, value_name = "B64", requires = "log_key")]
    vrf_key: Option<String>,
    /// A witness's cosignature verifier key (vkey, as `witness show` prints it); repeatable.
    #[arg(long, value_name = "VKEY")]
    witness_key: Vec<String>,
    /// Take the log's keys and the witnesses from a relying platform's trust list (its
    /// `logs` entry for this log's origin, and its `witnesses`) instead.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["log_key", "vrf_key", "witness_key"])]
    trust_list: Option<PathBuf>,
    /// The trust list is signed: accept it with this signers file (as `verify --signers`).
    #[arg(long, value_name = "FILE", requires = "trust_list")]
    signers: Option<PathBuf>,
    /// Also list every entry seen for this label (64 hex digits, from `log label`).
    #[arg(long, value_name = "HEX")]
    label: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// The CLI's message for an error opening or creating a log or witness directory.
fn advise_dir(e: IssueError, what: &str) -> CliError {
    match e {
        IssueError::DirExists { dir } => CliError(format!(
            "{} already exists and is not empty: a {what} directory is never overwritten; choose a new --dir",
            dir.display()
        )),
        e => advise(e),
    }
}

fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).expect("JSON values serialise")
    );
}

pub fn init(a: LogInitArgs) -> CliResult {
    let protection = a.key.protection(a.insecure_no_password, "the log keys")?;
    let encrypted = protection.passphrase().is_some();
    let op = init_log(&a.dir, &a.origin, &protection).map_err(|e| advise_dir(e, "log"))?;
    let keys = log_keys(&a.dir).map_err(advise)?;
    eprintln!(
        "created log {} in {}\n  keys:    log.key, vrf.key (mode 0600{})\n  public:  {} (serve it with any static web server)\n  size:    {}",
        keys.origin,
        a.dir.display(),
        if encrypted { ", encrypted" } else { ", NOT encrypted" },
        op.writer().public_dir().display(),
        op.writer().size(),
    );
    println!("{}", keys.key);
    Ok(Verdict::Yes)
}

/// The public checkpoint of a log directory, read without its keys.
fn public_checkpoint(dir: &Path) -> Result<mimi_attest::SignedCheckpoint, CliError> {
    let path = dir.join("public").join("checkpoint");
    let bytes = read_input(&path)?;
    mimi_attest::SignedCheckpoint::parse(&bytes)
        .map_err(|e| CliError(format!("{}: {e}", path.display())))
}

pub fn show(a: LogShowArgs) -> CliResult {
    let keys = log_keys(&a.log).map_err(advise)?;
    let checkpoint = public_checkpoint(&a.log)?;
    checkpoint.verify(&keys.origin, &keys.key).map_err(|e| {
        CliError(format!(
            "{}: the checkpoint is not signed by the key of log.yaml: {e}",
            a.log.join("public/checkpoint").display()
        ))
    })?;
    let cp = checkpoint.checkpoint();
    let v = json!({
        "origin": keys.origin,
        "size": cp.size(),
        "root_hash": B64.encode(cp.root_hash()),
        "key": keys.key.to_string(),
        "vrf_key": B64.encode(keys.vrf.as_bytes()),
    });
    match a.format {
        Format::Json => print_json(&v),
        Format::Text => {
            for k in ["origin", "size", "root_hash", "key", "vrf_key"] {
                let value = match &v[k] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                println!("{k:10} {value}");
            }
        }
    }
    Ok(Verdict::Yes)
}

/// A chain checked as a submission: leaf and issuing CA DER.
struct Checked {
    leaf: Vec<u8>,
    issuer_spki: Vec<u8>,
}

/// Reads `path` as a chain to log: a mapping-v1 leaf, then the CA certificate whose key
/// signed it. Whatever else follows (a root) is not logged.
fn check_chain(path: &PathBuf) -> Result<Checked, String> {
    let bytes = read_input(path).map_err(|e| e.0)?;
    let chain = chain_from_pem(&bytes).map_err(|e| e.to_string())?;
    let [leaf_der, issuer_der, ..] = chain.as_slice() else {
        return Err(
            "a chain to log holds the leaf and its issuing CA (PEM, as `issue --out` writes it); this file holds one certificate".into(),
        );
    };
    let (_, leaf) = X509Certificate::from_der(leaf_der)
        .map_err(|e| format!("the first certificate cannot be read: {e}"))?;
    let (_, issuer) = X509Certificate::from_der(issuer_der)
        .map_err(|e| format!("the second certificate cannot be read: {e}"))?;
    if leaf.is_ca() {
        return Err("the first certificate is a CA certificate, not a mapping attestation: give the leaf first, then its issuing CA".into());
    }
    mimi_attest::leaf_sii(&leaf)
        .map_err(|e| format!("the leaf is not a mapping attestation: {e}"))?;
    if !issuer.is_ca() {
        return Err(
            "the second certificate is not a CA certificate: give the leaf's issuing CA after it"
                .into(),
        );
    }
    leaf.verify_signature(Some(issuer.public_key())).map_err(|_| {
        "the leaf is not signed by the second certificate's key: give the leaf's own issuing CA after it".to_string()
    })?;
    let issuer_spki = issuer.public_key().raw.to_vec();
    // The entry is built here as the log will build it, so a leaf the log cannot take is
    // refused alone instead of failing the whole batch.
    MappingLogEntry::from_leaf(leaf_der, &issuer_spki, [0; 32])
        .map_err(|e| format!("the leaf cannot be logged: {e}"))?;
    Ok(Checked {
        leaf: leaf_der.to_vec(),
        issuer_spki,
    })
}

pub fn add(a: LogAddArgs) -> CliResult {
    let passphrase = a.key.passphrase()?;
    // Keys first: a wrong passphrase stops the command before anything is read or logged.
    let mut op = open_log(&a.log, passphrase.as_ref()).map_err(advise)?;
    let keys = log_keys(&a.log).map_err(advise)?;
    let checked: Vec<Result<Checked, String>> = a.chains.iter().map(check_chain).collect();
    let good: Vec<&Checked> = checked.iter().filter_map(|c| c.as_ref().ok()).collect();
    let submissions: Vec<Submission<'_>> = good
        .iter()
        .map(|c| Submission::new(&c.leaf, &c.issuer_spki))
        .collect();
    let logged = op.add(&submissions)?;
    let mut refused = 0usize;
    for w in &a.witness {
        // The entries are in the log whatever a witness answers: their proofs are written
        // (without that cosignature) and the refusal makes the exit code 1.
        if let Err(e) = cosign_checkpoint(&mut op, &keys, w, passphrase.as_ref()) {
            eprintln!("error: {e}");
            refused += 1;
        }
    }
    let mut logged = logged.iter();
    let mut results = Vec::new();
    for (path, c) in a.chains.iter().zip(&checked) {
        let name = path.display().to_string();
        let l = match c {
            Ok(_) => logged.next().expect("one result per submission"),
            Err(why) => {
                refused += 1;
                results.push(json!({"file": name, "logged": false, "error": why}));
                continue;
            }
        };
        let proof_path = PathBuf::from(format!("{name}{PROOF_SUFFIX}"));
        let text = op.proof(l)?.to_text();
        write_atomic(
            &proof_path,
            text.as_bytes(),
            FileMode::Public,
            Overwrite::Allow,
        )
        .map_err(|e| CliError(format!("cannot write {}: {e}", proof_path.display())))?;
        results.push(json!({
            "file": name,
            "logged": true,
            "index": l.index,
            "new": l.new,
            "proof": proof_path.display().to_string(),
        }));
    }
    let size = op.writer().size();
    match a.format {
        Format::Json => print_json(&json!({
            "origin": keys.origin,
            "size": size,
            "chains": results,
        })),
        Format::Text => {
            for r in &results {
                if r["logged"] == true {
                    println!(
                        "{}: index {} ({}), proof {}",
                        r["file"].as_str().unwrap_or_default(),
                        r["index"],
                        if r["new"] == true {
                            "new"
                        } else {
                            "already logged"
                        },
                        r["proof"].as_str().unwrap_or_default()
                    );
                } else {
                    println!(
                        "{}: NOT LOGGED\n  {}",
                        r["file"].as_str().unwrap_or_default(),
                        r["error"].as_str().unwrap_or_default()
                    );
                }
            }
            eprintln!("log {} now holds {size} entries", keys.origin);
        }
    }
    Ok(if refused == 0 {
        Verdict::Yes
    } else {
        Verdict::No
    })
}

pub fn cosign(a: LogCosignArgs) -> CliResult {
    let passphrase = a.key.passphrase()?;
    let mut op = open_log(&a.log, passphrase.as_ref()).map_err(advise)?;
    let keys = log_keys(&a.log).map_err(advise)?;
    let mut refused = false;
    for w in &a.witness {
        match cosign_checkpoint(&mut op, &keys, w, passphrase.as_ref()) {
            Ok(name) => eprintln!(
                "{name} cosigned {} at size {}",
                keys.origin,
                op.writer().size()
            ),
            Err(e) => {
                eprintln!("error: {e}");
                refused = true;
            }
        }
    }
    Ok(if refused { Verdict::No } else { Verdict::Yes })
}

pub fn witness_request(a: LogWitnessRequestArgs) -> CliResult {
    let op = open_log(&a.log, a.key.passphrase()?.as_ref()).map_err(advise)?;
    let request = op.witness_request(a.old).map_err(|e| {
        CliError(format!(
            "{e}; or check --old: give the size the witness holds (the size in its 409 answer, 0 for a witness new to this log)"
        ))
    })?;
    let text = request.to_text();
    let size = request.checkpoint.checkpoint().size();
    match &a.out {
        Some(path) => {
            write_atomic(path, &text, FileMode::Public, Overwrite::Allow)
                .map_err(|e| CliError(format!("cannot write {}: {e}", path.display())))?;
            eprintln!(
                "wrote {}: add-checkpoint from size {} to {size}; send it to the witness (tlog-witness POST <witness>/add-checkpoint), then give its answer to `log add-cosignature`",
                path.display(),
                a.old
            );
        }
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&text)
                .map_err(|e| CliError(format!("cannot write to stdout: {e}")))?;
        }
    }
    Ok(Verdict::Yes)
}

pub fn add_cosignature(a: LogAddCosignatureArgs) -> CliResult {
    let witnesses = parse_vkeys(&a.witness_keys, "--witness-key")?;
    let bytes = read_input(&a.cosignature)?;
    let name = a.cosignature.display();
    let lines = std::str::from_utf8(&bytes).map_err(|_| {
        CliError(format!(
            "{name} is not UTF-8 text: give the cosignature line(s) the witness answered"
        ))
    })?;
    let mut op = open_log(&a.log, a.key.passphrase()?.as_ref()).map_err(advise)?;
    let size = op.writer().size();
    let signers = op.add_witness_answer(lines, &witnesses).map_err(|e| {
        let hint = match e {
            mimi_attest::LogError::CosignatureInvalid { .. } => format!(
                "; it is not a cosignature of the current checkpoint (size {size}): if the log grew since the request, make a new one with `log witness-request`"
            ),
            _ => String::new(),
        };
        CliError(format!("{name}: {e}{hint}; nothing was attached"))
    })?;
    for w in signers {
        eprintln!(
            "{} cosigned {} at size {size}",
            w.name(),
            op.writer().checkpoint().checkpoint().origin()
        );
    }
    Ok(Verdict::Yes)
}

/// Asks the witness in `dir` to cosign the log's current checkpoint, from the size it holds,
/// and publishes its cosignature with the checkpoint. Returns the witness's name.
fn cosign_checkpoint(
    op: &mut LogOperator,
    keys: &LogKeys,
    dir: &Path,
    passphrase: Option<&Passphrase>,
) -> Result<String, CliError> {
    let witness = open_witness(dir, passphrase).map_err(advise)?;
    let name = witness.verifier_key().name().to_owned();
    let checkpoint = op.writer().checkpoint().clone();
    let size = checkpoint.checkpoint().size();
    if !checkpoint
        .cosignatures(std::slice::from_ref(witness.verifier_key()))?
        .is_empty()
    {
        return Ok(name); // already cosigned by it
    }
    let held = witness
        .latest(&keys.origin)?
        .map_or(0, |c| c.checkpoint().size());
    if held > size {
        return Err(CliError(format!(
            "witness {name} ({}) holds size {held} for {}, more than the log's {size}: the log lost entries it had published (restore public/ from a backup); the witness never cosigns a smaller tree",
            dir.display(),
            keys.origin
        )));
    }
    let request = op.witness_request(held)?;
    let line = witness
        .add_checkpoint(&request, std::slice::from_ref(&keys.key), unix_now())
        .map_err(|e| {
            CliError(format!(
                "witness {name} ({}) refused: {}",
                dir.display(),
                refusal(&e)
            ))
        })?;
    op.add_cosignatures(&line)?;
    Ok(name)
}

fn unix_now() -> u64 {
    u64::try_from(now().unix_timestamp()).unwrap_or(0)
}

/// A witness's refusal as tlog-witness answers it: the status, the size held for a 409.
fn refusal(e: &WitnessError) -> String {
    let status = e.http_status();
    let reason = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        _ => "Internal Server Error",
    };
    let held = e
        .held_size()
        .map(|h| format!(" [holds size {h}]"))
        .unwrap_or_default();
    format!("{status} {reason}{held}: {e}")
}

pub fn label(a: LogLabelArgs) -> CliResult {
    let sii = Sii::parse(&a.sii)?;
    let op = open_log(&a.log, a.key.passphrase()?.as_ref()).map_err(advise)?;
    let (label, proof) = op.label(&sii.canonical())?;
    let label = mimi_attest::hex(&label);
    let proof = B64.encode(proof.as_bytes());
    match a.format {
        Format::Json => print_json(&json!({
            "sii": sii.canonical(),
            "label": label,
            "vrf_proof": proof,
        })),
        Format::Text => println!("label      {label}\nvrf_proof  {proof}"),
    }
    Ok(Verdict::Yes)
}

pub fn witness_init(a: WitnessInitArgs) -> CliResult {
    let protection = a
        .key
        .protection(a.insecure_no_password, "the witness key")?;
    let encrypted = protection.passphrase().is_some();
    let w = init_witness(&a.dir, &a.name, &protection).map_err(|e| advise_dir(e, "witness"))?;
    eprintln!(
        "created witness {} in {}\n  key: witness.key (mode 0600{})",
        a.name,
        a.dir.display(),
        if encrypted {
            ", encrypted"
        } else {
            ", NOT encrypted"
        },
    );
    println!("{}", w.verifier_key());
    Ok(Verdict::Yes)
}

pub fn witness_show(a: WitnessShowArgs) -> CliResult {
    let key = witness_key(&a.dir).map_err(advise)?;
    match a.format {
        Format::Json => print_json(&json!({"name": key.name(), "key": key.to_string()})),
        Format::Text => println!("name  {}\nkey   {key}", key.name()),
    }
    Ok(Verdict::Yes)
}

fn parse_vkey(s: &str, flag: &str) -> Result<NoteVerifierKey, CliError> {
    NoteVerifierKey::parse(s).map_err(|e| {
        CliError(format!(
            "{flag} {s:?}: {e}; give the key as `log show` / `witness show` print it (name+id+base64)"
        ))
    })
}

/// Every key of a repeatable vkey flag.
fn parse_vkeys(keys: &[String], flag: &str) -> Result<Vec<NoteVerifierKey>, CliError> {
    keys.iter().map(|k| parse_vkey(k, flag)).collect()
}

pub fn witness_cosign(a: WitnessCosignArgs) -> CliResult {
    let log_keys = parse_vkeys(&a.log_keys, "--log-key")?;
    let bytes = read_input(&a.request)?;
    let witness = open_witness(&a.dir, a.key.passphrase()?.as_ref()).map_err(advise)?;
    let result = AddCheckpoint::parse(&bytes)
        .and_then(|request| witness.add_checkpoint(&request, &log_keys, unix_now()));
    match result {
        Ok(line) => {
            print!("{line}");
            Ok(Verdict::Yes)
        }
        // The witness's own state failing is not an answer about the checkpoint.
        Err(e @ WitnessError::State { .. }) => Err(CliError(e.to_string())),
        Err(e) => {
            eprintln!("refused: {}", refusal(&e));
            Ok(Verdict::No)
        }
    }
}

/// The public tree of `log`: its `public/` when it is a log directory, else itself.
fn public_dir(log: &Path) -> PathBuf {
    let public = log.join("public");
    if public.is_dir() {
        public
    } else {
        log.to_owned()
    }
}

/// The keys of the log in `public` (found by the origin of its checkpoint) and the
/// witnesses, from a trust list.
fn keys_from_trust_list(
    list: &Path,
    signers: Option<&Path>,
    public: &Path,
) -> Result<(LogKeys, Vec<NoteVerifierKey>), CliError> {
    let list = super::verify::load_trust_list(list, signers, None)?;
    let checkpoint = public.join("checkpoint");
    let origin = std::fs::read_to_string(&checkpoint)
        .map_err(|e| {
            CliError(format!(
                "cannot read the log's checkpoint {}: {e}: give the log directory or its public tree",
                checkpoint.display()
            ))
        })?
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let log = list
        .logs()
        .iter()
        .find(|l| l.keys().origin == origin)
        .ok_or_else(|| {
            CliError(format!(
                "the trust list names no log of origin {origin:?} (it lists {}): give the trust list that accepts this log, or its keys with --log-key and --vrf-key",
                list.logs()
                    .iter()
                    .map(|l| format!("{:?}", l.keys().origin))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let witnesses = list.witnesses().iter().map(|w| w.key().clone()).collect();
    Ok((log.keys().clone(), witnesses))
}

fn monitor_keys(a: &MonitorArgs) -> Result<LogKeys, CliError> {
    match (&a.log_key, &a.vrf_key) {
        (Some(k), Some(v)) => {
            let key = parse_vkey(k, "--log-key")?;
            let vrf = B64
                .decode(v)
                .map_err(|e| e.to_string())
                .and_then(|b| VrfPublicKey::from_bytes(&b).map_err(|e| e.to_string()))
                .map_err(|e| {
                    CliError(format!(
                        "--vrf-key: {e}; give vrf_key as `log show` prints it"
                    ))
                })?;
            Ok(LogKeys::new(key.name().to_owned(), key, vrf))
        }
        _ => log_keys(&a.log).map_err(|e| {
            CliError(format!(
                "{}; or give the log's keys with --log-key and --vrf-key",
                advise(e)
            ))
        }),
    }
}

fn parse_label(s: &str) -> Result<[u8; 32], CliError> {
    let bad = || {
        CliError(format!(
            "--label {s:?} is not 64 hex digits: give the label as `log label` prints it"
        ))
    };
    if s.len() != 64 || !s.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

pub fn monitor(a: MonitorArgs) -> CliResult {
    let (keys, witnesses) = match &a.trust_list {
        Some(list) => keys_from_trust_list(list, a.signers.as_deref(), &public_dir(&a.log))?,
        None => (
            monitor_keys(&a)?,
            parse_vkeys(&a.witness_key, "--witness-key")?,
        ),
    };
    let label = a.label.as_deref().map(parse_label).transpose()?;
    let mut monitor = Monitor::open(&a.state)?;
    let report = monitor.update(&public_dir(&a.log), &keys, &witnesses)?;
    let entries = label.map(|l| monitor.entries_for_label(&l)).transpose()?;
    match a.format {
        Format::Json => {
            let mut v = serde_json::to_value(&report)?;
            if let (Some(l), Some(e)) = (&a.label, &entries) {
                v["label"] = json!(l.to_ascii_lowercase());
                v["label_entries"] = serde_json::to_value(e)?;
            }
            print_json(&v);
        }
        Format::Text => print!("{}", report_text(&report, a.label.as_deref(), &entries)),
    }
    Ok(if report.inconsistent() {
        Verdict::No
    } else {
        Verdict::Yes
    })
}

fn entry_text(e: &mimi_attest::MonitoredEntry) -> String {
    format!(
        "#{} {} {}..{}{}{}",
        e.index,
        e.provider,
        e.not_before,
        e.not_after,
        if e.preferred { " preferred" } else { "" },
        if e.new_holder { " newHolder" } else { "" },
    )
}

fn report_text(
    r: &MonitorReport,
    label: Option<&str>,
    entries: &Option<Vec<mimi_attest::MonitoredEntry>>,
) -> String {
    let mut out = format!(
        "log {}: size {} (was {}), root {}\n",
        r.origin, r.size, r.previous_size, r.root_hash
    );
    if r.witnesses.is_empty() {
        out.push_str("  cosigned by: no listed witness\n");
    } else {
        out.push_str(&format!("  cosigned by: {}\n", r.witnesses.join(", ")));
    }
    for p in &r.problems {
        out.push_str(&format!("  INCONSISTENT: {p}\n"));
    }
    for v in &r.providers {
        out.push_str(&format!(
            "  {}: {} new {} ({} newHolder)\n",
            v.provider,
            v.entries,
            if v.entries == 1 { "entry" } else { "entries" },
            v.new_holder
        ));
    }
    for c in &r.conflicts {
        out.push_str(&format!(
            "  CONFLICT label {}{}: held by two providers at once\n",
            c.label,
            if c.new_holder {
                " (newHolder: a reassignment while the old holder's attestation is valid)"
            } else {
                ""
            }
        ));
        for e in &c.entries {
            out.push_str(&format!("    {}\n", entry_text(e)));
        }
    }
    if r.problems.is_empty() && r.conflicts.is_empty() {
        out.push_str("  consistent; no label held by two providers\n");
    }
    if let (Some(l), Some(entries)) = (label, entries) {
        out.push_str(&format!("label {l}: {} entries\n", entries.len()));
        for e in entries {
            out.push_str(&format!("  {}\n", entry_text(e)));
        }
    }
    out
}
