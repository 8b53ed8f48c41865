//! What the benchmarks share: the provider's CA config, a ring signing key for the baselines,
//! real chains issued by a `ProviderCa`, version 2 trust lists of many real roots and their
//! signers, and the thread-CPU-time measurement.
#![allow(dead_code)] // each bench uses part of it

use mimi_attest::pki_types::CertificateDer;
use mimi_attest::{
    chain_from_pem, IssueRequest, KeyType, NoteSigningKey, ProviderCa, SignedTrustList, SignerSet,
    Sii, SubjectKey,
};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use time::OffsetDateTime;

/// The benchmarks' provider: chat-a.example, every +1 number.
pub const CONFIG: &str =
    "provider: chat-a.example\norganization: Chat A Inc.\nscope:\n  tel: [\"+1\"]\n";

/// A fresh ring ECDSA P-256 key (the signing baseline) and its random source.
pub fn ring_key() -> (SystemRandom, EcdsaKeyPair) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    (rng, key)
}

/// `n` chains (leaf, issuing CA) for +1555 0000000, +1555 0000001, …, all for one user key,
/// from a new CA in `dir`; the CA is returned for its root.
pub fn issued_chains(
    dir: &std::path::Path,
    n: usize,
    now: OffsetDateTime,
) -> (ProviderCa, Vec<(Sii, Vec<CertificateDer<'static>>)>) {
    let mut ca = ProviderCa::init(CONFIG, "bench", &dir.join("ca"), now).unwrap();
    let spki = rcgen::PublicKeyData::subject_public_key_info(&rcgen::KeyPair::generate().unwrap());
    let reqs: Vec<IssueRequest> = (0..n)
        .map(|i| {
            IssueRequest::new(Sii::parse(&format!("+1555{i:07}")).unwrap())
                .with_key(SubjectKey::PublicKey(spki.clone()))
        })
        .collect();
    let chains = ca
        .issue_many(&reqs, now)
        .unwrap()
        .into_iter()
        .zip(reqs)
        .map(|(r, req)| {
            (
                req.sii,
                chain_from_pem(r.unwrap().chain_pem.as_bytes()).unwrap(),
            )
        })
        .collect();
    (ca, chains)
}

/// CPU time as criterion's measurement, shown like wall time: on a machine shared with other
/// work, time spent waiting for a core is not counted. `thread` is the calling thread's
/// (`CLOCK_THREAD_CPUTIME_ID`), `process` all threads' of the process
/// (`CLOCK_PROCESS_CPUTIME_ID`: what a batch costs on its signing, store and calling threads
/// together; waits for the disk are not counted either).
#[cfg(target_os = "linux")]
pub struct CpuTime(rustix::time::ClockId);

#[cfg(target_os = "linux")]
impl CpuTime {
    /// The calling thread's CPU time.
    pub fn thread() -> Self {
        CpuTime(rustix::time::ClockId::ThreadCPUTime)
    }

    /// The process's CPU time, all threads.
    pub fn process() -> Self {
        CpuTime(rustix::time::ClockId::ProcessCPUTime)
    }

    fn now(&self) -> std::time::Duration {
        let t = rustix::time::clock_gettime(self.0);
        std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    }
}

#[cfg(target_os = "linux")]
impl criterion::measurement::Measurement for CpuTime {
    type Intermediate = std::time::Duration;
    type Value = std::time::Duration;

    fn start(&self) -> Self::Intermediate {
        self.now()
    }
    fn end(&self, start: Self::Intermediate) -> Self::Value {
        self.now().saturating_sub(start)
    }
    fn add(&self, v1: &Self::Value, v2: &Self::Value) -> Self::Value {
        *v1 + *v2
    }
    fn zero(&self) -> Self::Value {
        std::time::Duration::ZERO
    }
    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn criterion::measurement::ValueFormatter {
        static WALL: criterion::measurement::WallTime = criterion::measurement::WallTime;
        WALL.formatter()
    }
}

/// The calling thread's CPU time so far (Linux; `None` elsewhere).
pub fn thread_cpu_time() -> Option<std::time::Duration> {
    #[cfg(target_os = "linux")]
    {
        Some(CpuTime::thread().now())
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Time the calling thread has spent runnable but waiting for a core, from the scheduler's
/// statistics (Linux with schedstats; `None` elsewhere).
pub fn thread_run_delay() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().nth(1)?.parse().ok()?;
    Some(std::time::Duration::from_nanos(ns))
}

/// Run the calling thread on core `cpu` only (Linux; elsewhere it does nothing). Fails when
/// the core does not exist or the process may not use it.
pub fn pin_thread(cpu: usize) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let mut set = rustix::thread::CpuSet::new();
        set.set(cpu);
        rustix::thread::sched_setaffinity(None, &set).map_err(std::io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = cpu;
        Ok(())
    }
}

/// `n` distinct self-signed P-256 CA roots made with rcgen, as PEM.
pub fn p256_roots(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut params = rcgen::CertificateParams::default();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, format!("Provider {i} Root CA"));
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params.key_usages = vec![
                rcgen::KeyUsagePurpose::KeyCertSign,
                rcgen::KeyUsagePurpose::CrlSign,
            ];
            params.self_signed(&key).unwrap().pem()
        })
        .collect()
}

/// The federation's trust-list signing keys fed-1 … fed-`n` (Ed25519 note keys, fixed
/// seeds) and the signer set in which `threshold` of them must sign.
pub fn federation(n: usize, threshold: usize) -> (Vec<NoteSigningKey>, SignerSet) {
    let keys: Vec<NoteSigningKey> = (1..=n)
        .map(|i| {
            NoteSigningKey::from_seed(&format!("fed-{i}"), KeyType::Ed25519, &[i as u8; 32])
                .unwrap()
        })
        .collect();
    let set = SignerSet::new(
        threshold,
        keys.iter().map(|k| k.verifier_key().clone()).collect(),
    )
    .unwrap();
    (keys, set)
}

/// The text of a version 2 trust list, every root inline: anchor 0 (`chat-a`) is the
/// benchmarks' provider chat-a.example for every +1 number ([`CONFIG`]), anchor `i > 0` is
/// provider p`i`.example for +4`i` and its domain. Valid from an hour before `now` for a
/// day; `signers` names the set that signs the next version (the same one: no rotation).
pub fn v2_list_text(
    sequence: u64,
    now: OffsetDateTime,
    roots: &[String],
    signers: &SignerSet,
) -> String {
    use std::fmt::Write;
    let now = now.replace_nanosecond(0).unwrap();
    let mut t = format!(
        "version: 2\nsequence: {sequence}\nissued: {}\nexpires: {}\nanchors:\n",
        mimi_attest::rfc3339(now - time::Duration::hours(1)),
        mimi_attest::rfc3339(now + time::Duration::days(1)),
    );
    for (i, pem) in roots.iter().enumerate() {
        let (name, provider, scope) = match i {
            0 => (
                "chat-a".to_owned(),
                "chat-a.example".to_owned(),
                "{tel: [\"+1\"]}".to_owned(),
            ),
            _ => (
                format!("p{i}"),
                format!("p{i}.example"),
                format!("{{tel: [\"+4{i:02}\"], email: [\"p{i}.example\"]}}"),
            ),
        };
        writeln!(t, "  - name: {name}\n    provider: {provider}\n    scope: {scope}\n    certificate_pem: |").unwrap();
        for line in pem.lines() {
            writeln!(t, "      {line}").unwrap();
        }
    }
    let keys: Vec<String> = signers.keys().iter().map(|k| format!("\"{k}\"")).collect();
    writeln!(
        t,
        "signers: {{threshold: {}, keys: [{}]}}",
        signers.threshold(),
        keys.join(", ")
    )
    .unwrap();
    t
}

/// The signed form of the list `text`, signed by each of `keys`.
pub fn signed_list(text: &str, keys: &[NoteSigningKey]) -> Vec<u8> {
    let mut list = SignedTrustList::from_list_text(text, "bench").unwrap();
    for k in keys {
        list.sign(k).unwrap();
    }
    list.to_bytes()
}

/// Whether `BENCH_CPU_TIME` asks for CPU time instead of wall time (Linux only).
pub fn cpu_time_asked() -> bool {
    cfg!(target_os = "linux") && std::env::var_os("BENCH_CPU_TIME").is_some_and(|v| v != "0")
}

/// The `main` of a bench whose `$bench` is generic over criterion's measurement: wall time,
/// or with `BENCH_CPU_TIME=1` (Linux) the CPU time `$cpu` (a [`CpuTime`]).
#[allow(unused_macros)] // each bench uses part of this module
macro_rules! bench_main {
    ($bench:ident, $cpu:expr) => {
        fn main() {
            #[cfg(target_os = "linux")]
            if $crate::common::cpu_time_asked() {
                let mut c = criterion::Criterion::default()
                    .with_measurement($cpu)
                    .configure_from_args();
                $bench(&mut c);
                c.final_summary();
                return;
            }
            let mut c = criterion::Criterion::default().configure_from_args();
            $bench(&mut c);
            c.final_summary();
        }
    };
}
#[allow(unused_imports)]
pub(crate) use bench_main;
