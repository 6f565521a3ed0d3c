#!/usr/bin/env bash
# The benchmark suite (issue 9, part 3): tether (`tether bench`) against the peers a user
# would pick instead — bare tokio-websockets (one flush per message, and --batch: many
# messages per flush), bare tokio-tungstenite, Python websockets, aiohttp and picows —
# in ONE run against the SAME hub process (`tether serve --ephemeral --json`).
# Prints the raw figures, the ratios tether / baseline the targets name, the commit, the
# CPU model and the date; the whole result is also saved as JSON under reports/.
#
# Usage: scripts/bench.sh [--quick] [--json] [--runs N] [--only W1,W2] [--programs a,b]
#   --quick     small counts (a smoke run of a minute or two)
#   --json      print the result as one JSON document instead of tables
#   --runs N    run every cell N times; tables show medians, the JSON keeps every run
#   --only      a subset of the workloads W1..W7 (W4d, W5d: with permessage-deflate; W6g)
#   --priority N  nice value for the hub and all clients (e.g. -10 while others compile)
#   --hub PATH  serve the hub from another `tether` binary (e.g. to measure a hub change)
#   --before PATH  also measure another `tether` binary (an earlier commit's release build)
#               as tether-before / tether-before-batch, with ratios, in the same run
#   --programs  a subset of: tether, tether-batch (W1, W3, W5: `tether bench --batch`),
#               tether-nodeflate (W7: `tether bench --compression off`),
#               bare-tokio-websockets, bare-tokio-websockets-batch,
#               bare-tungstenite, python-websockets, python-aiohttp, python-picows,
#               python-tether (W1 only: tether's Python package), python-datadivr-sdk (W6 only),
#               python-tether-datadivr (W6 only), python-gather-sdk, python-tether-gather (W6g only)
# The Python clients are installed into .venv-bench (created if missing; idempotent); the
# platforms' real SDKs (W6) into .venv-peers by scripts/peers-env/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-bench
# protobuf: tether.gather's one runtime dependency (the package itself is installed below
# with --no-deps, so that its rebuild does not reinstall the others).
python_pkgs=(websockets aiohttp picows protobuf)

log() { printf 'bench: %s\n' "$*" >&2; }

log "building (release): tether-cli, tether-benches"
# One invocation for both, so that shared dependencies are built once with the same features.
cargo build --release --locked -q -p tether-cli -p tether-benches

if ! "$venv/bin/python" -c 'import websockets, aiohttp, picows, google.protobuf' 2>/dev/null; then
  log "installing ${python_pkgs[*]} into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${python_pkgs[@]}"
fi

# tether's Python package, built from this checkout (release), for the python-tether rows.
log "installing tether's Python package (pip install .) into $venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps .

peers=.venv-peers
peers_setup=scripts/peers-env/setup.sh
if [ -f "$peers_setup" ]; then
  bash "$peers_setup" "$peers" >&2 || log "the peers venv could not be set up: W6 will say so"
else
  log "no $peers_setup: W6 will report the SDK missing"
fi

stamp=$(date -u +%Y%m%d-%H%M%S)
exec "$venv/bin/python" benches/python/suite.py \
  --root "$PWD" \
  --python "$PWD/$venv/bin/python" \
  --tether "$PWD/target/release/tether" \
  --peers-python "$PWD/$peers/bin/python" \
  --commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo '-dirty')" \
  --save "reports/bench-$stamp.json" \
  "$@"
