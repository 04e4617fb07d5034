"""Many views of one model at once (issue 16), as a notebook makes them: each view computes in
its own background thread, the model's lock keeps them from mixing their hooks, so every view
ends equal to the same view computed alone; a cancelled view frees its work (its thread ends,
the lock is free, the view and its arrays are collected once closed); a cancelled attribution
keeps its finished rows as a partial result that says it is partial; two models compute side by
side, each under its own lock."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import numpy as np
import pytest
import traitlets

import llmxai_widgets as lx
from llmxai_widgets.wire import decode

TEXTS = [
    "The capital of France is",
    "The cat sat on the mat because it",
    "Water boils at one hundred degrees",
    "She opened the door and saw",
]

# 20 views of five kinds, on different texts and settings, all of the bundled model
SPECS = [
    *[(lx.AttentionView, (TEXTS[i % 4],), {"layer": 2 + i, "head": i % 9}) for i in range(4)],
    *[(lx.AttributionView, (TEXTS[i % 4],), {"method": m}) for i, m in enumerate(
        ["saliency", "input_x_gradient", "saliency", "input_x_gradient"])],
    *[(lx.LogitLensView, (TEXTS[i % 4],), {"top_k": 3 + i}) for i in range(4)],
    *[(lx.NeuronView, (TEXTS[i % 4],), {"layers": [i, 10 + i]}) for i in range(4)],
    *[(lx.ContributionView, (TEXTS[i % 4],), {"position": -1 - (i % 2)}) for i in range(4)],
]
IGNORED = {"widget_id", "_esm", "_css", "_anywidget_id", "layout", "_dom_classes", "tabbable", "tooltip"}


def _state(view) -> dict:
    """What the view shows: its synced traits, bytes compared as bytes."""
    state = {}
    for key, value in view.get_state().items():
        if key in IGNORED:
            continue
        state[key] = _plain(value)
    return state


def _plain(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _differences(a: dict, b: dict) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def test_twenty_views_at_once_each_equal_to_the_view_alone(smollm2):
    alone = [_state(cls(smollm2, *args, background=False, **kw)) for cls, args, kw in SPECS]
    for state in alone:
        assert state["status"] == "ready", state["error"]

    start = time.monotonic()
    views = [cls(smollm2, *args, background=True, **kw) for cls, args, kw in SPECS]
    running = sum(view.status == "computing" for view in views)
    for view in views:
        assert view.wait(120), f"{type(view).__name__} did not finish"
    for (cls, args, kw), view, expected in zip(SPECS, views, alone):
        got = _state(view)
        assert got["status"] == "ready", (cls.__name__, got["error"])
        assert not _differences(got, expected), \
            f"{cls.__name__}{args}{kw} computed beside 19 others differs from alone in {_differences(got, expected)}"
    assert running >= 10, f"only {running} of 20 views were still computing when the last started: no overlap"
    assert time.monotonic() - start < 60
    for view in views:
        view.close()


def test_a_cancelled_view_frees_its_work_and_the_others_stay_correct(smollm2):
    """Five of twelve views are cancelled as they start and closed: their threads end, the
    model's lock is free, the views and their arrays are collected; the seven others finish equal
    to the same views computed alone."""
    keep = [(lx.LogitLensView, (TEXTS[i % 4],), {"top_k": 4}) for i in range(4)] + \
           [(lx.AttentionView, (TEXTS[i],), {"layer": 5}) for i in range(3)]
    alone = [_state(cls(smollm2, *args, background=False, **kw)) for cls, args, kw in keep]

    views, doomed = [], []
    for i in range(12):
        if i % 2 and len(doomed) < 5:
            doomed.append(lx.AttributionView(smollm2, TEXTS[i % 4], generate=3, method="integrated_gradients",
                                             n_steps=8, batch=1, background=True))
        else:
            cls, args, kw = keep[len(views)]
            views.append(cls(smollm2, *args, background=True, **kw))
    for view in doomed:
        view.cancel()
    for view in doomed:
        assert view.wait(60), "a cancelled view kept computing"
        assert view.status == "cancelled"
    threads = [view._thread for view in doomed]
    refs = [weakref.ref(view) for view in doomed]
    arrays = [weakref.ref(view._result.scores) for view in doomed if view._result is not None]
    for view in doomed:
        view.close()
    del view, doomed
    gc.collect()
    assert not any(t.is_alive() for t in threads)
    alive = [ref() for ref in refs if ref() is not None]
    assert not alive, (f"{len(alive)} closed, cancelled views are still referenced by "
                       f"{[type(r).__name__ for r in gc.get_referrers(alive[0]) if r is not alive]}")
    assert all(ref() is None for ref in arrays), "a closed view's arrays are still alive"

    for (cls, _args, _kw), view, expected in zip(keep, views, alone):
        assert view.wait(120)
        got = _state(view)
        assert not _differences(got, expected), f"{cls.__name__} differs from alone in {_differences(got, expected)}"
        view.close()
    free = []
    waiter = threading.Thread(target=lambda: free.append(smollm2.lock.acquire(timeout=5) and smollm2.lock.release() is None))
    waiter.start()
    waiter.join()
    assert free == [True], "the model's lock is still held after every view ended"


def test_a_cancelled_attribution_keeps_its_finished_rows_as_a_partial_result(smollm2):
    """Cancel after the first of three rows, while other views compute: the row stays, as a
    result marked partial (view.result, notes, progress label, static figure), equal to the
    same row of the whole computation."""
    prompt = TEXTS[0]

    class CancelAfterOne(lx.AttributionView):
        @traitlets.observe("rows_done")
        def _press_cancel(self, change):
            if change["new"] == 1 and self.status == "computing":
                self.cancel()  # a person presses Cancel once the first row is drawn

    others = [lx.LogitLensView(smollm2, text, background=True) for text in TEXTS[1:]]
    # batch=1: integrated gradients takes one target per set of passes, so rows come one by one
    options = {"generate": 3, "method": "integrated_gradients", "n_steps": 4, "batch": 1}
    view = CancelAfterOne(smollm2, prompt, background=True, **options)
    assert view.wait(60)
    assert view.status == "cancelled" and view.rows_done == 1
    assert "1 of 3 target rows kept" in view.progress_label
    result = view.result
    assert result is not None, "the finished row was lost: view.result is None after Cancel"
    assert result.complete is False
    assert any("partial" in note for note in view.notes) and view.notes == result.notes
    whole = lx.attribute(smollm2, prompt, **options)
    n = result.target_positions[0]
    np.testing.assert_allclose(result.scores[0, :n], whole.scores[0, :n], rtol=1e-4, atol=1e-5)
    assert np.isnan(result.scores[1:]).all()
    np.testing.assert_array_equal(decode(view.scores), result.scores)
    figure = view._static_figure()
    assert figure is not None and "partial" in figure.svg()
    for other in others:
        assert other.wait(60) and other.status == "ready"


def test_two_models_side_by_side_each_under_its_own_lock(smollm2, tiny_gpt2):
    assert smollm2.lock is not tiny_gpt2.lock
    specs = [(lx.LogitLensView, {"top_k": 3}), (lx.AttentionView, {"layer": 1, "head": 2}),
             (lx.ContributionView, {}), (lx.AttributionView, {"method": "saliency"})]
    alone = {(m.name, cls): _state(cls(m, TEXTS[1], background=False, **kw))
             for m in (smollm2, tiny_gpt2) for cls, kw in specs}
    assert alone[(smollm2.name, lx.LogitLensView)]["tokens"] == alone[(tiny_gpt2.name, lx.LogitLensView)]["tokens"]

    views = [(m, cls, cls(m, TEXTS[1], background=True, **kw)) for cls, kw in specs for m in (smollm2, tiny_gpt2)]
    for m, cls, view in views:
        assert view.wait(120)
        got = _state(view)
        assert got["status"] == "ready", got["error"]
        assert not _differences(got, alone[(m.name, cls)]), f"{m.name} {cls.__name__}: {_differences(got, alone[(m.name, cls)])}"
        view.close()
    assert _state(views[0][2])["model_name"] != _state(views[1][2])["model_name"]

    # one model busy (its lock held) does not hold up the other
    with smollm2.lock:
        busy = lx.LogitLensView(smollm2, TEXTS[2], background=True)
        free = lx.LogitLensView(tiny_gpt2, TEXTS[2], background=True)
        assert free.wait(30), "a view of the tiny model waited for the bundled model's lock"
        assert free.status == "ready" and busy.status == "computing"
    assert busy.wait(60) and busy.status == "ready"


@pytest.fixture(autouse=True)
def _no_thread_left():
    """Every view's thread ends with its test (a computing one would slow the tests after it)."""
    yield
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not [t for t in threading.enumerate() if t.daemon and t.name.startswith("Thread-")
                and "_run" in repr(getattr(t, "_target", ""))]:
            return
        time.sleep(0.1)
