#!/usr/bin/env bash
# Binder for real: build a fresh virtual environment the way repo2docker does from binder/
# (runtime.txt's Python, requirements.txt, then postBuild from the repository root), and run
# notebook 01 and the dashboard notebook in it under papermill, on that environment's kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
want=$(sed -n 's/^python-//p' binder/runtime.txt)
py=$(command -v "python${want}" || command -v python3)
"$py" -c "import sys; v='.'.join(map(str, sys.version_info[:2])); assert v == '$want', v" \
  || { echo "binder/runtime.txt asks for python-$want; $py is another version"; exit 1; }
venv="${BINDER_VENV:-$(mktemp -d)/binder-venv}"
"$py" -m venv "$venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# --retries 1: where the PyTorch CPU index is unreachable (an offline mirror of PyPI), pip falls
# back to PyPI's torch==2.13.0 quickly instead of retrying that index for every package
"$venv/bin/python" -m pip install -q --retries 1 --timeout 10 -r binder/requirements.txt
tmp=$(mktemp -d)
git ls-files -z | xargs -0 -I{} cp --parents {} "$tmp"   # the repository as repo2docker sees it
(cd "$tmp" && PATH="$venv/bin:$PATH" bash binder/postBuild)
"$venv/bin/python" -m ipykernel install --sys-prefix --name binder >/dev/null
out=$(mktemp -d)
cd "$out"   # not the checkout: s3kit must come from the Binder environment
"$venv/bin/python" - <<'PY'
import s3kit, sys
assert s3kit.__file__.startswith(sys.prefix), f"s3kit imported from {s3kit.__file__}"
print("binder environment: s3kit", s3kit.__version__, "python", sys.version.split()[0])
PY
run() {  # notebook, then papermill -p pairs
  local nb=$1; shift
  "$venv/bin/papermill" --no-progress-bar -k binder "$tmp/$nb" "$out/$(basename "$nb")" "$@" \
    >/dev/null 2>"$out/log.txt" || { tail -40 "$out/log.txt"; exit 1; }
  echo "binder: $nb ran"
}
run notebooks/01_data_ingestion.ipynb -p out_dir "$out/01" -p max_events 5
run widgets/dashboard.ipynb -p n_steps 1
echo "binder check took $(( $(date +%s) - start )) s"
