#!/usr/bin/env bash
# Set up pydeca in ./.venv: PyTorch first, then pydeca with all its extras and the test tools.
#
#   PYTHON=python3.12 ./setup.sh        # pick the interpreter (default: python3, needs >= 3.10)
#   PYDECA_TORCH='torch==2.5.1' ./setup.sh   # pick the torch build (default: torch==2.13.0,
#                                            # falling back to the platform's default `torch`)
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=${PYDECA_VENV:-.venv}
TORCH_SPEC=${PYDECA_TORCH:-torch==2.13.0}

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"
if ! "$PY" -c "import torch" 2>/dev/null; then
    echo "setup: installing $TORCH_SPEC"
    "$PY" -m pip install --quiet "$TORCH_SPEC" || {
        echo "setup: $TORCH_SPEC is not available here; installing the platform's default torch"
        "$PY" -m pip install --quiet torch
    }
fi
echo "setup: installing pydeca[all,dev]"
"$PY" -m pip install --quiet -e ".[all,dev]"
echo "setup: done — run '$VENV/bin/deca demo'"
