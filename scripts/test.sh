#!/usr/bin/env bash
# Set up (if needed) and run every test: JavaScript unit tests, Python tests, example notebooks
# and the real-browser JupyterLab tests. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
printf '\n==> JavaScript tests\n'
npm test
printf '\n==> Python, notebook and browser tests\n'
exec .venv/bin/python -m pytest "$@"
