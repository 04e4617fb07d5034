"""``Explorer.save("x.html")``: one offline page with the token strip and every view, linked as
in the notebook (the panes tell each other the token in focus through the page itself), each
view with what its own saved page embeds (``export_html.page_for``) within a share of
``max_bytes``."""

from __future__ import annotations

from .export_html import _default_title, page_for, render_page, script_json


def explorer_html(explorer, *, title: str | None = None, max_bytes: int = 40_000_000) -> str:
    """Compute every view of ``explorer`` (those not opened yet too), then write them into one
    page: the strip drives them with no kernel; its tabs show one view at a time."""
    tabs = [name for name, _ in explorer.strip.tabs]
    views = {name: explorer.view(name) for name in tabs}
    for view in views.values():
        view.wait()
        fill = getattr(view, "_fill_reads", None)  # the attention view's "heads that read a token"
        if fill is not None and not view.reads:
            fill()
    strip = page_for(explorer.strip, embed_all=False)
    share = max(1_000_000, (max_bytes - len(strip.render().encode("utf-8"))) // len(views))
    pages = {name: page_for(view, max_bytes=share) for name, view in views.items()}
    state = {"version_major": 2, "version_minor": 0,
             "state": {**strip.manager["state"], **{k: v for p in pages.values() for k, v in p.manager["state"].items()}}}
    parts = [(strip.model_id, script_json(None), {})]
    parts += [(page.model_id, script_json(page.extras), {"tab": name}) for name, page in pages.items()]
    note = ("Exported from llmxai_widgets; this page works offline and needs no Python. Click a token (or use the "
            "arrow keys in the strip) and every view follows; the tabs switch views.")
    skipped = [p.note.split("needs no Python.", 1)[-1].strip() for p in pages.values()]
    note += "".join(f" {n}" for n in skipped if n)
    heading = title if title is not None else _default_title(explorer.strip).replace("ExplorerStrip", "Explorer")
    return render_page(heading, note, strip.host, script_json(state), parts)


__all__ = ["explorer_html"]
