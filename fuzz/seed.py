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
print("seeded", ", ".join(f"{d.name}: {len(list(d.iterdir()))}" for d in sorted(CORPUS.iterdir())))
