#!/usr/bin/env bash
# Notebooks must be committed without outputs; library code must pass ruff and keep its layers.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
nbs=(notebooks/*.ipynb widgets/*.ipynb)
if [ ${#nbs[@]} -gt 0 ]; then
  nbstripout --verify "${nbs[@]}" || { echo "notebooks have outputs: run nbstripout"; exit 1; }
fi
ruff check s3kit tests benchmarks
lint-imports  # the layer order of pyproject.toml [tool.importlinter] (docs/architecture.md)
