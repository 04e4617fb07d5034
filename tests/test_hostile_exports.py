"""The hostile-token corpus (tests/hostile.py) through every static figure we can build from a
result made by hand, in every format, and through the standalone HTML of the views that can be made
from a result: no markup gets live, no raw control character reaches XML, every token stays
readable. No model is loaded: the token text is exactly the corpus, whatever a tokenizer would do.

Lone surrogates (``"\\ud800"``: Python carries them, UTF-8 cannot encode them) are drawn and
exported as U+FFFD, the replacement character."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import llmxai_widgets as lx
from llmxai_widgets.figures import FigureOptions, display_token
from llmxai_widgets.figures.attribution import attribution_matrix_figure, text_heatmap_figure
from llmxai_widgets.figures.contributions import contributions_figure
from llmxai_widgets.figures.figure import drawable
from llmxai_widgets.figures.logit_lens import logit_lens_figure
from llmxai_widgets.methods.contributions import ContributionResult
from llmxai_widgets.methods.logit_lens import LogitLensResult
from llmxai_widgets.methods.neurons import NeuronResult
from llmxai_widgets.models.wrapped import Tokens
from llmxai_widgets.widgets.export_html import STATE_MIME, to_html, utf8_safe

from hostile import HOSTILE, NAMES, TOKENS
from test_export_html import Page, toy_result

SVG_NS = "{http://www.w3.org/2000/svg}"
XML_FORBIDDEN = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SOURCE = ["<s>", *TOKENS]  # a start token first, so the first hostile token is not special in any scale


def shown(token: str, chars: int = 24) -> str:
    """What a label of ``token`` reads in a file: the display rule, then what the writers carry."""
    return drawable(display_token(token, chars))


def tokens_of(texts: list[str]) -> Tokens:
    n = len(texts)
    return Tokens(source="".join(texts), ids=np.arange(n), text=list(texts), offsets=np.zeros((n, 2), np.int64),
                  special=np.zeros(n, bool))


def check_svg(svg: bytes) -> list[str]:
    """The SVG parses as XML, holds no script, event handler, foreign HTML or javascript: URL, and
    no character XML forbids; returns the text of its <text> elements."""
    text = svg.decode("utf-8")  # strict: a lone surrogate could not have been written
    assert not XML_FORBIDDEN.search(text)
    root = ET.fromstring(svg)  # raises if any token broke the XML
    for el in root.iter():
        tag = el.tag.split("}")[-1].lower()
        assert tag not in ("script", "foreignobject", "iframe", "img", "a", "use", "animate", "set"), el.tag
        for name, value in el.attrib.items():
            assert not name.split("}")[-1].lower().startswith("on"), (el.tag, name, value)
            assert "javascript:" not in value.lower(), (el.tag, name, value)
    lowered = text.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<svg onload" not in lowered
    texts = ["".join(el.itertext()) for el in root.iter(f"{SVG_NS}text")]
    # the only javascript: in the file is token text inside <text> elements
    assert lowered.count("javascript:") == sum(t.lower().count("javascript:") for t in texts)
    return texts


def check_all_formats(figure, tmp_path, name: str) -> list[str]:
    """Writes ``figure`` as SVG, PDF and PNG; checks each; returns the SVG's texts."""
    texts = check_svg(figure.save(tmp_path / f"{name}.svg").read_bytes())
    pdf = figure.save(tmp_path / f"{name}.pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")
    png = figure.save(tmp_path / f"{name}.png", dpi=72)
    assert png.read_bytes().startswith(PNG_SIGNATURE)
    return texts


def shows(text: str, label: str) -> bool:
    """``text`` is ``label``, or a prefix of it shortened with an ellipsis to fit its place."""
    return text == label or (len(text) > 1 and text.endswith("\u2026") and label.startswith(text[:-1]))


def assert_every_token_shown(texts: list[str], tokens=TOKENS, chars: int = 24) -> None:
    for name, token in zip(NAMES, tokens):
        label = shown(token, chars)
        assert any(shows(t, label) for t in texts), (name, label)


# -- the corpus itself ---------------------------------------------------------------------------


def test_the_corpus_covers_the_issue():
    assert len(set(NAMES)) == len(NAMES) and len(TOKENS) >= 30
    joined = "".join(TOKENS)
    for needle in ("<script>", "onerror=", "onload=", "</text></svg>", "&amp;", "]]>", "<!--", "<?xml", "\u202e",
                   "\u2066", "\u2067", "\u2068", "\u2069", "\u200b", "\u200d", "\ufeff", "\u0301" * 20,
                   "\U0001f469\u200d\U0001f4bb", "\U0001d54f", "\x00", "\x07", "\x1b", "<0xE2>", "1e309", "-0",
                   "NaN", "}body{", "javascript:", "expression(", "\ud800"):
        assert needle in joined, needle
    assert max(map(len, TOKENS)) >= 10_000


def test_drawable_keeps_text_and_replaces_only_what_cannot_be_written():
    assert drawable("a\x00b\x07\x1b") == "a[U+0000]b[U+0007][U+001B]"
    assert drawable("tab\tnew\nline\r") == "tab\tnew\nline\r"  # XML allows these three
    assert drawable("x\ud800y\udfff") == "x\ufffdy\ufffd"
    assert drawable("\ufeffbom\ufffe\uffff") == "\u2060bom\ufffd\ufffd"
    for token in TOKENS:
        if not XML_FORBIDDEN.search(token) and "\ufeff" not in token:
            assert drawable(token) == token  # everything else is left exactly as it is


# -- static figures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def attention_view():
    return lx.AttentionView.from_result(toy_result(SOURCE, n_layers=1, n_heads=2), layer=0, head=1)


def test_attention_matrix_in_every_format(attention_view, tmp_path):
    texts = check_all_formats(attention_view.figure(title="<b>title</b> \x07"), tmp_path, "matrix")
    assert_every_token_shown(texts)
    for token in TOKENS:  # a row label and a column label each
        assert texts.count(shown(token)) >= 2, token
    assert "<b>title</b> [U+0007]" in texts  # the title is data too
    assert "x\ufffdy" in texts  # the lone surrogate drawn as the replacement character
    assert "x" * 23 + "\u2026" in texts  # the 10,000-character token, shortened


def test_attention_head_view_in_every_format(tmp_path):
    view = lx.AttentionView.from_result(toy_result(SOURCE, n_layers=1, n_heads=2), layer=0, head=0, mode="head")
    texts = check_all_formats(view.figure(), tmp_path, "head")
    assert_every_token_shown(texts)


def test_attribution_text_heatmap_and_matrix_in_every_format(tmp_path):
    scores = np.random.default_rng(0).normal(size=len(SOURCE))
    texts = check_all_formats(text_heatmap_figure(SOURCE, scores, target=len(SOURCE) - 1), tmp_path, "text")
    # the text heatmap shows a token of spaces as spaces; no corpus token is all spaces
    assert_every_token_shown(texts)
    targets = list(range(1, len(SOURCE)))
    matrix = np.random.default_rng(1).normal(size=(len(targets), len(SOURCE)))
    texts = check_all_formats(attribution_matrix_figure(matrix, SOURCE, targets, options=FigureOptions(
        colormap="RdBu_r", title="&lt; ]]>")), tmp_path, "attribution")
    assert_every_token_shown(texts)
    assert "&lt; ]]>" in texts


def logit_lens_result(n_layers: int = 3) -> LogitLensResult:
    n, k = len(SOURCE), 2
    rng = np.random.default_rng(2)
    probs = np.sort(rng.random((n_layers + 1, n, k)).astype(np.float32), axis=-1)[..., ::-1] / 2
    # every cell's top token is a corpus token, and so is every followed token
    top_text = np.empty((n_layers + 1, n, k), dtype=object)
    for i in range(n_layers + 1):
        for j in range(n):
            top_text[i, j] = [TOKENS[(i * n + j) % len(TOKENS)], TOKENS[(j + 1) % len(TOKENS)]]
    return LogitLensResult(
        tokens=tokens_of(SOURCE), layers=[-1, *range(n_layers)], positions=np.arange(n),
        top_ids=np.zeros((n_layers + 1, n, k), np.int64), top_text=top_text, top_probs=probs,
        top_logits=probs.copy(), target_ids=np.zeros(n, np.int64), target_text=[SOURCE[(j + 1) % n] for j in range(n)],
        target_probs=probs[:, :, 0].copy(), target_ranks=np.zeros((n_layers + 1, n), np.int64), model_name="toy",
        n_model_layers=n_layers,
    )


def test_logit_lens_in_every_format(tmp_path):
    result = logit_lens_result()
    texts = check_all_formats(logit_lens_figure(result, selected=len(SOURCE) - 1), tmp_path, "lens")
    joined = "\n".join(texts)
    assert_every_token_shown(texts)  # column headers and cells are shortened to fit: their prefix is there
    # the chart's title quotes the last token (the lone surrogate) and the token followed after it
    assert "\u201cx\ufffdy\u201d" in joined
    for j in range(len(SOURCE)):  # each position's followed token in the chart of that position (SVG only)
        chart = check_svg(logit_lens_figure(result, selected=j).to_bytes("svg"))
        assert f"\u201c{shown(result.target_text[j], 16)}\u201d" in "\n".join(chart), j


@pytest.mark.parametrize("name, token", HOSTILE, ids=NAMES)
def test_contributions_caption_shows_the_token_and_its_target(name, token, tmp_path):
    n_layers, n_heads = 2, 2
    rng = np.random.default_rng(3)
    heads = rng.normal(size=(n_layers, n_heads)).astype(np.float32)
    bias = np.zeros(n_layers, np.float32)
    result = ContributionResult(
        tokens=tokens_of(["<s>", token]), position=1, target_id=0, target_text=token, logit=0.0, embed=0.5,
        attention=heads.sum(1) + bias, heads=heads, attention_bias=bias,
        mlp=rng.normal(size=n_layers).astype(np.float32), constant=0.0, norm_scale=1.0, model_name="toy",
    )
    figure = contributions_figure(result)
    svg = figure.to_bytes("svg")
    caption = check_svg(svg)[0]
    assert caption.count(f"\u201c{shown(token)}\u201d") == 2, (name, caption)  # the target and the token before it
    if name in ("nul", "lone-surrogate", "bom", "script", "long"):  # the other formats for the worst ones
        check_all_formats(figure, tmp_path, name)


def neuron_result(n_layers: int = 2, n_neurons: int = 8, top_k: int = 3) -> NeuronResult:
    acts = np.random.default_rng(4).normal(size=(n_layers, len(SOURCE), n_neurons)).astype(np.float32)
    top = np.argsort(-acts, axis=-1)[..., :top_k]
    return NeuronResult(tokens=tokens_of(SOURCE), layers=list(range(n_layers)), activations=acts, top=top,
                        top_k=top_k, model_name="toy", n_model_layers=n_layers, layers_done=list(range(n_layers)),
                        complete=True)


@pytest.fixture(scope="module")
def neuron_view():
    return lx.NeuronView.from_result(neuron_result())


@pytest.mark.parametrize("mode", ["neurons", "top", "neuron"])
def test_neuron_figures_in_every_format(neuron_view, mode, tmp_path):
    kwargs = {"neuron": 3} if mode == "neuron" else {}
    texts = check_all_formats(neuron_view.figure(mode, **kwargs), tmp_path, mode)
    assert_every_token_shown(texts)


# -- standalone HTML -----------------------------------------------------------------------------

MARKUP = re.compile("[<>&\"'\u0000-\u001f]")


def check_html(page: str, parts: int = 1) -> tuple[dict, dict]:
    """The page's only scripts are its own (state, extras of each of its ``parts`` views, host); no
    token text appears outside the JSON elements unescaped; returns the parsed state and the first
    extras."""
    page.encode("utf-8")  # strict: no lone surrogate
    parsed = Page(page)
    assert [attrs.get("type") for attrs, _ in parsed.scripts] == [STATE_MIME, *["application/json"] * parts, "module"]
    assert [tag for tag, _ in parsed.tags if tag in ("img", "svg", "iframe", "object", "embed", "link")] == []
    for tag, attrs in parsed.tags:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
    state_json = parsed.script(STATE_MIME)
    extras = [text for attrs, text in parsed.scripts if attrs.get("type") == "application/json"]
    extras_json = extras[0]
    for text in (state_json, *extras):  # JSON that cannot end its element or open a comment
        assert "<" not in text and ">" not in text and "&" not in text
    # the page outside its three scripts: token text there only as escaped text (the title)
    outside = re.sub(r"(<script[^>]*>).*?(</script>)", r"\1\2", page, flags=re.S)
    assert outside.count("<script") == 2 + parts
    for name, token in HOSTILE:
        if MARKUP.search(token):
            assert token not in outside, name
    assert "<svg" not in page and "<img" not in page  # "onerror=alert(1)" may be there, as escaped title text
    return json.loads(state_json), json.loads(extras_json)


def test_attention_html_keeps_tokens_as_data(attention_view):
    state, extras = check_html(to_html(attention_view))
    tokens = state["state"][attention_view.model_id]["state"]["tokens"]
    assert tokens == [utf8_safe(t) for t in SOURCE]  # exact text, the lone surrogate as U+FFFD
    assert tokens[NAMES.index("lone-surrogate") + 1] == "x\ufffdy"
    assert tokens[NAMES.index("long") + 1] == TOKENS[NAMES.index("long")]  # the long token whole
    assert extras["parts"]["self"]["traits"]["tokens"] == tokens


def test_attention_html_title_from_hostile_tokens_is_escaped(attention_view):
    page = to_html(attention_view, title="<script>alert(1)</script>\ud800")
    check_html(page)
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;\ufffd</title>" in page


def test_neuron_html_keeps_tokens_as_data(neuron_view):
    state, _extras = check_html(to_html(neuron_view))
    assert state["state"][neuron_view.model_id]["state"]["tokens"] == [utf8_safe(t) for t in SOURCE]


# -- PDF text ------------------------------------------------------------------------------------


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (Debian poppler-utils) is not installed")
def test_pdf_keeps_the_tokens_as_text(attention_view, tmp_path):
    path = attention_view.figure().save(tmp_path / "matrix.pdf")
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True).stdout
    for name, token in HOSTILE:
        label = shown(token)
        if label.isascii() and label.isprintable():  # what any extractor gives back unchanged
            assert label in text, (name, label)
    assert "[U+0000]" in text and "[U+202E]evil" in text
