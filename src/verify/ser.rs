//! How the verifier's results serialize (`serde`): the forms the command's JSON has always
//! used. Times are RFC 3339 in UTC, hashes and serials lower-case hex, keys base64.

use serde::Serializer;
use time::OffsetDateTime;

use crate::profile::{self, Method};
use crate::sii::Sii;

pub(super) fn sii<S: Serializer>(sii: &Sii, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&sii.canonical())
}

pub(super) fn method<S: Serializer>(m: &Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.as_str())
}

pub(super) fn time<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&profile::rfc3339(*t))
}

pub(super) fn hex<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&profile::hex(bytes))
}

pub(super) fn hex_opt<S: Serializer>(bytes: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
    match bytes {
        Some(b) => s.serialize_some(&profile::hex(b)),
        None => s.serialize_none(),
    }
}

pub(super) fn base64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine;
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
}
