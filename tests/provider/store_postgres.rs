//! PostgreSQL as an issuance store (issue #18). So far: the throwaway cluster the backend's
//! tests will run against (see `common::pg`), checked on its own.

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
