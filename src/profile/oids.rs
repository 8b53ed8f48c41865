//! Object identifiers: the one table of every OID the toolkit writes or looks for.
//!
//! The profile's own (mapping-v1): until IANA assigns code points, every identifier sits
//! under the X.660 example arc `2.999.6464` ("MIMI" on a phone keypad). They are
//! experimental: a future profile version moves them, and verifiers match them exactly.
//!
//! Then the standard ones the profile uses or recognises: RFC 5280 certificate and CRL
//! extensions, the RFC 5480 / RFC 5758 key and signature algorithms, RFC 8226 TNAuthList.

/// An object identifier, in the three forms the toolkit needs.
///
/// (`const-oid`, behind the `der` crate, cannot represent arcs above 39 under the `2` root,
/// so the profile keeps its own small constant type; a test checks the encodings.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProfileOid {
    /// ASN.1 name, e.g. `id-kp-mimiMapping`.
    pub name: &'static str,
    /// Dotted form, e.g. `2.999.6464.1.1`.
    pub dotted: &'static str,
    arcs: &'static [u64],
    value: &'static [u8],
}

impl ProfileOid {
    /// The arcs (as rcgen wants them).
    pub const fn arcs(&self) -> &'static [u64] {
        self.arcs
    }

    /// The DER contents octets (no tag or length), as rustls-webpki and x509-parser compare them.
    pub const fn der_value(&self) -> &'static [u8] {
        self.value
    }
}

impl std::fmt::Display for ProfileOid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.dotted)
    }
}

/// `id-kp-mimiMapping` (extended key usage), 2.999.6464.1.1.
pub const ID_KP_MIMI_MAPPING: ProfileOid = ProfileOid {
    name: "id-kp-mimiMapping",
    dotted: "2.999.6464.1.1",
    arcs: &[2, 999, 6464, 1, 1],
    value: &[0x88, 0x37, 0xb2, 0x40, 0x01, 0x01],
};
/// `id-pe-mimiMapping` (leaf extension), 2.999.6464.2.1.
pub const ID_PE_MIMI_MAPPING: ProfileOid = ProfileOid {
    name: "id-pe-mimiMapping",
    dotted: "2.999.6464.2.1",
    arcs: &[2, 999, 6464, 2, 1],
    value: &[0x88, 0x37, 0xb2, 0x40, 0x02, 0x01],
};
/// `id-pe-mimiScope` (CA extension), 2.999.6464.2.2.
pub const ID_PE_MIMI_SCOPE: ProfileOid = ProfileOid {
    name: "id-pe-mimiScope",
    dotted: "2.999.6464.2.2",
    arcs: &[2, 999, 6464, 2, 2],
    value: &[0x88, 0x37, 0xb2, 0x40, 0x02, 0x02],
};
/// `id-cp-mimiMappingV1` (certificate policy), 2.999.6464.3.1.
pub const ID_CP_MIMI_MAPPING_V1: ProfileOid = ProfileOid {
    name: "id-cp-mimiMappingV1",
    dotted: "2.999.6464.3.1",
    arcs: &[2, 999, 6464, 3, 1],
    value: &[0x88, 0x37, 0xb2, 0x40, 0x03, 0x01],
};

/// Every OID of the profile's own.
pub const ALL: [ProfileOid; 4] = [
    ID_KP_MIMI_MAPPING,
    ID_PE_MIMI_MAPPING,
    ID_PE_MIMI_SCOPE,
    ID_CP_MIMI_MAPPING_V1,
];

/// `subjectKeyIdentifier`, 2.5.29.14: RFC 5280 §4.2.1.2, `id-ce-subjectKeyIdentifier`.
pub const SUBJECT_KEY_IDENTIFIER: ProfileOid = ProfileOid {
    name: "subjectKeyIdentifier",
    dotted: "2.5.29.14",
    arcs: &[2, 5, 29, 14],
    value: &[0x55, 0x1d, 0x0e],
};
/// `keyUsage`, 2.5.29.15: RFC 5280 §4.2.1.3, `id-ce-keyUsage`.
pub const KEY_USAGE: ProfileOid = ProfileOid {
    name: "keyUsage",
    dotted: "2.5.29.15",
    arcs: &[2, 5, 29, 15],
    value: &[0x55, 0x1d, 0x0f],
};
/// `subjectAltName`, 2.5.29.17: RFC 5280 §4.2.1.6, `id-ce-subjectAltName`.
pub const SUBJECT_ALT_NAME: ProfileOid = ProfileOid {
    name: "subjectAltName",
    dotted: "2.5.29.17",
    arcs: &[2, 5, 29, 17],
    value: &[0x55, 0x1d, 0x11],
};
/// `basicConstraints`, 2.5.29.19: RFC 5280 §4.2.1.9, `id-ce-basicConstraints`.
pub const BASIC_CONSTRAINTS: ProfileOid = ProfileOid {
    name: "basicConstraints",
    dotted: "2.5.29.19",
    arcs: &[2, 5, 29, 19],
    value: &[0x55, 0x1d, 0x13],
};
/// `cRLNumber`, 2.5.29.20: RFC 5280 §5.2.3, `id-ce-cRLNumber` (CRL extension).
pub const CRL_NUMBER: ProfileOid = ProfileOid {
    name: "cRLNumber",
    dotted: "2.5.29.20",
    arcs: &[2, 5, 29, 20],
    value: &[0x55, 0x1d, 0x14],
};
/// `deltaCRLIndicator`, 2.5.29.27: RFC 5280 §5.2.4, `id-ce-deltaCRLIndicator` (CRL extension).
pub const DELTA_CRL_INDICATOR: ProfileOid = ProfileOid {
    name: "deltaCRLIndicator",
    dotted: "2.5.29.27",
    arcs: &[2, 5, 29, 27],
    value: &[0x55, 0x1d, 0x1b],
};
/// `issuingDistributionPoint`, 2.5.29.28: RFC 5280 §5.2.5, `id-ce-issuingDistributionPoint` (CRL extension).
pub const ISSUING_DISTRIBUTION_POINT: ProfileOid = ProfileOid {
    name: "issuingDistributionPoint",
    dotted: "2.5.29.28",
    arcs: &[2, 5, 29, 28],
    value: &[0x55, 0x1d, 0x1c],
};
/// `nameConstraints`, 2.5.29.30: RFC 5280 §4.2.1.10, `id-ce-nameConstraints`.
pub const NAME_CONSTRAINTS: ProfileOid = ProfileOid {
    name: "nameConstraints",
    dotted: "2.5.29.30",
    arcs: &[2, 5, 29, 30],
    value: &[0x55, 0x1d, 0x1e],
};
/// `cRLDistributionPoints`, 2.5.29.31: RFC 5280 §4.2.1.13, `id-ce-cRLDistributionPoints`.
pub const CRL_DISTRIBUTION_POINTS: ProfileOid = ProfileOid {
    name: "cRLDistributionPoints",
    dotted: "2.5.29.31",
    arcs: &[2, 5, 29, 31],
    value: &[0x55, 0x1d, 0x1f],
};
/// `certificatePolicies`, 2.5.29.32: RFC 5280 §4.2.1.4, `id-ce-certificatePolicies`.
pub const CERTIFICATE_POLICIES: ProfileOid = ProfileOid {
    name: "certificatePolicies",
    dotted: "2.5.29.32",
    arcs: &[2, 5, 29, 32],
    value: &[0x55, 0x1d, 0x20],
};
/// `authorityKeyIdentifier`, 2.5.29.35: RFC 5280 §4.2.1.1, `id-ce-authorityKeyIdentifier`.
pub const AUTHORITY_KEY_IDENTIFIER: ProfileOid = ProfileOid {
    name: "authorityKeyIdentifier",
    dotted: "2.5.29.35",
    arcs: &[2, 5, 29, 35],
    value: &[0x55, 0x1d, 0x23],
};
/// `extKeyUsage`, 2.5.29.37: RFC 5280 §4.2.1.12, `id-ce-extKeyUsage`.
pub const EXT_KEY_USAGE: ProfileOid = ProfileOid {
    name: "extKeyUsage",
    dotted: "2.5.29.37",
    arcs: &[2, 5, 29, 37],
    value: &[0x55, 0x1d, 0x25],
};
/// `id-ecPublicKey`, 1.2.840.10045.2.1: RFC 5480 §2.1.1, the key algorithm of an elliptic-curve key.
pub const EC_PUBLIC_KEY: ProfileOid = ProfileOid {
    name: "id-ecPublicKey",
    dotted: "1.2.840.10045.2.1",
    arcs: &[1, 2, 840, 10045, 2, 1],
    value: &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01],
};
/// `prime256v1`, 1.2.840.10045.3.1.7: RFC 5480 §2.1.1.1, the named curve P-256 (`secp256r1`).
pub const PRIME256V1: ProfileOid = ProfileOid {
    name: "prime256v1",
    dotted: "1.2.840.10045.3.1.7",
    arcs: &[1, 2, 840, 10045, 3, 1, 7],
    value: &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
};
/// `ecdsa-with-SHA256`, 1.2.840.10045.4.3.2: RFC 5758 §3.2, the signature algorithm of the profile.
pub const ECDSA_WITH_SHA256: ProfileOid = ProfileOid {
    name: "ecdsa-with-SHA256",
    dotted: "1.2.840.10045.4.3.2",
    arcs: &[1, 2, 840, 10045, 4, 3, 2],
    value: &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02],
};
/// `id-pe-TNAuthList`, 1.3.6.1.5.5.7.1.26: RFC 8226, the telephone numbers a STIR/SHAKEN certificate speaks for.
pub const TN_AUTH_LIST: ProfileOid = ProfileOid {
    name: "id-pe-TNAuthList",
    dotted: "1.3.6.1.5.5.7.1.26",
    arcs: &[1, 3, 6, 1, 5, 5, 7, 1, 26],
    value: &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1a],
};

/// Every standard OID of the table.
pub const STANDARD: [ProfileOid; 16] = [
    SUBJECT_KEY_IDENTIFIER,
    KEY_USAGE,
    SUBJECT_ALT_NAME,
    BASIC_CONSTRAINTS,
    CRL_NUMBER,
    DELTA_CRL_INDICATOR,
    ISSUING_DISTRIBUTION_POINT,
    NAME_CONSTRAINTS,
    CRL_DISTRIBUTION_POINTS,
    CERTIFICATE_POLICIES,
    AUTHORITY_KEY_IDENTIFIER,
    EXT_KEY_USAGE,
    EC_PUBLIC_KEY,
    PRIME256V1,
    ECDSA_WITH_SHA256,
    TN_AUTH_LIST,
];

/// The dotted form of an OID given by its DER contents octets.
///
/// x509-parser's own `to_id_string` mis-reads first arcs under `2` above 39 (it shows
/// 2.999.6464.1.1 as "3.16.55.6464.1.1"), so every report goes through this instead.
pub fn dotted(value: &[u8]) -> String {
    // Fast path for well-formed OIDs (every call in lints and reports); anything unusual
    // (empty, non-minimal or truncated arcs, arcs beyond 64 bits) takes yasna's reading below.
    if let Some(s) = dotted_fast(value) {
        return s;
    }
    let mut der = vec![0x06];
    if value.len() < 128 {
        der.push(value.len() as u8);
    } else {
        return format!("(unreadable OID of {} bytes)", value.len());
    }
    der.extend_from_slice(value);
    match yasna::parse_der(&der, |r| r.read_oid()) {
        Ok(oid) => oid
            .components()
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
        Err(_) => format!("(malformed OID {})", super::hex(value)),
    }
}

/// The dotted form of a well-formed OID without allocating more than the result; `None`
/// when it is not plainly well-formed.
fn dotted_fast(value: &[u8]) -> Option<String> {
    use std::fmt::Write;
    if value.is_empty() || value.len() >= 128 || value[value.len() - 1] & 0x80 != 0 {
        return None;
    }
    let mut out = String::with_capacity(value.len() * 3 + 2);
    let mut acc: u64 = 0;
    let mut start = true;
    let mut first = true;
    for &b in value {
        if start && b == 0x80 {
            return None;
        }
        if acc >> 49 != 0 {
            // Arcs beyond 56 bits: let yasna decide.
            return None;
        }
        acc = (acc << 7) | u64::from(b & 0x7f);
        start = b & 0x80 == 0;
        if start {
            if first {
                let (a, b) = match acc {
                    0..=39 => (0, acc),
                    40..=79 => (1, acc - 40),
                    _ => (2, acc - 80),
                };
                write!(out, "{a}.{b}").ok()?;
                first = false;
            } else {
                write!(out, ".{acc}").ok()?;
            }
            acc = 0;
        }
    }
    Some(out)
}

/// The name of an OID this profile (or RFC 5280) knows, for reports.
pub fn name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.999.6464.1.1" => "id-kp-mimiMapping",
        "2.999.6464.2.1" => "id-pe-mimiMapping",
        "2.999.6464.2.2" => "id-pe-mimiScope",
        "2.999.6464.3.1" => "id-cp-mimiMappingV1",
        "1.3.6.1.5.5.7.3.1" => "serverAuth",
        "1.3.6.1.5.5.7.3.2" => "clientAuth",
        "1.3.6.1.5.5.7.3.3" => "codeSigning",
        "1.3.6.1.5.5.7.3.4" => "emailProtection",
        "1.3.6.1.5.5.7.3.8" => "timeStamping",
        "1.3.6.1.5.5.7.3.9" => "OCSPSigning",
        "2.5.29.37.0" => "anyExtendedKeyUsage",
        "2.5.29.32.0" => "anyPolicy",
        "2.5.29.14" => "subjectKeyIdentifier",
        "2.5.29.15" => "keyUsage",
        "2.5.29.17" => "subjectAltName",
        "2.5.29.19" => "basicConstraints",
        "2.5.29.30" => "nameConstraints",
        "2.5.29.31" => "cRLDistributionPoints",
        "2.5.29.32" => "certificatePolicies",
        "2.5.29.35" => "authorityKeyIdentifier",
        "2.5.29.37" => "extKeyUsage",
        "2.5.29.20" => "cRLNumber",
        "2.5.29.21" => "reasonCode",
        "1.3.6.1.5.5.7.1.1" => "authorityInfoAccess",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_agree() {
        for oid in ALL.iter().chain(&STANDARD).copied() {
            let der = yasna::construct_der(|w| {
                w.write_oid(&yasna::models::ObjectIdentifier::from_slice(oid.arcs()))
            });
            assert_eq!(&der[2..], oid.der_value(), "{}", oid.name);
            let arcs: Vec<String> = oid.arcs().iter().map(u64::to_string).collect();
            assert_eq!(arcs.join("."), oid.dotted);
            // `name` knows the extensions; inspect names the algorithms itself.
            if let Some(n) = name(oid.dotted) {
                assert_eq!(n, oid.name);
            }
            assert_eq!(dotted(oid.der_value()), oid.dotted);
        }
    }

    /// The fast path reads exactly what yasna reads, and leaves the rest to it.
    #[test]
    fn fast_path_agrees_with_yasna() {
        let slow = |value: &[u8]| {
            let mut der = vec![0x06, value.len() as u8];
            der.extend_from_slice(value);
            yasna::parse_der(&der, |r| r.read_oid()).ok().map(|oid| {
                oid.components()
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(".")
            })
        };
        let cases: &[&[u8]] = &[
            &[0x55, 0x1d, 0x0f],
            &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02],
            &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            &[0x00],
            &[0x27],
            &[0x28],
            &[0x4f],
            &[0x50],
            &[0x88, 0x37, 0xb2, 0x40, 0x01, 0x01],
            &[0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
        ];
        for &v in cases {
            if let Some(fast) = dotted_fast(v) {
                assert_eq!(Some(fast), slow(v), "{v:02x?}");
            }
            if let Some(slow) = slow(v) {
                assert_eq!(dotted(v), slow, "{v:02x?}");
            }
        }
        for v in [&[][..], &[0x80, 0x01], &[0x55, 0x81]] {
            assert_eq!(dotted_fast(v), None);
        }
    }
}
