#!/usr/bin/env python3
"""A second, independent reading of signed trust lists (trust-list-v2), written from the C2SP
signed-note text (c2sp.org/signed-note), golang.org/x/mod/sumdb/note's published vectors and
the trust-list section of the design, with the Python standard library and `cryptography`
(Ed25519) alone. PyYAML is not needed; where it is installed it re-reads every piece of YAML
this tool reads and any disagreement refuses the input.

It makes keys, lists, signatures and hostile variants so the Rust tests can check
`mimi-attest trust-list` against a second implementation, and it checks signed lists itself.

    trust_list.py selftest
    trust_list.py keygen --name NAME --out KEYFILE          prints the vkey
    trust_list.py vkey --key KEYFILE                        prints the vkey of a key file
    trust_list.py sign --key KEYFILE --out OUT INPUT        INPUT: list text or signed list
    trust_list.py verify --signers FILE [--state FILE] [--at RFC3339] SIGNED
    trust_list.py mutate KIND SIGNED OUT [--key KEYFILE]... [--index I] [--name NAME]
    trust_list.py make-list --sequence N --issued T --expires T --root-pem PEM --provider P
                  --name N [--tel +1]... [--email D]... [--client-auth-pem PEM]
                  [--signers-threshold T --signer-vkey V...] --out FILE

Exit codes: 0 done / accepted, 1 refused (the input is bad), 2 could not run (usage, unreadable
or invalid key, signers or state file). Results go to stdout, diagnostics to stderr.
"""

import argparse
import base64
import binascii
import hashlib
import json
import os
import re
import sys
import tempfile
from datetime import datetime, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding, NoEncryption, PrivateFormat, PublicFormat)

ED25519 = 0x01  # signed-note signature type of Ed25519
SIG_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100  # C2SP: verifiers must accept at least 16; Go's note package stops at 100
MAX_NOTE_BYTES = 4 << 20
STATE_FORMAT = "trust-list-interop-state-1"


class Refused(Exception):
    """The input itself is bad: exit 1."""


class Unusable(Exception):
    """The tool cannot do its job (bad key, signers or state file, I/O): exit 2."""


# --- keys (c2sp.org/signed-note "Signatures", Go's vkey/skey encodings) ---------------------


def valid_name(name):
    return name != "" and "+" not in name and not any(c.isspace() for c in name)


def note_key_id(name, public):
    """SHA-256(name || 0x0A || 0x01 || public key)[:4], the key ID of an Ed25519 note key."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public).digest()[:4]


def b64decode_strict(text):
    """Standard base64 in its one canonical spelling (padding bits zero), so one signature
    has one line."""
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if base64.b64encode(raw).decode() != text:
        raise binascii.Error("not canonical base64")
    return raw


class NoteKey:
    """A verifier key: name, 4-byte key ID, 32-byte Ed25519 public key."""

    def __init__(self, name, public):
        if not valid_name(name):
            raise ValueError(f"key name {name!r} is empty or has a space or '+'")
        self.name, self.public, self.key_id = name, public, note_key_id(name, public)

    def vkey(self):
        raw = base64.b64encode(bytes([ED25519]) + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{raw}"

    def verify(self, text, signature):
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, text)
            return True
        except InvalidSignature:
            return False


def split_key(encoded, parts, what):
    """Splits NAME+HASH+BASE64 (after `parts` leading fields) and checks the hash's form."""
    fields = encoded.split("+", parts + 2)
    if len(fields) != parts + 3 or not re.fullmatch(r"[0-9a-fA-F]{8}", fields[parts + 1]):
        raise ValueError(f"{what} is not of the form {'PRIVATE+KEY+' * (parts > 0)}NAME+HASH+KEY")
    try:
        raw = b64decode_strict(fields[parts + 2])
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"{what}: key data is not base64") from None
    if len(raw) != 33 or raw[0] != ED25519:
        raise ValueError(f"{what}: key data is not 0x01 followed by a 32-byte Ed25519 key")
    return fields[:parts], fields[parts], bytes.fromhex(fields[parts + 1]), raw[1:]


def parse_vkey(vkey):
    _, name, key_id, public = split_key(vkey, 0, "verifier key")
    key = NoteKey(name, public)
    if key.key_id != key_id:
        raise ValueError(f"verifier key {vkey!r}: key ID does not match its name and key")
    return key


def parse_skey(skey):
    """PRIVATE+KEY+NAME+HASH+base64(0x01 || seed) -> (NoteKey, Ed25519PrivateKey)."""
    head, name, key_id, seed = split_key(skey.strip(), 2, "private key")
    if head != ["PRIVATE", "KEY"]:
        raise ValueError("private key does not start with PRIVATE+KEY+")
    private = Ed25519PrivateKey.from_private_bytes(seed)
    key = NoteKey(name, private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    if key.key_id != key_id:
        raise ValueError("private key: key ID does not match its name and public key")
    return key, private


def format_skey(name, private):
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    key = NoteKey(name, private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    data = base64.b64encode(bytes([ED25519]) + seed).decode()
    return f"PRIVATE+KEY+{name}+{key.key_id.hex()}+{data}"


def signature_line(key, private, text):
    return f"{SIG_PREFIX}{key.name} {base64.b64encode(key.key_id + private.sign(text)).decode()}\n"


# --- notes (c2sp.org/signed-note "Format") ---------------------------------------------------


def check_text(data, what="note"):
    """Valid UTF-8 without ASCII control characters other than newline."""
    if len(data) > MAX_NOTE_BYTES:
        raise Refused(f"{what} is {len(data)} bytes, more than the {MAX_NOTE_BYTES} allowed")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Refused(f"{what} is not UTF-8 (byte {e.start})") from None
    for i, c in enumerate(text):
        if c < " " and c != "\n":
            line = text.count("\n", 0, i) + 1
            kind = "a tab" if c == "\t" else f"control character U+{ord(c):04X}"
            raise Refused(f"{what} has {kind} on line {line}; signed notes allow none "
                          "(indent with spaces)")
    return text


class Signature:
    def __init__(self, line):
        self.line = line  # without its newline
        body = line[len(SIG_PREFIX):]
        name, _, b64 = body.partition(" ")
        if not line.startswith(SIG_PREFIX) or not valid_name(name) or not b64:
            raise Refused(f"signature line {line[:60]!r} is not '\u2014 NAME BASE64'")
        try:
            raw = b64decode_strict(b64)
        except (binascii.Error, UnicodeEncodeError):
            raise Refused(f"signature line of {name}: signature is not base64") from None
        if len(raw) < 5:
            raise Refused(f"signature line of {name}: fewer than 5 bytes")
        self.name, self.key_id, self.sig = name, raw[:4], raw[4:]


def parse_note(data):
    """Signed note bytes -> (text bytes incl. final newline, [Signature])."""
    check_text(data)
    split = data.rfind(b"\n\n")
    if split < 0:
        raise Refused("not a signed note: no blank line before signature lines")
    text, block = data[: split + 1], data[split + 2:]
    if not block or not block.endswith(b"\n"):
        raise Refused("not a signed note: no signature lines after the last blank line, "
                      "or the last one has no newline")
    lines = block.decode().split("\n")[:-1]
    if len(lines) > MAX_SIGNATURES:
        raise Refused(f"{len(lines)} signature lines, more than {MAX_SIGNATURES}")
    return text, [Signature(line) for line in lines]


def looks_signed(data):
    """A signed note ends in a blank line and lines starting with the em dash."""
    split = data.rfind(b"\n\n")
    return split >= 0 and data[split + 2:].startswith(SIG_PREFIX.encode())


def encode_note(text, sigs):
    return text + b"\n" + "".join(s.line + "\n" for s in sigs).encode()


def count_signers(text, sigs, keys):
    """Distinct keys of `keys` with a valid signature. A known key's bad signature refuses
    the whole note (c2sp.org/signed-note: clients SHOULD); unknown keys are ignored."""
    known = {(k.name, k.key_id): k for k in keys}
    good = []
    for s in sigs:
        key = known.get((s.name, s.key_id))
        if key is None:
            continue
        if not key.verify(text, s.sig):
            raise Refused(f"the signature of {key.name}+{key.key_id.hex()} does not verify "
                          "over this text: the list was changed after signing, or the line "
                          "is corrupt; get the list again from its publisher")
        if key not in good:
            good.append(key)
    return good


# --- a little YAML (block and flow collections of scalars), refusing what it cannot read ----


class YamlError(ValueError):
    pass


def strip_comment(line):
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] == " "):
            return line[:i]
    return line


def scalar(token, lineno):
    if token[:1] in ("&", "*", "!", "|", ">", "%", "@", "`"):
        raise YamlError(f"line {lineno}: {token[:1]!r} (anchors, aliases, tags, block "
                        "scalars) is not accepted here")
    if re.fullmatch(r"0|[1-9][0-9]*", token):
        return int(token)
    if ": " in token or token.endswith(":"):
        raise YamlError(f"line {lineno}: {token!r}: a mapping is not expected here")
    if re.fullmatch(r"[-+]?[0-9][0-9_]*|0[xXoO][0-9a-fA-F]+", token):
        raise YamlError(f"line {lineno}: number {token!r} is not a plain decimal")
    return {"true": True, "false": False, "null": None, "~": None}.get(token, token)


class Flow:
    """Flow-style YAML: {k: v, ...}, [a, b], quoted and plain scalars."""

    def __init__(self, text, lineno):
        self.s, self.i, self.lineno, self.depth = text, 0, lineno, 0

    def fail(self, what):
        raise YamlError(f"line {self.lineno}: {what} at {self.s[self.i:self.i + 20]!r}")

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \n":
            self.i += 1

    def value(self, stops):
        self.ws()
        c = self.s[self.i:self.i + 1]
        if c in ("{", "["):
            self.i, self.depth = self.i + 1, self.depth + 1
            if self.depth > 16:
                self.fail("collections nested more than 16 deep")
            out = self.collection(c)
            self.depth -= 1
            return out
        if c == '"':
            end = self.i + 1
            while end < len(self.s) and self.s[end] != '"':
                end += 2 if self.s[end] == "\\" else 1
            try:
                out = json.loads(self.s[self.i:end + 1])
            except ValueError:
                self.fail("bad double-quoted string")
            self.i = end + 1
            return out
        if c == "'":
            m = re.compile(r"'((?:[^']|'')*)'").match(self.s, self.i)
            if not m:
                self.fail("unterminated single-quoted string")
            self.i = m.end()
            return m.group(1).replace("''", "'")
        m = re.compile(r"(?:[^\s%s]|[ ](?=[^\s%s]))+" % (stops, stops)).match(self.s, self.i)
        if not m or not m.group(0).strip():
            self.fail("expected a value")
        self.i = m.end()
        return scalar(m.group(0).strip(), self.lineno)

    def collection(self, opener):
        out = {} if opener == "{" else []
        closer = "}" if opener == "{" else "]"
        while True:
            self.ws()
            if self.s[self.i:self.i + 1] == closer:
                self.i += 1
                return out
            if opener == "{":
                key = self.value(",:{}\\[\\]")
                self.ws()
                if self.s[self.i:self.i + 1] != ":":
                    self.fail("expected ':'")
                self.i += 1
                put(out, key, self.value(",{}\\[\\]"), self.lineno)
            else:
                out.append(self.value(",{}\\[\\]"))
            self.ws()
            if self.s[self.i:self.i + 1] == ",":
                self.i += 1
            elif self.s[self.i:self.i + 1] != closer:
                self.fail(f"expected ',' or {closer!r}")

    def whole(self):
        v = self.value("")
        self.ws()
        if self.i != len(self.s):
            self.fail("unexpected text after the value")
        return v


def put(mapping, key, value, lineno):
    if not isinstance(key, str):
        raise YamlError(f"line {lineno}: key {key!r} is not a string")
    if key in mapping:
        raise YamlError(f"line {lineno}: key {key!r} appears twice")
    mapping[key] = value


def inline(lines, i, parent_indent):
    """The value on lines[i] (after a key or '- '), with the lines of an unclosed flow
    collection joined on."""
    lineno, _, text = lines[i]
    j = i + 1
    if text[:1] in "{[":
        while depth(text) > 0 and j < len(lines) and lines[j][1] > parent_indent:
            text += "\n" + lines[j][2]
            j += 1
    return Flow(text, lineno).whole(), j


def depth(text):
    d, quote = 0, None
    for c in text:
        if quote:
            quote = None if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c in "{[":
            d += 1
        elif c in "}]":
            d -= 1
    return d


def block(lines, i, indent):
    lineno, ind, text = lines[i]
    if ind != indent:
        raise YamlError(f"line {lineno}: unexpected indentation")
    if text == "-" or text.startswith("- "):
        out = []
        while i < len(lines) and lines[i][1] == indent and (lines[i][2] + " ").startswith("- "):
            item = lines[i][2][2:].strip()
            if not item:
                raise YamlError(f"line {lines[i][0]}: empty or nested sequence item")
            lines[i] = (lines[i][0], indent + 2, item)
            v, i = inline(lines, i, indent)
            out.append(v)
        return out, i
    out = {}
    while i < len(lines) and lines[i][1] == indent:
        lineno, _, text = lines[i]
        m = re.fullmatch(r"""("[^"]*"|'[^']*'|[^\s:'"{}\[\],#][^:]*?)\s*:(?:\s+(.*))?""", text)
        if not m:
            raise YamlError(f"line {lineno}: expected 'key: value'")
        key = Flow(m.group(1), lineno).whole()
        if m.group(2):
            lines[i] = (lineno, indent + 1, m.group(2))
            value, i = inline(lines, i, indent)
        elif i + 1 < len(lines) and (lines[i + 1][1] > indent or (
                lines[i + 1][1] == indent and (lines[i + 1][2] + " ").startswith("- "))):
            value, i = block(lines, i + 1, lines[i + 1][1])
        else:
            value, i = None, i + 1
        put(out, key, value, lineno)
    return out, i


def parse_yaml(text, first_line=1):
    """A YAML document of mappings, sequences and scalars; no anchors, aliases, tags, block
    scalars or tabs. Checked against PyYAML where it is installed."""
    lines = []
    for n, raw in enumerate(text.split("\n"), first_line):
        if "\t" in raw:
            raise YamlError(f"line {n}: tab")
        body = strip_comment(raw).rstrip()
        if body.strip() in ("---", "..."):
            raise YamlError(f"line {n}: document markers are not accepted")
        if body.strip():
            lines.append((n, len(body) - len(body.lstrip(" ")), body.strip()))
    if not lines:
        raise YamlError("empty document")
    if lines[0][2][:1] in "{[":
        value, i = inline(lines, 0, -1)
    else:
        value, i = block(lines, 0, lines[0][1])
    if i != len(lines):
        raise YamlError(f"line {lines[i][0]}: unexpected indentation")
    if os.environ.get("TRUST_LIST_NO_PYYAML") != "1":
        try:
            import yaml
        except ImportError:
            return value
        # The text passed our own reader first, so it has no aliases to expand.
        try:
            other = yaml.safe_load(text)
            same = agree(value, other)
        except (yaml.YAMLError, ValueError) as e:  # ValueError: dates such as month 13
            raise YamlError(f"PyYAML cannot read it: {e}") from None
        if not same:
            raise YamlError(f"PyYAML reads this YAML differently ({other!r} vs {value!r})")
    return value


def agree(ours, theirs):
    """Our reading and PyYAML's are the same (PyYAML turns unquoted times into datetimes)."""
    if isinstance(theirs, datetime):
        aware = theirs if theirs.tzinfo else theirs.replace(tzinfo=timezone.utc)
        return isinstance(ours, str) and RFC3339.fullmatch(ours) is not None and (
            parse_time(ours, "time") == aware)
    if isinstance(theirs, dict):
        return isinstance(ours, dict) and ours.keys() == theirs.keys() and all(
            agree(ours[k], theirs[k]) for k in ours)
    if isinstance(theirs, list):
        return isinstance(ours, list) and len(ours) == len(theirs) and all(
            agree(a, b) for a, b in zip(ours, theirs))
    return type(ours) is type(theirs) and ours == theirs


# --- trust lists ------------------------------------------------------------------------------


class SignerSet:
    def __init__(self, obj, where):
        if not isinstance(obj, dict) or set(obj) != {"threshold", "keys"}:
            raise ValueError(f"{where}: must be a mapping of exactly threshold and keys")
        keys, t = obj["keys"], obj["threshold"]
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or not keys:
            raise ValueError(f"{where}: keys must be a non-empty list of verifier keys")
        self.keys = [parse_vkey(k) for k in keys]
        ids = {(k.name, k.key_id) for k in self.keys}
        if len(ids) != len(self.keys):
            raise ValueError(f"{where}: a key is listed twice (or two keys share name and ID)")
        if type(t) is not int or not 1 <= t <= len(keys):
            raise ValueError(f"{where}: threshold must be a number from 1 to {len(keys)}")
        self.threshold = t

    def as_json(self):
        return {"threshold": self.threshold, "keys": sorted(k.vkey() for k in self.keys)}

    def fingerprint(self):
        return hashlib.sha256(json.dumps(self.as_json(), sort_keys=True).encode()).hexdigest()

    def check(self, text, sigs, role):
        good = count_signers(text, sigs, self.keys)
        if len(good) < self.threshold:
            names = ", ".join(k.name for k in good) or "none"
            raise Refused(f"{len(good)} valid signature(s) from {role} ({names}), "
                          f"{self.threshold} of {len(self.keys)} needed: have more signers "
                          "run `sign` on it")
        return good


RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def parse_time(value, what):
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not an RFC 3339 time like 2027-01-01T00:00:00Z")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError as e:
        raise ValueError(f"{what} {value!r}: {e}") from None


def top_level(text, wanted):
    """The top-level fields `wanted` of a list, each read from its own lines (the anchors with
    their PEM blocks are left to the product's parser)."""
    sections, order = {}, []
    for n, line in enumerate(text.split("\n"), 1):
        if line[:1] not in ("", " ", "#"):
            m = re.match(r"([A-Za-z_][A-Za-z0-9_]*):(\s|$)", line)
            if not m:
                raise Refused(f"line {n}: expected a top-level 'key: value'")
            if m.group(1) in sections:
                raise Refused(f"line {n}: top-level key {m.group(1)!r} appears twice")
            order.append(m.group(1))
            sections[m.group(1)] = (n, [line])
        elif order:
            sections[order[-1]][1].append(line)
    out = {}
    for key in wanted:
        if key in sections:
            n, lines = sections[key]
            try:
                out[key] = parse_yaml("\n".join(lines), n)[key]
            except YamlError as e:
                raise Refused(f"{key}: {e}") from None
    return out


def list_fields(text):
    fields = top_level(text, ["version", "sequence", "issued", "expires", "signers"])
    if fields.get("version") != 2:
        raise Refused(f"version is {fields.get('version')!r}; a signed list must be version 2")
    seq = fields.get("sequence")
    if type(seq) is not int or seq >= 1 << 64:
        raise Refused("sequence is missing or not a whole number from 0 to 2^64-1")
    try:
        expires = parse_time(fields.get("expires"), "expires")
        issued = parse_time(fields["issued"], "issued") if "issued" in fields else None
        signers = SignerSet(fields["signers"], "signers") if "signers" in fields else None
    except ValueError as e:
        raise Refused(str(e)) from None
    if issued and issued > expires:
        raise Refused(f"issued {issued} is after expires {expires}")
    return seq, issued, expires, signers


def load_state(path, bootstrap):
    if not path or not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        ok = (isinstance(state, dict) and state.get("format") == STATE_FORMAT
              and type(state.get("sequence")) is int
              and re.fullmatch(r"[0-9a-f]{64}", str(state.get("sha256"))))
        if not ok:
            raise ValueError("fields missing or of the wrong type")
        state["signers"] = SignerSet(state["signers"], "state signers")
    except (OSError, ValueError, KeyError) as e:
        raise Unusable(f"state file {path} is unreadable or corrupt ({e}); restore it from a "
                       "backup, or remove it to start over from the signers file") from None
    if state.get("bootstrap") != bootstrap.fingerprint():
        raise Unusable(f"state file {path} was made with another signers file (another "
                       "publisher); use the state file of this publisher, or a new path")
    return state


def verify(args):
    try:
        bootstrap = SignerSet(parse_yaml(read_text(args.signers)), args.signers)
    except ValueError as e:
        raise Unusable(f"signers file: {e}") from None
    state = load_state(args.state, bootstrap)
    data = read_bytes(args.signed)
    text, sigs = parse_note(data)
    trusted = state["signers"] if state else bootstrap
    good = trusted.check(text, sigs, "the trusted signers")
    seq, _, expires, new_signers = list_fields(text.decode())
    try:
        now = parse_time(args.at, "--at") if args.at else datetime.now(timezone.utc)
    except ValueError as e:
        raise Unusable(str(e)) from None
    if now >= expires:
        raise Refused(f"the list expired at {expires:%Y-%m-%dT%H:%M:%SZ} "
                      "(E_TRUST_LIST_EXPIRED): get a newer list from its publisher")
    if new_signers and new_signers.fingerprint() != trusted.fingerprint():
        new_signers.check(text, sigs, "the new signer set the list names")
    digest = hashlib.sha256(text).hexdigest()
    if state:
        if seq < state["sequence"]:
            raise Refused(f"sequence {seq} is below {state['sequence']}, the one last accepted: "
                          "a rollback to an older list; keep the list in force")
        if seq == state["sequence"] and digest != state["sha256"]:
            raise Refused(f"sequence {seq} was already accepted with other text: a publisher "
                          "must raise the sequence for every change; keep the list in force")
        if seq == state["sequence"]:
            print(f"unchanged: sequence {seq} is already in force")
            return
    if args.state:
        record = {"format": STATE_FORMAT, "bootstrap": bootstrap.fingerprint(), "sequence": seq,
                  "sha256": digest, "signers": (new_signers or trusted).as_json()}
        write_atomic(args.state, (json.dumps(record, indent=2) + "\n").encode())
    rotated = " (new signer set taken on)" if new_signers and (
        new_signers.fingerprint() != trusted.fingerprint()) else ""
    print(f"accepted: sequence {seq}, valid signatures of {len(good)} of the {len(trusted.keys)} "
          f"trusted keys, {trusted.threshold} needed ({', '.join(k.name for k in good)}), "
          f"expires {expires:%Y-%m-%dT%H:%M:%SZ}{rotated}")


# --- files -------------------------------------------------------------------------------------


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read(MAX_NOTE_BYTES + 1)
    except OSError as e:
        raise Unusable(f"cannot read {path}: {e.strerror}") from None


def read_text(path):
    try:
        return read_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        raise Unusable(f"{path} is not UTF-8") from None


def write_atomic(path, data, mode=0o644, exclusive=False):
    """All of `data` or nothing at `path`; with `exclusive`, never over an existing file."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except OSError as e:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
        raise Unusable(f"cannot write {path}: {e.strerror}") from None


def load_key(path):
    try:
        return parse_skey(read_text(path))
    except ValueError as e:
        raise Unusable(f"key file {path}: {e}") from None


# --- commands ----------------------------------------------------------------------------------


def keygen(args):
    if not valid_name(args.name):
        raise Unusable(f"--name {args.name!r}: a key name must be non-empty, without spaces or '+'")
    private = Ed25519PrivateKey.generate()
    if os.path.exists(args.out):
        raise Unusable(f"{args.out} exists; remove it or choose another path")
    write_atomic(args.out, (format_skey(args.name, private) + "\n").encode(), 0o600, True)
    print(load_key(args.out)[0].vkey())


def sign(args):
    key, private = load_key(args.key)
    data = read_bytes(args.input)
    if looks_signed(data):
        text, sigs = parse_note(data)
    else:
        check_text(data, "list text")
        if not data.endswith(b"\n"):
            raise Refused("list text does not end with a newline; add one")
        text, sigs = data, []
    # As Go's note.Sign: existing lines stay in order, a line of this key is replaced, the
    # new one goes last.
    sigs = [s for s in sigs if (s.name, s.key_id) != (key.name, key.key_id)]
    sigs.append(Signature(signature_line(key, private, text)[:-1]))
    if len(sigs) > MAX_SIGNATURES:
        raise Refused(f"the list would have more than {MAX_SIGNATURES} signatures")
    write_atomic(args.out, encode_note(text, sigs))
    print(f"signed by {key.vkey()} ({len(sigs)} signature line(s))")


def flip_text(text):
    s = bytearray(text)
    half = len(s) // 2
    i = next((j for j in [*range(half, len(s)), *range(half)] if chr(s[j]).isalnum()), None)
    if i is None:
        raise Unusable("the text has no letter or digit to change")
    old = chr(s[i])
    s[i] = ord(str((int(old) + 1) % 10) if old.isdigit() else old.swapcase())
    line = text.count(b"\n", 0, i) + 1
    return bytes(s), f"byte {i} (line {line}) {old!r} -> {chr(s[i])!r}"


def mutate(args):
    text, sigs = parse_note(read_bytes(args.signed))
    kind, i = args.kind, args.index
    if kind in ("drop-sig", "dup-sig", "bad-sig") and not -len(sigs) <= i < len(sigs):
        raise Unusable(f"--index {i}: the note has {len(sigs)} signature line(s)")
    if kind == "flip-text":
        text, what = flip_text(text)
    elif kind == "drop-sig":
        what = f"dropped {sigs.pop(i).name}"
    elif kind == "dup-sig":
        sigs.insert(i % len(sigs) + 1, sigs[i])
        what = f"repeated {sigs[i].name}"
    elif kind == "unknown-key":
        private = Ed25519PrivateKey.generate()
        key = NoteKey(args.name, private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
        sigs.append(Signature(signature_line(key, private, text)[:-1]))
        what = f"added a valid signature of unknown key {key.vkey()}"
    elif kind == "bad-sig":
        raw = bytearray(sigs[i].key_id + sigs[i].sig)
        raw[-1] ^= 0x01
        sigs[i] = Signature(f"{SIG_PREFIX}{sigs[i].name} {base64.b64encode(raw).decode()}")
        what = f"flipped a bit of the signature of {sigs[i].name}"
    elif kind == "tab":
        if not args.key:
            raise Unusable("mutate tab needs --key (one or more) to sign the changed text")
        if b": " not in text:
            raise Unusable("the text has no ': ' to put a tab into")
        text = text.replace(b": ", b":\t", 1)
        sigs = []
        for path in args.key:
            key, private = load_key(path)
            sigs.append(Signature(signature_line(key, private, text)[:-1]))
        what = f"put a tab after the first ':' and signed by {len(sigs)} key(s)"
    elif kind == "reorder":
        if len(sigs) < 2:
            raise Unusable("reorder needs a note with two or more signature lines")
        sigs.reverse()
        what = "reversed the signature lines (order carries no meaning: still valid)"
    write_atomic(args.out, encode_note(text, sigs))
    print(f"{kind}: {what}")


def yaml_str(value):
    return value if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*", value) else json.dumps(value)


def pem_block(path, indent):
    from cryptography import x509

    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                        read_bytes(path), re.S)
    try:
        certs = [x509.load_pem_x509_certificate(b) for b in blocks]
    except ValueError:
        raise Unusable(f"{path}: a PEM certificate does not parse") from None
    if len(certs) != 1:
        raise Unusable(f"{path} holds {len(certs)} certificates; give exactly one")
    pem = certs[0].public_bytes(Encoding.PEM).decode()
    return "".join(" " * indent + line + "\n" for line in pem.splitlines())


def make_list(args):
    try:
        for what in ("issued", "expires"):
            parse_time(getattr(args, what), "--" + what)
    except ValueError as e:
        raise Unusable(str(e)) from None
    if args.sequence < 0:
        raise Unusable("--sequence must not be negative")
    if bool(args.signers_threshold) != bool(args.signer_vkey):
        raise Unusable("--signers-threshold and --signer-vkey go together")
    bad = [t for t in args.tel if not re.fullmatch(r"\+[0-9]*", t)]
    if bad:
        raise Unusable(f"--tel {bad[0]!r} is not an E.164 prefix like +1")
    out = [f"version: 2\nsequence: {args.sequence}\nissued: {args.issued}\n"
           f"expires: {args.expires}\nanchors:\n",
           f"  - name: {yaml_str(args.name)}\n    provider: {yaml_str(args.provider)}\n",
           "    certificate_pem: |\n", pem_block(args.root_pem, 6),
           "    scope: {tel: [%s], email: [%s]}\n" % (
               ", ".join(json.dumps(t) for t in args.tel),
               ", ".join(json.dumps(e) for e in args.email))]
    if args.client_auth_pem:
        out += ["    client_auth_pem: |\n", pem_block(args.client_auth_pem, 6)]
    if args.signer_vkey:
        try:
            SignerSet({"threshold": args.signers_threshold, "keys": args.signer_vkey}, "signers")
        except ValueError as e:
            raise Unusable(str(e)) from None
        out.append("signers: {threshold: %d, keys: [%s]}\n" % (
            args.signers_threshold, ", ".join(json.dumps(v) for v in args.signer_vkey)))
    data = "".join(out).encode()
    check_text(data, "list text")
    write_atomic(args.out, data)
    print(f"wrote {args.out}: version 2, sequence {args.sequence}")


def print_vkey(args):
    print(load_key(args.key)[0].vkey())


# --- self-test ----------------------------------------------------------------------------------

# golang.org/x/mod/sumdb/note, note_test.go
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
PETER_TEXT = (b"If you think cryptography is the answer to your problem,\n"
              b"then you don't know what your problem is.\n")
PETER_SIG = ("\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXg"
             "KvqfqdngotpRZb6KE6RyyBwJnAM=\n").encode()
ENOCH_SIG = ("\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01"
             "oOTGwnWLox33WWd1RvMc+QQ=\n").encode()
# c2sp.org/signed-note, its opening example (its key is not published: parsed only)
QUASIMODO = ("Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\n"
             "ed \u00e8 subito sera.\n\n\u2014 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPe"
             "FDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n").encode()


def expect_refused(fn, *args, contains=""):
    try:
        fn(*args)
    except (Refused, Unusable, ValueError) as e:
        assert contains in str(e), (contains, str(e))
        return
    raise AssertionError(f"{fn.__name__}{args!r} was accepted")


def selftest_vectors():
    peter, peter_private = parse_skey(PETER_SKEY)
    assert peter.vkey() == PETER_VKEY and peter.key_id.hex() == "c74f20a3"
    assert parse_vkey(PETER_VKEY).public == peter.public
    assert format_skey("PeterNeumann", peter_private) == PETER_SKEY
    enoch = parse_vkey(ENOCH_VKEY)
    assert enoch.key_id.hex() == "af0cfe78"
    # Every substring and every one-byte change of the keys is refused (as in Go's tests).
    for good, parse in ((PETER_VKEY, parse_vkey), (PETER_SKEY, parse_skey)):
        b = good.encode()
        bad = [b[i:j] for i in range(len(b) + 1) for j in range(i + 1, len(b) + 1)
               if (i, j) != (0, len(b))]
        bad += [b[:i] + bytes([b[i] + 1]) + b[i + 1:] for i in range(len(b))]
        for k in bad:
            expect_refused(parse, k.decode())
    expect_refused(parse_vkey, "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
                   "BADKEY==")
    expect_refused(parse_vkey, "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    # Signing the published text gives the published note.
    assert PETER_TEXT + b"\n" + PETER_SIG == encode_note(
        PETER_TEXT, [Signature(signature_line(peter, peter_private, PETER_TEXT)[:-1])])
    both = PETER_TEXT + b"\n" + PETER_SIG + ENOCH_SIG
    text, sigs = parse_note(both)
    assert text == PETER_TEXT and [s.name for s in sigs] == ["PeterNeumann", "EnochRoot"]
    assert count_signers(text, sigs, [peter]) == [peter]  # Enoch unknown: ignored
    assert count_signers(text, sigs, [peter, enoch]) == [peter, enoch]
    assert count_signers(text, sigs, []) == []
    dup = parse_note(PETER_TEXT + b"\n" + PETER_SIG * 3 + ENOCH_SIG * 2)
    assert count_signers(*dup, [peter, enoch]) == [peter, enoch]  # repeats count once
    expect_refused(parse_note, PETER_TEXT + b"\n" + PETER_SIG * 101, contains="more than")
    corrupt = PETER_TEXT + b"\n" + PETER_SIG[:60] + b"ABCD" + PETER_SIG[60:]
    expect_refused(lambda: count_signers(*parse_note(corrupt), [peter]), contains="does not verify")
    expect_refused(lambda: count_signers(PETER_TEXT[:-2] + b"!\n", sigs, [peter]),
                   contains="does not verify")
    for bad in (PETER_TEXT, PETER_TEXT + b"\n", PETER_TEXT + b"\n" + PETER_SIG[:-1],
                b"\x01" + PETER_TEXT + b"\n" + PETER_SIG, b"\xff" + PETER_TEXT + b"\n" + PETER_SIG,
                PETER_TEXT + b"\n" + PETER_SIG.replace(b"PeterNeumann", b"Bad Name"),
                PETER_TEXT + b"\n" + PETER_SIG + b"Unexpected line.\n",
                PETER_TEXT + b"\n" + PETER_SIG.replace(b"nAM=", b"nAN="),  # padding bits set
                PETER_TEXT.replace(b" ", b"\t", 1) + b"\n" + PETER_SIG):
        expect_refused(parse_note, bad)
    # The last blank line separates the text, which may itself hold blank lines.
    text, sigs = parse_note(QUASIMODO)
    assert text.endswith(b"\n\ned \xc3\xa8 subito sera.\n") and len(sigs) == 1
    assert sigs[0].name == "quasimodo.example/salvatore" and len(sigs[0].sig) == 64
    # An unknown key sharing the name (or the ID) of a known key is ignored.
    other = NoteKey("PeterNeumann", Ed25519PrivateKey.generate().public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw))
    assert count_signers(*parse_note(both), [other]) == []


def selftest_yaml():
    signers = ('threshold: 2  # two of three\nkeys:\n  - "%s"\n  - %s\n' % (PETER_VKEY, ENOCH_VKEY))
    flow = "{threshold: 2, keys: [%s,\n   '%s']}\n" % (PETER_VKEY, ENOCH_VKEY)
    want = {"threshold": 2, "keys": [PETER_VKEY, ENOCH_VKEY]}
    for env in ("0", "1"):
        os.environ["TRUST_LIST_NO_PYYAML"] = env
        assert parse_yaml(signers) == want and parse_yaml(flow) == want
        assert SignerSet(parse_yaml(flow), "t").threshold == 2
        for bad in ("a: &x [1]\nb: *x\n", "a: 1\na: 2\n", "a:\n\t- 1\n", "a: !!str 1\n",
                    "a: [1, 2\n", "a: 010\n", "a: " + "[" * 5000 + "]" * 5000 + "\n",
                    "a: 0x10\n", "- a\nb: 1\n", "a: |\n  x\n"):
            expect_refused(parse_yaml, bad)
        for bad in ({"threshold": 3, "keys": [PETER_VKEY, ENOCH_VKEY]},
                    {"threshold": 1, "keys": [PETER_VKEY, PETER_VKEY]},
                    {"threshold": 1, "keys": [PETER_VKEY], "extra": 1},
                    {"threshold": 1, "keys": []}):
            expect_refused(SignerSet, bad, "t")
    del os.environ["TRUST_LIST_NO_PYYAML"]
    text = ("version: 2\nsequence: 7\nissued: 2026-12-01T00:00:00Z\n"
            "expires: \"2027-01-01T00:00:00Z\"\nanchors:\n  - name: x\n    certificate_pem: |\n"
            "      -----BEGIN CERTIFICATE-----\n      AAAA\n"
            "signers: {threshold: 1,\n  keys: [%s]}\n" % PETER_VKEY)
    seq, issued, expires, new = list_fields(text)
    assert seq == 7 and issued.year == 2026 and expires.year == 2027 and new.threshold == 1
    for bad in (text.replace("sequence: 7\n", ""), text.replace("version: 2", "version: 1"),
                text + "sequence: 8\n", text.replace("sequence: 7", "sequence: 7.5"),
                text.replace("2027-01-01T00:00:00Z", "2027-01-01")):
        expect_refused(list_fields, bad)


def selftest_commands():
    """The subcommands end to end in a temporary directory, each with the exit it must give."""
    import contextlib
    import io

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "certs",
                        "chat-a-root.pem")
    with tempfile.TemporaryDirectory() as d:
        def run(want, *argv):
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                try:
                    rc = main([a if not a.startswith("@") else os.path.join(d, a[1:])
                               for a in argv])
                except SystemExit as e:
                    rc = e.code
            assert rc == want, (argv, rc, out.getvalue())
            return out.getvalue().strip()

        vkeys = [run(0, "keygen", "--name", f"fed.example/{n}", "--out", f"@{n}.key")
                 for n in "abcd"]
        assert os.stat(os.path.join(d, "a.key")).st_mode & 0o777 == 0o600
        run(2, "keygen", "--name", "fed.example/a", "--out", "@a.key")
        with open(os.path.join(d, "signers.yaml"), "w") as f:
            f.write("threshold: 2\nkeys:\n" + "".join(f"  - {v}\n" for v in vkeys[:3]))

        def make(seq, signers, *keys, expires="2100-01-01T00:00:00Z"):
            run(0, "make-list", "--sequence", str(seq), "--issued", "2026-01-01T00:00:00Z",
                "--expires", expires, "--root-pem", root, "--provider", "chat-a.example",
                "--name", "chat-a", "--tel", "+1", "--email", "chat-a.example",
                "--signers-threshold", "2", *sum((["--signer-vkey", v] for v in signers), []),
                "--out", f"@l{seq}.yaml")
            src = f"@l{seq}.yaml"
            for k in keys:
                run(0, "sign", "--key", f"@{k}.key", "--out", f"@l{seq}.signed", src)
                src = f"@l{seq}.signed"

        def check(want, name, *more):
            return run(want, "verify", "--signers", "@signers.yaml", *more, f"@{name}")

        make(2, vkeys[:3], "a")
        check(1, "l2.signed")  # 1 of 2
        run(0, "sign", "--key", "@b.key", "--out", "@l2.signed", "@l2.signed")
        run(0, "sign", "--key", "@b.key", "--out", "@l2.signed", "@l2.signed")  # replaced
        with open(os.path.join(d, "l2.signed"), encoding="utf-8") as f:
            assert f.read().count("\n\u2014 ") == 2  # a, then b once
        check(0, "l2.signed", "--state", "@state")
        check(0, "l2.signed", "--state", "@state")  # same bytes: no-op
        expect = {"flip-text": 1, "drop-sig": 1, "dup-sig": 0, "unknown-key": 0, "bad-sig": 1,
                  "reorder": 0, "tab": 1}
        for kind, want in expect.items():
            run(0, "mutate", kind, "@l2.signed", f"@m-{kind}", "--key", "@a.key", "--key", "@b.key")
            check(want, f"m-{kind}")
        run(0, "sign", "--key", "@a.key", "--out", "@one", "@l2.yaml")
        for kind in ("dup-sig", "unknown-key"):  # neither may make one signature count twice
            run(0, "mutate", kind, "@one", f"@m-{kind}", "--name", "fed.example/b")
            check(1, f"m-{kind}")
        make(3, vkeys[:3], "b", "c")
        check(1, "l3.signed", "--at", "2100-01-01T00:00:00Z")  # expired
        check(0, "l3.signed", "--state", "@state")
        check(1, "l2.signed", "--state", "@state")  # rollback
        make(4, vkeys[1:], "a", "b")
        check(1, "l4.signed", "--state", "@state")  # rotation without the new set's threshold
        run(0, "sign", "--key", "@d.key", "--out", "@l4.signed", "@l4.signed")
        check(0, "l4.signed", "--state", "@state")
        make(5, vkeys[1:], "c", "d")
        check(1, "l5.signed")  # the bootstrap set alone does not know d
        check(0, "l5.signed", "--state", "@state")
        with open(os.path.join(d, "state"), "a") as f:
            f.write("junk")
        check(2, "l5.signed", "--state", "@state")


def selftest():
    selftest_vectors()
    selftest_yaml()
    selftest_commands()
    print("ok: signed-note vectors (Go x/mod/sumdb/note, c2sp.org/signed-note), key IDs, vkey "
          "and skey forms, signature counting, YAML reader, every subcommand end to end")


# --- command line ------------------------------------------------------------------------------


def main(argv):
    p = argparse.ArgumentParser(prog="trust_list.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("selftest").set_defaults(run=lambda a: selftest())
    c = sub.add_parser("keygen")
    c.add_argument("--name", required=True)
    c.add_argument("--out", required=True)
    c.set_defaults(run=keygen)
    c = sub.add_parser("vkey")
    c.add_argument("--key", required=True)
    c.set_defaults(run=print_vkey)
    c = sub.add_parser("sign")
    c.add_argument("--key", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("input")
    c.set_defaults(run=sign)
    c = sub.add_parser("verify")
    c.add_argument("--signers", required=True)
    c.add_argument("--state")
    c.add_argument("--at", help="the time to check expiry against (RFC 3339); default now")
    c.add_argument("signed")
    c.set_defaults(run=verify)
    c = sub.add_parser("mutate")
    c.add_argument("kind", choices=["flip-text", "drop-sig", "dup-sig", "unknown-key", "bad-sig",
                                    "tab", "reorder"])
    c.add_argument("signed")
    c.add_argument("out")
    c.add_argument("--key", action="append", default=[], help="tab: keys that sign the new text")
    c.add_argument("--index", type=int, default=0, help="which signature line (default 0)")
    c.add_argument("--name", default="unknown.example/trust-list", help="unknown-key: its name")
    c.set_defaults(run=mutate)
    c = sub.add_parser("make-list")
    c.add_argument("--sequence", type=int, required=True)
    c.add_argument("--issued", required=True)
    c.add_argument("--expires", required=True)
    c.add_argument("--root-pem", required=True)
    c.add_argument("--client-auth-pem")
    c.add_argument("--provider", required=True)
    c.add_argument("--name", required=True)
    c.add_argument("--tel", action="append", default=[])
    c.add_argument("--email", action="append", default=[])
    c.add_argument("--signers-threshold", type=int)
    c.add_argument("--signer-vkey", action="append", default=[])
    c.add_argument("--out", required=True)
    c.set_defaults(run=make_list)
    args = p.parse_args(argv)
    try:
        args.run(args)
    except Refused as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    except Unusable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
