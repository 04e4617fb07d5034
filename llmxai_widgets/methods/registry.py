"""One registry of explanation methods, keyed by stable string ids."""

from __future__ import annotations

from collections.abc import Callable

METHODS: dict[str, Callable] = {}


def register(method_id: str) -> Callable[[Callable], Callable]:
    def add(fn: Callable) -> Callable:
        if method_id in METHODS:
            raise ValueError(f"method id {method_id!r} is registered twice")
        METHODS[method_id] = fn
        return fn

    return add


def get_method(method_id: str) -> Callable:
    try:
        return METHODS[method_id]
    except KeyError:
        valid = ", ".join(sorted(METHODS))
        raise ValueError(f"unknown method {method_id!r}; valid methods: {valid}") from None
