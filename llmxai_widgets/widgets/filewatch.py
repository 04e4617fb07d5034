"""A view class's JS/CSS file followed without keeping views alive: anywidget connects to the
file's change signal a closure holding each instance, so every view ever made (and its arrays)
would outlive ``close()``."""

from __future__ import annotations

import weakref


class WatchedFile:
    """A view class's ``_esm``/``_css`` file (anywidget's FileContents, which reloads it while
    developing) in a wrapper AnyWidget.__init__ does not recognise: it would connect to the file's
    change signal a lambda holding the instance, so every view ever made (and its arrays) would
    stay alive after ``close()``. ExplainerWidget.__init__ follows the file through a weak
    reference instead."""

    def __init__(self, contents):
        self.contents = contents

    def __str__(self) -> str:
        return str(self.contents)

    @property
    def _path(self):  # export_html reads the module from the file
        return getattr(self.contents, "_path", None)


def follow_weakly(widget, key: str, watched: WatchedFile) -> None:
    """Set ``widget.key`` when ``watched`` changes, for as long as the widget lives."""
    signal = getattr(watched.contents, "changed", None)
    if signal is None:
        return
    ref = weakref.ref(widget)

    def follow(contents, ref=ref, key=key):
        widget = ref()
        if widget is not None:
            setattr(widget, key, contents)

    signal.connect(follow)
    weakref.finalize(widget, signal.disconnect, follow).atexit = False
