"""What a saved page (``view.save("x.html")``) of a :class:`~llmxai_widgets.LogitLensView`,
:class:`~llmxai_widgets.ContributionView`, :class:`~llmxai_widgets.NeuronView` or
:class:`~llmxai_widgets.AttributionView` embeds so that its clicks are answered without Python
(``js/standalone/lens.ts`` and ``js/standalone/views.ts`` answer them; export_html.py writes the
page). Arrays travel as wire tensors packed into one base64 blob, while the page stays under
``max_bytes``; what is not embedded (or only Python can compute) is named in the view by a
message that says a running kernel is needed, never by a view that waits for one."""

from __future__ import annotations

import numpy as np

from ..wire import encode
from .export_attention import _Blob
from .export_html import script_json

LENS_POSITIONS = 256
"""At most this many positions of the logit lens are embedded (each costs an unembedding per row)."""
LENS_TARGETS = 24
"""Tokens the saved lens can follow besides the one shown (the Follow menu's suggestions first)."""
LENS_FOLLOW_CELLS = 12_000
"""Rows x positions x tokens followed besides the one shown: each is a rank over the vocabulary
(about 2 s on SmolLM2 at this size), so long texts follow fewer."""
HEAD_ROWS_TOKENS = 1024
"""ContributionView embeds each head's attention at the position for texts up to this length."""

KERNEL = "needs a running kernel: open the notebook (with the model loaded) to"


class Packer:
    """Values packed into one blob while the page's growth stays under ``room`` bytes."""

    NOTE = 400
    """Bytes kept for the page's note (in the header and in the data) and the fields around the blob."""

    def __init__(self, room: int, messages: dict):
        self.blob = _Blob()
        self.room, self.used, self.skipped = room, self.NOTE, 0
        self.charge(messages)

    def fits(self, nbytes: int) -> bool:
        """Room for ``nbytes`` of data (and a small JSON header), checked before computing it."""
        return self.used + self.blob.b64_len(nbytes + 3) + 300 <= self.room

    def charge(self, value) -> bool:
        """Count ``value``'s JSON in the budget, if it fits."""
        cost = len(script_json(value).encode("utf-8")) + 1
        if self.used + cost > self.room:
            return False
        self.used += cost
        return True

    def add(self, value: dict, also=None, *, key: str = "") -> dict | None:
        """``value`` packed (its bytes in the blob), with ``also``'s JSON and the ``key`` it is
        kept under counted too; None (and nothing kept) when the page would pass its size limit."""
        before, chunks = self.blob.size, len(self.blob.chunks)
        packed = self.blob.pack(value)
        cost = self.blob.b64_len(self.blob.size) - self.blob.b64_len(before)
        cost += len(script_json(packed).encode("utf-8")) + len(script_json(key).encode("utf-8")) + 2
        if also is not None:
            cost += len(script_json(also).encode("utf-8")) + 1
        if self.used + cost > self.room:
            del self.blob.chunks[chunks:]
            self.blob.size = before
            self.skipped += 1
            return None
        self.used += cost
        return packed

    def extras(self, kind: str, **fields) -> dict:
        return {"kind": kind, "blob": self.blob.encode(), **fields}


# -- LogitLensView -------------------------------------------------------------------------------


def lens_extras(view, room: int) -> dict | None:
    """Every position (up to :data:`LENS_POSITIONS`, around the window shown) for the token
    followed and for the Follow menu's other suggestions, so moving the window, clicking a cell
    and following a suggested token are answered by the page."""
    from ..methods.logit_lens import follow_targets, logit_lens

    result = view._result
    if result is None or view._model is None:
        return None
    model, tokens = view._model, view._tokens
    n, rows, k = len(tokens), len(view._layers), view.top_k
    fields = {"start": 0, "count": 0, "top": None, "targets": {}, "vocab": {},
              "missing_window": f"This saved page holds no other positions of the logit lens; moving the window "
                                f"{KERNEL} compute them.",
              "missing_target": f"This saved page follows only the tokens listed in its menu; following another token "
                                f"{KERNEL} compute it."}
    packer = Packer(room, fields)
    per_position = packer.blob.b64_len(8 * rows * k + 8 * rows + 4) + 24 * k
    count = int(min(n, LENS_POSITIONS, max(0, (room - packer.used) // per_position)))
    if count < 1:
        return packer.extras("lens", **fields)
    middle = view.window_start + view.window_size // 2
    start = max(0, min(middle - count // 2, n - count))
    columns = list(range(start, start + count))
    full = result if result.positions.tolist() == columns else logit_lens(
        model, tokens, view._target, top_k=k, layers=view._layers, positions=columns)
    text = lambda i: model.tokenizer.decode([int(i)])  # noqa: E731
    vocab = {str(int(i)): text(i) for i in np.unique(np.concatenate([full.top_ids.ravel(), full.target_ids]))}
    top = packer.add({"top_ids": encode(full.top_ids.astype(np.int32)), "top_probs": encode(full.top_probs)},
                     also=vocab)
    shown = None if top is None else packer.add(_followed(full.target_ids, full.target_probs, full.target_ranks))
    if shown is None:
        return packer.extras("lens", **fields)
    targets = {view.target: shown}
    # the Follow menu's suggestions: the model's own prediction, then the last row's top tokens,
    # those of the selected column first
    last = full.top_ids[-1]  # [column, rank]
    picked = int(np.clip(view.selected - start, 0, count - 1))
    wanted: dict[str, int | None] = {} if view.target == "" else {"": None}
    for i in [*last[picked], *last[:, 0], *last.ravel()]:
        label = text(i)
        if label not in wanted and label != view.target and _follows(model, label, int(i)):
            wanted[label] = int(i)
        if len(wanted) >= LENS_TARGETS:
            break
    each = 8 * rows * count + 4 * count
    labels = []
    for label in list(wanted)[: LENS_FOLLOW_CELLS // (rows * count)]:
        if not packer.fits(each * (len(labels) + 1)):
            break
        labels.append(label)
    if labels:
        ids, probs, ranks = follow_targets(model, tokens, [wanted[label] for label in labels], layers=view._layers,
                                           positions=columns)
        for label, i, p, r in zip(labels, ids, probs, ranks):
            new = {str(int(j)): text(j) for j in np.unique(i) if str(int(j)) not in vocab}
            packed = packer.add(_followed(i, p, r), also=new or None, key=label)
            if packed is None:
                break
            targets[label] = packed
            vocab.update(new)
    fields.update(start=start, count=count, top=top, targets=targets, vocab=vocab)
    if count < n:  # about as long as the message it replaces (counted in the budget)
        fields["missing_window"] = (f"This saved page holds tokens {start}\u2013{start + count - 1} of the logit lens; "
                                    f"other tokens {KERNEL} compute them.")
    fields["note"] = (f"Moving the window, clicking a cell and following {len(targets)} tokens work offline "
                      f"(tokens {start}\u2013{start + count - 1}).")
    return packer.extras("lens", **fields)


def _followed(ids, probs, ranks) -> dict:
    return {"target_ids": encode(np.asarray(ids).astype(np.int32)),
            "target_probs": encode(np.asarray(probs, np.float32)),
            "target_ranks": encode(np.asarray(ranks).astype(np.int32))}


def _follows(model, label: str, token: int) -> bool:
    """The view, asked to follow ``label``, would follow ``token`` (the text maps back to its id)."""
    from ..methods.forward import token_id

    try:
        return token_id(model, label) == token
    except (ValueError, IndexError, TypeError):
        return False


# -- ContributionView ----------------------------------------------------------------------------


def contribution_extras(view, room: int) -> dict | None:
    """Every head's attention at the view's position (what a click on a head shows)."""
    from ..methods.attention import attention

    result = view._result
    if result is None or view._model is None:
        return None
    tokens, position = view._tokens, view.position
    messages = {
        "position": position, "target": view.target,
        "missing_head": f"This saved page does not hold where this head reads from; it {KERNEL} compute it.",
        "missing_position": f"This saved page explains the prediction after token #{position} only; explaining "
                            f"another position {KERNEL} compute it.",
        "missing_target": f"This saved page explains one token only; explaining another token {KERNEL} compute it."}
    packer = Packer(room, messages)
    heads: dict[str, dict] = {}
    n = len(tokens)
    picked = view.picked.get("layer", 0) if view.picked else 0
    if n <= HEAD_ROWS_TOKENS and packer.fits(4 * n):
        weights = attention(view._model, tokens)
        for layer in sorted(weights.layers, key=lambda layer: (abs(layer - picked), layer)):
            rows = weights.layer(layer)[:, position]  # [head, key]
            for head, row in enumerate(rows):
                value = {**encode(np.asarray(row, np.float32)), "layer": layer, "head": head, "position": position}
                packed = packer.add(value, key=f"{layer}|{head}")
                if packed is not None:
                    heads[f"{layer}|{head}"] = packed
    return packer.extras("contributions", heads=heads, **messages,
                         note=f"Clicking a cell shows its value and rank; {len(heads)} heads' attention is held.")


# -- NeuronView ----------------------------------------------------------------------------------


def neuron_extras(view, room: int) -> dict | None:
    """Every finished layer's slice (nearest the one shown first), and the corpus searches and
    NMF factors computed before saving."""
    from .neuron_panes import layer_payload

    if not view.layers_done:
        return None
    shown = view.layer_slice.get("layer") if view.layer_slice else None
    messages = {
        "missing_layer": f"This saved page holds some of the {len(view.layers_done)} layers computed (those nearest "
                         f"layer {view.layer}); this layer {KERNEL} show it.",
        "missing_corpus": f"This saved page holds the corpus searches run before it was saved; searching the corpus "
                          f"for this neuron {KERNEL} run the search.",
        "missing_factors": f"This saved page holds the NMF factors computed before it was saved; factorising this "
                           f"layer into this many factors {KERNEL} compute them."}
    packer = Packer(room, messages)
    slices: dict[str, dict] = {}
    for layer in sorted(view.layers_done, key=lambda layer: (abs(layer - view.layer), layer)):
        if layer == shown:
            continue  # the state holds it
        data = view._values(layer)
        if data is None or not packer.fits(data[0].size * 2 + data[1].size * 4):
            continue
        packed = packer.add(layer_payload(layer, *data, view._quantize), key=str(layer))
        if packed is not None:
            slices[str(layer)] = packed
    corpus = {f"{layer}|{neuron}": p for (layer, neuron), payload in sorted(view._corpus_cache.items())
              if (p := packer.add(payload, key=f"{layer}|{neuron}")) is not None}
    factors = {f"{layer}|{k}": p for (layer, k), (_found, payload) in sorted(view._factor_cache.items())
               if (p := packer.add(payload, key=f"{layer}|{k}")) is not None}
    held = len(slices) + (shown is not None)
    return packer.extras("neurons", slices=slices, corpus=corpus, factors=factors, **messages,
                         note=f"Clicking a neuron or choosing one of {held} layers works offline.")


# -- AttributionView -----------------------------------------------------------------------------


def attribution_extras(view) -> dict | None:
    """No arrays: the state holds every target row. What only Python computes (another method,
    the Evaluate tab when it was not opened, scoring a student's marks) gets a message."""
    if view._result is None:
        return None
    method = view.method.replace("_", " ")
    return {
        "kind": "attribution", "method": view.method,
        "missing_method": f"This saved page holds the scores of {method} only; another method {KERNEL} compute it.",
        "missing_evaluation": f"The faithfulness of {method} was not computed before this page was saved; it {KERNEL} "
                              f"open the Evaluate tab there.",
        "missing_scores": f"Scoring your marks removes tokens and runs the model: it {KERNEL} reveal there. The "
                          f"method's scores are shown above.",
        "note": "Clicking a generated token shows its row; other methods need Python."}


__all__ = ["attribution_extras", "contribution_extras", "lens_extras", "neuron_extras"]
