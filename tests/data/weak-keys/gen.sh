#!/bin/sh
# Real public keys the profile forbids, for the negative corpus (tests/relying/negative.rs
# signs leaves carrying them with the test CA's P-256 key). Regenerate with: sh tests/data/weak-keys/gen.sh
set -e
cd "$(dirname "$0")"
openssl dsaparam -genkey -noout 2048 2>/dev/null | openssl pkey -pubout -outform DER -out dsa-2048.spki.der
openssl ecparam -name prime192v1 -genkey -noout | openssl pkey -pubout -outform DER -out p192.spki.der
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 2>/dev/null | openssl pkey -pubout -outform DER -out rsa-1024.spki.der
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2052 2>/dev/null | openssl pkey -pubout -outform DER -out rsa-2052.spki.der
openssl ecparam -name secp384r1 -genkey -noout | openssl pkey -pubout -outform DER -out p384.spki.der
openssl genpkey -algorithm ED25519 | openssl pkey -pubout -outform DER -out ed25519.spki.der
