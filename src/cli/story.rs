//! The whole story on the example provider configs, as a library function the `demo`
//! command prints: two providers, attestations (one person on both providers, an email, a
//! CSR-based leaf), a relying platform's trust list, verification, resolution, two forged
//! attestations being rejected, and the shared transparency log both providers write: a
//! witness, log proofs required by a trust list, and a monitor finding a number two
//! providers claim at once.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rcgen::{
    CertificateParams, DistinguishedName, Issuer, KeyPair, SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

use mimi_attest::chain_from_pem;
use mimi_attest::{init_log, init_witness, log_keys, open_log, witness_key, KeyProtection};
use mimi_attest::{
    leaf_params, CaConfig, IssueError, IssueRequest, Issued, ProviderCa, SubjectKey,
};
use mimi_attest::{write_atomic, FileMode, Overwrite};
use mimi_attest::{AuditError, Monitor, MonitorReport, VerifyOptions};
use mimi_attest::{
    Code, Resolution, Sii, TrustList, TrustListError, VerifiedMapping, Verifier, VerifyError,
};
use mimi_attest::{MappingFlags, Method, MimiMapping};

/// The person on both providers.
pub const ALICE_TEL: &str = "+15551234567";

/// The number chat-b takes over from chat-a (a port: chat-b issues with newHolder).
pub const DAVE_TEL: &str = "+15557654321";

/// The origin of the shared log both providers write.
pub const LOG_ORIGIN: &str = "log.example/mapping";

/// The name of the log's witness.
pub const WITNESS_NAME: &str = "witness.example/w1";

/// The `log:` section each provider's CA config gets in the demo (relative to its CA
/// directory): the shared log and its witness.
const LOG_SECTION: &str = "\nlog:\n  dir: ../log\n  witnesses: [../witness]\n";

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A provider CA operation failed.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The trust list the demo wrote could not be loaded.
    #[error(transparent)]
    TrustList(#[from] TrustListError),
    /// A file could not be written or read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Building a certificate failed.
    #[error("could not build a certificate: {0}")]
    Build(String),
    /// The monitor could not read the log or its state.
    #[error(transparent)]
    Monitor(#[from] AuditError),
}

fn io(path: &Path, e: impl std::fmt::Display) -> DemoError {
    DemoError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn build(e: impl std::fmt::Display) -> DemoError {
    DemoError::Build(e.to_string())
}

/// What the demo expects of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expect {
    /// It verifies.
    Valid,
    /// It is rejected with this code.
    Rejected(Code),
}

/// A provider created by the demo.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DemoProvider {
    /// Its domain.
    pub provider: String,
    /// Its CA directory.
    pub ca_dir: PathBuf,
    /// Its scope, for people.
    pub scope: String,
}

/// One chain of the demo and what verifying it gave.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DemoChain {
    /// File name (under `chains/`).
    pub name: String,
    /// What it is.
    pub description: String,
    /// Where it was written.
    pub file: PathBuf,
    /// What the demo expects.
    pub expect: Expect,
    /// What verification gave.
    pub result: Result<VerifiedMapping, VerifyError>,
}

impl DemoChain {
    /// Whether the result is what the demo expects.
    pub fn as_expected(&self) -> bool {
        match (&self.result, self.expect) {
            (Ok(_), Expect::Valid) => true,
            (Err(e), Expect::Rejected(code)) => e.code() == code,
            _ => false,
        }
    }
}

/// Everything the demo did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DemoReport {
    /// The working directory.
    pub dir: PathBuf,
    /// The time everything was issued and verified at.
    pub now: OffsetDateTime,
    /// The two providers.
    pub providers: Vec<DemoProvider>,
    /// The relying platform's trust list.
    pub trust_list: PathBuf,
    /// Every chain, verified.
    pub chains: Vec<DemoChain>,
    /// Resolving [`ALICE_TEL`] from every chain naming it.
    pub resolution: Resolution,
    /// File names of the chains given to the resolver, by input index.
    pub resolved_names: Vec<String>,
    /// The shared transparency log.
    pub log: DemoLog,
}

impl DemoReport {
    /// Whether every chain gave what the demo expects.
    pub fn as_expected(&self) -> bool {
        self.chains.iter().all(DemoChain::as_expected) && self.log.as_expected()
    }
}

/// The shared log both providers write, and what a relying platform and a monitor make of it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DemoLog {
    /// The log's origin.
    pub origin: String,
    /// The log directory.
    pub dir: PathBuf,
    /// The witness's name.
    pub witness: String,
    /// The witness directory.
    pub witness_dir: PathBuf,
    /// How many leaves the providers logged.
    pub logged: u64,
    /// The trust list naming the log and the witness, requiring log proofs.
    pub trust_list: PathBuf,
    /// Chains verified under that trust list (each with its proof, when it has one).
    pub chains: Vec<DemoChain>,
    /// The monitor's state directory.
    pub monitor_dir: PathBuf,
    /// What the monitor found on its first run.
    pub monitor: MonitorReport,
    /// The SII of each label the demo attested, label hex first (to name the labels the
    /// monitor reports: the monitor itself sees only labels).
    pub labels: Vec<(String, Sii)>,
}

impl DemoLog {
    /// Whether every chain gave what the demo expects and the monitor found the log
    /// consistent.
    pub fn as_expected(&self) -> bool {
        self.chains.iter().all(DemoChain::as_expected) && !self.monitor.inconsistent()
    }

    /// The SII whose label is `label_hex`, when the demo attested it.
    pub fn sii_of(&self, label_hex: &str) -> Option<&Sii> {
        self.labels
            .iter()
            .find(|(l, _)| l == label_hex)
            .map(|(_, s)| s)
    }
}

/// Run the demo in `dir` (created; must not hold CA directories yet) on the two provider
/// configs (YAML text), at `now`.
pub fn run(
    chat_a_yaml: &str,
    chat_b_yaml: &str,
    dir: &Path,
    now: OffsetDateTime,
) -> Result<DemoReport, DemoError> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    std::fs::create_dir_all(dir.join("chains")).map_err(|e| io(dir, e))?;
    // One log and one witness shared by both providers; each CA logs every leaf it issues.
    let (log_dir, witness_dir) = (dir.join("log"), dir.join("witness"));
    init_log(&log_dir, LOG_ORIGIN, &KeyProtection::Insecure)?;
    init_witness(&witness_dir, WITNESS_NAME, &KeyProtection::Insecure)?;
    let logged = |yaml: &str| format!("{}{LOG_SECTION}", yaml.trim_end());
    let a = ProviderCa::init(
        &logged(chat_a_yaml),
        "chat-a.yaml",
        &dir.join("chat-a-ca"),
        now,
    )?;
    let b = ProviderCa::init(
        &logged(chat_b_yaml),
        "chat-b.yaml",
        &dir.join("chat-b-ca"),
        now,
    )?;
    let providers = [&a, &b]
        .iter()
        .map(|ca| DemoProvider {
            provider: ca.config().provider.to_string(),
            ca_dir: ca.dir().to_owned(),
            scope: ca.config().scope.to_string(),
        })
        .collect();

    let sii = |s: &str| Sii::parse(s).map_err(|e| DemoError::Build(e.to_string()));
    let alice = sii(ALICE_TEL)?;
    let mut chains: Vec<(String, String, Expect, String)> = Vec::new();

    // Alice on chat-a (preferred, just validated) and on chat-b (validated two days ago).
    let mut req = IssueRequest::new(alice.clone());
    req.handle = Some("mimi://chat-a.example/u/alice".into());
    req.flags = MappingFlags::default().with_preferred(true);
    let issued = issue(&a, &req, now)?;
    chains.push((
        "alice-chat-a.pem".into(),
        format!("{ALICE_TEL} on chat-a, preferred"),
        Expect::Valid,
        issued.chain_pem,
    ));
    let mut req = IssueRequest::new(alice.clone());
    req.handle = Some("mimi://chat-b.example/u/alice.w".into());
    req.validated_at = Some(now - Duration::days(2));
    let issued = issue(&b, &req, now)?;
    chains.push((
        "alice-chat-b.pem".into(),
        format!("{ALICE_TEL} on chat-b"),
        Expect::Valid,
        issued.chain_pem,
    ));

    // Bob's email address on chat-a.
    let mut req = IssueRequest::new(sii("bob@chat-a.example")?);
    req.handle = Some("mimi://chat-a.example/u/bob".into());
    req.method = Some(Method::EmailLink);
    let issued = issue(&a, &req, now)?;
    chains.push((
        "bob-email-chat-a.pem".into(),
        "bob@chat-a.example on chat-a (rfc822Name leaf)".into(),
        Expect::Valid,
        issued.chain_pem,
    ));

    // Carol's client sends a CSR naming her number; chat-b issues on it.
    let carol = sii("+49 151 1234 5678")?;
    let carol_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(build)?;
    let mut csr_params = CertificateParams::default();
    csr_params.distinguished_name = DistinguishedName::new();
    csr_params.subject_alt_names = vec![SanType::URI(carol.san_value().try_into().map_err(build)?)];
    let csr = csr_params.serialize_request(&carol_key).map_err(build)?;
    let mut req = IssueRequest::new(carol);
    req.handle = Some("mimi://chat-b.example/u/carol".into());
    req.key = SubjectKey::Csr(csr.der().to_vec());
    let issued = issue(&b, &req, now)?;
    chains.push((
        "carol-csr-chat-b.pem".into(),
        "+4915112345678 on chat-b, issued on Carol's CSR".into(),
        Expect::Valid,
        issued.chain_pem,
    ));

    // Forgeries: chat-b's CA key signing directly, bypassing its issuer's guards.
    let forged = forge(
        &b,
        &sii("+33 6 12 34 56 78")?,
        "chat-b.example",
        "mimi://chat-b.example/u/mallory",
        now,
    )?;
    chains.push((
        "forged-out-of-scope.pem".into(),
        "chat-b asserting a French number, outside its scope".into(),
        Expect::Rejected(Code::OutOfScope),
        forged,
    ));
    let forged = forge(
        &b,
        &alice,
        "chat-a.example",
        "mimi://chat-a.example/u/mallory",
        now,
    )?;
    chains.push((
        "forged-claims-chat-a.pem".into(),
        format!("chat-b claiming {ALICE_TEL} is served by chat-a"),
        Expect::Rejected(Code::ProviderMismatch),
        forged,
    ));

    // The relying platform's trust list: both roots, scoped as the providers configured.
    let trust_list = dir.join("trust-list.yaml");
    let public = |p: &Path, data: &[u8]| {
        write_atomic(p, data, FileMode::Public, Overwrite::Allow).map_err(|e| io(p, e))
    };
    public(&dir.join("chat-a-root.pem"), a.root_pem().as_bytes())?;
    public(&dir.join("chat-b-root.pem"), b.root_pem().as_bytes())?;
    public(
        &trust_list,
        trust_list_yaml(&[
            ("chat-a", a.config(), "chat-a-root.pem"),
            ("chat-b", b.config(), "chat-b-root.pem"),
        ])
        .as_bytes(),
    )?;
    let verifier = Verifier::new(TrustList::from_file(&trust_list)?);

    let mut out = Vec::new();
    let mut alice_chains = Vec::new();
    let mut resolved_names = Vec::new();
    for (name, description, expect, pem) in chains {
        let file = dir.join("chains").join(&name);
        public(&file, pem.as_bytes())?;
        let result = chain_from_pem(pem.as_bytes()).and_then(|chain| verifier.verify(&chain, now));
        if pem_names(&pem, &alice) {
            alice_chains.push(chain_from_pem(pem.as_bytes()).map_err(build)?);
            resolved_names.push(name.clone());
        }
        out.push(DemoChain {
            name,
            description,
            file,
            expect,
            result,
        });
    }
    let resolution = verifier.resolve(&alice, &alice_chains, now);
    let log = run_log(&a, &b, dir, now)?;
    Ok(DemoReport {
        dir: dir.to_owned(),
        now,
        providers,
        trust_list,
        chains: out,
        resolution,
        resolved_names,
        log,
    })
}

/// The log part: chat-b takes over a number chat-a attests (newHolder), a trust list that
/// requires log proofs accepts the logged chain and rejects one chat-b's key signed without
/// logging it, and a monitor of the log finds the numbers both providers claim.
fn run_log(
    a: &ProviderCa,
    b: &ProviderCa,
    dir: &Path,
    now: OffsetDateTime,
) -> Result<DemoLog, DemoError> {
    let (log_dir, witness_dir) = (dir.join("log"), dir.join("witness"));
    let sii = |s: &str| Sii::parse(s).map_err(|e| DemoError::Build(e.to_string()));
    let public = |p: &Path, data: &[u8]| {
        write_atomic(p, data, FileMode::Public, Overwrite::Allow).map_err(|e| io(p, e))
    };
    let dave = sii(DAVE_TEL)?;

    // Dave moves his number from chat-a to chat-b: chat-b attests it as its new holder while
    // chat-a's attestation is still valid.
    let mut req = IssueRequest::new(dave.clone());
    req.handle = Some("mimi://chat-a.example/u/dave".into());
    req.validated_at = Some(now - Duration::days(20));
    issue(a, &req, now)?;
    let mut req = IssueRequest::new(dave.clone());
    req.handle = Some("mimi://chat-b.example/u/dave".into());
    req.flags = MappingFlags::default().with_new_holder(true);
    let ported = issue(b, &req, now)?;
    let proof = ported.tlog_proof.clone().ok_or_else(|| {
        DemoError::Build("chat-b's CA has a log but handed out no log proof".into())
    })?;

    let keys = log_keys(&log_dir)?;
    let witness = witness_key(&witness_dir)?;
    let trust_list = dir.join("trust-list-logged.yaml");
    let mut yaml = trust_list_yaml(&[
        ("chat-a", a.config(), "chat-a-root.pem"),
        ("chat-b", b.config(), "chat-b-root.pem"),
    ]);
    yaml.push_str(&format!(
        "  log_proof: required\n  witness_quorum: 1\nlogs:\n  - name: {LOG_ORIGIN}\n    key: {}\n    vrf_key: {}\nwitnesses:\n  - name: {WITNESS_NAME}\n    key: {}\n",
        keys.key,
        B64.encode(keys.vrf.as_bytes()),
        witness
    ));
    public(&trust_list, yaml.as_bytes())?;
    let verifier = Verifier::new(TrustList::from_file(&trust_list)?);

    let unlogged = forge(
        b,
        &dave,
        "chat-b.example",
        "mimi://chat-b.example/u/mallory",
        now,
    )?;
    let mut chains = Vec::new();
    for (name, description, expect, pem, proof) in [
        (
            "dave-chat-b.pem",
            format!("{DAVE_TEL} on chat-b as its new holder, with its log proof"),
            Expect::Valid,
            ported.chain_pem,
            Some(&proof),
        ),
        (
            "unlogged-chat-b.pem",
            format!("{DAVE_TEL} signed with chat-b's CA key but never logged"),
            Expect::Rejected(Code::LogProofMissing),
            unlogged,
            None,
        ),
    ] {
        let file = dir.join("chains").join(name);
        public(&file, pem.as_bytes())?;
        if let Some(p) = proof {
            let proof_file = dir.join("chains").join(format!("{name}.tlog-proof"));
            public(&proof_file, p.to_text().as_bytes())?;
        }
        let result = chain_from_pem(pem.as_bytes()).and_then(|chain| {
            let options = VerifyOptions::at(now);
            let options = match proof {
                Some(p) => options.log_proof(p),
                None => options,
            };
            verifier.verify_with(&chain, &options).result
        });
        chains.push(DemoChain {
            name: name.into(),
            description,
            file,
            expect,
            result,
        });
    }

    // A monitor follows the log from its public tree, as anyone can.
    let monitor_dir = dir.join("monitor");
    let monitor =
        Monitor::open(&monitor_dir)?.update(&log_dir.join("public"), &keys, &[witness])?;
    // The log operator names the labels of the numbers the demo attested.
    let operator = open_log(&log_dir, None)?;
    let mut labels = Vec::new();
    for s in [sii(ALICE_TEL)?, dave] {
        let (label, _) = operator.label(&s.canonical()).map_err(build)?;
        labels.push((label.iter().map(|b| format!("{b:02x}")).collect(), s));
    }
    Ok(DemoLog {
        origin: keys.origin.clone(),
        dir: log_dir,
        witness: WITNESS_NAME.into(),
        witness_dir,
        logged: operator.writer().size(),
        trust_list,
        chains,
        monitor_dir,
        monitor,
        labels,
    })
}

/// One issuance on the CA in `ca`'s directory, opened for it alone: a CA keeps the log it
/// writes locked while it is open, and both demo providers write the same log.
fn issue(ca: &ProviderCa, req: &IssueRequest, now: OffsetDateTime) -> Result<Issued, DemoError> {
    Ok(ProviderCa::open(ca.dir())?.issue(req, now)?)
}

/// Whether a chain's leaf names `sii` (to pick the chains given to the resolver).
fn pem_names(pem: &str, sii: &Sii) -> bool {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .and_then(Result::ok)
        .and_then(|der| {
            use x509_parser::prelude::FromDer;
            x509_parser::certificate::X509Certificate::from_der(&der)
                .ok()
                .and_then(|(_, c)| mimi_attest::leaf_sii(&c).ok())
        })
        .is_some_and(|s| s == *sii)
}

/// A relying platform's trust list for `anchors` (name, CA config, root certificate file):
/// each anchor scoped as its CA config says.
pub fn trust_list_yaml(anchors: &[(&str, &CaConfig, &str)]) -> String {
    let mut y = String::from(
        "# Relying-platform trust list: which provider roots are accepted and what each may assert.\nversion: 1\nanchors:\n",
    );
    for (name, config, cert) in anchors {
        y.push_str(&config.trust_list_anchor_yaml(name, cert));
    }
    y.push_str("policy:\n  clock_skew: 5m\n  max_leaf_validity: 90d\n  max_validation_age: 30d\n");
    y
}

/// A leaf signed directly with the CA's key, bypassing [`ProviderCa::issue`]'s scope and
/// provider guards: what a compromised or dishonest provider could produce.
fn forge(
    ca: &ProviderCa,
    sii: &Sii,
    provider: &str,
    handle: &str,
    now: OffsetDateTime,
) -> Result<String, DemoError> {
    let key_path = ca.dir().join("ca.key");
    let key_pem = std::fs::read_to_string(&key_path).map_err(|e| io(&key_path, e))?;
    let ca_key = KeyPair::from_pem(&key_pem).map_err(build)?;
    let ca_der = CertificateDer::from_pem_slice(ca.ca_pem().as_bytes()).map_err(build)?;
    let issuer = Issuer::from_ca_cert_der(&ca_der, ca_key).map_err(build)?;
    let mapping = MimiMapping::new(provider, Method::SmsOtp, now)
        .with_handle(handle)
        .with_flags(MappingFlags::default().with_preferred(true));
    let p = leaf_params(
        sii,
        &mapping.to_der().map_err(build)?,
        None,
        now,
        now + Duration::days(7),
    )?;
    let subject = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(build)?;
    let leaf = p.signed_by(&subject, &issuer).map_err(build)?;
    Ok(format!("{}{}", leaf.pem(), ca.ca_pem()))
}

/// Copy the demo's example files (roots, chains, trust list) into `out` (e.g. `certs/`).
pub fn write_examples(report: &DemoReport, out: &Path) -> Result<Vec<PathBuf>, DemoError> {
    std::fs::create_dir_all(out).map_err(|e| io(out, e))?;
    let mut written = Vec::new();
    let mut copy = |from: &Path, name: &str| -> Result<(), DemoError> {
        let data = std::fs::read(from).map_err(|e| io(from, e))?;
        let to = out.join(name);
        write_atomic(&to, &data, FileMode::Public, Overwrite::Allow).map_err(|e| io(&to, e))?;
        written.push(to);
        Ok(())
    };
    copy(&report.dir.join("chat-a-root.pem"), "chat-a-root.pem")?;
    copy(&report.dir.join("chat-b-root.pem"), "chat-b-root.pem")?;
    copy(&report.trust_list, "trust-list.yaml")?;
    for c in &report.chains {
        copy(&c.file, &c.name)?;
    }
    Ok(written)
}
