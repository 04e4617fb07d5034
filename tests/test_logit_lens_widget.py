"""LogitLensView's Python side: the wire payloads are the lens's arrays, only the window shown is
computed, the target box recomputes, figures escape token text, errors say what to fix (the
browser side: tests/browser/test_logit_lens_browser.py)."""

from __future__ import annotations

import io

import numpy as np
import pytest

import llmxai_widgets as lx
from llmxai_widgets.colors import to_rgb
from llmxai_widgets.figures import display_token
from llmxai_widgets.wire import decode

TEXT = "The capital of France is"
HOSTILE = "The tag </text><script>alert(1)</script> & <b> is"


def test_traits_carry_the_lens_as_binary_arrays(smollm2):
    view = lx.LogitLensView(smollm2, TEXT, top_k=4, background=False)
    direct = lx.logit_lens(smollm2, TEXT, top_k=4)
    assert view.status == "ready" and view.tokens == direct.tokens.text
    assert view.layer_labels == ["embed", *map(str, range(30))]
    assert (view.window_start, view.window_size, view.selected, view.target) == (0, 5, 4, "")
    for name in ("positions", "top_ids", "top_probs", "target_ids", "target_probs", "target_ranks"):
        trait = getattr(view, name)
        assert isinstance(trait["data"], bytes) and trait["dtype"] in ("int32", "float32"), name
        np.testing.assert_array_equal(decode(trait), getattr(direct, name), err_msg=name)
    assert decode(view.top_probs).shape == (31, 5, 4)
    for i in np.unique(direct.top_ids):
        assert view.vocab[str(int(i))] == smollm2.tokenizer.decode([int(i)])
    assert view.vocab[str(int(direct.target_ids[-1]))] == " Paris"


def test_long_texts_compute_and_send_only_the_window(smollm2):
    text = " ".join(f"word{i}" for i in range(120))
    view = lx.LogitLensView(smollm2, text, window=12, layers=["embed", 0, 15, 29], background=False)
    n = len(view.tokens)
    assert n > 200 and (view.window_start, view.window_size, view.selected) == (n - 12, 12, n - 1)
    assert decode(view.top_ids).shape == (4, 12, 5) and view.layer_labels == ["embed", "0", "15", "29"]
    np.testing.assert_array_equal(decode(view.positions), np.arange(n - 12, n))
    view.window_start = 30  # the view's slider: computes that window only
    np.testing.assert_array_equal(decode(view.positions), np.arange(30, 42))
    assert view.selected == 41  # the selected position moved into the window
    direct = lx.logit_lens(smollm2, text, layers=["embed", 0, 15, 29], positions=range(30, 42))
    np.testing.assert_allclose(decode(view.top_probs), direct.top_probs, rtol=1e-5)
    view.show(position=5)  # a position outside the window moves the window to it
    assert view.window_start <= 5 < view.window_start + 12 and view.selected == 5
    view.window_start = 10_000  # clamped to the text
    assert view.window_start == n - 12 and decode(view.positions)[-1] == n - 1


def test_the_target_box_recomputes_and_a_bad_target_keeps_the_picture(smollm2):
    view = lx.LogitLensView(smollm2, TEXT, background=False)
    before = view.result
    view.target = " Paris"  # what the view's target box sends
    assert view.result is not before and view.result.target_text == [" Paris"] * 5
    np.testing.assert_array_equal(decode(view.target_ids), [view.result.target_ids[0]] * 5)
    paris = view.result
    view.target = "Paris is"
    assert "cannot follow 'Paris is'" in view.error and "must be exactly one" in view.error
    assert view.target == " Paris" and view.result is paris  # reverted, nothing recomputed
    view.target = ""  # back to the model's own prediction at each position
    assert view.error == "" and view.result.target_text[-1] == " Paris" and view.result.target_text[0] != " Paris"
    with pytest.raises(ValueError, match="must be exactly one"):
        view.show(target="two words")


def test_constructor_errors_name_the_problem(smollm2):
    # the errors every target-following view shares: tests/test_view.py
    with pytest.raises(IndexError, match="layer 40 is out of range"):
        lx.LogitLensView(smollm2, TEXT, layers=[0, 40])
    with pytest.raises(ValueError, match="window must be a positive number"):
        lx.LogitLensView(smollm2, TEXT, window=0)
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        lx.LogitLensView(smollm2, TEXT, top_k=0)
    view = lx.LogitLensView(smollm2, TEXT, background=False)
    view.selected = 50
    assert "position 50 is out of range" in view.error and view.selected == 4


def test_figure_escapes_tokens_and_its_cells_are_the_colour_table(smollm2, tmp_path, svg_texts):
    from PIL import Image

    view = lx.LogitLensView(smollm2, HOSTILE, window=48, background=False)
    assert any("<" in t for t in view.tokens) and view.window_size == len(view.tokens)
    texts = svg_texts(view.figure().svg().encode())
    assert any("</" in t for t in texts) and any("><" in t for t in texts)  # markup kept as text
    for token in view.tokens:
        label = display_token(token)
        assert any(t == label or (t.endswith("\u2026") and label.startswith(t[:-1])) for t in texts), (token, texts)
    assert any(t.startswith("p(\u201c") for t in texts) and "probability of the top token" in texts
    for ext in ("svg", "pdf", "png"):
        assert view.save(tmp_path / f"lens.{ext}").stat().st_size > 1000
    saved = view.save(tmp_path / "lens.html").read_text(encoding="utf-8")  # a standalone page (tests/test_saved_pages.py)
    assert "<script>alert(1)" not in saved and '"kind":"lens"' in saved
    fig = view.figure(chart=False)
    png = np.asarray(Image.open(io.BytesIO(fig.png(dpi=72))).convert("RGB")).astype(int)
    result = view.result
    for row in (0, 10, 30):
        for col in range(len(result.positions)):
            # a corner of the cell, away from the token written in it
            got = png[int(fig.top + row * fig.cell_h + 2), int(fig.left + col * fig.cell_w + 2)]
            want = to_rgb(result.top_probs[row, col, 0], 0.0, 1.0, "viridis")
            assert np.abs(got - want).max() <= 3, (row, col, got, want)
    with pytest.raises(ValueError, match="selected position 99 is not in this result"):
        lx.figures.logit_lens.logit_lens_figure(result, selected=99)


def test_export_buttons_and_static_figure(smollm2, svg_texts, press_export):
    view = lx.LogitLensView(smollm2, TEXT, background=False)
    kind, answer, [data] = press_export(view, format="svg", theme="dark", log=True)
    assert answer["ok"] and answer["name"] == f"logit-lens-{view.model_name}-tokens0-4.svg"
    assert "#111111" in data.decode() and "1e-6" in svg_texts(data)  # dark theme, log-scale chart
    bundle = view._static_bundle()
    assert bundle["text/html"].startswith("<img") and bundle["image/png"]


def test_background_computation(smollm2):
    view = lx.LogitLensView(smollm2, TEXT, background=True)
    assert view.wait(60) and view.status == "ready" and view.result is not None
    view.window_size = 3
    assert view.wait(60) and decode(view.positions).tolist() == [0, 1, 2]
