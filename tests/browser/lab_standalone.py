"""Standalone HTML pages (``view.save("x.html")``) opened from file:// in headless Chromium with no
server and no kernel: every request, page error, dialog, console error and Content-Security-Policy
violation is recorded (``Opened.assert_clean``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

CANVAS = ".lxw-root canvas[data-layer]"
LOCAL = ("file:", "data:", "blob:")

_WATCH_CSP = """
window.__lxwViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__lxwViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


@dataclass
class Opened:
    page: object
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def canvas(self):
        return self.page.locator(CANVAS)

    def assert_clean(self) -> None:
        outside = [url for url in self.requests if not url.startswith(LOCAL)]
        assert outside == [], f"requests left the file: {outside}"
        assert self.errors == [], f"page errors: {self.errors}"
        assert self.dialogs == [], f"a dialog opened: {self.dialogs}"
        assert self.page.evaluate("window.__lxwViolations") == [], "Content-Security-Policy violations"
        assert [m for m in self.console if m.startswith("error")] == [], self.console


def open_file(browser, path: Path, ready: str = CANVAS, init_script: str | None = None) -> Opened:
    """``path`` opened from file:// in a page of its own, every request, error, dialog and CSP
    violation recorded, once ``ready`` (a selector) is visible. ``init_script`` runs in the page
    before any of its own scripts (e.g. a trap a hostile token would spring)."""
    context = browser.new_context(viewport={"width": 1200, "height": 900}, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(15_000)
    opened = Opened(page)
    page.on("request", lambda r: opened.requests.append(r.url))
    page.on("pageerror", lambda err: opened.errors.append(str(err)))
    page.on("console", lambda m: opened.console.append(f"{m.type}: {m.text}"))

    def on_dialog(dialog):
        opened.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.add_init_script(_WATCH_CSP)
    if init_script:
        page.add_init_script(init_script)
    page.goto(path.resolve().as_uri())
    page.locator(ready).first.wait_for(state="visible")
    return opened
