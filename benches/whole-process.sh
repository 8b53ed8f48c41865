#!/usr/bin/env bash
# Whole-process measurements for BENCHMARKS.md: issue-batch and verify on 1 and 2 cores,
# peak memory of verify on many chains, and verify against `openssl verify`.
#
#   cargo build --release && benches/whole-process.sh [WORK_DIR] [N_CHAINS] [N_OPENSSL]
#
# Defaults: a fresh temporary directory, 100000 chains, 10000 for the openssl comparison.
# Needs: python3, openssl, GNU time (/usr/bin/time), taskset (util-linux).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${MIMI_ATTEST:-$ROOT/target/release/mimi-attest}
WORK=${1:-$(mktemp -d)}
N=${2:-100000}
N_SSL=${3:-10000}
SCALE_N=${SCALE_N:-20000}   # requests for the issue-batch 1 vs 2 core runs
mkdir -p "$WORK"
cd "$WORK"
# CA keys are encrypted (PKCS#8, scrypt); the script's throwaway CAs use this passphrase.
export MIMI_ATTEST_PASSWORD=${MIMI_ATTEST_PASSWORD:-whole-process-bench}
TIME=(/usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KB max RSS")

echo "# machine: $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# One client key for every request (a real batch brings its clients' keys; generating one
# per leaf would measure key generation, not issuance).
openssl ecparam -name prime256v1 -genkey -noout -out client.key 2>/dev/null
openssl pkey -in client.key -pubout -out client.pub 2>/dev/null

requests() { # N PREFIX
    python3 - "$1" "$2" <<'EOF'
import json, sys
n, prefix = int(sys.argv[1]), sys.argv[2]
pub = open("client.pub").read()
with open(f"{prefix}.jsonl", "w") as f:
    for i in range(n):
        f.write(json.dumps({"id": f"{prefix}-{i}", "sii": f"+1555{i:07d}", "public_key": pub}) + "\n")
EOF
}

# One core is `taskset -c 0` (the store thread's commits still overlap the signing: they
# wait on the disk, not the CPU); two cores `taskset -c 0,1`. Three alternating runs each.
echo "## issue-batch, $SCALE_N requests, 1 vs 2 cores (fresh CA each run)"
requests "$SCALE_N" scale
for run in 1 2 3; do
    for cpus in 0 0,1; do
        t=$(( ${#cpus} / 2 + 1 ))
        rm -rf "ca-$t"
        "$BIN" ca init --config "$ROOT/ca-config/chat-a.yaml" --dir "ca-$t" >/dev/null 2>&1
        echo -n "run $run, $t core(s): "
        RAYON_NUM_THREADS=$t "${TIME[@]}" taskset -c "$cpus" "$BIN" issue-batch --quiet --ca "ca-$t" --input scale.jsonl --output "scale-$t.out" 2>&1 | tail -1
    done
done

echo "## generating $N chains with issue-batch"
rm -rf ca
"$BIN" ca init --config "$ROOT/ca-config/chat-a.yaml" --dir ca >/dev/null 2>&1
requests "$N" req
"${TIME[@]}" "$BIN" issue-batch --quiet --ca ca --input req.jsonl --output req.out 2>&1 | tail -2
cp ca/root.pem root.pem
cp ca/ca.pem ca.pem
cat > trust-list.yaml <<'EOF'
version: 1
anchors:
  - name: chat-a
    provider: chat-a.example
    certificate: root.pem
    scope:
      tel: ["+1", "+44"]
      email: ["chat-a.example"]
EOF
# c/<i>.pem: the chain (leaf, issuing CA); l/<i>.pem: the leaf alone (for openssl).
rm -rf c l && mkdir c l
python3 - <<'EOF'
import json
for i, line in enumerate(open("req.out")):
    chain = json.loads(line)["chain_pem"]
    open(f"c/{i}.pem", "w").write(chain)
    end = chain.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----\n")
    open(f"l/{i}.pem", "w").write(chain[:end])
EOF
# 100,000 file names on one command line need more than the default 2 MB of arguments.
ulimit -s unlimited || true
chains() { python3 -c "import sys; print(' '.join(f'{sys.argv[1]}/{i}.pem' for i in range(int(sys.argv[2]))))" "$1" "$2"; }
ALL=$(chains c "$N")
SOME=$(chains c "$N_SSL")
LEAVES=$(chains l "$N_SSL")

echo "## mimi-attest verify, $N chains (peak memory), 1 and 2 threads"
for t in 1 2; do
    echo -n "RAYON_NUM_THREADS=$t: "
    # shellcheck disable=SC2086
    RAYON_NUM_THREADS=$t "${TIME[@]}" "$BIN" verify --trust-list trust-list.yaml $ALL 2>&1 >verify-$t.out | tail -1
    echo "  valid: $(grep -c ': valid$' verify-$t.out) of $N"
done

echo "## $N_SSL chains: mimi-attest verify (2 threads, then 1) vs openssl verify (one process)"
for t in 2 1; do
    echo -n "mimi-attest verify, RAYON_NUM_THREADS=$t: "
    # shellcheck disable=SC2086
    RAYON_NUM_THREADS=$t "${TIME[@]}" "$BIN" verify --trust-list trust-list.yaml $SOME 2>&1 >/dev/null | tail -1
done
echo -n "openssl verify -CAfile root.pem -untrusted ca.pem: "
# shellcheck disable=SC2086
"${TIME[@]}" openssl verify -CAfile root.pem -untrusted ca.pem $LEAVES 2>&1 >openssl.out | tail -1
echo "  OK: $(grep -c ': OK$' openssl.out) of $N_SSL"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
