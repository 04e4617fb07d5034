"""Saved pages of the views tests/browser/test_hostile_browser.py does not open (causal tracing,
activation patching, circuits, probing, steering, editing, evaluation, the explorer), each built on
the tiny model that reads every corpus token as one token (tests/hostile_views.py), opened from
file:// in Chromium with no kernel: no payload runs (``window.__pwned`` stays unset, no dialog), no
markup gets live, every text and tooltip in the views is free of raw bidi, zero-width and control
characters and of the 10,000-character token, the corpus reads as the display rule shows it where
the view names tokens, and the page logs no error."""

from __future__ import annotations

import json

from lab_hostile import TRAP
from lab_standalone import open_file
from llmxai_widgets.figures import display_token
from test_hostile_browser import assert_nothing_ran, assert_readable, assert_spans

import hostile_views as hv
from hostile_views import MODEL_TOKENS

# Every text node, tooltip and menu entry inside the views (the saved page draws them in its own DOM).
_TEXTS_JS = """() => {
  const out = [];
  for (const root of document.querySelectorAll('.lxw-root')) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode())
      if (!n.parentElement.closest('style, script')) out.push(n.textContent);
    for (const e of root.querySelectorAll('[title]')) out.push(e.getAttribute('title'));
    for (const e of root.querySelectorAll('canvas[data-title]')) out.push(e.dataset.title);  // a chart's title
  }
  return out;
}"""

READY = {
    "trace": ".lxw-locate-summary div",
    "patching": ".lxw-locate-summary div",
    "circuit": ".lxw-circuit-detail .lxw-tok",
    "probe": ".lxw-probe-wrong .lxw-probe-text",
    "steering": ".lxw-steer-col .lxw-tok",
    "edit": ".lxw-edit-gen .lxw-edit-text",
    "evaluation": ".lxw-eval-table td",
    "explorer": ".lxw-explorer .lxw-strip .lxw-tok",
}


def quoted_repr(token: str, chars: int = 24) -> str:
    return repr(display_token(token, chars))


def check_view(page, name: str, view) -> None:
    """What each view says about its tokens, as the display rule shows them."""
    if name == "trace":
        summary = page.locator(".lxw-locate-summary").inner_text()
        assert quoted_repr(hv.subject_text(), 40) in summary and quoted_repr(hv.token(hv.TARGET)) in summary, summary
    elif name == "patching":
        summary = page.locator(".lxw-locate-summary").inner_text()
        for answer in hv.ANSWERS:
            assert quoted_repr(hv.token(answer)) in summary, summary
    elif name == "circuit":
        assert_spans(page.locator(".lxw-circuit-detail"), MODEL_TOKENS, "circuit node")
    elif name == "probe":
        shown = page.locator(".lxw-probe-wrong .lxw-probe-text").all_inner_texts()
        assert shown == [display_token(w["text"], 200) for w in view.detail["wrong"]], shown[:3]
        heads = page.locator(".lxw-probe-confusion th").all_inner_texts()
        assert [display_token(c, 18) for c in hv.PROBE_CLASSES] == heads[1:3], heads
    elif name == "steering":
        assert_spans(page.locator(".lxw-steer-prompt"), MODEL_TOKENS, "steering prompt")
        generated = [t for column in view.result.tokens for t in column]
        assert_spans(page.locator(".lxw-steer-grid"), generated, "steering columns")
    elif name == "edit":
        prompts = page.locator(".lxw-edit-table tr[data-kind] td:nth-child(2)").all_inner_texts()
        assert prompts == [display_token(r["prompt"], 200) for r in view.rows], prompts
        outputs = page.locator(".lxw-edit-gen .lxw-edit-text").all_inner_texts()
        assert outputs == [display_token(g[w], 400) for g in view.generations for w in ("before", "after")], outputs
        summary = page.locator(".lxw-edit-summary").inner_text()
        assert f"\u201c{display_token(view.subject, 40)}\u201d" in summary, summary
    elif name == "evaluation":
        note = page.locator(".lxw-eval").first.inner_text()
        assert json.dumps(display_token(hv.token(hv.TARGET), 30), ensure_ascii=False) in note, note
    else:
        assert_spans(page.locator(".lxw-explorer .lxw-strip"), MODEL_TOKENS, "explorer strip")


def test_saved_pages_of_the_other_views_keep_tokens_as_text(browser, tmp_path, artifacts):
    views = {name: build() for name, build in hv.BUILDERS.items()}
    views["circuit"].picked = 1  # a node's detail names every token
    views["circuit"].wait()
    views["explorer"] = hv.explorer()
    for name, view in views.items():
        opened = open_file(browser, view.save(tmp_path / f"{name}.html"), ready=READY[name], init_script=TRAP)
        page = opened.page
        page.set_viewport_size({"width": 1200, "height": 1000})
        assert_readable(page.locator("h1").inner_text(), f"{name} heading")
        texts = page.evaluate(_TEXTS_JS)
        assert len(texts) > 20, (name, texts)
        for text in texts:
            assert_readable(text, name)
        check_view(page, name, view)
        # no token text runs the page wider than the window (a 200-character prompt with no space in it)
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (name, width)
        if name in ("edit", "probe", "steering", "trace"):
            page.screenshot(path=str(artifacts / f"hostile-saved-{name}.png"), full_page=True)
        assert_nothing_ran(page)
        opened.assert_clean()
        page.context.close()
