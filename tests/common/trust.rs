//! A federation publishing signed trust lists (version 2), through the real CLI: signers'
//! keys (`trust-list keygen`), signers files, lists with their roots inline, signing
//! (`trust-list sign`) and the platform's check (`trust-list verify`).

use std::path::{Path, PathBuf};
use std::process::Output;

use time::{Duration, OffsetDateTime};

use super::ca::{chat_a_config, init_ca, issue_at};
use super::cli::{cmd, repo_path, s, stderr, stdout, PASSWORD_ENV};

/// The passphrase of the encrypted signing keys the tests make.
pub const PASSPHRASE: &str = "federation test passphrase";

/// The scope of the example provider chat-a (and of the CAs made from ca-config/chat-a.yaml),
/// as a trust list writes it.
pub const CHAT_A_SCOPE: &str = r#"{tel: ["+1", "+44"], email: ["chat-a.example"]}"#;

/// One signer's key, made by `trust-list keygen`.
pub struct Signer {
    pub name: String,
    pub key: PathBuf,
    pub vkey: String,
    pub encrypted: bool,
}

impl Signer {
    /// `trust-list keygen --name name` into `dir`, encrypted under [`PASSPHRASE`] (given in
    /// the environment) or with --insecure-no-password.
    pub fn keygen(dir: &Path, name: &str, encrypted: bool) -> Signer {
        let key = dir.join(format!("{}.key", name.replace('/', "_")));
        let mut c = cmd(&["trust-list", "keygen", "--name", name, "--out", s(&key)]);
        if encrypted {
            c.env(PASSWORD_ENV, PASSPHRASE);
        } else {
            c.arg("--insecure-no-password");
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(0), "keygen {name}: {}", stderr(&o));
        let vkey = stdout(&o).trim().to_owned();
        assert!(vkey.starts_with(&format!("{name}+")), "{vkey}");
        Signer {
            name: name.to_owned(),
            key,
            vkey,
            encrypted,
        }
    }

    /// `trust-list sign --key <this key> --out out input` (with the passphrase when the key
    /// is encrypted).
    pub fn sign(&self, input: &Path, out: &Path) -> Output {
        let mut c = cmd(&[
            "trust-list",
            "sign",
            "--key",
            s(&self.key),
            "--out",
            s(out),
            s(input),
        ]);
        if self.encrypted {
            c.env(PASSWORD_ENV, PASSPHRASE);
        }
        c.output().unwrap()
    }

    /// [`Signer::sign`], which must succeed.
    #[track_caller]
    pub fn signs(&self, input: &Path, out: &Path) {
        let o = self.sign(input, out);
        assert_eq!(
            o.status.code(),
            Some(0),
            "sign by {}: {}",
            self.name,
            stderr(&o)
        );
    }
}

/// A signers file's text: `threshold` of `vkeys`.
pub fn signers_yaml(threshold: usize, vkeys: &[&str]) -> String {
    let mut out = format!("threshold: {threshold}\nkeys:\n");
    for v in vkeys {
        out.push_str(&format!("  - {v}\n"));
    }
    out
}

/// One anchor of a version 2 list, its root inline.
#[derive(Clone)]
pub struct AnchorText {
    pub name: String,
    pub provider: String,
    pub root_pem: String,
    /// The scope in YAML flow form, e.g. [`CHAT_A_SCOPE`].
    pub scope: String,
}

impl AnchorText {
    /// An anchor `chat-a` for provider chat-a.example with `root_pem` and [`CHAT_A_SCOPE`].
    pub fn chat_a(root_pem: &str) -> AnchorText {
        AnchorText {
            name: "chat-a".into(),
            provider: "chat-a.example".into(),
            root_pem: root_pem.to_owned(),
            scope: CHAT_A_SCOPE.into(),
        }
    }
}

/// The committed example root of chat-a (certs/chat-a-root.pem).
pub fn chat_a_root_pem() -> String {
    std::fs::read_to_string(repo_path("certs/chat-a-root.pem")).unwrap()
}

/// A chain issued now by a CA made from ca-config/chat-a.yaml, and the CA's root.
pub struct FreshChain {
    pub chain: PathBuf,
    pub root_pem: String,
}

/// A CA made in `dir/ca` (through the library, a minute ago) and a chain it issued for
/// tel:+15551234567, written to `dir/alice.pem`.
pub fn fresh_chain(dir: &Path) -> FreshChain {
    let at = super::now() - Duration::minutes(1);
    std::fs::create_dir_all(dir).unwrap();
    let ca_dir = dir.join("ca");
    let mut ca = init_ca(&ca_dir, &chat_a_config(), at);
    let issued = issue_at(&mut ca, "tel:+15551234567", at);
    let chain = dir.join("alice.pem");
    std::fs::write(&chain, issued.chain_pem).unwrap();
    FreshChain {
        chain,
        root_pem: std::fs::read_to_string(ca_dir.join("root.pem")).unwrap(),
    }
}

/// A version 2 list as its publisher writes it.
#[derive(Clone)]
pub struct ListV2 {
    pub sequence: u64,
    pub issued: OffsetDateTime,
    pub expires: OffsetDateTime,
    pub anchors: Vec<AnchorText>,
    /// `signers: {threshold, keys}`, when given.
    pub signers: Option<(usize, Vec<String>)>,
    /// Lines added at the end, as written.
    pub extra: String,
}

impl ListV2 {
    /// Sequence `sequence`, one anchor, issued an hour ago, expiring in 30 days.
    pub fn new(sequence: u64, anchor: AnchorText) -> ListV2 {
        let now = super::now();
        ListV2 {
            sequence,
            issued: now - Duration::hours(1),
            expires: now + Duration::days(30),
            anchors: vec![anchor],
            signers: None,
            extra: String::new(),
        }
    }

    /// The same list naming `threshold` of `vkeys` as the signers of the next version.
    pub fn signed_by(mut self, threshold: usize, vkeys: &[&str]) -> ListV2 {
        self.signers = Some((threshold, vkeys.iter().map(|v| v.to_string()).collect()));
        self
    }

    /// The YAML text.
    pub fn text(&self) -> String {
        let t = mimi_attest::rfc3339;
        let mut out = format!(
            "version: 2\nsequence: {}\nissued: {}\nexpires: {}\nanchors:\n",
            self.sequence,
            t(self.issued),
            t(self.expires)
        );
        for a in &self.anchors {
            out.push_str(&format!(
                "  - name: {}\n    provider: {}\n    certificate_pem: |\n",
                a.name, a.provider
            ));
            for l in a.root_pem.trim().lines() {
                out.push_str(&format!("      {l}\n"));
            }
            out.push_str(&format!("    scope: {}\n", a.scope));
        }
        if let Some((threshold, keys)) = &self.signers {
            out.push_str(&format!("signers:\n  threshold: {threshold}\n  keys:\n"));
            for k in keys {
                out.push_str(&format!("    - {k}\n"));
            }
        }
        out.push_str(&self.extra);
        out
    }
}

/// A federation of signers (unencrypted keys `fed.example/signer-N`) and the signers file
/// platforms bootstrap from: 2 of the first three.
pub struct Federation {
    pub dir: tempfile::TempDir,
    pub signers: Vec<Signer>,
    pub signers_file: PathBuf,
}

impl Federation {
    /// `n` (at least 3) signers.
    pub fn new(n: usize) -> Federation {
        let dir = tempfile::tempdir().unwrap();
        let signers: Vec<Signer> = (1..=n)
            .map(|i| Signer::keygen(dir.path(), &format!("fed.example/signer-{i}"), false))
            .collect();
        let signers_file = dir.path().join("signers.yaml");
        let vkeys: Vec<&str> = signers[..3].iter().map(|s| s.vkey.as_str()).collect();
        std::fs::write(&signers_file, signers_yaml(2, &vkeys)).unwrap();
        Federation {
            dir,
            signers,
            signers_file,
        }
    }

    /// A file in the federation's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The vkeys of the signers at `idx` (0-based).
    pub fn vkeys(&self, idx: &[usize]) -> Vec<&str> {
        idx.iter().map(|&i| self.signers[i].vkey.as_str()).collect()
    }

    /// A list with `anchor`, naming the first three signers (2 of them) as the next signers.
    pub fn list(&self, sequence: u64, anchor: AnchorText) -> ListV2 {
        ListV2::new(sequence, anchor).signed_by(2, &self.vkeys(&[0, 1, 2]))
    }

    /// Write `text` to `<name>.yaml` and have the signers at `by` sign it in turn into
    /// `<name>.signed`; the signed file.
    pub fn publish(&self, name: &str, text: &str, by: &[usize]) -> PathBuf {
        let plain = self.path(&format!("{name}.yaml"));
        let signed = self.path(&format!("{name}.signed"));
        std::fs::write(&plain, text).unwrap();
        let mut input = plain;
        for &i in by {
            self.signers[i].signs(&input, &signed);
            input = signed.clone();
        }
        signed
    }

    /// `trust-list verify --signers <the signers file> [--state state] extra... list`.
    pub fn verify(&self, state: Option<&Path>, list: &Path, extra: &[&str]) -> Output {
        let mut args = vec!["trust-list", "verify", "--signers", s(&self.signers_file)];
        if let Some(st) = state {
            args.extend(["--state", s(st)]);
        }
        args.extend_from_slice(extra);
        args.push(s(list));
        super::cli::run(&args)
    }
}

impl Federation {
    /// `trust-list verify --state state extra... list` refuses the list with `code`, saying
    /// `says`, and leaves the state file as it was (or absent).
    #[track_caller]
    pub fn refuses(&self, state: &Path, list: &Path, extra: &[&str], code: &str, says: &str) {
        let before = std::fs::read(state).ok();
        refused_with(&self.verify(Some(state), list, extra), code, says);
        assert_eq!(
            std::fs::read(state).ok(),
            before,
            "a refusal leaves the state file as it was"
        );
    }
}

/// `o` is `trust-list verify`'s acceptance (exit 0) and stdout says `says`.
#[track_caller]
pub fn accepted(o: &Output, says: &str) {
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(o), stderr(o));
    assert!(stdout(o).contains(says), "{}", stdout(o));
    no_panic(o);
}

/// `o` is `trust-list verify`'s refusal (exit 1) with `code`, and stdout says `says`.
#[track_caller]
pub fn refused_with(o: &Output, code: &str, says: &str) {
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(o), stderr(o));
    let out = stdout(o);
    assert!(out.starts_with("refused: "), "{out}");
    assert!(out.contains(code), "{code} not in {out}");
    assert!(out.contains(says), "{says:?} not in {out}");
    no_panic(o);
}

/// Nothing panicked.
#[track_caller]
pub fn no_panic(o: &Output) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
}
