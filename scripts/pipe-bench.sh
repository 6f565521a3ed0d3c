#!/usr/bin/env bash
# Throughput of `tether connect` piping N small JSON lines through the hub's echo endpoint
# (every echo printed as a JSON line), against a bare tokio-websockets client doing the
# same work the usual way (one flush per message: examples/bare_pipe.rs). Same hub, same
# input, same run; best of R runs each.
# Usage: scripts/pipe-bench.sh [N=200000] [R=5]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
R=${2:-5}
cargo build --release --locked -q -p tether-cli --bin tether --example bare_pipe
work=$(mktemp -d)
trap 'kill "$hub" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "$N" > "$work/lines" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"id": i, "type": "chat", "text": "hello world payload xx"}))
PY
./target/release/tether serve --ephemeral --json > "$work/hub" 2>/dev/null &
hub=$!
for _ in $(seq 50); do [ -s "$work/hub" ] && break; sleep 0.1; done
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["echo"])' "$work/hub")

best() { # best wall time (s) of R runs of "$@", checking N output lines
  local best=999999
  for _ in $(seq "$R"); do
    local t0 t1 lines
    t0=$(date +%s.%N)
    "$@" < "$work/lines" > "$work/out"
    t1=$(date +%s.%N)
    lines=$(wc -l < "$work/out")
    [ "$lines" -eq "$N" ] || { echo "expected $N lines, got $lines from $*" >&2; exit 1; }
    best=$(python3 -c "print(min($best, $t1 - $t0))")
  done
  echo "$best"
}
t_tether=$(best ./target/release/tether connect "$url" --drain)
t_bare=$(best ./target/release/examples/bare_pipe "$url")
python3 - "$N" "$t_tether" "$t_bare" "$(git rev-parse --short HEAD 2>/dev/null || echo -)" <<'PY'
import sys, platform
n, tt, tb, commit = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
print(f"commit {commit}, {cpu}, {n} lines of ~64 B, best of runs")
print(f"{'client':<34}{'seconds':>9}{'lines/s':>12}")
print(f"{'tether connect':<34}{tt:>9.3f}{n/tt:>12,.0f}")
print(f"{'bare tokio-websockets (1 flush/msg)':<34}{tb:>9.3f}{n/tb:>12,.0f}")
print(f"ratio tether / bare: {tb/tt:.2f}x")
PY
