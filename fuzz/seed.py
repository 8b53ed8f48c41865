#!/usr/bin/env python3
"""Write seed corpora for the fuzz targets from the committed example chains in ../certs.

Usage: python3 fuzz/seed.py   (needs Python 3 with `cryptography`; openssl for the CSR seeds)
Writes fuzz/corpus/<target>/seed-*; the corpus directory is not committed.
"""
import hashlib
import pathlib
import subprocess
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

HERE = pathlib.Path(__file__).resolve().parent
CERTS = HERE.parent / "certs"
CORPUS = HERE / "corpus"
MAPPING = x509.ObjectIdentifier("2.999.6464.2.1")
SCOPE = x509.ObjectIdentifier("2.999.6464.2.2")


def put(target, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / ("seed-" + hashlib.sha256(data).hexdigest()[:16])).write_bytes(data)


def sans(cert):
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [str(n.value) for n in ext.value]


for pem in sorted(CERTS.glob("*.pem")):
    data = pem.read_bytes()
    put("chain", data)
    put("csr", data)
    for cert in x509.load_pem_x509_certificates(data):
        der = cert.public_bytes(Encoding.DER)
        put("chain", der)
        put("csr", der)
        for oid in (MAPPING, SCOPE):
            try:
                put("extensions", cert.extensions.get_extension_for_oid(oid).value.value)
            except x509.ExtensionNotFound:
                pass
        for name in sans(cert):
            put("sii", name)
put("trust_list", (CERTS / "trust-list.yaml").read_bytes())
put("trust_list", (HERE.parent / "ca-config" / "trust-list.yaml").read_bytes())

# A signed version 2 list (2-of-3, the chat-a root inline) and its signers file, made with the
# second implementation in tests/interop/trust_list.py; and the text of the list unsigned.
INTEROP = HERE.parent / "tests" / "interop" / "trust_list.py"
with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)

    def tool(*args):
        return subprocess.run(["python3", INTEROP, *map(str, args)], check=True,
                              capture_output=True, text=True).stdout.strip()

    try:
        vkeys = [tool("keygen", "--name", f"fed-{i}", "--out", tmp / f"k{i}") for i in (1, 2, 3)]
        tool("make-list", "--sequence", 2, "--issued", "2026-12-01T00:00:00Z",
             "--expires", "2027-01-01T00:00:00Z", "--root-pem", CERTS / "chat-a-root.pem",
             "--provider", "chat-a.example", "--name", "chat-a", "--tel", "+1",
             "--email", "chat-a.example", "--signers-threshold", 2,
             *[a for v in vkeys for a in ("--signer-vkey", v)], "--out", tmp / "list.yaml")
        tool("sign", "--key", tmp / "k1", "--out", tmp / "s1", tmp / "list.yaml")
        tool("sign", "--key", tmp / "k2", "--out", tmp / "s2", tmp / "s1")
        for name in ("list.yaml", "s1", "s2"):
            put("trust_list", (tmp / name).read_bytes())
        put("trust_list", "threshold: 2\nkeys:\n" + "".join(f"  - {v}\n" for v in vkeys))
    except (OSError, subprocess.CalledProcessError) as e:
        print("skipping signed trust-list seeds:", e)
for s in ["+1 (555) 123-4567", "tel:+1-555-123-4567", "+15551234567", "alice@Example.COM",
          "mailto:bob@bücher.example", "5551234567", "tel:+4930123456"]:
    put("sii", s)

# CSRs: P-256 (what the issuer wants), P-384 and a two-name one (what it refuses).
with tempfile.TemporaryDirectory() as tmp:
    for curve, san in [("prime256v1", "URI:tel:+15551234567"),
                       ("prime256v1", "email:carol@chat-b.example"),
                       ("secp384r1", "URI:tel:+15551234567"),
                       ("prime256v1", "URI:tel:+15551234567,email:a@b.example")]:
        key = pathlib.Path(tmp) / "k.pem"
        try:
            subprocess.run(["openssl", "ecparam", "-name", curve, "-genkey", "-noout", "-out", key],
                           check=True, capture_output=True)
            for fmt in ["PEM", "DER"]:
                out = subprocess.run(["openssl", "req", "-new", "-key", key, "-subj", "/",
                                      "-addext", "subjectAltName=" + san, "-outform", fmt],
                                     check=True, capture_output=True).stdout
                put("csr", out)
        except (OSError, subprocess.CalledProcessError) as e:
            print("skipping CSR seeds:", e)
            break
# The log target: the mapping-log vectors of docs/spec.md section 13.5 as entries, a bundle,
# the checkpoint, a tlog-proof, a witness request, the vkey and a VRF proof.
import base64
import re

spec = (HERE.parent / "docs" / "spec.md").read_text()


def vector(name):
    block = re.search(r"```vector " + name + r"\n(.*?)```", spec, re.S).group(1)
    pairs = []
    for line in block.splitlines():
        if line.startswith("--") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        pairs.append((key.strip(), value.strip() if key != "note" else value[8:]))
    return pairs


entries = [bytes.fromhex(v) for k, v in vector("log-entries") if k == "entry"]
for e in entries:
    put("log", e)
put("log", b"".join(len(e).to_bytes(2, "big") + e for e in entries))
cp = vector("log-checkpoint")
note = "".join(v + "\n" for k, v in cp if k == "note")
put("log", note)
put("log", dict(cp)["vkey"])
pis = [bytes.fromhex(v) for k, v in vector("log-vrf-labels") if k == "pi"]
put("log", pis[1])
inclusion = "".join(base64.b64encode(bytes.fromhex(v)).decode() + "\n"
                    for k, v in cp if k == "inclusion")
put("log", "c2sp.org/tlog-proof@v1\nextra " + base64.b64encode(pis[1]).decode()
    + "\nindex 1\n" + inclusion + "\n" + note)
put("log", "old 0\n\n" + note)
put("log", "old 1\n" + inclusion + "\n" + note)
print("seeded", ", ".join(f"{d.name}: {len(list(d.iterdir()))}" for d in sorted(CORPUS.iterdir())))
