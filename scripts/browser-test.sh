#!/usr/bin/env bash
# The dashboard in a real headless browser (issue 19): starts `tether serve --ephemeral`,
# opens the page in Debian's chromium driven by playwright-core, connects real
# `tether connect` clients of two platforms (raw echo, moobius), drops one from the page
# and waits for it to come back, restarts endpoints and then the whole hub, and checks
# the page follows. Saves a screenshot under target/browser-test/.
#
# Installs what it needs by itself (idempotent): chromium through apt-get (needs root),
# playwright-core from npm into .browser-test/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."

PLAYWRIGHT_VERSION=1.65.1
log() { printf 'browser-test: %s\n' "$*" >&2; }

if [ ! -x /usr/bin/chromium ]; then
  log "installing chromium (apt-get)"
  if [ "$(id -u)" -ne 0 ]; then
    log "chromium is missing and this is not root: install it with: sudo apt-get install chromium"
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 18 ? 1 : 0)' 2>/dev/null; then
  log "needs node 18 or newer (and npm)"
  exit 1
fi

if [ ! -f .browser-test/node_modules/playwright-core/package.json ] ||
   [ "$(node -p 'require("./.browser-test/node_modules/playwright-core/package.json").version')" != "$PLAYWRIGHT_VERSION" ]; then
  log "installing playwright-core@$PLAYWRIGHT_VERSION into .browser-test"
  mkdir -p .browser-test
  [ -f .browser-test/package.json ] || echo '{"name":"tether-browser-test","private":true}' > .browser-test/package.json
  npm install --prefix .browser-test --no-audit --no-fund --silent "playwright-core@$PLAYWRIGHT_VERSION"
fi

if [ -z "${TETHER_BIN:-}" ]; then
  cargo build --locked -q -p tether-cli
  TETHER_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/tether"
fi

mkdir -p target/browser-test
TETHER_BIN="$TETHER_BIN" ARTIFACTS="$PWD/target/browser-test" \
  node scripts/browser-test.mjs
