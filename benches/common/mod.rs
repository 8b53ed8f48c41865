//! What the benchmarks share: the provider's CA config, a ring signing key for the baselines,
//! and real chains issued by a `ProviderCa`.
#![allow(dead_code)] // each bench uses part of it

use mimi_attest::pki_types::CertificateDer;
use mimi_attest::{chain_from_pem, IssueRequest, ProviderCa, Sii, SubjectKey};
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
            if common::cpu_time_asked() {
                let mut c = Criterion::default()
                    .with_measurement($cpu)
                    .configure_from_args();
                $bench(&mut c);
                c.final_summary();
                return;
            }
            let mut c = Criterion::default().configure_from_args();
            $bench(&mut c);
            c.final_summary();
        }
    };
}
#[allow(unused_imports)]
pub(crate) use bench_main;
