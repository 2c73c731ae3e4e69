#!/usr/bin/env bash
# Run the test suite exactly as CI does (shared data from ../shared/data unless S3KIT_DATA_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=Agg HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export S3KIT_DATA_DIR="${S3KIT_DATA_DIR:-$(cd .. && pwd)/shared/data}"
python -m pytest --doctest-modules s3kit tests -q "$@"
