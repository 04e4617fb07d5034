"""Contrasting pairs written for this package: each pair differs in one concept only, so the mean
of their differences in the residual stream points along that concept."""

from __future__ import annotations

_LIKES = ("this film", "the food here", "my new job", "this song", "the weather today", "our teacher",
          "this book", "the hotel", "my neighbours", "the new phone", "this city", "the match last night")

SETS = {
    "sentiment": (
        [f"I love {thing}. Honestly, it is" for thing in _LIKES],
        [f"I hate {thing}. Honestly, it is" for thing in _LIKES],
    ),
}
"""name -> (positive texts, negative texts), pair by pair."""

NAMES = tuple(SETS)


def load(name: str) -> tuple[list[str], list[str]]:
    """The positive and negative texts of pair set ``name`` (one of :data:`NAMES`)."""
    if name not in SETS:
        raise ValueError(f"no pair set named {name!r}; choose one of {', '.join(map(repr, NAMES))}")
    positive, negative = SETS[name]
    return list(positive), list(negative)
