#!/usr/bin/env bash
# Run the test suite exactly as CI does (shared data from ../shared/data unless S3KIT_DATA_DIR).
#
# First it sets up the real components the suite tests, as .ci/run does (idempotent: a no-op
# when present; the first llama.cpp build takes ~10 min, its wheel is cached): the llama.cpp
# server (.ci/llama_server.sh) and Chromium + playwright-core (.ci/browser_setup.sh).
# A test of a real component that cannot run then FAILS; S3KIT_ALLOW_SKIP=1 skips this setup and
# lets those tests skip instead (the pytest summary counts them). Without the shared data the
# data-dependent tests skip with a reason (under CI they fail): see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=Agg HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export S3KIT_DATA_DIR="${S3KIT_DATA_DIR:-$(cd .. && pwd)/shared/data}"
case "${S3KIT_ALLOW_SKIP:-}" in
  ""|0|false|no)
    for step in .ci/llama_server.sh .ci/browser_setup.sh; do
      bash "$step" || { echo "test.sh: $step failed; fix it, or run with S3KIT_ALLOW_SKIP=1" \
        "to let the tests of that component skip" >&2; exit 1; }
    done ;;
  *) echo "test.sh: S3KIT_ALLOW_SKIP=$S3KIT_ALLOW_SKIP: real-component setup skipped" ;;
esac
python -m pytest --doctest-modules s3kit tests -q "$@"
