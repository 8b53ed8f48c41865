//! The records a store keeps, whatever its backend: a certificate's row, its kind and
//! status, and a CRL's entries.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::profile::{Method, RevokeReason, Serial};
use crate::sii::Sii;

/// What a stored certificate is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertKind {
    /// The provider root.
    Root,
    /// An issuing CA.
    Ca,
    /// A mapping leaf.
    Leaf,
}

/// Where a stored certificate is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertStatus {
    /// Serial taken, not signed yet (or the process died before it was).
    Reserved,
    /// Signed, stored and handed out.
    Issued,
    /// Revoked.
    Revoked,
    /// A reservation whose signing never completed; the serial is never reused.
    Abandoned,
}

macro_rules! text_enum {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            /// The name stored in the database and shown in reports.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s { $($s => Ok(Self::$v),)* other => Err(format!("unknown value {other:?}")) }
            }
        }
    };
}

text_enum!(CertKind { Root => "root", Ca => "ca", Leaf => "leaf" });
text_enum!(CertStatus { Reserved => "reserved", Issued => "issued", Revoked => "revoked", Abandoned => "abandoned" });

/// One certificate's row in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredCert {
    /// Serial (stored as lower-case hex).
    pub serial: Serial,
    /// Root, CA or leaf.
    pub kind: CertKind,
    /// The request's idempotency key, if it had one.
    pub request_id: Option<String>,
    /// SHA-256 (hex) of the request's content, to tell a replay from a conflicting reuse.
    pub request_sha256: Option<String>,
    /// The SII (leaves; stored in canonical form).
    pub sii: Option<Sii>,
    /// Handle (SSI), if any.
    pub handle: Option<String>,
    /// Validation method (leaves; stored as its name).
    pub method: Option<Method>,
    /// When possession was proven (leaves).
    pub validated_at: Option<OffsetDateTime>,
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// Serial of the issuing certificate (`None` for a root).
    pub issuer_serial: Option<Serial>,
    /// The certificate, once signed.
    pub der: Option<Vec<u8>>,
    /// SHA-256 (hex) of the CSR the key came from, if any.
    pub csr_sha256: Option<String>,
    /// Status.
    pub status: CertStatus,
    /// When the row was written.
    pub created_at: OffsetDateTime,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// Why it was revoked.
    pub revocation_reason: Option<RevokeReason>,
}

/// One line of a CRL, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevokedEntry {
    /// Serial.
    pub serial: Serial,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// The reason.
    pub reason: Option<RevokeReason>,
}
