#!/usr/bin/env python3
"""An independent reading of mapping-log-v1, written from RFC 9381, RFC 6962 and the C2SP
texts with nothing but the Python standard library (and `cryptography` for Ed25519 notes).

It recomputes VRF labels (ECVRF-EDWARDS25519-SHA512-TAI), entries, leaf hashes, tree roots,
inclusion and consistency proofs, note signatures and cosignatures, so the tests can check the Rust implementation against
a second one.

    mapping_log.py selftest            RFC 9381 appendix B.3 vectors
    mapping_log.py label SK_HEX SII    prints pi and beta (hex)
    mapping_log.py spec docs/spec.md   recomputes the specification's log vectors
    mapping_log.py proof PROOF CHAIN.pem LOG_YAML [WITNESS_VKEY...]
                                       checks a tlog-proof the CLI wrote for the chain, and
                                       the cosignature of each witness named
    mapping_log.py cosigned CHECKPOINT LOG_YAML WITNESS_VKEY...
                                       checks a checkpoint's log signature and the
                                       cosignature/v1 of each witness named
    mapping_log.py consistency OLD_CHECKPOINT REQUEST LOG_DIR
                                       checks a tlog-witness add-checkpoint request from the
                                       tree of OLD_CHECKPOINT: both signatures, its RFC 9162
                                       consistency proof, and both roots and the proof
                                       recomputed from the entry bundles of LOG_DIR/public
"""

import base64
import hashlib
import struct
import sys

# --- edwards25519 (RFC 8032 section 5.1) ---------------------------------------------------

P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


G_Y = 4 * pow(5, P - 2, P) % P
G = (_recover_x(G_Y, 0), G_Y, 1, _recover_x(G_Y, 0) * G_Y % P)
IDENTITY = (0, 1, 1, 0)


def add(p1, p2):
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def mul(s, pt):
    acc = IDENTITY
    while s > 0:
        if s & 1:
            acc = add(acc, pt)
        pt = add(pt, pt)
        s >>= 1
    return acc


def encode(pt):
    x, y, z, _ = pt
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def decode(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


# --- RFC 9381 ECVRF-EDWARDS25519-SHA512-TAI (suite 0x03) -------------------------------------

SUITE = b"\x03"


def _secret(sk):
    h = hashlib.sha512(sk).digest()
    x = bytearray(h[:32])
    x[0] &= 248
    x[31] &= 127
    x[31] |= 64
    return int.from_bytes(x, "little"), h


def public_key(sk):
    x, _ = _secret(sk)
    return encode(mul(x, G))


def encode_to_curve(pk, alpha):
    for ctr in range(256):
        h = hashlib.sha512(SUITE + b"\x01" + pk + alpha + bytes([ctr]) + b"\x00").digest()
        pt = decode(h[:32])
        if pt is not None:
            return mul(8, pt)
    raise ValueError("no point found")


def _challenge(points):
    h = hashlib.sha512(SUITE + b"\x02" + b"".join(encode(p) for p in points) + b"\x00")
    return int.from_bytes(h.digest()[:16], "little")


def prove(sk, alpha):
    x, h = _secret(sk)
    y = mul(x, G)
    pk = encode(y)
    hpt = encode_to_curve(pk, alpha)
    k = int.from_bytes(hashlib.sha512(h[32:] + encode(hpt)).digest(), "little") % Q
    gamma = mul(x, hpt)
    c = _challenge([y, hpt, gamma, mul(k, G), mul(k, hpt)])
    s = (k + c * x) % Q
    return encode(gamma) + c.to_bytes(16, "little") + s.to_bytes(32, "little")


def proof_to_hash(pi):
    gamma = decode(pi[:32])
    return hashlib.sha512(SUITE + b"\x03" + encode(mul(8, gamma)) + b"\x00").digest()


def verify(pk, alpha, pi):
    """beta if pi proves alpha under pk, else None (RFC 9381 section 5.3)."""
    y = decode(pk)
    gamma = decode(pi[:32])
    if y is None or gamma is None or len(pi) != 80:
        return None
    if encode(mul(8, y)) == encode(IDENTITY):
        return None
    c = int.from_bytes(pi[32:48], "little")
    s = int.from_bytes(pi[48:], "little")
    if s >= Q:
        return None
    hpt = encode_to_curve(pk, alpha)
    neg = lambda pt: ((P - pt[0]) % P, pt[1], pt[2], (P - pt[3]) % P)  # noqa: E731
    u = add(mul(s, G), neg(mul(c, y)))
    v = add(mul(s, hpt), neg(mul(c, gamma)))
    if c != _challenge([y, hpt, gamma, u, v]):
        return None
    return proof_to_hash(pi)


# --- entries, RFC 6962 hashing ---------------------------------------------------------------


def entry(label, issuer_spki_sha256, leaf_sha256, not_before, not_after, flags, provider):
    p = provider.encode("ascii")
    assert 1 <= len(p) <= 255 and flags & ~3 == 0
    return (
        b"\x01" + label + issuer_spki_sha256 + leaf_sha256
        + struct.pack(">QQB", not_before, not_after, flags) + bytes([len(p)]) + p
    )


def decode_entry(data):
    """The entry's fields, or ValueError (strict, as the specification requires)."""
    if len(data) < 115:
        raise ValueError("truncated")
    if data[0] != 1:
        raise ValueError("version")
    not_before, not_after, flags = struct.unpack(">QQB", data[97:114])
    if flags & ~3:
        raise ValueError("flags")
    n = data[114]
    provider = data[115:115 + n]
    if n == 0 or len(provider) != n or len(data) != 115 + n:
        raise ValueError("provider length")
    if not all(0x21 <= b <= 0x7E for b in provider):
        raise ValueError("provider not printable ASCII")
    return (data[1:33], data[33:65], data[65:97], not_before, not_after, flags, provider.decode())


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaves):
    """RFC 6962 section 2.1 MTH over leaf hashes."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_proof(leaves, m):
    """RFC 6962 section 2.1.1 PATH(m, D[n])."""
    n = len(leaves)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return inclusion_proof(leaves[:k], m) + [root(leaves[k:])]
    return inclusion_proof(leaves[k:], m - k) + [root(leaves[:k])]


def consistency_proof(leaves, m):
    """RFC 6962 section 2.1.2 PROOF(m, D[n])."""
    def sub(m, d, complete):
        n = len(d)
        if m == n:
            return [] if complete else [root(d)]
        k = 1
        while k * 2 < n:
            k *= 2
        if m <= k:
            return sub(m, d[:k], complete) + [root(d[k:])]
        return sub(m - k, d[k:], False) + [root(d[:k])]
    return sub(m, leaves, True)


def verify_consistency(first, second, first_hash, second_hash, path):
    """RFC 9162 section 2.1.4.2; equal trees and the empty tree need no hashes."""
    if first == second:
        assert not path and first_hash == second_hash, "equal sizes, other roots or hashes"
        return
    if first == 0:
        assert not path, "a proof from the empty tree has no hashes"
        return
    assert 0 < first < second, "the old tree is larger"
    assert path, "an empty consistency path"
    if first & (first - 1) == 0:
        path = [first_hash] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        assert sn != 0, "consistency path too long"
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn & 1 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    assert fr == first_hash, "consistency proof: old root"
    assert sr == second_hash, "consistency proof: new root"
    assert sn == 0, "consistency path too short"


# --- tlog-tiles entry bundles ---------------------------------------------------------------


def tile_index(n):
    """C2SP tlog-tiles <N>: 3-digit groups, all but the last prefixed with x."""
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def read_entries(public, size):
    """Entries 0..size from the bundles tile/entries/<N>[.p/<W>] of a served tree."""
    import pathlib

    out = []
    for n in range((size + 255) // 256):
        width = min(256, size - 256 * n)
        name = tile_index(n) + ("" if width == 256 else f".p/{width}")
        data = (pathlib.Path(public) / "tile" / "entries" / name).read_bytes()
        got, i = [], 0
        while i < len(data):
            assert i + 2 <= len(data), f"bundle {name}: a lone byte"
            length = int.from_bytes(data[i:i + 2], "big")
            got.append(data[i + 2:i + 2 + length])
            assert len(got[-1]) == length, f"bundle {name}: entry cut short"
            i += 2 + length
        assert len(got) == width, f"bundle {name}: {len(got)} entries, not {width}"
        out += got
    return out


# --- signed notes (C2SP signed-note, tlog-checkpoint) ----------------------------------------


def key_id(name, key_type, public):
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public).digest()[:4]


def checkpoint_body(origin, size, root_hash):
    return f"{origin}\n{size}\n{base64.b64encode(root_hash).decode()}\n"


def spec_vectors(path):
    """name -> list of (key, value) of the ```vector blocks of the specification."""
    out, name, body = {}, None, []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if name is None:
            if line.startswith("```vector "):
                name, body = line[len("```vector "):].strip(), []
        elif line.startswith("```"):
            out[name], name = body, None
        else:
            body.append(line)
    return out


def pairs(lines):
    out = []
    for line in lines:
        line = line.split(" -- ")[0]
        if line.strip().startswith("--") or not line.strip():
            continue
        k, v = line.split(":", 1)
        out.append((k.strip(), v.strip()))
    return out


def check_spec(path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    v = spec_vectors(path)
    p = pairs(v["log-vrf-labels"])
    sk = bytes.fromhex(p[0][1])
    assert public_key(sk).hex() == p[1][1], "VRF public key"
    labels = 0
    for i in range(2, len(p), 3):
        sii, pi, beta = p[i][1].encode(), p[i + 1][1], p[i + 2][1]
        got = prove(sk, sii)
        assert got.hex() == pi, f"pi of {sii}"
        assert verify(public_key(sk), sii, got).hex() == beta, f"beta of {sii}"
        labels += 1

    p = pairs(v["log-entries"])
    leaves = []
    for i in range(0, len(p), 9):
        f = dict(p[i:i + 9])
        e = entry(bytes.fromhex(f["label"]), bytes.fromhex(f["issuer_spki_sha256"]),
                  bytes.fromhex(f["leaf_sha256"]), int(f["not_before"]), int(f["not_after"]),
                  int(f["flags"], 16), f["provider"])
        assert e.hex() == f["entry"], f"entry {i // 9}"
        assert decode_entry(e)[6] == f["provider"]
        assert leaf_hash(e).hex() == f["leaf_hash"], f"leaf hash {i // 9}"
        leaves.append(leaf_hash(e))

    invalid = 0
    for line in v["log-entry-invalid"]:
        data = line.split(" -- ")[0].strip()
        if not data:
            continue
        try:
            decode_entry(bytes.fromhex(data))
        except ValueError:
            invalid += 1
        else:
            raise AssertionError(f"accepted: {line}")

    p = pairs(v["log-checkpoint"])
    f = {k: val for k, val in p}
    r = root(leaves)
    assert r.hex() == f["root_hash"], "root hash"
    index = int(f["index"])
    assert [h.hex() for h in inclusion_proof(leaves, index)] == [
        val for k, val in p if k == "inclusion"], "inclusion proof"
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(f["note_key"]))
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    origin = f["vkey"].split("+")[0]
    kid = key_id(origin, 1, pub)
    vkey = "+".join([origin, kid.hex(), base64.b64encode(bytes([1]) + pub).decode()])
    assert vkey == f["vkey"], "vkey"
    body = checkpoint_body(origin, len(leaves), r)
    sig = base64.b64encode(kid + key.sign(body.encode())).decode()
    note = [line[len("note:"):].strip() for line in v["log-checkpoint"] if line.startswith("note:")]
    assert "\n".join(note) + "\n" == body + "\n\u2014 " + origin + " " + sig + "\n", "checkpoint"
    print(f"ok: {labels} labels, {len(leaves)} entries, {invalid} invalid entries, 1 checkpoint")


# --- tlog-proof@v1 of a chain ---------------------------------------------------------------


def der_items(data):
    """The (tag, content) TLVs of DER `data`, in order (definite lengths only)."""
    out, i = [], 0
    while i < len(data):
        tag, n = data[i], data[i + 1]
        i += 2
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(data[i:i + k], "big")
            i += k
        out.append((tag, data[i:i + n]))
        i += n
    return out


def mapping_fields(der):
    """(provider, entry flags) of a DER MimiMapping."""
    (tag, body), = der_items(der)
    assert tag == 0x30
    items = der_items(body)
    assert items[0] == (0x02, b"\x01"), "MimiMapping version 1"
    provider = items[1][1].decode("ascii")
    flags = 0
    for tag, content in items[2:]:
        if tag in (0x81, 0xA1):  # [1] MappingFlags, implicit or explicit
            if tag == 0xA1:
                (_, content), = der_items(content)
            bits = content[1] if len(content) > 1 else 0
            flags = (1 if bits & 0x80 else 0) | (2 if bits & 0x40 else 0)
    return provider, flags


def note_verifier(vkey):
    name, key_id_hex, b64 = vkey.split("+", 2)
    raw = base64.b64decode(b64)
    assert key_id(name, raw[0], raw[1:]) == bytes.fromhex(key_id_hex), "vkey key ID"
    return name, raw[0], raw[1:]


def read_log_yaml(path):
    """(origin, checkpoint vkey, VRF public key) of a log directory's log.yaml."""
    conf = dict(
        line.split(": ", 1) for line in open(path, encoding="utf-8").read().splitlines()
        if ": " in line
    )
    return conf["origin"], conf["key"], base64.b64decode(conf["vrf_key"])


def parse_checkpoint(note):
    """(body, origin, size, root hash, [(key name, signature bytes)]) of a signed checkpoint."""
    body, block = note.split("\n\n", 1)
    body += "\n"
    origin, size, root_b64 = body.splitlines()
    assert size == str(int(size)), "size without leading zeros"
    sigs = []
    for line in block.splitlines():
        assert line.startswith("\u2014 "), f"signature line {line!r}"
        signer, b64 = line[2:].split(" ")
        sigs.append((signer, base64.b64decode(b64, validate=True)))
    return body, origin, int(size), base64.b64decode(root_b64, validate=True), sigs


def verify_log_signature(body, sigs, vkey):
    """The log's Ed25519 note signature (type 0x01) over the checkpoint body must be there."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    name, key_type, public = note_verifier(vkey)
    assert key_type == 1, "a log key is of type 0x01"
    assert body.split("\n")[0] == name, "checkpoint origin"
    kid = key_id(name, 1, public)
    signed = [raw for signer, raw in sigs if signer == name and raw[:4] == kid]
    assert signed, "no checkpoint signature by the log key"
    for raw in signed:
        Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], body.encode())


def verify_cosignature(body, sigs, vkey):
    """C2SP tlog-cosignature, Ed25519 (type 0x04): the witness's line must be there and sign
    "cosignature/v1\ntime <t>\n" || body; returns (name, t)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    name, key_type, public = note_verifier(vkey)
    assert key_type == 4, f"{name}: a cosignature key is of type 0x04"
    kid = key_id(name, 4, public)
    lines = [raw for signer, raw in sigs if signer == name and raw[:4] == kid]
    assert lines, f"no cosignature by {name}"
    for raw in lines:
        assert len(raw) == 4 + 8 + 64, f"{name}: a timestamped Ed25519 signature is 72 bytes"
        t = int.from_bytes(raw[4:12], "big")
        assert t <= 2**63 - 1, f"{name}: timestamp above 2^63 - 1"
        message = f"cosignature/v1\ntime {t}\n".encode() + body.encode()
        Ed25519PublicKey.from_public_bytes(public).verify(raw[12:], message)
    return name, t


def check_cosigned(checkpoint_path, log_yaml, witness_vkeys):
    origin, vkey, _ = read_log_yaml(log_yaml)
    body, cp_origin, size, _, sigs = parse_checkpoint(open(checkpoint_path, encoding="utf-8").read())
    assert cp_origin == origin, "checkpoint origin"
    verify_log_signature(body, sigs, vkey)
    assert witness_vkeys, "no witness key given"
    by = [verify_cosignature(body, sigs, w) for w in witness_vkeys]
    print(f"ok: {origin} size {size} cosigned by "
          + ", ".join(f"{name} at {t}" for name, t in by))


def check_consistency(old_path, request_path, log_dir):
    import pathlib

    origin, vkey, _ = read_log_yaml(pathlib.Path(log_dir) / "log.yaml")
    old_body, _, old_size, old_root, old_sigs = parse_checkpoint(
        open(old_path, encoding="utf-8").read())
    verify_log_signature(old_body, old_sigs, vkey)
    # tlog-witness add-checkpoint: "old <size>", the proof hashes, a blank line, the checkpoint.
    head, note = open(request_path, encoding="utf-8").read().split("\n\n", 1)
    lines = head.split("\n")
    assert lines[0].startswith("old "), "the request's old line"
    size_text = lines[0][4:]
    assert size_text == str(int(size_text)), "old size without leading zeros"
    assert int(size_text) == old_size, f"old {size_text}, the old checkpoint has {old_size}"
    path = [base64.b64decode(h, validate=True) for h in lines[1:]]
    assert all(len(h) == 32 for h in path), "proof hashes of 32 bytes"
    body, cp_origin, size, new_root, sigs = parse_checkpoint(note)
    assert cp_origin == origin, "checkpoint origin"
    verify_log_signature(body, sigs, vkey)
    verify_consistency(old_size, size, old_root, new_root, path)
    # The same from the log's files: both roots and the proof, from the entry bundles.
    leaves = [leaf_hash(e) for e in read_entries(pathlib.Path(log_dir) / "public", size)]
    assert root(leaves[:old_size]) == old_root, "old root from the bundles"
    assert root(leaves) == new_root, "new root from the bundles"
    if 0 < old_size < size:
        assert consistency_proof(leaves, old_size) == path, "proof from the bundles"
    print(f"ok: {origin} consistent from size {old_size} to {size} ({len(path)} hashes)")


def check_proof(proof_path, chain_path, log_yaml, *witness_vkeys):
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    origin, vkey, vrf_key = read_log_yaml(log_yaml)

    leaf, issuer = x509.load_pem_x509_certificates(open(chain_path, "rb").read())[:2]
    leaf_der = leaf.public_bytes(Encoding.DER)
    spki = issuer.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    sii = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value[0]
    alpha = sii.value if isinstance(sii, x509.UniformResourceIdentifier) else "mailto:" + sii.value
    mapping = leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier("2.999.6464.2.1"))
    provider, flags = mapping_fields(mapping.value.value)

    text = open(proof_path, "rb").read().decode()
    head, note = text.split("\n\n", 1)
    lines = head.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1", "header"
    assert lines[1].startswith("extra ") and lines[2].startswith("index ")
    pi = base64.b64decode(lines[1][6:])
    index = int(lines[2][6:])
    path = [base64.b64decode(h) for h in lines[3:]]

    body, cp_origin, size, root_hash, sigs = parse_checkpoint(note)
    assert cp_origin == origin, "checkpoint origin"
    verify_log_signature(body, sigs, vkey)
    witnesses = [verify_cosignature(body, sigs, w)[0] for w in witness_vkeys]

    beta = verify(vrf_key, alpha.encode(), pi)
    assert beta is not None, "VRF proof"
    data = entry(
        beta[:32], hashlib.sha256(spki).digest(), hashlib.sha256(leaf_der).digest(),
        int(leaf.not_valid_before_utc.timestamp()), int(leaf.not_valid_after_utc.timestamp()),
        flags, provider,
    )
    # RFC 9162 section 2.1.3.2: the root from the leaf hash and the inclusion path.
    fn, sn, r = index, size - 1, leaf_hash(data)
    assert fn <= sn, "index in the tree"
    for p in path:
        if sn == 0:
            raise AssertionError("inclusion path too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn & 1 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0 and r == root_hash, "inclusion proof"
    cosigned = f", cosigned by {', '.join(witnesses)}" if witnesses else ""
    print(f"ok: {alpha} index {index} in {origin} size {size}{cosigned}")


def selftest():
    vectors = [
        ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "",
         "8657106690b5526245a92b003bb079ccd1a92130477671f6fc01ad16f26f723f26f8a57ccaed74ee"
         "1b190bed1f479d9727d2d0f9b005a6e456a35d4fb0daab1268a1b0db10836d9826a528ca76567805",
         "90cf1df3b703cce59e2a35b925d411164068269d7b2d29f3301c03dd757876ff66b71dda49d2de59"
         "d03450451af026798e8f81cd2e333de5cdf4f3e140fdd8ae"),
        ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "72",
         "f3141cd382dc42909d19ec5110469e4feae18300e94f304590abdced48aed5933bf0864a62558b3e"
         "d7f2fea45c92a465301b3bbf5e3e54ddf2d935be3b67926da3ef39226bbc355bdc9850112c8f4b02",
         "eb4440665d3891d668e7e0fcaf587f1b4bd7fbfe99d0eb2211ccec90496310eb5e33821bc613efb9"
         "4db5e5b54c70a848a0bef4553a41befc57663b56373a5031"),
    ]
    for sk, alpha, pi, beta in vectors:
        sk, alpha = bytes.fromhex(sk), bytes.fromhex(alpha)
        got = prove(sk, alpha)
        assert got.hex() == pi, (got.hex(), pi)
        assert verify(public_key(sk), alpha, got).hex() == beta
        bad = bytearray(got)
        bad[-1] ^= 1
        assert verify(public_key(sk), alpha, bytes(bad)) is None
    # RFC 6962 PROOF and RFC 9162 verification agree on every pair of small trees, and a
    # changed hash, old root or size fails.
    leaves = [leaf_hash(bytes([i])) for i in range(33)]
    pairs_checked = 0
    for n in range(1, len(leaves) + 1):
        for m in range(0, n + 1):
            proof = consistency_proof(leaves[:n], m) if 0 < m < n else []
            old = root(leaves[:m])
            verify_consistency(m, n, old, root(leaves[:n]), proof)
            pairs_checked += 1
            if 0 < m < n:
                for bad in ([bytes(32)] + proof[1:], proof[:-1], proof + [old]):
                    try:
                        verify_consistency(m, n, old, root(leaves[:n]), bad)
                    except AssertionError:
                        continue
                    raise AssertionError(f"a bad proof from {m} to {n} verified")
                try:
                    verify_consistency(m, n, bytes(32), root(leaves[:n]), proof)
                except AssertionError:
                    pass
                else:
                    raise AssertionError(f"a wrong old root for {m} to {n} verified")
    assert tile_index(1234067) == "x001/x234/067" and tile_index(5) == "005"
    print(f"ok ({pairs_checked} consistency pairs)")


if __name__ == "__main__":
    if sys.argv[1:] == ["selftest"]:
        selftest()
    elif sys.argv[1:2] == ["spec"] and len(sys.argv) == 3:
        check_spec(sys.argv[2])
    elif sys.argv[1:2] in (["proof"], ["cosigned"], ["consistency"]):
        check, least, most = {
            "proof": (check_proof, 3, None),
            "cosigned": (lambda cp, y, *w: check_cosigned(cp, y, w), 3, None),
            "consistency": (check_consistency, 3, 3),
        }[sys.argv[1]]
        args = sys.argv[2:]
        if len(args) < least or (most is not None and len(args) > most):
            sys.exit(__doc__)
        try:
            check(*args)
        except Exception as e:  # every failed check, one line, exit 1
            sys.exit(f"invalid: {type(e).__name__}: {e}")
    elif sys.argv[1:2] == ["label"]:
        sk = bytes.fromhex(sys.argv[2])
        pi = prove(sk, sys.argv[3].encode())
        print(pi.hex())
        print(proof_to_hash(pi).hex())
    else:
        sys.exit(__doc__)
