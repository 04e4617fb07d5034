"""The hostile-token corpus through the views tests/test_hostile_exports.py does not reach: causal
tracing, activation patching, circuits, probing (the texts of its mistakes), steering (the
prompt and what it generates), editing (prompt, subject, outputs), evaluation and the explorer.
Each is built on a tiny model whose vocabulary holds every corpus token as one token
(tests/hostile_views.py), then written as SVG, PDF, PNG and standalone HTML, and drawn as the
static figure a notebook keeps: no markup gets live, no raw control character reaches XML, and
every token reads as the display rule shows it (possibly shortened to fit).

The lone surrogate is not here: a tokenizer cannot hold it (tests/test_hostile_exports.py
carries it through results made by hand)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import pytest

from llmxai_widgets.figures import display_token
from llmxai_widgets.figures.figure import drawable
from llmxai_widgets.widgets.export_html import to_html

import hostile_views as hv
from hostile_views import MODEL_TOKENS, TEXT
from test_hostile_exports import PNG_SIGNATURE, check_all_formats, check_html, check_svg, shown, shows

PAYLOADS = [t for t in MODEL_TOKENS if "pwned" in t or "<style>" in t]


def assert_shown(texts: list[str], tokens, chars: int = 24, what: str = "") -> None:
    """Every one of ``tokens`` has a text reading as the display rule shows it (or its start, cut
    with an ellipsis to fit); a "*" before a label marks it (the corrupted tokens)."""
    labels = [t[1:] if t.startswith("*") and len(t) > 1 else t for t in texts]
    for token in tokens:
        label = shown(token, chars)
        assert any(shows(t, label) for t in labels), (what, label)


def assert_quoted(joined: str, token: str, chars: int = 24) -> None:
    """A sentence quotes ``token`` as the display rule shows it (Python's quotes around it)."""
    assert drawable(repr(display_token(token, chars))) in joined, (display_token(token, chars), joined[:300])


def assert_short(texts: list[str]) -> None:
    """No text of a figure runs on: the 10,000-character token is shortened everywhere."""
    assert max(map(len, texts)) < 400, max(texts, key=len)[:200]


def check_page(view) -> dict:
    """The standalone page keeps every token as data (the payloads too); returns the widgets' states."""
    page = to_html(view)
    state, _extras = check_html(page)
    outside = re.sub(r"(<script[^>]*>).*?(</script>)", r"\1\2", page, flags=re.S)
    for token in PAYLOADS:
        assert token not in outside, token
    return state["state"]


def check_static(view) -> None:
    """The static figure a notebook keeps for GitHub and nbconvert: a PNG in an <img>, nothing else."""
    bundle = view._static_bundle()
    html = bundle["text/html"]
    assert re.fullmatch(r'<img alt="[^"<>]*" width="\d+" src="data:image/png;base64,[A-Za-z0-9+/=]+">', html), html[:200]
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_SIGNATURE)


@pytest.fixture(scope="module")
def views():
    return {name: build() for name, build in hv.BUILDERS.items()}


def test_the_model_reads_the_corpus_as_tokens(views):
    assert list(hv.hostile_tiny().tokenize(TEXT).text) == MODEL_TOKENS
    assert all(view.status == "ready" and view.error == "" for view in views.values()), \
        {n: (v.status, v.error) for n, v in views.items()}


@pytest.mark.parametrize("name", ["trace", "patching"])
def test_locate_views_in_every_format(views, name, tmp_path):
    view = views[name]
    texts = check_all_formats(view.figure(), tmp_path, name)
    assert_shown(texts, MODEL_TOKENS, what=name)  # a row per token, the corrupted ones marked
    assert_short(texts)
    joined = "\n".join(texts)
    if name == "trace":  # the target and the corrupted subject (from the override to the long token) quoted
        assert_quoted(joined, hv.token(hv.TARGET))
        assert_quoted(joined, hv.subject_text(), 40)
        assert f"p({display_token(hv.token(hv.TARGET))!r})" == view.value_label
    else:  # the two answers, and what the corrupted prompt has instead
        for answer in hv.ANSWERS:
            assert_quoted(joined, hv.token(answer))
        for _, instead in hv.SWAPS:
            assert f"{display_token(hv.token(instead))!r}" in view.summary[0]
    assert all(len(line) < 400 for line in view.summary), view.summary  # the view's own summary too
    state = check_page(view)[view.model_id]["state"]
    assert state["tokens"] == MODEL_TOKENS  # the page carries the exact text (the long token whole)
    check_static(view)


def test_circuit_in_every_format(views, tmp_path):
    view = views["circuit"]
    check_all_formats(view.figure(), tmp_path, "circuit")
    view.picked = 1  # a node's detail: its effect per token (the page holds it)
    view.wait()
    state = check_page(view)[view.model_id]["state"]
    assert state["tokens"] == MODEL_TOKENS
    check_static(view)


def test_probe_mistakes_show_the_texts_as_text(views, tmp_path):
    view = views["probe"]
    result = view.result
    wrong = result.wrong(3)
    assert len(wrong) >= 5
    texts = check_all_formats(view.figure(wrong=len(wrong)), tmp_path, "probe")
    assert_shown(texts, hv.PROBE_CLASSES, 18, "confusion")  # the class names: hostile too
    assert_short(texts)
    for w in wrong:  # each mistake's text, under the display rule, shortened to fit
        label = drawable(display_token(w["text"], 200))
        assert any(shows(t, label) for t in texts), label
    state = check_page(view)[view.model_id]["state"]
    assert state["classes"] == list(hv.PROBE_CLASSES)
    assert [w["text"] for w in state["detail"]["wrong"]] == [w["text"] for w in wrong[:50]]
    check_static(view)


def test_steering_shows_the_prompt_and_what_it_generates(views, tmp_path):
    view = views["steering"]
    texts = check_all_formats(view.figure(), tmp_path, "steering")
    assert_shown(texts, MODEL_TOKENS, what="prompt")
    generated = [t for column in view.result.tokens for t in column]
    assert set(generated) & set(MODEL_TOKENS), generated  # the model writes corpus tokens
    assert_shown(texts, generated, what="generated")
    assert_short(texts)
    joined = "\n".join(texts)
    for concept in view.concept:
        assert_quoted(joined, concept)
    state = check_page(view)[view.model_id]["state"]
    assert state["prompt"] == TEXT
    check_static(view)


def test_edit_shows_prompt_subject_and_outputs(views, tmp_path):
    view = views["edit"]
    texts = check_all_formats(view.figure(), tmp_path, "edit")
    assert_short(texts)
    joined = "\n".join(texts)
    for token in (view.subject, view.old_target, view.new_target):
        assert f"\u201c{display_token(token, 24)}"[:12] in joined, display_token(token, 24)
    for row in view.rows:  # each prompt, under the display rule, shortened to fit
        label = drawable(display_token(row["prompt"], 200))
        assert any(shows(t, label) for t in texts), label
    for g in view.generations:
        for words in (g["before"], g["after"]):
            label = drawable(display_token(" ".join(words.split()), 400))
            assert any(shows(t, label) for t in texts), label
    assert any(t in g["before"] + g["after"] for g in view.generations for t in MODEL_TOKENS)  # corpus tokens out
    for text in texts:  # no raw bidi, zero-width or control character from a prompt or an output
        assert not re.search("[\u200b\u200c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]", text), ascii(text)
    state = check_page(view)[view.model_id]["state"]
    assert state["subject"] == hv.subject_text()
    check_static(view)


def test_evaluation_in_every_format(views, tmp_path):
    view = views["evaluation"]
    texts = check_all_formats(view.figure(), tmp_path, "evaluation")
    assert_short(texts)
    assert_quoted("\n".join(texts), hv.token(hv.TARGET), 30)
    state = check_page(view)[view.model_id]["state"]
    assert state["tokens"] == [*MODEL_TOKENS, hv.token(hv.TARGET)] and state["target_labels"] == [hv.token(hv.TARGET)]
    check_static(view)


def test_explorer_figure_and_page(tmp_path):
    explorer = hv.explorer()
    texts = check_svg(explorer.save(tmp_path / "explorer.svg").read_bytes())  # the open view's figure
    assert_shown(texts, MODEL_TOKENS, what="explorer")
    assert explorer.save(tmp_path / "explorer.pdf").read_bytes().startswith(b"%PDF-")
    assert explorer.save(tmp_path / "explorer.png", dpi=72).read_bytes().startswith(PNG_SIGNATURE)
    page = explorer.save(tmp_path / "explorer.html").read_text(encoding="utf-8")
    tabs = len(explorer.strip.tabs)
    state, _ = check_html(page, parts=1 + tabs)
    outside = re.sub(r"(<script[^>]*>).*?(</script>)", r"\1\2", page, flags=re.S)
    for token in PAYLOADS:
        assert token not in outside, token
    assert state["state"][explorer.strip.model_id]["state"]["tokens"] == MODEL_TOKENS
    check_static(explorer.view(explorer.strip.tab))


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (Debian poppler-utils) is not installed")
def test_pdf_keeps_the_tokens_as_text(views, tmp_path):
    """The trace's row labels and the steering prompt, read back from the PDFs."""
    for name in ("trace", "steering"):
        path = views[name].figure().save(tmp_path / f"{name}.pdf")
        text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True).stdout
        for token in MODEL_TOKENS:
            label = shown(token)
            if label.isascii() and label.isprintable():  # what any extractor gives back unchanged
                assert label in text, (name, label)
        assert "[U+202E]evil" in text and "a[U+0000]b" in text, name
