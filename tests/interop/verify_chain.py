#!/usr/bin/env python3
"""Independent cross-check of mimi-attest chains with pyca/cryptography (>= 45).

Usage: verify_chain.py --time 2026-01-03T00:00:00Z --root ROOT.pem [--root ...] CHAIN.pem...

For each chain (leaf first, then the issuing CA) prints one JSON object a line:
  {"file", "valid", "error", "san", "mapping_present", "mapping_provider", "policies",
   "eku", "scope_present"}
Path validation uses cryptography's own X.509 verifier (RFC 5280 + CA/B-style defaults)
with a custom EKU policy: every certificate on the path must carry id-kp-mimiMapping
(2.999.6464.1.1) and, on the leaf, nothing else. Extension bytes are parsed here with a
small DER reader, independently of the Rust code.
"""
import argparse
import datetime
import json
import sys

from cryptography import x509
from cryptography.x509.oid import ExtensionOID
from cryptography.x509.verification import (Criticality, ExtensionPolicy, PolicyBuilder, Store,
                                            VerificationError)

MIMI_EKU = x509.ObjectIdentifier("2.999.6464.1.1")
MAPPING = x509.ObjectIdentifier("2.999.6464.2.1")
SCOPE = x509.ObjectIdentifier("2.999.6464.2.2")
POLICY_V1 = x509.ObjectIdentifier("2.999.6464.3.1")


def eku_ca(_policy, _cert, eku):
    if eku is not None and MIMI_EKU not in list(eku):
        raise ValueError("CA EKU lacks id-kp-mimiMapping")


def eku_leaf(_policy, _cert, eku):
    if list(eku) != [MIMI_EKU]:
        raise ValueError("leaf EKU must be exactly id-kp-mimiMapping")


def der_tlv(b, i):
    """(tag, content, next index) of the DER element at b[i]."""
    tag = b[i]
    n = b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, b[i:i + n], i + n


def mapping_provider(raw):
    """The `provider` IA5String of MimiMapping ::= SEQUENCE { version INTEGER, provider IA5String, ... }."""
    tag, seq, _ = der_tlv(raw, 0)
    assert tag == 0x30, "MimiMapping is not a SEQUENCE"
    tag, version, i = der_tlv(seq, 0)
    assert tag == 0x02 and version == b"\x01", "MimiMapping version is not 1"
    tag, provider, _ = der_tlv(seq, i)
    assert tag == 0x16, "provider is not an IA5String"
    return provider.decode("ascii")


def build_verifier(roots, when):
    """cryptography's client verifier for mapping-v1 chains under `roots` at `when`."""
    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.AGNOSTIC, eku_ca)
    ee_policy = ExtensionPolicy.webpki_defaults_ee().require_present(
        x509.ExtendedKeyUsage, Criticality.AGNOSTIC, eku_leaf)
    return (PolicyBuilder().store(Store(roots)).time(when)
            .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
            .build_client_verifier())


def check_chain(verifier, pem_bytes, out):
    """Fill `out` with the verdict and the fields read from one chain (PEM, leaf first)."""
    try:
        certs = x509.load_pem_x509_certificates(pem_bytes)
        leaf, inter = certs[0], certs[1:]
        try:
            verifier.verify(leaf, inter)
            out["valid"], out["error"] = True, None
        except VerificationError as e:
            out["valid"], out["error"] = False, str(e)
        ext = leaf.extensions
        san = ext.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        out["san_critical"] = san.critical
        out["san"] = [str(n.value) for n in san.value]
        try:
            m = ext.get_extension_for_oid(MAPPING)
            out["mapping_present"] = True
            out["mapping_critical"] = m.critical
            out["mapping_provider"] = mapping_provider(m.value.value)
        except x509.ExtensionNotFound:
            out["mapping_present"] = False
        pol = ext.get_extension_for_oid(ExtensionOID.CERTIFICATE_POLICIES).value
        out["policies"] = [p.policy_identifier.dotted_string for p in pol]
        out["eku"] = [o.dotted_string for o in
                      ext.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value]
        out["scope_present"] = [any(e.oid == SCOPE for e in c.extensions) for c in inter]
    except Exception as e:  # noqa: BLE001 - report, never crash the cross-check
        out["valid"], out["error"] = False, f"{type(e).__name__}: {e}"
    return out


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def load_roots(paths):
    return [c for r in paths for c in x509.load_pem_x509_certificates(open(r, "rb").read())]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--time", required=True)
    ap.add_argument("--root", action="append", required=True)
    ap.add_argument("chains", nargs="+")
    a = ap.parse_args()
    verifier = build_verifier(load_roots(a.root), parse_time(a.time))
    for path in a.chains:
        print(json.dumps(check_chain(verifier, open(path, "rb").read(), {"file": path})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
