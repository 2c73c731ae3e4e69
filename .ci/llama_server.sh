#!/usr/bin/env bash
# Install llama-cpp-python (with its OpenAI-compatible server) for the `server` tests of s3kit.llm.
#
# llama-cpp-python is source-only on PyPI and takes ~9-12 min to compile on 2 cores, so the wheel
# is cached in ${S3KIT_WHEEL_CACHE:-$HOME/.cache/s3kit-wheels} and reused on later runs.
# The default -march=native build segfaults at the first decode on AMX/AVX512 CPUs seen here,
# hence the portable CMAKE_ARGS (AVX2/FMA/F16C, no AVX512, no AMX).
set -euo pipefail

VERSION="${LLAMA_CPP_VERSION:-0.3.36}"
CACHE="${S3KIT_WHEEL_CACHE:-$HOME/.cache/s3kit-wheels}"
PY="${PYTHON:-python}"

if "$PY" -c "import llama_cpp, llama_cpp.server, uvicorn, fastapi, sse_starlette, starlette_context, pydantic_settings" 2>/dev/null; then
    echo "llama_server.sh: llama-cpp-python already installed ($("$PY" -c 'import llama_cpp; print(llama_cpp.__version__)'))"
    exit 0
fi

mkdir -p "$CACHE"
wheel="$(ls "$CACHE"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -n1 || true)"
if [ -z "$wheel" ]; then
    echo "llama_server.sh: no cached wheel in $CACHE: building llama-cpp-python==$VERSION (~10 min)"
    export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF"
    export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
    tmp="$(mktemp -d)"
    "$PY" -m pip wheel --no-deps --no-cache-dir -w "$tmp" "llama-cpp-python==$VERSION"
    mv "$tmp"/llama_cpp_python-*.whl "$CACHE"/
    rmdir "$tmp" || true
    wheel="$(ls "$CACHE"/llama_cpp_python-"$VERSION"-*.whl | head -n1)"
fi
echo "llama_server.sh: installing $wheel"
"$PY" -m pip install --quiet "${wheel}[server]"
"$PY" -c "import llama_cpp.server; print('llama_server.sh: llama-cpp-python', __import__('llama_cpp').__version__, 'ready')"
