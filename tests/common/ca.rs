//! A provider CA made through the library, from the repository's example configuration.

use std::path::{Path, PathBuf};

use mimi_attest::{IssueRequest, Issued, ProviderCa, Sii};
use time::OffsetDateTime;

use super::cli::ROOT;

/// `ca-config/chat-a.yaml`, the example provider's configuration.
pub fn chat_a_path() -> PathBuf {
    Path::new(ROOT).join("ca-config/chat-a.yaml")
}

/// The text of `ca-config/chat-a.yaml`.
pub fn chat_a_config() -> String {
    std::fs::read_to_string(chat_a_path()).unwrap()
}

/// A CA in `dir` from `config` (as if read from chat-a.yaml), made at `at`.
pub fn init_ca(dir: &Path, config: &str, at: OffsetDateTime) -> ProviderCa {
    ProviderCa::init(config, "chat-a.yaml", dir, at).unwrap()
}

/// A leaf for `sii` with nothing but the SII asked for, issued at `at`.
pub fn issue_at(ca: &mut ProviderCa, sii: &str, at: OffsetDateTime) -> Issued {
    ca.issue(&IssueRequest::new(Sii::parse(sii).unwrap()), at)
        .unwrap()
}

/// The CA's SQLite store, opened directly (to read what the library does not show).
pub fn store_db(ca: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(ca.join(mimi_attest::STORE_FILE)).unwrap()
}

/// [`store_db`], after SQLite's `PRAGMA integrity_check` found it intact.
pub fn intact_store_db(ca: &Path) -> rusqlite::Connection {
    let db = store_db(ca);
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    db
}
