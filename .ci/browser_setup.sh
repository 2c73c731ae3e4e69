#!/usr/bin/env bash
# Real-browser test prerequisites: Debian's headless Chromium + the npm package playwright-core.
# Idempotent and fast when already installed (no apt/npm network traffic then).
# Playwright's own browser download does not work here: we always drive /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

if ! [ -x /usr/bin/chromium ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
/usr/bin/chromium --version

if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# npm ci only when node_modules does not match the committed lock file.
lock=tests/browser/package-lock.json
stamp=tests/browser/node_modules/.s3kit-lock.sha256
want="$(sha256sum "$lock" | cut -d' ' -f1)"
if ! [ -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi
node -e "require('./tests/browser/node_modules/playwright-core'); console.log('playwright-core ok')"
