//! docs/spec.md against the code: its test vectors, its ASN.1 module's identifiers, its lint
//! and code tables, and every `docs/spec.md#anchor` cited anywhere in the repository. The
//! specification is read from the file itself, so it cannot drift from the implementation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mimi_attest::catalogue;
use mimi_attest::{certificate_policies_der, oids};
use mimi_attest::{Code, MappingFlags, Method, MimiMapping, Scope, Sii};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::common::cli::{mapping_log, repo_path};

fn spec() -> String {
    std::fs::read_to_string(repo_path("docs/spec.md")).expect("docs/spec.md is readable")
}

/// The fenced blocks whose info string is `vector NAME`: name → lines.
fn vectors(spec: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut lines = spec.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix("```vector ") else {
            continue;
        };
        let body: Vec<String> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .map(str::to_owned)
            .collect();
        assert!(
            out.insert(name.trim().to_owned(), body).is_none(),
            "vector {name} appears twice in docs/spec.md"
        );
    }
    out
}

fn vector<'a>(all: &'a BTreeMap<String, Vec<String>>, name: &str) -> &'a [String] {
    all.get(name)
        .unwrap_or_else(|| panic!("docs/spec.md has no ```vector {name} block"))
}

/// A line without its commentary: from ` -- ` on, or all of it when it starts with `--`
/// (a bare `--` may be data, as in `xn--bcher-kva.example`).
fn uncommented(line: &str) -> &str {
    if line.trim_start().starts_with("--") {
        return "";
    }
    line.split_once(" -- ").map_or(line, |(code, _)| code)
}

fn unhex(text: &str) -> Vec<u8> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(
        digits.len().is_multiple_of(2),
        "odd number of hex digits: {digits}"
    );
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex digits"))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A `key: value` vector with a `der:` dump at its end: (fields, DER).
fn fields_and_der(lines: &[String]) -> (BTreeMap<String, String>, Vec<u8>) {
    let mut fields = BTreeMap::new();
    let mut der = String::new();
    let mut in_der = false;
    for line in lines {
        let code = uncommented(line).trim();
        if in_der {
            der.push_str(code);
        } else if code == "der:" {
            in_der = true;
        } else if let Some((k, v)) = code.split_once(':') {
            fields.insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    assert!(in_der, "vector without a der: dump");
    (fields, unhex(&der))
}

/// The ASN.1 names of the methods, as the module and the vectors spell them.
const METHODS: [(&str, Method); 7] = [
    ("smsOtp", Method::SmsOtp),
    ("voiceOtp", Method::VoiceOtp),
    ("emailLink", Method::EmailLink),
    ("emailOtp", Method::EmailOtp),
    ("operatorToken", Method::OperatorToken),
    ("oauth", Method::Oauth),
    ("other", Method::Other),
];

fn method(name: &str) -> Method {
    METHODS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("unknown method {name}"))
        .1
}

fn yes(v: Option<&String>) -> bool {
    match v.map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => panic!("a flag is true or false, not {other}"),
    }
}

fn mapping_of(f: &BTreeMap<String, String>) -> MimiMapping {
    let mut m = MimiMapping::new(
        f["provider"].clone(),
        method(&f["method"]),
        OffsetDateTime::parse(&f["validatedAt"], &Rfc3339).unwrap(),
    )
    .with_flags(
        MappingFlags::default()
            .with_preferred(yes(f.get("preferred")))
            .with_new_holder(yes(f.get("newHolder"))),
    );
    m.handle = f.get("handle").cloned();
    m.consent = f
        .get("consent")
        .map(|h| unhex(h).try_into().expect("consent is 32 octets"));
    m
}

#[test]
fn mimi_mapping_vectors_encode_and_decode() {
    let all = vectors(&spec());
    let names: Vec<&String> = all
        .keys()
        .filter(|n| n.starts_with("mimi-mapping-") && *n != "mimi-mapping-invalid")
        .collect();
    assert!(names.len() >= 3, "{names:?}");
    for name in names {
        let (fields, der) = fields_and_der(&all[name]);
        let m = mapping_of(&fields);
        assert_eq!(hex(&m.to_der().unwrap()), hex(&der), "{name}: encoding");
        assert_eq!(MimiMapping::from_der(&der).unwrap(), m, "{name}: decoding");
    }
}

#[test]
fn invalid_mimi_mappings_are_rejected() {
    let all = vectors(&spec());
    let lines = vector(&all, "mimi-mapping-invalid");
    assert!(lines.len() >= 5);
    for line in lines {
        let der = unhex(uncommented(line));
        assert!(
            MimiMapping::from_der(&der).is_err(),
            "docs/spec.md says this must be rejected, but it decodes: {line}"
        );
    }
}

/// `tel: +1 +44` / `email: a.example` (either may be absent) as a scope.
fn scope_of_fields(f: &BTreeMap<String, String>) -> Scope {
    let list = |k: &str| -> Vec<String> {
        f.get(k)
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    Scope::new(&list("tel"), &list("email")).unwrap()
}

/// `+1 +44 ; a.example .b.example` as a scope.
fn scope_of_text(text: &str) -> Scope {
    let (tel, email) = text.split_once(';').expect("tel ; email");
    let tel: Vec<&str> = tel.split_whitespace().collect();
    let email: Vec<&str> = email.split_whitespace().collect();
    Scope::new(&tel, &email).unwrap()
}

#[test]
fn mimi_scope_vectors_encode_and_decode() {
    let all = vectors(&spec());
    let names: Vec<&String> = all
        .keys()
        .filter(|n| n.starts_with("mimi-scope-"))
        .collect();
    assert!(names.len() >= 3, "{names:?}");
    for name in names {
        let (fields, der) = fields_and_der(&all[name]);
        let s = scope_of_fields(&fields);
        assert_eq!(hex(&s.to_der().unwrap()), hex(&der), "{name}: encoding");
        assert_eq!(Scope::from_der(&der).unwrap(), s, "{name}: decoding");
    }
}

/// Rows `a | b | yes/no` of a table vector, commentary lines skipped.
fn rows(lines: &[String]) -> Vec<Vec<String>> {
    lines
        .iter()
        .map(|l| uncommented(l))
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('|').map(|c| c.trim().to_owned()).collect())
        .collect()
}

fn verdict(cell: &str) -> bool {
    match cell {
        "yes" => true,
        "no" => false,
        other => panic!("expected yes or no, found {other:?}"),
    }
}

#[test]
fn scope_matching_and_delegation_tables() {
    let all = vectors(&spec());
    for row in rows(vector(&all, "scope-permits")) {
        let [scope, sii, want] = &row[..] else {
            panic!("scope-permits row {row:?}")
        };
        let sii = Sii::parse_canonical(sii).unwrap();
        assert_eq!(
            scope_of_text(scope).permits(&sii),
            verdict(want),
            "{scope} permits {sii}"
        );
    }
    for row in rows(vector(&all, "scope-within")) {
        let [inner, outer, want] = &row[..] else {
            panic!("scope-within row {row:?}")
        };
        assert_eq!(
            scope_of_text(inner).is_within(&scope_of_text(outer)),
            verdict(want),
            "{inner} within {outer}"
        );
    }
}

#[test]
fn sii_canonicalisation_table() {
    let all = vectors(&spec());
    let lines = vector(&all, "sii-canonical");
    let (mut accepted, mut rejected) = (0, 0);
    for line in lines {
        let code = uncommented(line);
        let (input, want) = code.split_once('|').expect("input | canonical");
        // Leading white space of an input is part of the vector; the column padding is not.
        let (input, want) = (input.trim_end(), want.trim());
        match Sii::parse(input) {
            Ok(sii) if want != "rejected" => {
                assert_eq!(sii.canonical(), want, "{input:?}");
                assert_eq!(
                    Sii::parse_canonical(want).unwrap(),
                    sii,
                    "{want} is canonical"
                );
                accepted += 1;
            }
            Err(_) if want == "rejected" => rejected += 1,
            other => panic!("{input:?}: docs/spec.md says {want}, the code says {other:?}"),
        }
    }
    assert!(accepted >= 5 && rejected >= 5, "{accepted} / {rejected}");
}

#[test]
fn oid_and_policy_vectors() {
    let all = vectors(&spec());
    let mut seen = BTreeSet::new();
    for line in vector(&all, "oids") {
        let [name, dotted, der] = line.split_whitespace().collect::<Vec<_>>()[..] else {
            panic!("oids row {line:?}")
        };
        let oid = oids::ALL
            .iter()
            .find(|o| o.name == name)
            .unwrap_or_else(|| panic!("docs/spec.md names {name}, the code does not"));
        assert_eq!(oid.dotted, dotted, "{name}");
        assert_eq!(hex(oid.der_value()), der, "{name}");
        seen.insert(name);
    }
    assert_eq!(
        seen.len(),
        oids::ALL.len(),
        "every OID of the profile has a vector"
    );

    let (_, der) = fields_and_der(vector(&all, "certificate-policies"));
    assert_eq!(hex(&der), hex(&certificate_policies_der()));
}

/// The ```asn1 block of the specification.
fn asn1_module(spec: &str) -> String {
    let start = spec
        .find("```asn1\n")
        .expect("docs/spec.md has an ```asn1 block");
    let body = &spec[start + "```asn1\n".len()..];
    body[..body.find("```").expect("closed")].to_owned()
}

#[test]
fn asn1_module_identifiers_are_the_codes() {
    let module = asn1_module(&spec());
    // Resolve `name OBJECT IDENTIFIER ::= { parent n }` and `{ a(2) b(999) ... }`.
    let mut known: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in module.lines() {
        let Some((name, value)) = line.split_once("OBJECT IDENTIFIER ::=") else {
            continue;
        };
        let value = value.trim().trim_start_matches('{').trim_end_matches('}');
        let mut arcs = Vec::new();
        for token in value.split_whitespace() {
            if let Some(parent) = known.get(token) {
                arcs.extend(parent);
            } else {
                let n = token
                    .rsplit_once('(')
                    .map_or(token, |(_, n)| n.trim_end_matches(')'));
                arcs.push(n.parse::<u64>().unwrap_or_else(|_| panic!("arc {token}")));
            }
        }
        known.insert(name.trim().to_owned(), arcs);
    }
    for oid in oids::ALL {
        let arcs = known
            .get(oid.name)
            .unwrap_or_else(|| panic!("the ASN.1 module does not define {}", oid.name));
        assert_eq!(&arcs[..], oid.arcs(), "{}", oid.name);
    }
    // The methods' numbers are what the encoder writes (`0a 01 <n>`).
    for (name, m) in METHODS {
        let line = module
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("the ASN.1 module lists no method {name}"));
        let n: u8 = line
            .split(['(', ')'])
            .nth(1)
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("method line {line:?}"));
        let der = MimiMapping::new("b.example", m, OffsetDateTime::UNIX_EPOCH)
            .to_der()
            .unwrap();
        let at = der.windows(2).position(|w| w == [0x0a, 0x01]).unwrap();
        assert_eq!(der[at + 2], n, "{name}");
    }
    assert!(module.contains("DEFINITIONS IMPLICIT TAGS"));
}

/// The lint table of section 9: id → [severity, applies to, message, citation].
fn lint_rows(spec: &str) -> BTreeMap<String, Vec<String>> {
    let start = spec
        .find("<a id=\"lint-table\"></a>")
        .expect("the lint table anchor");
    spec[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<String> = l
                .trim()
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().trim_matches('`').to_owned())
                .collect();
            (cells[0].clone(), cells[1..].to_vec())
        })
        .collect()
}

#[test]
fn lint_table_is_the_catalogue() {
    let rows = lint_rows(&spec());
    let mut missing = Vec::new();
    for l in catalogue() {
        let applies: Vec<&str> = l.applies_to.iter().map(|t| t.as_str()).collect();
        let want = vec![
            l.severity.as_str().to_owned(),
            applies.join(", "),
            l.message.to_owned(),
            l.citation.to_owned(),
        ];
        if rows.get(l.id) != Some(&want) {
            missing.push(format!(
                "| `{}` | {} | `{}` |",
                l.id,
                want[..3].join(" | "),
                want[3]
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/spec.md section 9 disagrees with the lint catalogue; its rows should be:\n{}",
        missing.join("\n")
    );
    let ids: BTreeSet<&str> = catalogue().iter().map(|l| l.id).collect();
    for id in rows.keys() {
        assert!(
            ids.contains(id.as_str()),
            "docs/spec.md lists lint {id}, the code does not"
        );
    }
}

#[test]
fn every_code_is_in_the_code_table() {
    let spec = spec();
    let start = spec.find("<a id=\"codes\"></a>").expect("the codes anchor");
    let table = &spec[start..start + spec[start..].find("### 6.4").expect("6.4 follows")];
    for code in Code::ALL {
        assert!(
            table.contains(&format!("| `{}` |", code.as_str())),
            "{} is missing from docs/spec.md#codes",
            code.as_str()
        );
    }
}

fn anchors(spec: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for part in spec.split("<a id=\"").skip(1) {
        let id = &part[..part.find('"').expect("closing quote")];
        assert!(out.insert(id.to_owned()), "anchor {id} defined twice");
    }
    out
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("rs" | "md" | "yaml")
        ) {
            out.push(path);
        }
    }
}

/// Every `docs/spec.md#x` cited in the sources, tests and documents, and every `](#x)` link
/// inside the specification, names an anchor the specification defines.
#[test]
fn every_cited_anchor_exists() {
    let spec = spec();
    let defined = anchors(&spec);
    let mut files = vec![repo_path("README.md")];
    for dir in ["src", "tests", "docs"] {
        files_under(&repo_path(dir), &mut files);
    }
    let mut cited = 0;
    let mut broken = Vec::new();
    let mut check = |id: &str, place: String| {
        cited += 1;
        if !defined.contains(id) {
            broken.push(format!("{place}: #{id}"));
        }
    };
    let id_of = |rest: &str| -> String {
        rest.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    };
    // This file names the pattern itself (`docs/spec.md#…`); so does a citation's doc comment.
    let me = repo_path(file!());
    for file in files.iter().filter(|f| **f != me) {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for part in line.split("docs/spec.md#").skip(1) {
                let id = id_of(part);
                if !id.is_empty() {
                    check(&id, format!("{}:{}", file.display(), n + 1));
                }
            }
        }
    }
    for (n, line) in spec.lines().enumerate() {
        for part in line.split("](#").skip(1) {
            check(&id_of(part), format!("docs/spec.md:{}", n + 1));
        }
    }
    assert!(
        broken.is_empty(),
        "links to missing anchors:\n{}",
        broken.join("\n")
    );
    assert!(cited > 50, "{cited}");
}

/// No source, test or document points at a design file outside the repository.
#[test]
fn nothing_cites_a_file_outside_the_repository() {
    let mut files = vec![repo_path("README.md")];
    for dir in ["src", "tests", "docs"] {
        files_under(&repo_path(dir), &mut files);
    }
    let me = repo_path(file!());
    let outside = "DESIGN.md";
    for file in files.iter().filter(|f| **f != me) {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            !text.contains(outside),
            "{} cites {outside}, which is not in the repository: cite docs/spec.md#… instead",
            file.display()
        );
    }
}

/// The `key: value` lines of a vector in order, keys repeated (commentary dropped).
fn pairs(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|l| uncommented(l))
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("not `key: value`: {l}"));
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

fn array32(text: &str) -> [u8; 32] {
    unhex(text).try_into().expect("32 octets")
}

#[test]
fn log_vrf_label_vectors() {
    use mimi_attest::{VrfProof, VrfSecretKey};
    let all = vectors(&spec());
    let p = pairs(vector(&all, "log-vrf-labels"));
    let sk = VrfSecretKey::from_seed(&array32(&p[0].1));
    assert_eq!(p[1].0, "vrf_public_key");
    assert_eq!(hex(sk.public_key().as_bytes()), p[1].1);
    let rest = &p[2..];
    assert_eq!(rest.len() % 3, 0);
    for v in rest.chunks(3) {
        let (sii, pi, beta) = (&v[0].1, &v[1].1, &v[2].1);
        assert_eq!(
            Sii::parse(sii).unwrap().canonical(),
            *sii,
            "{sii} is canonical"
        );
        let proof = sk.prove(sii.as_bytes()).unwrap();
        assert_eq!(hex(proof.as_bytes()), *pi, "pi for {sii}");
        let out = sk
            .public_key()
            .verify(sii.as_bytes(), &VrfProof::from_bytes(&unhex(pi)).unwrap())
            .unwrap();
        assert_eq!(hex(out.as_bytes()), *beta, "beta for {sii}");
        assert_eq!(hex(&out.label()), beta[..64], "label for {sii}");
        // The proof is not evidence for another SII.
        assert!(sk.public_key().verify(b"tel:+15550000000", &proof).is_err());
    }
}

/// One entry of the `log-entries` vector: its fields, its bytes and its leaf hash.
type LogEntryVector = (BTreeMap<String, String>, Vec<u8>, [u8; 32]);

fn log_entries() -> Vec<LogEntryVector> {
    let all = vectors(&spec());
    let p = pairs(vector(&all, "log-entries"));
    p.chunks(9)
        .map(|c| {
            let f: BTreeMap<String, String> = c.iter().cloned().collect();
            let entry = unhex(&f["entry"]);
            let leaf = array32(&f["leaf_hash"]);
            (f, entry, leaf)
        })
        .collect()
}

#[test]
fn log_entry_vectors_encode_and_decode() {
    use mimi_attest::MappingLogEntry;
    let entries = log_entries();
    assert_eq!(entries.len(), 3);
    for (f, bytes, leaf) in &entries {
        let e = MappingLogEntry::decode(bytes).unwrap();
        assert_eq!(hex(&e.label), f["label"]);
        assert_eq!(hex(&e.issuer_spki_sha256), f["issuer_spki_sha256"]);
        assert_eq!(hex(&e.leaf_sha256), f["leaf_sha256"]);
        assert_eq!(e.not_before.to_string(), f["not_before"]);
        assert_eq!(e.not_after.to_string(), f["not_after"]);
        let flags = u8::from(e.flags.preferred) | (u8::from(e.flags.new_holder) << 1);
        assert_eq!(format!("{flags:02x}"), f["flags"]);
        assert_eq!(e.provider, f["provider"]);
        assert_eq!(e.encode().unwrap(), *bytes, "re-encoding {}", f["entry"]);
        assert_eq!(e.leaf_hash().unwrap(), *leaf);
        assert_eq!(mimi_attest::leaf_hash(bytes), *leaf);
    }
}

#[test]
fn invalid_log_entries_are_rejected() {
    use mimi_attest::MappingLogEntry;
    let all = vectors(&spec());
    let lines: Vec<&String> = vector(&all, "log-entry-invalid")
        .iter()
        .filter(|l| !uncommented(l).trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 5);
    for line in lines {
        let bytes = unhex(uncommented(line));
        assert!(MappingLogEntry::decode(&bytes).is_err(), "accepted: {line}");
    }
}

/// The log of the three vector entries, written by the reference log writer, has the vector's
/// checkpoint (Ed25519 is deterministic, so byte for byte) and inclusion proof.
#[test]
fn log_checkpoint_vector() {
    use mimi_attest::{KeyType, LogWriter, NoteSigningKey, NoteVerifierKey, SignedCheckpoint};
    let all = vectors(&spec());
    let p = pairs(vector(&all, "log-checkpoint"));
    let one = |k: &str| p.iter().find(|(key, _)| key == k).unwrap().1.clone();
    let many = |k: &str| -> Vec<String> {
        p.iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .collect()
    };
    // `note:` lines keep their inner blank line, which `pairs` drops with other empty lines.
    let note: Vec<String> = vector(&all, "log-checkpoint")
        .iter()
        .filter_map(|l| l.strip_prefix("note:"))
        .map(|l| l.trim().to_owned())
        .collect();
    let note = note.join("\n") + "\n";
    let vkey = NoteVerifierKey::parse(&one("vkey")).unwrap();
    let origin = vkey.name().to_owned();
    let key =
        NoteSigningKey::from_seed(&origin, KeyType::Ed25519, &array32(&one("note_key"))).unwrap();
    assert_eq!(key.verifier_key().to_string(), one("vkey"));

    let dir = tempfile::tempdir().unwrap();
    let mut log = LogWriter::create(dir.path(), key).unwrap();
    let entries = log_entries();
    let bytes: Vec<Vec<u8>> = entries.iter().map(|(_, b, _)| b.clone()).collect();
    let checkpoint = log.append(&bytes).unwrap();
    assert_eq!(hex(checkpoint.checkpoint().root_hash()), one("root_hash"));
    assert_eq!(String::from_utf8_lossy(checkpoint.as_bytes()), note);
    let parsed = SignedCheckpoint::parse(note.as_bytes()).unwrap();
    parsed.verify(&origin, &vkey).unwrap();

    let index: u64 = one("index").parse().unwrap();
    let proof = log.inclusion_proof(index, 3).unwrap();
    let want: Vec<[u8; 32]> = many("inclusion").iter().map(|h| array32(h)).collect();
    assert_eq!(proof, want);
    mimi_attest::verify_inclusion(
        &proof,
        index,
        3,
        &entries[index as usize].2,
        &array32(&one("root_hash")),
    )
    .unwrap();
}

/// A second implementation of mapping-log-v1 (tests/interop/mapping_log.py, Python standard
/// library and `cryptography`, written from the RFC and C2SP texts) recomputes every log
/// vector of the specification, and passes its own known-answer tests.
#[test]
fn independent_implementation_recomputes_the_log_vectors() {
    let spec = repo_path("docs/spec.md");
    // Its own known answers first: RFC 9381's VRF vectors, and RFC 6962 consistency proofs
    // against RFC 9162 verification on every pair of trees up to 33 leaves.
    for (args, says) in [
        (vec!["selftest"], "ok (594 consistency pairs)"),
        (
            vec!["spec", spec.to_str().unwrap()],
            "ok: 3 labels, 3 entries, 5 invalid entries, 1 checkpoint",
        ),
    ] {
        let Some(out) = mapping_log(&args) else {
            return;
        };
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), says);
    }
}
