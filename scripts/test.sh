#!/usr/bin/env bash
# Runs every check and test tether has. Installs what it needs by itself.
# Usage: scripts/test.sh            (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s ==\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build"
cargo build --workspace --all-targets --locked

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
  cargo test --workspace --doc --locked
else
  cargo test --workspace --locked --no-fail-fast
fi

step "WebSocket conformance: Autobahn|Testsuite fast spec, strict"
# Installs the suite under .autobahn (CPython 2.7 unpacked from Debian packages; ~30 s once),
# runs every case through tether's engine (crates/tether/examples/autobahn.rs, built above)
# against the fuzzing server on 127.0.0.1:9001, and fails on any FAILED or NON-STRICT case
# or a closing handshake that was not clean.
PREFIX="$PWD/.autobahn" bash scripts/autobahn/install.sh
PREFIX="$PWD/.autobahn" bash scripts/autobahn/run.sh scripts/autobahn/config/fuzzingserver-fast.json \
  reports/fast target/debug/examples/autobahn ws://127.0.0.1:9001
python3 scripts/autobahn/summarize.py reports/fast --strict --clean-close

step "WebSocket conformance: Autobahn permessage-deflate subset (12.* and 13.*), strict"
# 34 compression cases (small and fragmented messages, every window-bits and
# no-context-takeover variant of 13.*), about a minute; the full 517 cases are the
# release check in scripts/autobahn/README.md.
PREFIX="$PWD/.autobahn" bash scripts/autobahn/run.sh scripts/autobahn/config/fuzzingserver-deflate-ci.json \
  reports/deflate-ci target/debug/examples/autobahn ws://127.0.0.1:9001
python3 scripts/autobahn/summarize.py reports/deflate-ci --strict --require-deflate --clean-close

step "interop: the platforms' real Python SDKs and servers"
# The venv with the real Python SDKs and server (scripts/peers-env/setup.sh;
# needs python3 and network access to PyPI the first time; idempotent afterwards).
venv_started=$SECONDS
bash scripts/peers-env/setup.sh .venv-peers
echo "peers venv ready in $((SECONDS - venv_started)) s"
TETHER_PEERS_VENV="$PWD/.venv-peers" \
  cargo test -p tether-hub --test 'interop_*' --locked -- --ignored --nocapture --test-threads=1

step "Python: pip install . into a fresh venv; ruff, mypy --strict, pytest"
# Installs the package as a user does (`pip install .`: maturin, fetched by pip, builds
# crates/tether-py in release mode), plus pytest, pytest-asyncio, mypy and ruff, into
# .venv-pytest; then lints and type-checks python/ (package, examples, tests) and runs
# tests/python against `tether serve` (target/debug/tether, built above) and the real
# datadivr server of the peers venv (made above).
py_started=$SECONDS
rm -rf .venv-pytest
python3 -m venv .venv-pytest
.venv-pytest/bin/pip install -q --upgrade pip
.venv-pytest/bin/pip install -q ".[test]"
echo "python package built and installed in $((SECONDS - py_started)) s"
.venv-pytest/bin/ruff check python tests/python
.venv-pytest/bin/ruff format --check python tests/python
.venv-pytest/bin/mypy
TETHER_BIN="$PWD/target/debug/tether" TETHER_PEERS_VENV="$PWD/.venv-peers" \
  .venv-pytest/bin/python -m pytest -q tests/python

step "dashboard: a real headless browser"
# Installs Debian's chromium (apt-get) and playwright-core (npm, into .browser-test) when
# missing; runs the page against `tether serve --ephemeral` and real `tether connect`
# clients; the screenshot is saved under target/browser-test/.
TETHER_BIN="$PWD/target/debug/tether" scripts/browser-test.sh
