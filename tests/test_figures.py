"""Figures from Python, headless: SVG/PDF/PNG of the attention matrix, checked against
transformers' own weights, with hostile token text in every format."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch

import llmxai_widgets as lx
from llmxai_widgets.cli import main as cli
from llmxai_widgets.colors import to_rgb
from llmxai_widgets.figures import FigureOptions, attention_figure, display_token, matrix_figure

TEXT = "The capital of France is Paris."
HOSTILE = [
    "</text><script>alert(1)</script>", '<img src=x onerror="alert(1)">', "\"quoted\" 'single' & amp;",
    "\u202eevil\u202c", "\u200fmark", "emoji 😀🎉", "$x^2$ \\frac{1}{2}", "x" * 80, "\n", "\t", "   ",
]
SVG_NS = "{http://www.w3.org/2000/svg}"
FIXTURE = Path(__file__).resolve().parent.parent / "js" / "tests" / "fixtures" / "display_tokens.json"


def svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)  # parses as XML or raises
    assert not [el for el in root.iter() if el.tag in (f"{SVG_NS}script", "script", f"{SVG_NS}foreignObject")]
    return ["".join(el.itertext()) for el in root.iter(f"{SVG_NS}text")]


def eager_head(model, text, layer, head):
    ids = torch.as_tensor(model.tokenize(text).ids)[None]
    model.model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model.model(input_ids=ids, output_attentions=True)
    finally:
        model.model.set_attn_implementation("sdpa")
    return out.attentions[layer][0, head].numpy()


def test_svg_keeps_every_token_as_escaped_text():
    tokens = ["<s>", *HOSTILE]
    weights = np.tril(np.ones((len(tokens), len(tokens))))
    weights /= weights.sum(1, keepdims=True)
    svg = matrix_figure(weights, tokens, tokens, causal=True, options=FigureOptions(title="A & B <test>")).svg()
    assert "<script" not in svg and "<img" not in svg
    texts = svg_texts(svg)
    for token in tokens:
        assert texts.count(display_token(token)) == 2, (token, display_token(token))  # row and column label
    assert "A & B <test>" in texts
    assert "[U+202E]evil[U+202C]" in texts  # a bidi override is shown, not obeyed
    assert "$x^2$ \\frac{1}{2}" in texts  # not typeset as math
    whole = matrix_figure(weights, tokens, tokens, causal=True, options=FigureOptions(label_chars=100)).svg()
    assert svg_texts(whole).count("x" * 80) == 2  # long tokens printed whole when asked


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (Debian poppler-utils) is not installed")
def test_pdf_embeds_its_fonts_and_keeps_tokens_as_text(tmp_path):
    tokens = ["The", " cat", *HOSTILE[:6]]
    weights = np.full((len(tokens), len(tokens)), 1 / len(tokens))
    path = matrix_figure(weights, tokens, tokens).save(tmp_path / "fig.pdf")
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True).stdout
    lines = text.splitlines()
    for token in tokens:
        assert display_token(token).strip() in lines, (token, text)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert fonts and all(" yes " in line.split("Identity-H")[-1][:8] or "yes yes" in line for line in fonts), fonts


def test_png_has_the_requested_size_and_the_model_s_colours(smollm2, tmp_path):
    from PIL import Image

    result = lx.attention(smollm2, TEXT, layers=[0, 1, 2, 3])
    fig = attention_figure(result, 3, 2, width="3in", font_size=9)
    path = fig.save(tmp_path / "fig.png", dpi=100)
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape[1] == 300  # 3 in at 100 dpi
    assert abs(image.shape[0] - fig.height / 72 * 100) < 1  # the height follows from the cells
    expected = eager_head(smollm2, TEXT, 3, 2)
    vmax = expected.max()
    scale = 100 / 72
    for q, k in [(0, 0), (3, 1), (6, 6), (6, 2)]:
        x = int((fig.left + (k + 0.5) * fig.cell) * scale)
        y = int((fig.top + (q + 0.5) * fig.cell) * scale)
        got = image[y, x]
        assert np.abs(got.astype(int) - to_rgb(expected[q, k], 0, vmax).astype(int)).max() <= 2, (q, k, got)
    masked = image[int((fig.top + 0.5 * fig.cell) * scale), int((fig.left + 5.5 * fig.cell) * scale)]
    assert tuple(masked) == (200, 200, 200)  # above the diagonal: masked, as on screen


def test_view_saves_what_it_shows(minilm, tmp_path):
    view = lx.AttentionView(minilm, "The cat sat.", text_pair="Where did it sit?", layer=2, head=5)
    view.show(pair_filter="AB")
    fig = view.figure()
    segments = view.segments
    first_b = segments.index(1)
    texts = fig.texts
    assert [t for t in texts if t in ("[CLS]",)] == ["[CLS]"]  # rows: sentence A only
    assert texts.count("[SEP]") == 2  # A's [SEP] as a row, B's as a column
    assert fig.vmax == pytest.approx(float(view.result.head(2, 5)[:first_b, first_b:].max()))
    view.show(pair_filter="all", aggregate="mean")
    view.log_scale = True
    for ext in ("svg", "pdf", "png"):
        assert view.save(tmp_path / f"v.{ext}").stat().st_size > 1000
    with pytest.raises(ValueError, match="not one of svg, pdf, png"):
        view.save(tmp_path / "v.jpeg")
    view.show(pair_filter="all", mode="querykey", head=5)
    qk = view.figure(query=4)
    assert "query " + display_token(view.tokens[4], 14) in qk.texts
    assert sum(t.startswith("#") for t in qk.texts) == len(view.tokens)  # an encoder: every key
    weights = view.result.head(2, 5)[4]
    assert [t for t in qk.texts if t[:2] == "0." or t == "1.000"] == [f"{w:.3f}" for w in weights]


def test_model_view_summary_and_head_view_save_themselves(smollm2, tmp_path):
    text = "The capital of France is Paris. The capital of Italy is Rome."
    view = lx.AttentionView(smollm2, text, layer=18, head=6)
    view.show(mode="model")
    grid = view.figure(layers=[0, 17, 18], heads=[3, 6], title="three layers")
    assert grid.layers == [0, 17, 18] and grid.heads == [3, 6]
    assert {"L0", "L17", "L18", "H3", "H6", "three layers"} <= set(grid.texts)
    svg = grid.svg()
    assert {"L17", "key/value head 1", "key/value head 2"} <= set(svg_texts(svg))
    with pytest.raises(ValueError, match="out of range"):
        view.figure(heads=[9])

    view.show(mode="summary")
    deadline = __import__("time").time() + 120
    while not view.summary and __import__("time").time() < deadline:
        __import__("time").sleep(0.1)
    summary = view.figure(score="induction", layers=[17, 18])
    texts = summary.texts
    assert "induction (repeated random sequence)" in texts and "L18" in texts
    induction = lx.head_summary(smollm2, text).induction
    assert f"{induction[18, 6]:.2f}" in texts and f"{induction[17, 4]:.2f}" in texts
    assert view.save(tmp_path / "summary.pdf").stat().st_size > 1000

    view.show(mode="head")
    lines = view.figure(heads=[6], focus=len(view.tokens) - 1)
    drawn = [item for item in lines.items if type(item).__name__ == "Line"]
    row = view.result.head(18, 6)[len(view.tokens) - 1]
    assert len(drawn) == int((row >= 0.02).sum())  # one line per key it reads (above 2%)
    assert sorted(round(line.alpha, 5) for line in drawn) == sorted(round(float(w), 5) for w in row[row >= 0.02])
    assert view.save(tmp_path / "head.svg").stat().st_size > 1000


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"colormap": "jet"}, "unknown colour map 'jet'"),
        ({"width": "3 furlongs"}, "is not a length"),
        ({"theme": "solarized"}, "theme must be one of light, dark"),
        ({"rotation": 120}, "between 0 and 90"),
        ({"width": "0.2in"}, "too small"),
        ({"tokens": (5, 2)}, "selects no tokens"),
    ],
)
def test_bad_figure_options_say_what_to_pass(smollm2, options, message):
    result = lx.attention(smollm2, TEXT, layers=[0])
    with pytest.raises((ValueError, TypeError), match=message):
        attention_figure(result, 0, 0, **options)


def test_command_line_writes_every_format(tmp_path, capsys):
    outputs = [tmp_path / f"fig.{ext}" for ext in ("svg", "pdf", "png", "html")]
    args = ["figure", "attention", "--text", TEXT, "--layer", "3", "--head", "2", "--width", "3.5in"]
    for out in outputs:
        args += ["-o", str(out)]
    assert cli(args) == 0
    assert all(out.stat().st_size > 1000 for out in outputs)
    assert outputs[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and outputs[1].read_bytes()[:5] == b"%PDF-"
    assert " Paris" in svg_texts(outputs[0].read_text())
    assert cli(["figure", "attention", "--text", TEXT, "--layer", "99", "-o", str(tmp_path / "x.svg")]) == 2
    assert "layer 99 is out of range" in capsys.readouterr().err
    assert "application/vnd.jupyter.widget-state+json" in outputs[3].read_text()
    grid = tmp_path / "grid.svg"
    assert cli(["figure", "attention", "--text", TEXT, "--view", "model", "--layers", "0", "5", "--heads", "1", "2",
                "-o", str(grid)]) == 0
    assert {"L0", "L5", "H1", "H2"} <= set(svg_texts(grid.read_text()))
    assert cli(["figure", "attention", "--text", TEXT, "--view", "matrix", "--score", "sink", "-o", str(grid)]) == 2
    assert "--score does not apply to --view matrix" in capsys.readouterr().err


def test_display_token_matches_the_browser_rule():
    """Writes the cases js/tests/display.test.ts checks against the JS twin (displayToken)."""
    cases = [*HOSTILE, "a\r\nb", "\u00a0", "\ufeff", "\x07bell", "\u2066iso\u2069", "é" * 30, "日本語", ""]
    expected = [[case, display_token(case)] for case in cases]
    if FIXTURE.exists() and json.loads(FIXTURE.read_text()) == expected:
        return
    FIXTURE.write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n")
    pytest.fail(f"updated {FIXTURE.name}; commit it so the JS test checks the same cases")


def test_long_inputs_shrink_to_a_page_and_drop_unreadable_labels():
    n = 1500
    weights = np.tril(np.ones((n, n)))
    tokens = [f"t{i}" for i in range(n)]
    fig = matrix_figure(weights, tokens, tokens, causal=True)
    assert max(fig.width, fig.height) <= 10 * 72 + 90  # the matrix within the 10 in default; margins and colour bar
    assert "t7" not in fig.texts and "keys: tokens 0-1499" in fig.texts
    assert len(fig.png(dpi=72)) > 1000
    with pytest.raises(ValueError, match="over 120 million pixels"):
        matrix_figure(weights, tokens, tokens, options=FigureOptions(width="60in")).png(dpi=300)


def attribution_case():
    """Hostile source tokens, three generated targets; scores NaN at and after each target."""
    from llmxai_widgets.figures.attribution import attribution_matrix_figure

    tokens = ["<s>", *HOSTILE[:6], " Paris", ".", "\n"]
    targets = [7, 8, 9]
    scores = np.random.default_rng(3).normal(size=(3, len(tokens)))
    scores[np.arange(len(tokens))[None, :] >= np.array(targets)[:, None]] = np.nan
    return attribution_matrix_figure, tokens, targets, scores


def test_attribution_matrix_svg_keeps_every_token_as_escaped_text():
    figure, tokens, targets, scores = attribution_case()
    svg = figure(scores, tokens, targets, label="saliency score", options=FigureOptions(colormap="RdBu_r", title="<b>")).svg()
    assert "<script" not in svg and "<img" not in svg
    texts = svg_texts(svg)
    for j, token in enumerate(tokens):  # every source as a column label, every target as a row label too
        assert texts.count(display_token(token)) == (2 if j in targets else 1), (token, texts)
    vmax = float(np.nanmax(np.abs(scores)))
    assert {"<b>", "saliency score", f"+{vmax:.3f}", f"\u2212{vmax:.3f}"} <= set(texts)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_attribution_matrix_png_cells_are_the_colour_table(tmp_path, theme):
    from PIL import Image

    from llmxai_widgets.colors import color_index, lut
    from llmxai_widgets.figures.figure import THEMES

    figure, tokens, targets, scores = attribution_case()
    fig = figure(scores, tokens, targets, options=FigureOptions(colormap="RdBu_r", cell="16pt", theme=theme))
    vmax = float(np.nanmax(np.abs(scores)))
    assert (fig.vmin, fig.vmax) == (-vmax, vmax)  # symmetric around 0, as on screen
    image = np.asarray(Image.open(fig.save(tmp_path / "m.png", dpi=144)).convert("RGB"))
    scale = 144 / 72
    for i in range(len(targets)):
        for j in range(len(tokens)):
            x = int((fig.left + (j + 0.5) * fig.cell) * scale)
            y = int((fig.top + (i + 0.5) * fig.cell) * scale)
            masked = j >= targets[i]
            want = THEMES[theme]["masked"] if masked else lut("RdBu_r")[color_index(scores[i, j], -vmax, vmax)]
            assert np.abs(image[y, x].astype(int) - np.asarray(want, int)).max() <= 1, (i, j, image[y, x], want)


def test_attribution_matrix_options_and_windows():
    figure, tokens, targets, scores = attribution_case()
    window = figure(scores, tokens, targets, rows=(1, 3), cols=(7, 10))
    assert window.texts[:2] == [".", "\u23ce"] and window.vmax == pytest.approx(np.nanmax(np.abs(scores)))
    assert figure(scores, tokens, targets, options=FigureOptions(width="2in")).width == 144
    with pytest.raises(ValueError, match="signed and always use the linear scale"):
        figure(scores, tokens, targets, options=FigureOptions(log=True))
    with pytest.raises(ValueError, match="shape"):
        figure(scores[:, :3], tokens, targets)
    from llmxai_widgets.figures.figure import Text, text_width

    for n_rows, rotation in [(3, 0), (12, 90)]:  # a short bar: its label across it; a tall one: along it
        fig = figure(np.ones((n_rows, 16)), [f"w{i}" for i in range(16)], list(range(4, 4 + n_rows)),
                     label="integrated gradients score")
        label = next(t for t in fig.items if isinstance(t, Text) and t.text == "integrated gradients score")
        assert label.rotation == rotation, (n_rows, label)
        assert label.x + text_width(label.text, label.size, fig.font_family) <= fig.width or rotation
    many = [f"t{i}" for i in range(1500)]
    long = figure(np.zeros((2, 1500)), many, [1498, 1499])
    assert "t7" not in long.texts and "sources: tokens 0-1499" in long.texts and "targets 0-1" in long.texts
