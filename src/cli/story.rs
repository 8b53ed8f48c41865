//! The whole story on the example provider configs, as a library function the `demo`
//! command prints: two providers, attestations (one person on both providers, an email, a
//! CSR-based leaf), a relying platform's trust list, verification, resolution, and two
//! forged attestations being rejected.

use std::path::{Path, PathBuf};

use rcgen::{
    CertificateParams, DistinguishedName, Issuer, KeyPair, SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

use mimi_attest::chain_from_pem;
use mimi_attest::{leaf_params, CaConfig, IssueError, IssueRequest, ProviderCa, SubjectKey};
use mimi_attest::{write_atomic, FileMode, Overwrite};
use mimi_attest::{
    Code, Resolution, Sii, TrustList, TrustListError, VerifiedMapping, Verifier, VerifyError,
};
use mimi_attest::{MappingFlags, Method, MimiMapping};

/// The person on both providers.
pub const ALICE_TEL: &str = "+15551234567";

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
}

impl DemoReport {
    /// Whether every chain gave what the demo expects.
    pub fn as_expected(&self) -> bool {
        self.chains.iter().all(DemoChain::as_expected)
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
    let mut a = ProviderCa::init(chat_a_yaml, "chat-a.yaml", &dir.join("chat-a-ca"), now)?;
    let mut b = ProviderCa::init(chat_b_yaml, "chat-b.yaml", &dir.join("chat-b-ca"), now)?;
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
    let issued = a.issue(&req, now)?;
    chains.push((
        "alice-chat-a.pem".into(),
        format!("{ALICE_TEL} on chat-a, preferred"),
        Expect::Valid,
        issued.chain_pem,
    ));
    let mut req = IssueRequest::new(alice.clone());
    req.handle = Some("mimi://chat-b.example/u/alice.w".into());
    req.validated_at = Some(now - Duration::days(2));
    let issued = b.issue(&req, now)?;
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
    let issued = a.issue(&req, now)?;
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
    let issued = b.issue(&req, now)?;
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
    Ok(DemoReport {
        dir: dir.to_owned(),
        now,
        providers,
        trust_list,
        chains: out,
        resolution,
        resolved_names,
    })
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
