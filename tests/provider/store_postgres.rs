//! PostgreSQL as an issuance store (issue #18): the throwaway cluster the backend's tests
//! run against (see `common::pg`), checked on its own, and the real commands on a CA whose
//! store is in it.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::common::cli::{batch_cmd, issue, ok, repo, run, s, stderr, stdout, succeeded};
use crate::common::pg::PgCluster;

/// The cluster starts on its socket, answers SQL, keeps its data over a crash-like stop and
/// a restart (what the restart-mid-batch test will do to it), and a role with SELECT only
/// cannot write (what the read-only auditor test will use).
#[test]
fn the_throwaway_cluster_answers_survives_a_restart_and_has_read_only_roles() {
    let Some(pg) = PgCluster::start("the_throwaway_cluster_answers") else {
        return;
    };
    assert_eq!(pg.psql("postgres", "SELECT 1 + 1"), "2");
    pg.psql("postgres", "CREATE DATABASE store_test");
    pg.psql(
        "store_test",
        "CREATE TABLE t (n int); INSERT INTO t VALUES (7); \
         CREATE ROLE auditor LOGIN; GRANT SELECT ON t TO auditor;",
    );
    pg.stop_server();
    pg.restart_server();
    assert_eq!(pg.psql("store_test", "SELECT n FROM t"), "7");
    let as_auditor = |sql: &str| pg.psql_as("auditor", "store_test", sql);
    let read = as_auditor("SELECT n FROM t");
    assert!(read.status.success());
    assert_eq!(String::from_utf8_lossy(&read.stdout).trim(), "7");
    let write = as_auditor("INSERT INTO t VALUES (8)");
    assert!(!write.status.success(), "a SELECT-only role wrote");
    assert!(
        String::from_utf8_lossy(&write.stderr).contains("permission denied"),
        "{}",
        String::from_utf8_lossy(&write.stderr)
    );
    assert!(pg
        .url("auditor", "store_test")
        .starts_with("postgres://auditor@/store_test?host=/"));
}

/// A CA whose config names a PostgreSQL store (`store: {url, instance, password_file}`)
/// made by `ca init` in `t/ca`, against a new database `db` of `pg`; its directory.
fn init_pg_ca(pg: &PgCluster, t: &Path, db: &str, instance: u8) -> PathBuf {
    init_pg_ca_with(pg, t, db, instance, "")
}

/// [`init_pg_ca`] with `extra` YAML appended to the config.
fn init_pg_ca_with(pg: &PgCluster, t: &Path, db: &str, instance: u8, extra: &str) -> PathBuf {
    pg.psql("postgres", &format!("CREATE DATABASE {db}"));
    // The cluster trusts its socket, so the password is not checked; it is still read.
    std::fs::write(t.join("store-password"), "not-checked\n").unwrap();
    let base = std::fs::read_to_string(repo("ca-config/chat-a.yaml")).unwrap();
    let config = t.join(format!("{db}.yaml"));
    std::fs::write(
        &config,
        format!(
            "{base}store:\n  url: \"{}\"\n  instance: {instance}\n  password_file: ../store-password\n{extra}",
            pg.url("postgres", db)
        ),
    )
    .unwrap();
    let ca = t.join("ca");
    let init = ok(&[
        "ca",
        "init",
        "--insecure-no-password",
        "--config",
        s(&config),
        "--dir",
        s(&ca),
    ]);
    let said = stderr(&init);
    assert!(said.contains(&format!("(instance {instance})")), "{said}");
    ca
}

/// Write to `path` an `issue-batch` input of requests `{prefix}{i}` for the numbers
/// `+1555{block}{i:04}`, `i` in `range`; `path`.
fn write_requests(path: PathBuf, prefix: &str, block: &str, range: Range<usize>) -> PathBuf {
    let lines: Vec<String> = range
        .map(|i| {
            serde_json::json!({"id": format!("{prefix}{i}"), "sii": format!("+1555{block}{i:04}")})
                .to_string()
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// The serials of the issued lines of an `issue-batch` output, by request id.
fn issued(output: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(output)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(v["serial"].is_string(), "{l}");
            (
                v["id"].as_str().unwrap().to_owned(),
                v["serial"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `ca init`, `issue-batch`, `issue`, `revoke` and `crl` on a CA whose store is PostgreSQL:
/// the schema is made by `ca init` (and no store.db), every certificate handed out is in
/// the database with its DER, `store list` reads the same rows, a replayed batch answers
/// with the same certificates, a revocation shows in the CRL, `renew` and `ca rotate` write
/// there too, and a second process as the same instance is refused while the first holds
/// its lease.
#[test]
fn issue_batch_revoke_and_crl_run_on_a_postgres_store() {
    let Some(pg) = PgCluster::start("issue_batch_revoke_and_crl_run_on_a_postgres_store") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let ca = init_pg_ca(&pg, t, "chat_a", 3);
    assert!(!ca.join("store.db").exists(), "ca init wrote store.db");
    let db = |sql: &str| pg.psql("chat_a", sql);
    assert_eq!(db("SELECT kind FROM certificates ORDER BY id"), "root\nca");
    let migrate = run(&["store", "migrate", "--ca", s(&ca)]);
    assert_ne!(migrate.status.code(), Some(0));
    assert!(
        stderr(&migrate).contains("upgrades only store.db so far: nothing was done"),
        "{}",
        stderr(&migrate)
    );

    let input = write_requests(t.join("in.jsonl"), "r", "000", 0..40);
    let output = t.join("out.jsonl");
    succeeded(batch_cmd(&ca, &input, &output).output().unwrap());
    let batch = issued(&output);
    assert_eq!(batch.len(), 40);

    // Every certificate handed out is in the store, issued, with the DER of its chain's leaf.
    let out_text = std::fs::read_to_string(&output).unwrap();
    for line in out_text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let serial = v["serial"].as_str().unwrap();
        let leaf = ::pem::parse_many(v["chain_pem"].as_str().unwrap()).unwrap()[0]
            .contents()
            .to_vec();
        let row = db(&format!(
            "SELECT c.status || ' ' || c.request_id || ' ' || encode(d.der, 'hex') \
             FROM certificates c JOIN certificate_der d ON d.id = c.id WHERE c.serial = '{serial}'"
        ));
        let hex: String = leaf.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(row, format!("issued {} {hex}", v["id"].as_str().unwrap()));
    }
    assert_eq!(
        db("SELECT count(*) FROM certificates WHERE kind = 'leaf'"),
        "40"
    );

    // `store list` reads the same rows from the database.
    let list = ok(&["store", "list", "--ca", s(&ca)]);
    let mut listed: Vec<String> = stdout(&list)
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("leaf"))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    listed.sort();
    let mut want: Vec<String> = batch.values().cloned().collect();
    want.sort();
    assert_eq!(listed, want);

    // A replay answers every request with the certificate it already has.
    let again = t.join("again.jsonl");
    succeeded(batch_cmd(&ca, &input, &again).output().unwrap());
    assert_eq!(issued(&again), batch);
    assert_eq!(
        db("SELECT count(*) FROM certificates WHERE kind = 'leaf'"),
        "40"
    );

    // One more by `issue`, then revoke it and publish a CRL that lists it.
    let single = issue(&ca, "+15559990000", &t.join("one.pem"));
    assert_eq!(
        db(&format!(
            "SELECT status FROM certificates WHERE serial = '{single}'"
        )),
        "issued"
    );
    ok(&[
        "revoke",
        "--ca",
        s(&ca),
        "--serial",
        &single,
        "--reason",
        "key-compromise",
    ]);
    assert_eq!(
        db(&format!(
            "SELECT status || ' ' || revocation_reason FROM certificates WHERE serial = '{single}'"
        )),
        "revoked key-compromise"
    );
    let crl = t.join("ca.crl");
    ok(&["crl", "--ca", s(&ca), "--out", s(&crl)]);
    let shown = stdout(&ok(&["inspect", "--format", "json", s(&crl)]));
    assert!(shown.to_lowercase().contains(&single), "{shown}");
    ok(&["crl", "--ca", s(&ca), "--out", s(&crl)]);
    assert_eq!(db("SELECT value FROM meta WHERE key = 'crl_number'"), "2");

    // Renewal and rotation write to the same store: every live leaf (7 days, due within
    // 8) is renewed under a renew: id, and a rotation adds the new issuing CA's row.
    let renewed = ok(&[
        "renew",
        "--ca",
        s(&ca),
        "--due-within",
        "8d",
        "--out",
        s(&t.join("renewed.jsonl")),
    ]);
    assert!(
        stderr(&renewed).contains("40 due: 40 renewed, 0 failed"),
        "{}",
        stderr(&renewed)
    );
    assert_eq!(
        db("SELECT count(*) FROM certificates WHERE starts_with(request_id, 'renew:')"),
        "40"
    );
    ok(&["ca", "rotate", "--ca", s(&ca)]);
    assert_eq!(
        db("SELECT count(*) FROM certificates WHERE kind = 'ca'"),
        "2"
    );

    // While another session holds instance 3's lease, a command as instance 3 is refused.
    let mut holder = std::process::Command::new("psql")
        .args(["-X", "-U", "postgres", "-h"])
        .arg(pg.socket_dir())
        .args([
            "-d",
            "chat_a",
            "-c",
            "SELECT pg_advisory_lock(3); SELECT pg_sleep(60)",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let held =
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 3 AND granted";
    for _ in 0..100 {
        if db(held) == "1" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let refused = run(&[
        "issue",
        "--ca",
        s(&ca),
        "--sii",
        "+15559990001",
        "--key-out",
        s(&t.join("two.key")),
        "--out",
        s(&t.join("two.pem")),
    ]);
    holder.kill().unwrap();
    let _ = holder.wait();
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        stderr(&refused).contains("instance 3"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        db("SELECT count(*) FROM certificates WHERE kind = 'leaf'"),
        "81"
    );
}

/// A second instance of the CA in `ca`: a copy of its directory (same keys) whose config
/// names instance `instance` of the same store.
fn second_instance(ca: &Path, to: &Path, from: u8, instance: u8) {
    std::fs::create_dir(to).unwrap();
    for f in ["root.pem", "root.key", "ca.pem", "ca.key"] {
        std::fs::copy(ca.join(f), to.join(f)).unwrap();
    }
    let config = std::fs::read_to_string(ca.join("config.yaml")).unwrap();
    let config = config.replace(
        &format!("instance: {from}\n"),
        &format!("instance: {instance}\n"),
    );
    assert!(config.contains(&format!("instance: {instance}\n")));
    std::fs::write(to.join("config.yaml"), config).unwrap();
}

/// Instances 3 and 4 of one CA on the new database `db`: `t/ca` and `t/ca4`.
fn two_instances(pg: &PgCluster, t: &Path, db: &str) -> (PathBuf, PathBuf) {
    let ca3 = init_pg_ca(pg, t, db, 3);
    let ca4 = t.join("ca4");
    second_instance(&ca3, &ca4, 3, 4);
    (ca3, ca4)
}

/// Two instances (3 and 4) run `issue-batch` at once on one database with overlapping
/// request ids: every id is stored once, an id both answered has the same certificate in
/// both outputs, an id one instance found in flight at the other is answered on a rerun with
/// the other's certificate, every serial starts with its instance's byte, and the store
/// holds exactly the union of the outputs. Then a revocation on instance 4 is listed in
/// instance 3's CRL, CRL numbers from both strictly increase, and an auditor role with
/// SELECT only lists the store.
#[test]
fn two_instances_issue_overlapping_batches_at_once_each_id_once() {
    let Some(pg) = PgCluster::start("two_instances_issue_overlapping_batches_at_once") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (ca3, ca4) = two_instances(&pg, t, "shared");
    let write = |name: &str, range| write_requests(t.join(name), "r", "100", range);
    // Overlap of 300 ids, in sub-batches, so the instances meet in flight.
    let in3 = write("in3.jsonl", 0..600);
    let in4 = write("in4.jsonl", 300..900);
    let (out3, out4) = (t.join("out3.jsonl"), t.join("out4.jsonl"));
    let mut p3 = batch_cmd(&ca3, &in3, &out3).spawn().unwrap();
    let mut p4 = batch_cmd(&ca4, &in4, &out4).spawn().unwrap();
    let (s3, s4) = (p3.wait().unwrap(), p4.wait().unwrap());
    // A line refused because the other instance was signing it exits 1: rerun it.
    let answers = |out: &Path| -> BTreeMap<String, Result<String, String>> {
        std::fs::read_to_string(out)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let id = v["id"].as_str().unwrap().to_owned();
                match v["serial"].as_str() {
                    Some(serial) => (id, Ok(serial.to_owned())),
                    None => (id, Err(v["error"].as_str().unwrap().to_owned())),
                }
            })
            .collect()
    };
    for (status, out) in [(s3, &out3), (s4, &out4)] {
        for (id, a) in answers(out) {
            // The two ways an id can meet the other instance: signing it now, or taking it
            // between this instance's release of its stale reservation and its retry.
            if let Err(e) = a {
                assert!(
                    e.contains("is being issued by CA instance")
                        || e.contains("was taken by another CA instance while it was retried"),
                    "{id}: {e}"
                );
                assert!(e.contains("send it again"), "{id}: {e}");
            }
        }
        assert!(matches!(status.code(), Some(0 | 1)), "{status:?}");
    }
    let (re3, re4) = (t.join("re3.jsonl"), t.join("re4.jsonl"));
    succeeded(batch_cmd(&ca3, &in3, &re3).output().unwrap());
    succeeded(batch_cmd(&ca4, &in4, &re4).output().unwrap());
    let (a3, a4) = (issued(&re3), issued(&re4));
    // The first runs' answers are the reruns' where they answered.
    for (out, again) in [(&out3, &a3), (&out4, &a4)] {
        for (id, a) in answers(out) {
            if let Ok(serial) = a {
                assert_eq!(again[&id], serial, "{id}");
            }
        }
    }
    let mut union = a3.clone();
    for (id, serial) in &a4 {
        if let Some(other) = union.insert(id.clone(), serial.clone()) {
            assert_eq!(&other, serial, "{id} has two certificates");
        }
    }
    assert_eq!(union.len(), 900);
    for (id, serial) in &union {
        assert!(
            serial.starts_with("03") || serial.starts_with("04"),
            "{id}: serial {serial} carries no instance byte"
        );
    }
    // An id only one instance was sent carries that instance's byte.
    for i in (0..300).chain(600..900) {
        let want = if i < 300 { "03" } else { "04" };
        let serial = &union[&format!("r{i}")];
        assert!(serial.starts_with(want), "r{i}: {serial}");
    }
    let stored = pg.psql(
        "shared",
        "SELECT request_id || ' ' || serial FROM certificates WHERE kind = 'leaf' AND status = 'issued' ORDER BY request_id",
    );
    let stored: BTreeMap<String, String> = stored
        .lines()
        .map(|l| {
            let (id, serial) = l.split_once(' ').unwrap();
            (id.to_owned(), serial.to_owned())
        })
        .collect();
    assert_eq!(stored, union);
    assert_eq!(
        pg.psql(
            "shared",
            "SELECT count(*) FROM certificates WHERE status = 'reserved'"
        ),
        "0"
    );

    // Revoked on instance 4, listed by instance 3's CRL; CRL numbers increase across both.
    let victim = union["r10"].clone();
    ok(&[
        "revoke",
        "--ca",
        s(&ca4),
        "--serial",
        &victim,
        "--reason",
        "key-compromise",
    ]);
    let crl_number = |ca: &Path, name: &str| -> (u64, String) {
        let crl = t.join(name);
        ok(&["crl", "--ca", s(ca), "--out", s(&crl)]);
        let shown = stdout(&ok(&["inspect", s(&crl)]));
        let n = shown
            .lines()
            .find_map(|l| l.trim().strip_prefix("crl number"))
            .unwrap_or_else(|| panic!("no crl number in {shown}"))
            .trim()
            .parse()
            .unwrap();
        (n, shown.to_lowercase())
    };
    let (n1, shown) = crl_number(&ca3, "3.crl");
    assert!(shown.contains(&victim), "{shown}");
    let (n2, _) = crl_number(&ca4, "4.crl");
    let (n3, _) = crl_number(&ca3, "3b.crl");
    assert!(n1 < n2 && n2 < n3, "{n1} {n2} {n3}");

    // An auditor with SELECT only lists the store through its own copy of the config.
    pg.psql(
        "shared",
        "CREATE ROLE auditor LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public TO auditor",
    );
    let audit = t.join("audit");
    second_instance(&ca3, &audit, 3, 3);
    let config = std::fs::read_to_string(audit.join("config.yaml")).unwrap();
    std::fs::write(
        audit.join("config.yaml"),
        config.replace(&pg.url("postgres", "shared"), &pg.url("auditor", "shared")),
    )
    .unwrap();
    let list = stdout(&ok(&["store", "list", "--ca", s(&audit)]));
    let leaves = list
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("leaf"))
        .count();
    assert_eq!(leaves, 900, "{list}");
    assert!(list.contains(&victim));
}

/// A CA with a transparency log and a PostgreSQL store: every leaf of a batch is logged and
/// its index recorded in `log_entries` (the leaves without one are found by an anti-join),
/// each once, and a replay logs nothing more.
#[test]
fn a_logged_ca_on_postgres_records_every_leaf_index_once() {
    let Some(pg) = PgCluster::start("a_logged_ca_on_postgres_records_every_leaf_index_once") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    mimi_attest::init_log(
        &t.join("log"),
        "log.example/mapping",
        &mimi_attest::KeyProtection::Insecure,
    )
    .unwrap();
    let ca = init_pg_ca_with(&pg, t, "logged", 5, "log:\n  dir: ../log\n");
    let input = write_requests(t.join("in.jsonl"), "l", "200", 0..25);
    let output = t.join("out.jsonl");
    succeeded(batch_cmd(&ca, &input, &output).output().unwrap());
    let batch = issued(&output);
    assert_eq!(batch.len(), 25);
    let indexes = |pg: &PgCluster| {
        pg.psql(
            "logged",
            "SELECT count(*) || ' ' || count(DISTINCT l.log_index) || ' ' || min(l.log_index) || ' ' || max(l.log_index) \
             FROM certificates c JOIN log_entries l ON l.id = c.id WHERE c.kind = 'leaf'",
        )
    };
    assert_eq!(indexes(&pg), "25 25 0 24");
    let again = t.join("again.jsonl");
    succeeded(batch_cmd(&ca, &input, &again).output().unwrap());
    assert_eq!(issued(&again), batch);
    issue(&ca, "+15552009999", &t.join("one.pem"));
    assert_eq!(indexes(&pg), "26 26 0 25");
}

/// Instance 3 is killed (SIGKILL) in the middle of a batch while instance 4 issues an
/// overlapping one: nothing is lost or duplicated, the killed instance's lease and
/// transaction die with it, and reruns of both batches complete with one certificate per id
/// and no reservation left.
#[test]
fn an_instance_killed_mid_batch_loses_nothing_and_its_rerun_completes() {
    let Some(pg) = PgCluster::start("an_instance_killed_mid_batch_loses_nothing") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (ca3, ca4) = two_instances(&pg, t, "killed");
    // Several sub-batches for instance 3, so it dies between (or in) them.
    let in3 = write_requests(t.join("in3.jsonl"), "k", "300", 0..9_000);
    let in4 = write_requests(t.join("in4.jsonl"), "k", "300", 4_000..5_000);
    let (out3, out4) = (t.join("out3.jsonl"), t.join("out4.jsonl"));
    let mut p3 = batch_cmd(&ca3, &in3, &out3).spawn().unwrap();
    let count = |sql: &str| -> u64 { pg.psql("killed", sql).parse().unwrap() };
    let issued_by_3 =
        "SELECT count(*) FROM certificates WHERE kind = 'leaf' AND status = 'issued' AND serial LIKE '03%'";
    let started = std::time::Instant::now();
    while count(issued_by_3) == 0 {
        assert!(
            started.elapsed().as_secs() < 120 && p3.try_wait().unwrap().is_none(),
            "instance 3 issued nothing, or ended first"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut p4 = batch_cmd(&ca4, &in4, &out4).spawn().unwrap();
    p3.kill().unwrap();
    let _ = p3.wait();
    let s4 = p4.wait().unwrap();
    assert!(matches!(s4.code(), Some(0 | 1)), "{s4:?}");
    let before_rerun = count(issued_by_3);
    assert!(
        before_rerun < 9_000,
        "instance 3 finished before it was killed"
    );

    let (re3, re4) = (t.join("re3.jsonl"), t.join("re4.jsonl"));
    succeeded(batch_cmd(&ca3, &in3, &re3).output().unwrap());
    succeeded(batch_cmd(&ca4, &in4, &re4).output().unwrap());
    let (a3, a4) = (issued(&re3), issued(&re4));
    assert_eq!(a3.len(), 9_000);
    for (id, serial) in &a4 {
        assert_eq!(&a3[id], serial, "{id} has two certificates");
    }
    assert_eq!(
        count("SELECT count(*) FROM certificates WHERE kind = 'leaf' AND status = 'issued'"),
        9_000
    );
    assert_eq!(
        count("SELECT count(*) FROM certificates WHERE status = 'reserved'"),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM certificates c LEFT JOIN certificate_der d ON d.id = c.id WHERE c.status = 'issued' AND d.id IS NULL"),
        0
    );
}

/// The database server stops (as in a crash) in the middle of a batch: the batch fails
/// with a message naming the store, every certificate it had handed out is in the store
/// once the server is back, and a rerun completes with the same certificates.
#[test]
fn a_database_restart_mid_batch_hands_out_nothing_unstored() {
    let Some(pg) = PgCluster::start("a_database_restart_mid_batch_hands_out_nothing_unstored")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let ca = init_pg_ca(&pg, t, "restarted", 7);
    let input = write_requests(t.join("in.jsonl"), "d", "400", 0..9_000);
    let output = t.join("out.jsonl");
    let mut batch = batch_cmd(&ca, &input, &output)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let issued_sql = "SELECT count(*) FROM certificates WHERE kind = 'leaf' AND status = 'issued'";
    let started = std::time::Instant::now();
    while pg.psql("restarted", issued_sql) == "0" {
        assert!(
            started.elapsed().as_secs() < 120 && batch.try_wait().unwrap().is_none(),
            "the batch issued nothing, or ended first"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    pg.stop_server();
    let failed = batch.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&failed.stderr);
    assert_ne!(failed.status.code(), Some(0), "{said}");
    assert!(
        said.contains("issuance store")
            && said.contains("run the command again once the database answers"),
        "{said}"
    );
    pg.restart_server();
    // What the failed run handed out (its output's issued lines) is all stored.
    let handed_out: BTreeMap<String, String> = std::fs::read_to_string(&output)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some((
                v["id"].as_str()?.to_owned(),
                v["serial"].as_str()?.to_owned(),
            ))
        })
        .collect();
    for (id, serial) in &handed_out {
        assert_eq!(
            pg.psql(
                "restarted",
                &format!(
                    "SELECT c.request_id FROM certificates c JOIN certificate_der d ON d.id = c.id \
                     WHERE c.serial = '{serial}' AND c.status = 'issued'"
                )
            ),
            *id
        );
    }
    let again = t.join("again.jsonl");
    succeeded(batch_cmd(&ca, &input, &again).output().unwrap());
    let all = issued(&again);
    assert_eq!(all.len(), 9_000);
    for (id, serial) in &handed_out {
        assert_eq!(&all[id], serial, "{id}");
    }
    assert_eq!(pg.psql("restarted", issued_sql), "9000");
}
