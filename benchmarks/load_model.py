"""How long `load_model()` takes in a fresh process once the bundled model is cached.

    .venv/bin/python benchmarks/load_model.py [--runs 5]

Prints the import time, the load time of each fresh-process run and their median, next to the
baseline the converted cache replaces (transformers reading the GGUF file directly), measured in
the same run when --baseline is given.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import json, time
t0 = time.perf_counter()
import llmxai_widgets as lx
t1 = time.perf_counter()
m = lx.load_model()
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "layers": m.n_layers, "heads": m.n_heads}))
"""

BASELINE = r"""
import json, time
from llmxai_widgets.models import bundled
from transformers import AutoModelForCausalLM, AutoTokenizer
g = bundled.smollm2_gguf()
t0 = time.perf_counter()
AutoTokenizer.from_pretrained(g.parent, gguf_file=g.name)
AutoModelForCausalLM.from_pretrained(g.parent, gguf_file=g.name)
print(json.dumps({"load_s": time.perf_counter() - t0}))
"""


def run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", action="store_true", help="also time transformers on the GGUF file")
    args = parser.parse_args()
    run(CHILD)  # make sure the cache exists; the first conversion is not what we measure
    loads = []
    for i in range(args.runs):
        r = run(CHILD)
        loads.append(r["load_s"])
        print(f"run {i + 1}: import llmxai_widgets (torch + transformers) {r['import_s']:.2f} s, "
              f"load_model() {r['load_s']:.2f} s, together {r['import_s'] + r['load_s']:.2f} s "
              f"({r['layers']} layers, {r['heads']} heads)")
    median = statistics.median(loads)
    print(f"median load_model(): {median:.2f} s (target: at most 2 s)")
    if args.baseline:
        base = run(BASELINE)["load_s"]
        print(f"baseline, transformers from the GGUF file: {base:.2f} s -> {base / median:.0f}x slower")


if __name__ == "__main__":
    main()
