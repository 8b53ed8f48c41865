//! `demo`: the whole story on the example provider configs.

use std::path::{Path, PathBuf};

use super::story::{self as demo, DemoChain, DemoLog, DemoReport, Expect, ALICE_TEL};
use clap::Args;
use time::macros::datetime;
use time::OffsetDateTime;

use super::verify::time_utc;
use super::{CliError, CliResult, Verdict};

#[derive(Args)]
pub struct DemoArgs {
    /// Working directory (created; must not hold a previous demo) [default: a fresh
    /// temporary directory, kept and named in the report].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also copy the example roots, chains and trust list into this directory (e.g.
    /// certs/). Runs the demo at the fixed time 2026-01-01T00:00:00Z so the committed
    /// examples have stable dates (verify them with --at 2026-01-02T00:00:00Z).
    #[arg(long)]
    write_certs: Option<PathBuf>,
    /// Directory of the example provider configs chat-a.yaml and chat-b.yaml.
    #[arg(long, default_value = "ca-config")]
    configs: PathBuf,
}

/// When `--write-certs` is given, everything happens at this time.
const EXAMPLE_EPOCH: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| {
        CliError(format!(
            "cannot read {}: {e}; run the demo from the repository root or give --configs DIR",
            path.display()
        ))
    })
}

pub fn demo(a: DemoArgs) -> CliResult {
    let chat_a = read(&a.configs.join("chat-a.yaml"))?;
    let chat_b = read(&a.configs.join("chat-b.yaml"))?;
    let dir = match a.dir {
        Some(d) => d,
        None => tempfile::Builder::new()
            .prefix("mimi-attest-demo-")
            .tempdir()
            .map_err(|e| CliError(format!("cannot create a temporary directory: {e}")))?
            .keep(),
    };
    let now = if a.write_certs.is_some() {
        EXAMPLE_EPOCH
    } else {
        OffsetDateTime::now_utc()
    };
    let report = demo::run(&chat_a, &chat_b, &dir, now).map_err(|e| match e {
        demo::DemoError::Issue(e) => super::ca::advise(e),
        e => e.into(),
    })?;
    print_report(&report);
    let exchanged = match a.write_certs {
        // The example chains are dated 2026-01-01, long expired for a server answering now.
        Some(_) => true,
        None => exchange(&report)?,
    };
    if let Some(out) = &a.write_certs {
        let written = demo::write_examples(&report, out)?;
        println!(
            "\nwrote {} example files to {} (dated {}; verify with --at 2026-01-02T00:00:00Z)",
            written.len(),
            out.display(),
            time_utc(now)
        );
    }
    Ok(if report.as_expected() && exchanged {
        Verdict::Yes
    } else {
        Verdict::No
    })
}

fn print_report(r: &DemoReport) {
    println!("mimi-attest demo, working in {}", r.dir.display());
    println!("\n1. Two providers create their CAs (ca init)");
    for p in &r.providers {
        println!(
            "   {:<16} {}  may attest {}",
            p.provider,
            p.ca_dir.display(),
            p.scope
        );
    }
    println!(
        "\n2. A relying platform trusts both roots, scoped: {}",
        r.trust_list.display()
    );
    println!("\n3. Verifying every attestation at {}", time_utc(r.now));
    for c in &r.chains {
        print_chain(c);
    }
    let res = &r.resolution;
    println!(
        "\n4. Resolving {} from every attestation naming it",
        res.sii
    );
    for (rank, m) in res.mappings.iter().enumerate() {
        let mm = &m.mapping;
        println!(
            "   {}. {} {}{} (validated {})",
            rank + 1,
            mm.provider,
            mm.handle.clone().unwrap_or_default(),
            if mm.flags.preferred {
                ", preferred"
            } else {
                ""
            },
            time_utc(mm.validated_at)
        );
    }
    for rej in &res.rejected {
        println!(
            "   rejected: {} ({})",
            r.resolved_names
                .get(rej.index)
                .map(String::as_str)
                .unwrap_or("?"),
            rej.error.code()
        );
    }
    if res.conflicts.is_empty() {
        println!("   conflicts: none");
    }
    for c in &res.conflicts {
        println!("   conflict: {c}");
    }
    print_log(&r.log);
    println!(
        "\n{}",
        if r.as_expected() {
            "Every attestation verified or was rejected as expected."
        } else {
            "Some attestation did not verify as expected (see FAIL above)."
        }
    );
}

fn print_chain(c: &DemoChain) {
    let mark = if c.as_expected() { "ok  " } else { "FAIL" };
    match &c.result {
        Ok(m) => {
            println!(
                "   {mark} {:<26} valid: {} -> {}{}",
                c.name,
                m.sii,
                m.provider,
                m.handle
                    .as_ref()
                    .map(|h| format!(" as {h}"))
                    .unwrap_or_default()
            );
            if let Some(l) = &m.log {
                println!(
                    "        logged in {} at index {} (tree size {}), cosigned by {}",
                    l.log,
                    l.index,
                    l.tree_size,
                    l.witnesses.join(", ")
                );
            }
        }
        Err(e) => println!(
            "   {mark} {:<26} rejected {} at depth {}: {}",
            c.name,
            e.code(),
            e.depth(),
            e.message()
        ),
    }
    println!("        ({})", c.description);
    if let (Expect::Rejected(code), Ok(_)) = (c.expect, &c.result) {
        println!("        expected rejection {code}, but it verified");
    }
}

fn print_log(l: &DemoLog) {
    println!(
        "\n5. One transparency log for both providers, one witness: {} ({}), cosigned by {} ({})",
        l.origin,
        l.dir.display(),
        l.witness,
        l.witness_dir.display()
    );
    println!(
        "   both CAs log every leaf before handing it out ({} logged); chat-b takes over {} from chat-a (newHolder)",
        l.logged,
        demo::DAVE_TEL
    );
    println!(
        "\n6. A relying platform requires log proofs (log_proof: required, witness_quorum: 1): {}",
        l.trust_list.display()
    );
    for c in &l.chains {
        print_chain(c);
    }
    let m = &l.monitor;
    println!(
        "\n7. A monitor follows the log ({}): size {} -> {}, cosigned by {}",
        l.monitor_dir.display(),
        m.previous_size,
        m.size,
        if m.witnesses.is_empty() {
            "no listed witness".to_owned()
        } else {
            m.witnesses.join(", ")
        }
    );
    for p in &m.providers {
        println!(
            "   {:<16} {} new entries ({} newHolder)",
            p.provider, p.entries, p.new_holder
        );
    }
    for problem in &m.problems {
        println!("   INCONSISTENT: {problem}");
    }
    if m.conflicts.is_empty() {
        println!("   no label held by two providers at once");
    }
    for c in &m.conflicts {
        let sii = l
            .sii_of(&c.label)
            .map(|s| s.to_string())
            .unwrap_or_else(|| "an unknown number".into());
        let short = c.label.get(..16).unwrap_or(&c.label);
        println!(
            "   label {short}... ({sii}) claimed by two providers at once{}:",
            if c.new_holder {
                ", one as its new holder"
            } else {
                ""
            }
        );
        for e in &c.entries {
            println!(
                "      index {:<3} {:<16} valid {} .. {}{}",
                e.index,
                e.provider,
                e.not_before,
                e.not_after,
                if e.new_holder { "  newHolder" } else { "" }
            );
        }
    }
}

/// The exchange service round trip: chat-a's store served in this process on a free port of
/// 127.0.0.1 over mutual TLS (dev certificates), chat-b looking up Alice and an unknown
/// number and verifying what comes back. Whether both answers were as expected.
fn exchange(r: &DemoReport) -> Result<bool, CliError> {
    use mimi_attest::{
        write_dev_certs, DevCertsRequest, LookupClient, ServeConfig, Server, TrustList, Verifier,
        VerifyOptions,
    };
    let chat_a = r
        .providers
        .iter()
        .find(|p| p.provider == "chat-a.example")
        .ok_or_else(|| CliError("the demo made no chat-a.example CA".into()))?;
    let tls = r.dir.join("tls");
    let mut req = DevCertsRequest::new(
        &tls,
        vec!["localhost".into(), "127.0.0.1".into()],
        vec!["chat-b".into()],
        OffsetDateTime::now_utc(),
    );
    req.trust_list = Some(r.trust_list.clone());
    let certs = write_dev_certs(&req)?;
    let server_list = certs.trust_list.clone().unwrap_or_default();
    let yaml = format!(
        "listen: 127.0.0.1:0\ntls: {{certificate: {}, key: {}}}\ntrust_list: {}\nca: {}\n",
        certs.server_cert.display(),
        certs.server_key.display(),
        server_list.display(),
        chat_a.ca_dir.display()
    );
    let config = ServeConfig::from_yaml(&yaml, &r.dir, "demo serve.yaml")?;
    let chat_b = &certs.platforms[0];
    let unknown = "+15550000001";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| CliError(format!("cannot start the I/O runtime: {e}")))?;
    let (addr, answer) = runtime.block_on(async {
        let server = Server::bind(config).await?;
        let addr = server
            .local_addr()
            .map_err(|e| CliError(format!("cannot read the listening address: {e}")))?;
        let handle = server.handle();
        let running = tokio::spawn(server.run());
        let client = LookupClient::new(
            &format!("https://localhost:{}", addr.port()),
            &chat_b.cert,
            &chat_b.key,
            Some(&certs.ca),
        );
        let answer = match client {
            Ok(c) => c.lookup(&[ALICE_TEL.to_owned(), unknown.to_owned()]).await,
            Err(e) => Err(e),
        };
        handle.shutdown();
        let _ = running.await;
        Ok::<_, CliError>((addr, answer))
    })?;
    println!(
        "\n8. The exchange service: chat-a serves its store on {addr} over mutual TLS (dev TLS files in {}); chat-b looks up",
        tls.display()
    );
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            println!("   FAIL the lookup failed: {e}");
            return Ok(false);
        }
    };
    let verifier = Verifier::new(TrustList::from_file(&r.trust_list)?);
    let options = VerifyOptions::at(OffsetDateTime::now_utc());
    let mut ok = answer.results.len() == 2;
    for (i, item) in answer.results.iter().enumerate() {
        let verdict = item
            .verify(&verifier, &options)
            .map(|v| v.and_then(|v| v.result));
        let (good, text) = match (i, verdict) {
            (0, Some(Ok(m))) => (
                true,
                format!(
                    "found, valid: -> {}{}",
                    m.provider,
                    m.handle.map(|h| format!(" as {h}")).unwrap_or_default()
                ),
            ),
            (0, Some(Err(e))) => (false, format!("found, rejected {}", e.code())),
            (1, None) => (true, "not found".to_owned()),
            (_, Some(_)) => (false, "found".to_owned()),
            (_, None) => (false, "not found".to_owned()),
        };
        ok &= good;
        let mark = if good { "ok  " } else { "FAIL" };
        println!("   {mark} {:<26} {text}", item.sii);
    }
    Ok(ok)
}
