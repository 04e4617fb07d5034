"""AttributionView's Python side: rows stream in, the method menu recomputes, cancel keeps rows,
figures, errors."""

from __future__ import annotations


import numpy as np
import pytest
import traitlets

import llmxai_widgets as lx
from llmxai_widgets.figures import display_token
from llmxai_widgets.methods.attention import Cancelled
from llmxai_widgets.wire import decode

PROMPT = "The capital of France is"


def test_rows_stream_in_and_match_attribute(smollm2):
    seen = []

    class Watching(lx.AttributionView):
        @traitlets.observe("scores")
        def _rows(self, change):
            seen.append(int(np.isfinite(decode(change["new"])).any(axis=1).sum()))

    view = Watching(smollm2, PROMPT, generate=3, method="input_x_gradient", background=False)
    assert view.status == "ready" and view.rows_done == 3 and len(view.targets) == 3
    assert seen[-1] == 3 and 1 in seen and 2 in seen, seen  # one row more each time
    direct = lx.attribute(smollm2, PROMPT, generate=3, method="input_x_gradient")
    np.testing.assert_allclose(decode(view.scores), direct.scores, rtol=1e-4, atol=1e-5, equal_nan=True)
    assert view.tokens == direct.tokens.text and view.group_ids["word"][-1] >= view.group_ids["word"][0]


def test_method_switch_recomputes_and_cancel_keeps_finished_rows(smollm2):
    view = lx.AttributionView(smollm2, PROMPT, generate=3, method="saliency", background=False)
    assert view.result.method == "saliency"
    view.method = "input_x_gradient"
    view.wait()
    assert view.result.method == "input_x_gradient" and view.status == "ready"

    class CancelAfterOne(lx.AttributionView):
        pressed = False

        @traitlets.observe("rows_done")
        def _press_cancel(self, change):
            if change["new"] == 1 and self.status == "computing" and not self.pressed:
                self.pressed = True  # a person presses Cancel once
                self.cancel()

    # batch=1: integrated gradients takes one target per set of passes, so rows stream in one by one
    cancelled = CancelAfterOne(smollm2, PROMPT, generate=3, method="integrated_gradients", n_steps=8, batch=1,
                               background=False)
    assert cancelled.status == "cancelled" and "1 of 3 target rows kept" in cancelled.progress_label
    rows = decode(cancelled.scores)
    assert np.isfinite(rows[0, :5]).all() and np.isnan(rows[1:]).all()
    cancelled.method = "saliency"  # still usable: a new method runs
    cancelled.wait()
    assert cancelled.status == "ready" and cancelled.rows_done == 3


def test_figure_shows_the_selected_row(smollm2, tmp_path):
    view = lx.AttributionView(smollm2, PROMPT, target=" Paris", method="input_x_gradient", background=False)
    fig = view.figure(title="why Paris")
    texts = fig.texts
    for token in view.tokens[:5]:
        assert display_token(token).replace("\u2423", " ") in texts
    assert "why Paris" in texts and "input x gradient score" in texts
    assert fig.vmax == pytest.approx(float(np.nanmax(np.abs(view.result.row(0)))))
    for ext in ("svg", "pdf", "png"):
        assert view.save(tmp_path / f"a.{ext}").stat().st_size > 500
    view.level = "word"
    assert view.figure().vmax > 0


def test_bad_arguments_and_choices(smollm2):
    with pytest.raises(ValueError, match="unknown attribution method 'lrp'"):
        lx.AttributionView(smollm2, PROMPT, method="lrp")
    with pytest.raises(ValueError, match="text is empty"):
        lx.AttributionView(smollm2, "  ")
    view = lx.AttributionView(smollm2, PROMPT, method="saliency", background=False)
    with pytest.raises(traitlets.TraitError):
        view.level = "paragraph"
    assert "level must be one of 'token', 'word', 'sentence', 'turn'" in view.error
    with pytest.raises(traitlets.TraitError):
        view.selected = 4
    assert "out of range" in view.error
    view.method = "lrp"
    assert "unknown attribution method 'lrp'" in view.error and view.result.method == "saliency"


def test_matrix_figure_save_and_export_buttons(smollm2, tmp_path, svg_texts, press_export):
    view = lx.AttributionView(smollm2, PROMPT, generate=3, method="input_x_gradient", background=False)
    result = view.result
    fig = view.figure()  # a generation: the matrix is what the view draws under the text
    assert fig.vmax == pytest.approx(float(np.nanmax(np.abs(result.scores))))
    assert "input x gradient score" in fig.texts
    for position in view.targets:
        assert fig.texts.count(display_token(view.tokens[position])) >= 2  # a row and a column label
    assert view.figure("text", selected=2).vmax == pytest.approx(float(np.nanmax(np.abs(result.row(2)))))
    for ext in ("svg", "pdf", "png"):
        assert view.save(tmp_path / f"m.{ext}", view="matrix").stat().st_size > 500
    with pytest.raises(ValueError, match="view must be one of 'text', 'matrix'"):
        view.figure("grid")
    saved = view.save(tmp_path / "m.html").read_text(encoding="utf-8")  # a standalone page (tests/test_saved_pages.py)
    assert '"kind":"attribution"' in saved and '"method":"input_x_gradient"' in saved

    kind, answer, [data] = press_export(view, format="svg", theme="dark", view="matrix", window={"q0": 1, "nq": 2, "k0": 0, "nk": 7})
    assert kind == "export" and answer["ok"] and answer["name"] == f"attribution-{view.model_name}-input_x_gradient-matrix.svg"
    texts = svg_texts(data)
    assert display_token(view.tokens[view.targets[1]]) in texts and "#111111" in data.decode()  # dark background
    kind, answer, [data] = press_export(view, format="png", theme="light", view="text", selected=1)
    assert answer["name"].endswith("-target1.png") and data[:8] == b"\x89PNG\r\n\x1a\n"
    _, answer, buffers = press_export(view, format="pdf", view="text")
    assert not answer["ok"] and not buffers and "offer svg and png, not 'pdf'" in view.error
    assert view.result is result and view.status == "ready"  # a failed export loses nothing


def test_single_target_has_no_matrix(smollm2, press_export):
    view = lx.AttributionView(smollm2, PROMPT, target=" Paris", method="saliency", background=False)
    assert view.figure().texts == view.figure("text").texts  # one target: the text is what the view shows
    with pytest.raises(ValueError, match="the matrix needs more than one target row, and this attribution has 1 target"):
        view.figure("matrix")
    _, answer, _ = press_export(view, format="svg", theme="light", view="matrix")
    assert not answer["ok"] and "the matrix needs more than one target row" in view.error
    assert view.result.method == "saliency" and view.status == "ready"
