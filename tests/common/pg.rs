//! A throwaway PostgreSQL cluster for one test: `initdb` into a temporary directory (as the
//! `postgres` user when the tests run as root, which PostgreSQL refuses to run as), a server
//! listening on a Unix socket in that directory only, stopped and removed on drop.
//!
//! Without PostgreSQL installed, [`PgCluster::start`] prints a loud SKIPPED line and
//! returns `None`; with `MIMI_REQUIRE_POSTGRES=1` (CI) it fails the test instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The environment variable that makes a missing PostgreSQL a failure, not a skip.
pub const REQUIRE_ENV: &str = "MIMI_REQUIRE_POSTGRES";

/// A running cluster; stopped (fast) and deleted when dropped.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`: /usr/local/bin, or the newest
/// /usr/lib/postgresql/<version>/bin (Debian's packages).
fn server_bin() -> Option<PathBuf> {
    let local = PathBuf::from("/usr/local/bin");
    if local.join("initdb").is_file() && local.join("pg_ctl").is_file() {
        return Some(local);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

impl PgCluster {
    /// Start a new cluster for `test`; `None` (after a SKIPPED line) when PostgreSQL is not
    /// installed and `MIMI_REQUIRE_POSTGRES` is not `1`.
    pub fn start(test: &str) -> Option<PgCluster> {
        let Some(bin) = server_bin() else {
            assert!(
                std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
                "{REQUIRE_ENV}=1 and no PostgreSQL server (initdb, pg_ctl) in /usr/local/bin or /usr/lib/postgresql/*/bin: install it (apt-get install postgresql)"
            );
            eprintln!(
                "SKIPPED (visible): no PostgreSQL server (initdb, pg_ctl) in /usr/local/bin or /usr/lib/postgresql/*/bin; {test} did not run (set {REQUIRE_ENV}=1 to make this a failure)"
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("mimi-pg-")
            .tempdir()
            .expect("temporary directory");
        let as_postgres = running_as_root();
        if as_postgres {
            // The server runs as `postgres`: it owns the directory (data and socket).
            let uid = |flag: &str| -> u32 {
                let out = Command::new("id")
                    .args([flag, "postgres"])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "no `postgres` user to run the server as"
                );
                String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
            };
            std::os::unix::fs::chown(dir.path(), Some(uid("-u")), Some(uid("-g"))).unwrap();
        }
        let cluster = PgCluster {
            dir,
            bin,
            as_postgres,
        };
        let data = cluster.data();
        cluster.run_ok(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        cluster.restart_server();
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The directory of the server's Unix socket (its `host`).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A `postgres://` URL of database `db` for user `user` over the socket.
    pub fn url(&self, user: &str, db: &str) -> String {
        format!(
            "postgres://{user}@/{db}?host={}",
            self.socket_dir().display()
        )
    }

    /// Run a server program (as `postgres` when running as root).
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", exe.display()))
    }

    fn run_ok(&self, program: &str, args: &[&str]) -> Output {
        let out = self.run(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Stop the server at once (as a crash would: `-m immediate`).
    pub fn stop_server(&self) {
        let data = self.data();
        self.run_ok(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// Start the server (again), listening on the socket only, and wait until it answers.
    pub fn restart_server(&self) {
        let data = self.data();
        let options = format!(
            "-k {} -c listen_addresses='' -c fsync=off",
            self.socket_dir().display()
        );
        let log = self.dir.path().join("server.log");
        self.run_ok(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
    }

    /// Run SQL through `psql` as `user` (unaligned, tuples only), however it ends.
    pub fn psql_as(&self, user: &str, db: &str, sql: &str) -> Output {
        Command::new("psql")
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", user, "-h"])
            .arg(self.socket_dir())
            .args(["-d", db, "-c", sql])
            .output()
            .expect("psql (apt-get install postgresql-client)")
    }

    /// Run SQL through `psql` as the superuser, which must succeed; its output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self.psql_as("postgres", db, sql);
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}
