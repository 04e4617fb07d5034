#!/usr/bin/env bash
# Set up (if needed) and open JupyterLab on the quickstart notebook with the bundled model.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
ROOT_FLAG=(); [[ $(id -u) == 0 ]] && ROOT_FLAG=(--allow-root)
cd examples
exec ../.venv/bin/jupyter lab "${ROOT_FLAG[@]}" --LabApp.default_url=/lab/tree/quickstart.ipynb "$@"
