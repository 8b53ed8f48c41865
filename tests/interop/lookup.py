#!/usr/bin/env python3
"""A second client of the exchange service: Python's standard ssl and http.client.

Usage: lookup.py --url https://HOST:PORT --cacert CA.pem [--cert C.pem --key K.pem]
                 --root ROOT.pem [--root ...] --time RFC3339 SII...
       lookup.py ... --body TEXT             # send TEXT as the body instead of {"siis": [...]}

It connects with mutual TLS (the platform's client certificate and key; the server checked
against --cacert and its name), sends POST /v1/lookup with {"siis": [...]}, and prints one
JSON object: {"tls_version", "alpn", "status", "content_type", "body"} and, for a 200, the
"results" as the server gave them, each found chain also checked by cryptography's own X.509
path validation under --root at --time (the fields of verify_chain.py). A TLS failure prints
{"tls_error": "..."} instead. Exit 0 when it printed, 2 when it could not run.
"""
import argparse
import http.client
import json
import os
import ssl
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from verify_chain import build_verifier, check_chain, load_roots, parse_time  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--cacert", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--root", action="append", required=True)
    ap.add_argument("--time", required=True)
    ap.add_argument("--body")
    ap.add_argument("siis", nargs="*")
    a = ap.parse_args()
    url = urllib.parse.urlsplit(a.url)
    if url.scheme != "https" or not url.hostname:
        print("lookup.py: --url must be https://HOST:PORT", file=sys.stderr)
        return 2

    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=a.cacert)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if a.cert:
        ctx.load_cert_chain(a.cert, a.key)
    ctx.set_alpn_protocols(["http/1.1"])
    conn = http.client.HTTPSConnection(url.hostname, url.port or 443, context=ctx, timeout=10)
    body = a.body if a.body is not None else json.dumps({"siis": a.siis})
    out = {}
    try:
        conn.connect()
        out["tls_version"] = conn.sock.version()
        out["alpn"] = conn.sock.selected_alpn_protocol()
        conn.request("POST", "/v1/lookup", body=body.encode(),
                     headers={"content-type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
    except (ssl.SSLError, ConnectionError, OSError) as e:
        # Under TLS 1.3 a refused client certificate surfaces at the first read.
        print(json.dumps({"tls_error": f"{type(e).__name__}: {e}"}))
        return 0
    finally:
        conn.close()
    out["status"] = resp.status
    out["content_type"] = resp.getheader("content-type")
    answer = json.loads(raw)
    out["body"] = answer
    if resp.status == 200:
        verifier = build_verifier(load_roots(a.root), parse_time(a.time))
        out["results"] = []
        for item in answer["results"]:
            r = {"sii": item["sii"], "status": item["status"]}
            if item["status"] == "found":
                check_chain(verifier, item["chain_pem"].encode(), r)
            out["results"].append(r)
        del out["body"]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
