//! `ca init`, `issue`, `issue-batch`.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::PathBuf;

use super::rfc3339;
use clap::Args;
use mimi_attest::{
    run_batch, CaRecords, KeyProtection, Passphrase, RenewalWindow, RevokeReason, RootKey,
    PASSWORD_ENV,
};
use mimi_attest::{write_atomic, FileMode, Overwrite, PendingFile};
use mimi_attest::{
    IssueError, IssueRequest, MappingFlags, Method, ProviderCa, Serial, Sii, Span, SubjectKey,
};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{read_input, CliError, CliResult, Verdict};

/// Where the CA keys' passphrase comes from (never the command line itself).
#[derive(Args)]
pub struct KeyArgs {
    /// File whose first line is the CA keys' passphrase [default: the MIMI_ATTEST_PASSWORD
    /// environment variable].
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

impl KeyArgs {
    /// The passphrase from --password-file, else from the environment, else none.
    pub fn passphrase(&self) -> Result<Option<Passphrase>, CliError> {
        if let Some(p) = &self.password_file {
            return Ok(Some(Passphrase::from_file(p).map_err(advise)?));
        }
        match std::env::var(PASSWORD_ENV) {
            Ok(v) => Ok(Some(Passphrase::new(v).map_err(|_| {
                CliError(format!(
                    "{PASSWORD_ENV} is set but empty: unset it or give the passphrase"
                ))
            })?)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(CliError(format!("{PASSWORD_ENV} is not valid UTF-8")))
            }
        }
    }

    /// How new keys (`what`, e.g. "the CA keys") are written: under the passphrase, or
    /// unencrypted when `insecure` (--insecure-no-password) says so; never both, never neither.
    pub fn protection(&self, insecure: bool, what: &str) -> Result<KeyProtection, CliError> {
        match (self.passphrase()?, insecure) {
            (Some(p), false) => Ok(KeyProtection::Passphrase(p)),
            (None, true) => Ok(KeyProtection::Insecure),
            (Some(_), true) => Err(CliError(format!(
                "--insecure-no-password and a passphrase ({PASSWORD_ENV}) were both given: choose one"
            ))),
            (None, false) => Err(CliError(format!(
                "{what} need a passphrase: give --password-file FILE or set {PASSWORD_ENV} (or --insecure-no-password to write them unencrypted)"
            ))),
        }
    }

    /// Open the CA directory with the passphrase, if one was given.
    pub fn open(&self, dir: &std::path::Path) -> Result<ProviderCa, CliError> {
        ProviderCa::open_with(dir, self.passphrase()?.as_ref()).map_err(advise)
    }
}

#[derive(Args)]
pub struct InitArgs {
    /// Provider CA config (YAML), e.g. ca-config/chat-a.yaml.
    #[arg(long)]
    config: PathBuf,
    /// Directory to create; must not exist (or be empty).
    #[arg(long)]
    dir: PathBuf,
    #[command(flatten)]
    key: KeyArgs,
    /// Write the CA keys unencrypted (protected by their 0600 mode alone).
    #[arg(long, conflicts_with = "password_file")]
    insecure_no_password: bool,
}

#[derive(Args)]
pub struct IssueArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// CA directory made by `ca init`.
    #[arg(long)]
    ca: PathBuf,
    /// The phone number or email address to attest, e.g. +15551234567 or alice@chat-a.example.
    #[arg(long)]
    sii: String,
    /// The user's handle (SSI) on this provider, e.g. mimi://chat-a.example/u/alice.
    #[arg(long)]
    handle: Option<String>,
    /// How possession of the SII was proven [default: sms-otp for numbers, email-otp for addresses].
    #[arg(long, value_parser = parse_method)]
    method: Option<Method>,
    /// When possession was proven (RFC 3339) [default: now].
    #[arg(long, value_parser = parse_time)]
    validated_at: Option<OffsetDateTime>,
    /// Leaf validity, e.g. 7d [default: the CA's leaf_default].
    #[arg(long, value_parser = parse_span)]
    validity: Option<Span>,
    /// Mark this provider as the user's preferred one for this SII.
    #[arg(long)]
    preferred: bool,
    /// Mark the SII as recently reassigned to this user.
    #[arg(long)]
    new_holder: bool,
    /// The user's PKCS#10 CSR (PEM or DER); it must name the same SII.
    #[arg(long, conflicts_with_all = ["public_key", "key_out"])]
    csr: Option<PathBuf>,
    /// The user's P-256 public key (PEM SubjectPublicKeyInfo or DER).
    #[arg(long, conflicts_with = "key_out")]
    public_key: Option<PathBuf>,
    /// Generate the key pair and write the private key here (mode 0600).
    #[arg(long)]
    key_out: Option<PathBuf>,
    /// Idempotency key: issuing the same request id again returns the same certificate.
    #[arg(long)]
    request_id: Option<String>,
    /// Write the chain (leaf, issuing CA; PEM) here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub struct BatchArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// CA directory made by `ca init`.
    #[arg(long)]
    ca: PathBuf,
    /// Requests, one JSON object a line (`-` for stdin).
    #[arg(long)]
    input: PathBuf,
    /// Results, one JSON object a line, in input order (written whole or not at all; mode
    /// 0600, as it may hold generated private keys).
    #[arg(long)]
    output: PathBuf,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
pub struct RevokeArgs {
    /// CA directory made by `ca init`.
    #[arg(long)]
    ca: PathBuf,
    /// Serial of the attestation (hex, as `issue` printed it).
    #[arg(long, required_unless_present = "sii", conflicts_with = "sii")]
    serial: Option<String>,
    /// Revoke every live attestation of this SII instead.
    #[arg(long)]
    sii: Option<String>,
    /// key-compromise | sii-reassigned | account-closed | superseded | unspecified
    /// (for --issuing-ca: key-compromise, superseded or unspecified)
    #[arg(long, value_parser = parse_reason)]
    reason: RevokeReason,
    /// The serial is an issuing CA of this provider (current or retired): revoke it, and
    /// with it every attestation it signed. Published with `crl --root`.
    #[arg(long)]
    issuing_ca: bool,
}

#[derive(Args)]
pub struct CrlArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// CA directory made by `ca init`.
    #[arg(long)]
    ca: PathBuf,
    /// Where to write the CRL (PEM).
    #[arg(long)]
    out: PathBuf,
    /// Write DER instead of PEM.
    #[arg(long)]
    der: bool,
    /// Sign the root CRL instead (with root.key, like `ca rotate`): the revoked issuing CAs,
    /// which relying platforms need under `revocation: chain`.
    #[arg(long)]
    root: bool,
    /// With --root: the provider root's key, when it is kept outside the CA directory
    /// [default: <CA_DIR>/root.key].
    #[arg(long, value_name = "FILE", requires = "root")]
    root_key: Option<PathBuf>,
}

/// The CLI's message for a CA error: the library's, with the advice worded in this
/// command line's flags where a flag is what fixes it.
pub fn advise(e: IssueError) -> CliError {
    use mimi_attest::{KeyProblem, RevokeRefusal};
    let at = |t: &Option<OffsetDateTime>| t.map(rfc3339).unwrap_or_default();
    CliError(match &e {
        IssueError::DirExists { dir } => format!(
            "{} already exists and is not empty: a CA directory is never overwritten; choose a new --dir",
            dir.display()
        ),
        IssueError::NotCaDir { dir, missing } => format!(
            "{} is not a CA directory ({missing} is missing): create one with `mimi-attest ca init --config <provider.yaml> --dir {}`",
            dir.display(),
            dir.display()
        ),
        IssueError::RootKeyMissing {
            path,
            step,
            in_ca_dir: true,
        } => format!(
            "{}: {step} needs the provider root's key: bring root.key back from offline storage for this step, or give its path with --root-key FILE",
            path.display()
        ),
        IssueError::IssuerRevoked {
            serial,
            revoked_at,
            reason,
        } => format!(
            "the issuing CA {serial} was revoked at {} ({reason}): nothing is issued or renewed under a revoked CA; make a new issuing CA with `mimi-attest ca rotate --ca <CA_DIR>` and issue again",
            at(revoked_at)
        ),
        IssueError::IssuerCompromised { serial, revoked_at } => format!(
            "the issuing CA {serial} was revoked for key-compromise at {}: nothing is signed with a key declared compromised, so no CRL is signed with it; make a new issuing CA with `mimi-attest ca rotate --ca <CA_DIR>`, then publish the root CRL with `mimi-attest crl --ca <CA_DIR> --root --out <FILE>`: it lists the compromised CA, and relying platforms checking `revocation: chain` reject every attestation under it once they have it",
            at(revoked_at)
        ),
        IssueError::ValidationTooOld {
            validated_at,
            max_age,
            stale_at,
            fits,
        } => format!(
            "validated-at {} is too old: relying platforms accept a proof of possession for {max_age}, so this attestation would go stale at {} before it expires; {}re-validate the SII and give the new --validated-at",
            rfc3339(*validated_at),
            rfc3339(*stale_at),
            fits.map(|f| format!("ask for --validity {f} or less, or "))
                .unwrap_or_default()
        ),
        IssueError::UnknownSerial { serial, store } => format!(
            "serial {serial} was not issued by this CA (it is not in {}): check the serial and the --ca directory",
            store.display()
        ),
        IssueError::Revoke(RevokeRefusal::IssuingCaAsAttestation { serial }) => format!(
            "serial {serial} is the provider's issuing CA certificate, not an attestation: CA certificates are not revoked with this command; to revoke the issuing CA (and with it every attestation it signed) add --issuing-ca"
        ),
        IssueError::Revoke(RevokeRefusal::AttestationAsIssuingCa { serial }) => format!(
            "serial {serial} is an attestation, not an issuing CA: drop --issuing-ca to revoke it"
        ),
        IssueError::Key {
            path,
            problem: KeyProblem::NeedsPassphrase,
        } => format!(
            "{}: the key is encrypted: give its passphrase with --password-file FILE or the {PASSWORD_ENV} environment variable",
            path.display()
        ),
        IssueError::Key {
            path,
            problem: KeyProblem::WrongPassphrase,
        } => format!(
            "{}: wrong passphrase (or the key file is damaged): check --password-file / {PASSWORD_ENV}",
            path.display()
        ),
        _ => e.to_string(),
    })
}

fn parse_reason(s: &str) -> Result<RevokeReason, String> {
    s.parse()
        .map_err(|e: mimi_attest::ProfileError| e.to_string())
}

fn parse_method(s: &str) -> Result<Method, String> {
    s.parse()
        .map_err(|e: mimi_attest::ProfileError| e.to_string())
}

fn parse_span(s: &str) -> Result<Span, String> {
    s.parse()
        .map_err(|e: mimi_attest::ProfileError| e.to_string())
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
        format!("{s:?} is not an RFC 3339 time ({e}); write e.g. 2026-11-26T09:00:00Z")
    })
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub fn init(a: InitArgs) -> CliResult {
    let text = read_input(&a.config)?;
    let text = String::from_utf8(text)
        .map_err(|_| CliError(format!("{} is not UTF-8 text", a.config.display())))?;
    let protection = a.key.protection(a.insecure_no_password, "the CA keys")?;
    let encrypted = matches!(protection, KeyProtection::Passphrase(_));
    let ca = ProviderCa::init_with(
        &text,
        &a.config.display().to_string(),
        &a.dir,
        now(),
        &protection,
    )
    .map_err(advise)?;
    let c = ca.config();
    eprintln!(
        "created CA for {} in {}\n  root:        {}\n  issuing CA:  {}\n  scope:       {}\n  keys:        root.key, ca.key (mode 0600{}) — keep root.key offline\n  store:       {}",
        c.provider,
        a.dir.display(),
        a.dir.join("root.pem").display(),
        a.dir.join("ca.pem").display(),
        c.scope,
        if encrypted {
            ", encrypted"
        } else {
            ", NOT encrypted"
        },
        match &c.store {
            Some(store) => format!("{} (instance {})", store.url, store.instance),
            None => "store.db".to_owned(),
        },
    );
    Ok(Verdict::Yes)
}

pub fn issue(a: IssueArgs) -> CliResult {
    let sii = Sii::parse(&a.sii)?;
    if let Some(p) = &a.key_out {
        if p.exists() {
            return Err(CliError(format!(
                "{} already exists: --key-out never overwrites a key; choose another path",
                p.display()
            )));
        }
    }
    let key = match (&a.csr, &a.public_key) {
        (Some(p), _) => SubjectKey::csr_from_bytes(&read_input(p)?)
            .map_err(|e| CliError(format!("{}: {e}", p.display())))?,
        (_, Some(p)) => SubjectKey::public_key_from_bytes(&read_input(p)?)
            .map_err(|e| CliError(format!("{}: {e}", p.display())))?,
        _ => {
            if a.key_out.is_none() {
                return Err(CliError(
                    "no subject key: give the user's --csr (preferred) or --public-key, or --key-out FILE to generate a key pair".into(),
                ));
            }
            SubjectKey::Generate
        }
    };
    let mut ca = a.key.open(&a.ca)?;
    let mut req = IssueRequest::new(sii)
        .with_flags(
            MappingFlags::default()
                .with_preferred(a.preferred)
                .with_new_holder(a.new_holder),
        )
        .with_key(key);
    req.handle = a.handle;
    req.method = a.method;
    req.validated_at = a.validated_at;
    req.validity = a.validity;
    req.request_id = a.request_id;
    let issued = ca.issue(&req, now()).map_err(advise)?;
    if let (Some(path), Some(key)) = (&a.key_out, &issued.private_key_pem) {
        write_atomic(path, key.as_bytes(), FileMode::Private, Overwrite::Refuse).map_err(|e| {
            CliError(format!(
                "certificate {} was issued and stored, but the key could not be written to {}: {e}; revoke it and issue again",
                issued.serial,
                path.display()
            ))
        })?;
    }
    match &a.out {
        Some(path) => {
            write_atomic(
                path,
                issued.chain_pem.as_bytes(),
                FileMode::Public,
                Overwrite::Allow,
            )
            .map_err(|e| CliError(format!("cannot write {}: {e}", path.display())))?;
            // The proof beside the chain, whole or not at all, as `log add` writes it.
            if let Some(proof) = &issued.tlog_proof {
                let mut proof_path = path.clone().into_os_string();
                proof_path.push(".tlog-proof");
                let proof_path = PathBuf::from(proof_path);
                write_atomic(
                    &proof_path,
                    proof.to_text().as_bytes(),
                    FileMode::Public,
                    Overwrite::Allow,
                )
                .map_err(|e| CliError(format!("cannot write {}: {e}", proof_path.display())))?;
            }
        }
        None => {
            if let Some(proof) = &issued.tlog_proof {
                eprintln!(
                    "logged at index {} (give --out FILE to keep its proof as FILE.tlog-proof)",
                    proof.index
                );
            }
            std::io::stdout()
                .write_all(issued.chain_pem.as_bytes())
                .map_err(|e| CliError(format!("cannot write to stdout: {e}")))?;
        }
    }
    eprintln!(
        "{} {} serial {} valid until {}",
        if issued.replayed {
            "already issued:"
        } else {
            "issued"
        },
        issued.sii,
        issued.serial,
        rfc3339(issued.not_after)
    );
    // A replay hands back the stored certificate, whose key was generated (and written) by
    // the first run: the CA never keeps private keys, so there is none to write now. Exit 0:
    // the chain asked for was written, and the key, if the first run wrote it, matches it.
    if let (true, Some(path)) = (issued.replayed, &a.key_out) {
        eprintln!(
            "warning: request id {:?} was issued before: this is the certificate of that first run, and no new key was generated, so nothing was written to {}; its private key is the one the first run wrote to its --key-out file. If that key is lost, revoke serial {} (`mimi-attest revoke --ca {} --serial {} --reason superseded`) and issue again with a new --request-id",
            req.request_id.as_deref().unwrap_or_default(),
            path.display(),
            issued.serial,
            a.ca.display(),
            issued.serial,
        );
    }
    Ok(Verdict::Yes)
}

pub fn issue_batch(a: BatchArgs) -> CliResult {
    let mut ca = a.key.open(&a.ca)?;
    // One pass over the input (it may be a pipe): the bar follows the bytes read.
    let (reader, total): (Box<dyn std::io::Read>, Option<u64>) = if a.input.as_os_str() == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        let f = File::open(&a.input)
            .map_err(|e| CliError(format!("cannot read {}: {e}", a.input.display())))?;
        let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        (Box::new(f), len)
    };
    // Private (0600): results carry the private keys the CA generated for requests without
    // a CSR or public key, in the final file and in a killed run's partial .tmp file alike.
    let mut out = PendingFile::create(&a.output, FileMode::Private).map_err(|e| {
        CliError(format!(
            "cannot create {} (or a temporary file beside it): {e}",
            a.output.display()
        ))
    })?;
    let bar = match total {
        Some(len) if !a.quiet && len >= 1 << 20 => {
            let b = indicatif::ProgressBar::new(len);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:40}] {bytes}/{total_bytes} {msg} (eta {eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b
        }
        _ => indicatif::ProgressBar::hidden(),
    };
    let started = std::time::Instant::now();
    let summary = run_with_progress(&mut ca, reader, &mut out, &bar)?;
    out.commit()
        .map_err(|e| CliError(format!("cannot write {}: {e}", a.output.display())))?;
    bar.finish_and_clear();
    eprintln!(
        "{} requests: {} issued, {} already issued, {} failed ({:.1}s) -> {}",
        summary.requests,
        summary.issued,
        summary.replayed,
        summary.failed,
        started.elapsed().as_secs_f64(),
        a.output.display()
    );
    Ok(if summary.failed == 0 {
        Verdict::Yes
    } else {
        Verdict::No
    })
}

/// Run a batch from `reader`, moving `bar` in its own unit: input bytes (its length is the
/// input file's size). Each time a result is written the bar goes to the bytes read so
/// far, which run ahead of the results by at most the lines being worked on.
fn run_with_progress(
    ca: &mut ProviderCa,
    reader: Box<dyn std::io::Read>,
    out: &mut dyn Write,
    bar: &indicatif::ProgressBar,
) -> Result<mimi_attest::BatchSummary, CliError> {
    let read = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let mut input = BufReader::with_capacity(
        1 << 16,
        Counting {
            inner: reader,
            read: read.clone(),
        },
    );
    let summary = run_batch(ca, &mut input, out, &now, &mut |_line| {
        bar.set_position(read.get())
    })
    .map_err(advise)?;
    bar.set_position(read.get());
    Ok(summary)
}

/// Counts the bytes read through it, for the progress bar.
struct Counting {
    inner: Box<dyn std::io::Read>,
    read: std::rc::Rc<std::cell::Cell<u64>>,
}

impl std::io::Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

pub fn revoke(a: RevokeArgs) -> CliResult {
    // Marking a leaf revoked needs the store, not the CA key: no passphrase asked.
    let mut ca = CaRecords::open(&a.ca).map_err(advise)?;
    if a.issuing_ca {
        let serial: Serial = a
            .serial
            .as_deref()
            .ok_or_else(|| {
                CliError(
                    "--issuing-ca revokes one issuing CA: give its --serial (not --sii)".into(),
                )
            })?
            .parse()?;
        let r = ca
            .revoke_issuing_ca(&serial, a.reason, now())
            .map_err(advise)?;
        let o = &r.outcome;
        match &o.already {
            Some((at, reason)) => eprintln!(
                "already revoked: issuing CA {} at {} for {}; nothing changed",
                o.serial,
                rfc3339(*at),
                reason.map(RevokeReason::as_str).unwrap_or_default()
            ),
            None => {
                eprintln!(
                    "revoked issuing CA {}: {}; its {} unexpired attestation(s) are rejected by relying platforms checking `revocation: chain` once they have the new root CRL",
                    o.serial, a.reason, r.live_attestations
                );
                eprintln!(
                    "platforms checking `revocation: leaf` or `off` do not see a revoked issuing CA: they accept its attestations until they expire (at the latest {})",
                    rfc3339(r.not_after)
                );
                if a.reason == RevokeReason::KeyCompromise {
                    eprintln!(
                        "its key is declared compromised: `crl` signs nothing more with it (after `ca rotate`, only the new issuing CA's CRL)"
                    );
                }
            }
        }
        println!("{}", o.serial);
        if r.current {
            eprintln!(
                "warning: {} is the current issuing CA: nothing can be issued or renewed until `mimi-attest ca rotate --ca {}` makes a new one",
                o.serial,
                a.ca.display()
            );
        }
        eprintln!(
            "publish a new root CRL with `mimi-attest crl --ca {} --root --out <FILE>` (needs root.key)",
            a.ca.display()
        );
        return Ok(Verdict::Yes);
    }
    let outcomes = match (&a.serial, &a.sii) {
        (Some(serial), _) => {
            let serial: Serial = serial.parse()?;
            vec![ca.revoke_serial(&serial, a.reason, now()).map_err(advise)?]
        }
        (_, Some(sii)) => {
            let sii = Sii::parse(sii)?;
            let out = ca.revoke_sii(&sii, a.reason, now()).map_err(advise)?;
            if out.is_empty() {
                eprintln!("no live attestation of {sii} to revoke");
            }
            out
        }
        _ => unreachable!("clap requires --serial or --sii"),
    };
    for o in outcomes {
        let sii = o
            .sii
            .as_ref()
            .map_or_else(|| "-".to_owned(), Sii::canonical);
        match o.already {
            Some((at, reason)) => eprintln!(
                "already revoked: serial {} ({sii}) at {} for {}; nothing changed",
                o.serial,
                rfc3339(at),
                reason.map(RevokeReason::as_str).unwrap_or_default()
            ),
            None => eprintln!("revoked serial {} ({sii}): {}", o.serial, a.reason),
        }
        println!("{}", o.serial);
    }
    eprintln!(
        "publish a new CRL with `mimi-attest crl --ca {} --out <FILE>`",
        a.ca.display()
    );
    Ok(Verdict::Yes)
}

pub fn crl(a: CrlArgs) -> CliResult {
    if a.root {
        return root_crl(a);
    }
    let mut ca = a.key.open(&a.ca)?;
    let crls = ca.crls(now()).map_err(advise)?;
    let data = if a.der {
        if crls.len() > 1 {
            return Err(CliError(format!(
                "{} issuing CAs are still valid (after `ca rotate`), and a DER file holds one CRL: drop --der to get all of them as PEM",
                crls.len()
            )));
        }
        crls[0].der.clone()
    } else {
        crls.iter()
            .map(|c| c.pem.as_str())
            .collect::<String>()
            .into_bytes()
    };
    write_atomic(&a.out, &data, FileMode::Public, Overwrite::Allow).map_err(|e| {
        CliError(format!(
            "CRLs were signed but cannot be written to {}: {e}; run `crl` again",
            a.out.display()
        ))
    })?;
    for crl in &crls {
        eprintln!(
            "CRL number {} of issuing CA {} with {} revoked attestation(s), valid {} to {}",
            crl.number,
            crl.issuer_serial,
            crl.entries,
            rfc3339(crl.this_update),
            rfc3339(crl.next_update),
        );
    }
    for c in ca.compromised_issuing_cas(now()).map_err(advise)? {
        eprintln!(
            "note: no CRL for issuing CA {}: it was revoked for key-compromise, and nothing is signed with its key; the root CRL listing it (`mimi-attest crl --ca {} --root --out <FILE>`) is what withdraws its attestations for relying platforms checking `revocation: chain`",
            c.serial,
            a.ca.display()
        );
    }
    eprintln!("-> {}", a.out.display());
    Ok(Verdict::Yes)
}

fn root_crl(a: CrlArgs) -> CliResult {
    let root_key = a
        .root_key
        .as_deref()
        .map_or(RootKey::InCaDir, RootKey::File);
    let crl = ProviderCa::root_crl_using(&a.ca, now(), a.key.passphrase()?.as_ref(), root_key)
        .map_err(advise)?;
    let data = if a.der {
        crl.der.clone()
    } else {
        crl.pem.clone().into_bytes()
    };
    write_atomic(&a.out, &data, FileMode::Public, Overwrite::Allow).map_err(|e| {
        CliError(format!(
            "the root CRL was signed but cannot be written to {}: {e}; run `crl --root` again",
            a.out.display()
        ))
    })?;
    eprintln!(
        "root CRL number {} of provider root {} with {} revoked issuing CA(s), valid {} to {}\n-> {}",
        crl.number,
        crl.issuer_serial,
        crl.entries,
        rfc3339(crl.this_update),
        rfc3339(crl.next_update),
        a.out.display()
    );
    Ok(Verdict::Yes)
}

#[derive(Args)]
pub struct RenewArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// CA directory made by `ca init`.
    #[arg(long)]
    ca: PathBuf,
    /// Serial of the attestation to renew.
    #[arg(
        long,
        required_unless_present = "due_within",
        conflicts_with = "due_within"
    )]
    serial: Option<String>,
    /// Renew every live attestation due within this window (e.g. 30% or 2d) instead.
    #[arg(long, value_parser = parse_window)]
    due_within: Option<RenewalWindow>,
    /// A new proof of possession (RFC 3339) [default: keep the certificate's validatedAt].
    #[arg(long, value_parser = parse_time)]
    validated_at: Option<OffsetDateTime>,
    /// Validity of the renewed leaf [default: the CA's leaf_default].
    #[arg(long, value_parser = parse_span)]
    validity: Option<Span>,
    /// With --serial: where to write the new chain [default: stdout]. With --due-within:
    /// the JSON-lines results file (same shape as issue-batch output), required.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn parse_window(s: &str) -> Result<RenewalWindow, String> {
    s.parse()
        .map_err(|e: mimi_attest::IssueError| e.to_string())
}

pub fn renew(a: RenewArgs) -> CliResult {
    let mut ca = a.key.open(&a.ca)?;
    if let Some(serial) = &a.serial {
        let serial: Serial = serial.parse()?;
        let issued = ca
            .renew(&serial, a.validated_at, a.validity, now())
            .map_err(advise)?;
        emit_chain(&issued.chain_pem, a.out.as_ref())?;
        eprintln!(
            "{} {} serial {} (renewing {}) valid until {}",
            if issued.replayed {
                "already renewed:"
            } else {
                "renewed"
            },
            issued.sii,
            issued.serial,
            serial,
            rfc3339(issued.not_after)
        );
        return Ok(Verdict::Yes);
    }
    let window = a
        .due_within
        .expect("clap requires --serial or --due-within");
    let out_path = a.out.as_ref().ok_or_else(|| {
        CliError("--due-within writes JSON-lines results: give --out <results.jsonl>".into())
    })?;
    let due = ca.due_for_renewal(window, now()).map_err(advise)?;
    let mut reqs = Vec::new();
    let mut lines = Vec::new();
    for serial in &due {
        match ca.renewal_request(serial, a.validated_at, a.validity) {
            Ok(r) => reqs.push(r),
            Err(e) => lines
                .push(serde_json::json!({"id": format!("renew:{serial}"), "error": advise(e).0})),
        }
    }
    let (mut ok, mut failed) = (0, lines.len());
    for (req, result) in reqs
        .iter()
        .zip(ca.issue_many(&reqs, now()).map_err(advise)?)
    {
        lines.push(match result {
            Ok(i) => {
                ok += 1;
                serde_json::json!({"id": req.request_id, "serial": i.serial, "sii": i.sii.canonical(), "not_after": rfc3339(i.not_after), "chain_pem": i.chain_pem})
            }
            Err(e) => {
                failed += 1;
                serde_json::json!({"id": req.request_id, "error": advise(e).0})
            }
        });
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    write_atomic(
        out_path,
        text.as_bytes(),
        FileMode::Public,
        Overwrite::Allow,
    )
    .map_err(|e| CliError(format!("cannot write {}: {e}", out_path.display())))?;
    eprintln!(
        "{} due: {ok} renewed, {failed} failed -> {}",
        due.len(),
        out_path.display()
    );
    Ok(if failed == 0 {
        Verdict::Yes
    } else {
        Verdict::No
    })
}

fn emit_chain(chain_pem: &str, out: Option<&PathBuf>) -> Result<(), CliError> {
    match out {
        Some(path) => write_atomic(
            path,
            chain_pem.as_bytes(),
            FileMode::Public,
            Overwrite::Allow,
        )
        .map_err(|e| CliError(format!("cannot write {}: {e}", path.display()))),
        None => std::io::stdout()
            .write_all(chain_pem.as_bytes())
            .map_err(|e| CliError(format!("cannot write to stdout: {e}"))),
    }
}

#[derive(Args)]
pub struct NeedsRenewalArgs {
    /// A certificate or chain (PEM or DER); the first certificate is checked.
    file: PathBuf,
    /// Due when less than this remains: a share of the lifetime (30%) or a time (2d).
    #[arg(long, default_value = "30%", value_parser = parse_window)]
    within: RenewalWindow,
}

/// Exit 0 when the certificate needs renewal, 1 when it does not (as `step certificate
/// needs-renewal` does), 2 when it cannot be read.
pub fn needs_renewal(a: NeedsRenewalArgs) -> CliResult {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let bytes = read_input(&a.file)?;
    let der = match ::pem::parse_many(&bytes) {
        Ok(blocks) if !blocks.is_empty() => {
            let first = blocks.into_iter().next().expect("non-empty");
            if first.tag() != "CERTIFICATE" {
                return Err(CliError(format!(
                    "{}: expected a PEM CERTIFICATE, found {}",
                    a.file.display(),
                    first.tag()
                )));
            }
            first.into_contents()
        }
        _ => bytes,
    };
    let (rest, cert) = X509Certificate::from_der(&der).map_err(|_| {
        CliError(format!(
            "{}: not a certificate (expected PEM CERTIFICATE or DER)",
            a.file.display()
        ))
    })?;
    if !rest.is_empty() {
        return Err(CliError(format!(
            "{}: {} trailing bytes after the certificate's DER",
            a.file.display(),
            rest.len()
        )));
    }
    let (nb, na) = (
        cert.validity().not_before.to_datetime(),
        cert.validity().not_after.to_datetime(),
    );
    let due = mimi_attest::needs_renewal(nb, na, a.within, now());
    eprintln!(
        "{}: {} (valid until {})",
        a.file.display(),
        if due {
            "needs renewal"
        } else {
            "does not need renewal yet"
        },
        rfc3339(na)
    );
    Ok(if due { Verdict::Yes } else { Verdict::No })
}

#[derive(Args)]
pub struct RotateArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// CA directory made by `ca init` (its root.key must be present for this step, unless
    /// --root-key gives it).
    #[arg(long)]
    ca: PathBuf,
    /// The provider root's key, when it is kept outside the CA directory
    /// [default: <CA_DIR>/root.key].
    #[arg(long, value_name = "FILE")]
    root_key: Option<PathBuf>,
}

pub fn rotate(a: RotateArgs) -> CliResult {
    let t = now();
    let root_key = a
        .root_key
        .as_deref()
        .map_or(RootKey::InCaDir, RootKey::File);
    let ca = ProviderCa::rotate_using(&a.ca, t, a.key.passphrase()?.as_ref(), root_key)
        .map_err(advise)?;
    let cas = ca.store().issuing_cas()?;
    // Rotation appends the new CA: the one before it is the CA just retired.
    let (new, old) = match cas.as_slice() {
        [.., old, new] => (new, old),
        _ => return Err(CliError("the store lists no previous issuing CA after the rotation: check it with `mimi-attest store list`".into())),
    };
    let live = ca.store().count_live_leaves_of_issuer(&old.serial, t)?;
    eprintln!(
        "new issuing CA {} in {}; the previous one, {}, is kept in {}",
        new.serial,
        a.ca.join("ca.pem").display(),
        old.serial,
        a.ca.join("previous").display()
    );
    let reason = old
        .revocation_reason
        .map_or("unspecified", RevokeReason::as_str);
    match old.status {
        mimi_attest::CertStatus::Revoked => {
            eprintln!(
                "{} was revoked ({reason}): its {live} unexpired attestation(s) are rejected by relying platforms checking `revocation: chain` once they have a root CRL listing it; publish one with `mimi-attest crl --ca {} --root --out <FILE>`. Platforms checking `revocation: leaf` or `off` do not see a revoked issuing CA and accept them until they expire",
                old.serial,
                a.ca.display()
            );
            if reason == RevokeReason::KeyCompromise.as_str() {
                eprintln!(
                    "its key was declared compromised: `crl` signs no more CRLs with it, only the new issuing CA's"
                );
            } else {
                eprintln!("`crl` now signs CRLs for both");
            }
        }
        _ => eprintln!(
            "its {live} unexpired attestation(s) stay valid until they expire unless revoked; `crl` now signs CRLs for both"
        ),
    }
    Ok(Verdict::Yes)
}

#[derive(Args)]
pub struct StoreMigrateArgs {
    /// CA directory made by `ca init` (its store.db is upgraded in place; no keys needed).
    #[arg(long)]
    ca: PathBuf,
}

/// `store migrate`: the explicit schema upgrade. Run it with no other command using the CA.
pub fn store_migrate(a: StoreMigrateArgs) -> CliResult {
    let path = a.ca.join(mimi_attest::STORE_FILE);
    if !a.ca.join("config.yaml").is_file() {
        return Err(CliError(format!(
            "{} is not a CA directory (config.yaml is missing): give the --ca directory made by `mimi-attest ca init`",
            a.ca.display()
        )));
    }
    if let Some(store) = mimi_attest::CaConfig::from_file(&a.ca.join("config.yaml"))?.store {
        return Err(CliError(format!(
            "{}: the CA config names a PostgreSQL store ({}), and `store migrate` upgrades only store.db so far: nothing was done (`ca init` made that store at schema version {}, the newest there is)",
            a.ca.display(),
            store.url,
            mimi_attest::STORE_SCHEMA_VERSION
        )));
    }
    let m = mimi_attest::IssuanceStore::migrate(&path)?;
    if m.from == m.to {
        eprintln!(
            "{} already has schema version {}: nothing to do",
            path.display(),
            m.to
        );
    } else {
        eprintln!(
            "upgraded {} from schema version {} to {}: every record and certificate kept",
            path.display(),
            m.from,
            m.to
        );
    }
    Ok(Verdict::Yes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bar's length is the input's size in bytes, and its position moves in bytes too:
    /// a finished batch stands at its full length (not at its number of lines).
    #[test]
    fn batch_progress_counts_bytes_like_its_length() {
        let tmp = tempfile::tempdir().unwrap();
        let config = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/ca-config/chat-a.yaml"
        ))
        .unwrap();
        let mut ca =
            ProviderCa::init(&config, "chat-a.yaml", &tmp.path().join("ca"), now()).unwrap();
        let input: String = (0..300)
            .map(|i| format!("{{\"id\":\"r-{i}\",\"sii\":\"+1555010{i:04}\"}}\n"))
            .collect();
        let len = input.len() as u64;
        let bar = indicatif::ProgressBar::hidden();
        bar.set_length(len);
        let mut out = Vec::new();
        let summary = run_with_progress(
            &mut ca,
            Box::new(std::io::Cursor::new(input.into_bytes())),
            &mut out,
            &bar,
        )
        .unwrap();
        assert_eq!(summary.requests, 300);
        assert_eq!(bar.length(), Some(len));
        assert_eq!(bar.position(), len, "position and length in the same unit");
    }
}
