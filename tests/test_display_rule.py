"""One display rule for token text on screen and in every export: the JS function the views draw
labels and tooltips with (js/core/layout.ts ``displayToken``, bundled with esbuild and run in node)
gives exactly what Python's ``display_token`` (llmxai_widgets/figures/text.py) gives, over the
hostile corpus (tests/hostile.py), at every label width the views use, and over every code point of
the Basic Multilingual Plane and a sample of the others."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from llmxai_widgets.figures import display_token

from hostile import HOSTILE, NAMES, TOKENS

REPO = Path(__file__).resolve().parent.parent
ESBUILD = REPO / "node_modules" / ".bin" / "esbuild"
WIDTHS = [12, 14, 16, 18, 20, 24, 30, 40, 10_000]

_ENTRY = """
import { displayToken, jsonToken } from %s;
import { readFileSync } from "node:fs";
const cases = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify({
  shown: cases.map(([token, max]) => displayToken(token, max)),
  quoted: cases.map(([token, max]) => jsonToken(token, max)),
}));
"""


@pytest.fixture(scope="module")
def js_rule(tmp_path_factory):
    """``js_rule(cases)``: ``(displayToken(token, max) for each case, jsonToken(token, max) for each)``."""
    if not ESBUILD.exists() or not shutil.which("node"):
        pytest.skip("needs node and esbuild (npm install)")
    folder = tmp_path_factory.mktemp("display_rule")
    entry = folder / "entry.mjs"
    entry.write_text(_ENTRY % json.dumps(str(REPO / "js" / "core" / "layout.ts")))
    bundle = folder / "rule.mjs"
    subprocess.run([str(ESBUILD), str(entry), "--bundle", "--format=esm", "--platform=node", f"--outfile={bundle}",
                    "--log-level=warning"], check=True, cwd=REPO)

    def run(cases):
        # ASCII JSON: a lone surrogate travels as a \\ud800 escape, which JSON.parse keeps lone
        out = subprocess.run(["node", str(bundle)], input=json.dumps(cases).encode("ascii"), capture_output=True,
                             check=True, timeout=120)
        got = json.loads(out.stdout.decode("utf-8"))
        return got["shown"], got["quoted"]

    return run


def compare(js_rule, cases) -> None:
    shown, quoted = js_rule(cases)
    assert len(shown) == len(cases)
    wrong = [(token, width, js, display_token(token, width)) for (token, width), js in zip(cases, shown)
             if js != display_token(token, width)]
    assert wrong == [], f"{len(wrong)} of {len(cases)} differ (token, width, JS, Python); first: {wrong[:5]}"
    for (token, width), q in zip(cases, quoted):
        assert json.loads(q) == display_token(token, width)


def test_the_corpus_reads_the_same_in_js_and_python(js_rule):
    compare(js_rule, [[token, width] for token in TOKENS for width in WIDTHS])


def test_every_code_point_reads_the_same_in_js_and_python(js_rule):
    # each code point alone, after a letter, and three times in a row (stacked combining marks)
    points = [*range(0, 0x10000), *range(0x10000, 0x110000, 97), *range(0xE0000, 0xE0080), *range(0x1F300, 0x1FB00)]
    cases = []
    for o in points:
        c = chr(o)
        cases += [[c, 24], ["a" + c * 3, 24]]
    compare(js_rule, cases)


EXPECTED = {
    "script": "<script>alert(1)</script>",  # text, not markup: the views write it as text
    "rlo": "[U+202E]evil",
    "lri": "[U+2066]left[U+2069]",
    "pdi": "[U+2069]",
    "zwsp": "a[U+200B]b",
    "zwj": "[U+200D]",
    "bom": "[U+FEFF]bom",
    "combining": "e\u0301\u0301" + "[U+0301]" * 18,
    "emoji-zwj": "\U0001f469\u200d\U0001f4bb",  # a ZWJ emoji sequence stays one emoji
    "astral-math": "\U0001d54f",
    "long": "x" * 9_990 + "TAIL_END__",
    "nul": "a[U+0000]b",
    "escape": "[U+001B][31mred",
    "byte-fallback": "<0xE2>",
    "lone-surrogate": "x\ufffdy",
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_what_the_rule_shows(name):
    assert display_token(TOKENS[NAMES.index(name)], 10_000) == EXPECTED[name]


def test_edge_cases():
    assert display_token("x" * 50) == "x" * 23 + "\u2026"
    assert display_token("a\r\nb\tc\rd") == "a\u23ceb\u21e5c[U+000D]d"
    assert display_token("  ") == "\u2423\u2423" and display_token(" \u00a0") == "\u2423[U+00A0]"
    assert display_token(" word") == " word" and display_token("") == ""
    assert display_token("line\u2028sep") == "line[U+2028]sep"
    assert display_token("\u00e9t\u00e9 caf\u0065\u0301") == "\u00e9t\u00e9 caf\u0065\u0301"  # accents stay
    assert display_token("a\u0308\u0301") == "a\u0308\u0301"  # two stacked marks stay
    assert display_token("\U0001f3f3\ufe0f\u200d\U0001f308") == "\U0001f3f3\ufe0f\u200d\U0001f308"
    assert display_token("a\u200d\U0001f4bb") == "a[U+200D]\U0001f4bb"  # a ZWJ outside an emoji sequence
    assert display_token("\U000e0041tag") == "[U+E0041]tag"  # invisible tag characters
    assert display_token("\ud800\udfff") == "\ufffd\ufffd"
    assert all(display_token(t, 40) for t in TOKENS)  # every corpus token shows something
    assert len(HOSTILE) == len(TOKENS)
