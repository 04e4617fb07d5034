#!/usr/bin/env bash
# Set up (if needed) and run every test: JavaScript unit tests, Python tests, example notebooks
# and the real-browser JupyterLab tests. Extra arguments go to pytest.
#
# Two pytest processes run side by side, one core each (OMP_NUM_THREADS=1 for every kernel and
# notebook too): the browser tests (one JupyterLab, Chromium, a kernel per notebook) with the
# example notebooks (marked slow), and the rest; their reports follow each other. Pass -m (or
# LXW_SERIAL=1) to run one process.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
printf '\n==> JavaScript tests\n'
npm test
printf '\n==> Python, notebook and browser tests\n'
PYTEST=(.venv/bin/python -m pytest)
for arg in "$@"; do
  [[ "$arg" == "-m" || "$arg" == -m* ]] && LXW_SERIAL=1
done
if [[ -n "${LXW_SERIAL:-}" ]]; then
  exec "${PYTEST[@]}" "$@"
fi
export OMP_NUM_THREADS=1
mkdir -p test-artifacts
log=test-artifacts/browser-tests.log
"${PYTEST[@]}" -m "browser or slow" -p no:cacheprovider "$@" >"$log" 2>&1 &
browser=$!
set +e
"${PYTEST[@]}" -m "not browser and not slow" "$@"
rest=$?
wait "$browser"
shown=$?
set -e
printf '\n==> Browser tests and example notebooks (run alongside; full log in %s)\n' "$log"
cat "$log"
printf '\n==> the rest: exit %s; browser tests and notebooks: exit %s\n' "$rest" "$shown"
# 5 = no test selected in that half (e.g. a path to one test file): not a failure unless both are empty
(( rest == 5 && shown != 5 )) && rest=0
(( shown == 5 && rest != 5 )) && shown=0
exit $(( rest != 0 ? rest : shown ))
