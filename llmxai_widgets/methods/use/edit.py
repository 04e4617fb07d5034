"""ROME's rank-one fact edit (Meng et al. 2022, "Locating and Editing Factual Associations in GPT").

ROME reads one MLP as a key-value memory: at the subject's last token, the MLP's hidden
activation (the key ``k*``) is mapped by the MLP's output projection ``W`` to a vector (the
value) that the blocks above turn into the fact. To make "The Eiffel Tower is located in the
city of" end in " Rome", :func:`edit` finds a value ``v*`` that, put in place of ``W``'s output at
the subject's last token, makes the model say " Rome", and changes ``W`` by a rank-one update so
that ``W' k* = v*`` while keys unlike ``k*`` map as before:

    ``ΔW = (v* − W k*) (C⁻¹ k*)ᵀ / (k*ᵀ C⁻¹ k*)``

``C`` is the identity (EasyEdit's default configurations skip the covariance too) or the
uncentred second moment ``E[k kᵀ]`` of ``W``'s inputs over texts the caller passes. The update
is solved in float64. :func:`edit` leaves the model unchanged; :meth:`Edit.apply` writes the
update and :meth:`Edit.revert` restores the weight bit for bit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ...models.wrapped import LoadedModel
from ..forward import check_count, require_causal
from . import edit_value as ev
from .edit_eval import Evaluation, evaluate_edit, greedy
from .features import check_layers, check_texts

PREFIXES = ("", "Fact: ", "The following is true. ", "Here is what I learned today. ", "From the encyclopedia. ")
"""Text put before the prompt when reading the key and fitting the value, so the edit holds in
more contexts than the one prompt (ROME samples short texts from the model; a fixed list keeps
:func:`edit` deterministic)."""


@dataclass
class Edit:
    """A rank-one edit of ``W``, the MLP output projection of block ``layer`` (not applied until
    :meth:`apply`).

    - ``key``: ``k*``, float32 ``[in]``: ``W``'s input at the subject's last token, averaged over
      the prompt preceded by each of ``prefixes``.
    - ``value``: ``v*``, float32 ``[out]``: ``W k*`` (bias included) plus the optimised vector.
    - ``left``, ``right``: float64 factors with ``ΔW = outer(left, right)`` in ``W``'s own
      orientation: for an ``nn.Linear`` (weight ``[out, in]``) ``left`` is :attr:`value_change`
      and ``right`` :attr:`key_direction`; for GPT-2's ``Conv1D`` (weight ``[in, out]``) the other
      way round.
    - ``covariance``: "identity" or the second moment's description (texts, tokens, ridge);
      ``ridge`` the value added to its diagonal (0 when none).
    - ``losses[step]``: ROME's loss before that step's update (``nll`` + ``kl_weight`` x ``kl``);
      ``target_prob[step]`` the new target's mean probability over the prefixed prompts.
    - ``old_target``: the model's top next token after the prompt before the edit.
    """

    model: LoadedModel = field(repr=False)
    projection: ev.Projection = field(repr=False, compare=False)
    """The edited map ``W`` (module, dotted name, orientation)."""
    layer: int
    layer_from: str
    prompt: str
    subject: str
    new_target: str
    old_target: str
    key: torch.Tensor = field(repr=False)
    value: torch.Tensor = field(repr=False)
    left: torch.Tensor = field(repr=False)
    right: torch.Tensor = field(repr=False)
    covariance: str
    weight_name: str
    losses: list[float] = field(repr=False)
    nll: list[float] = field(default_factory=list, repr=False)
    kl: list[float] = field(default_factory=list, repr=False)
    target_prob: list[float] = field(default_factory=list, repr=False)
    ridge: float = 0.0
    prefixes: tuple[str, ...] = PREFIXES
    new_target_ids: tuple[int, ...] = ()
    old_target_id: int = -1
    subject_token: str = ""
    """The subject's last token (where the key is read) as it appears in the prompt."""
    trace: np.ndarray | None = field(default=None, repr=False, compare=False)
    """``trace[layer]``: the causal-tracing scores that chose ``layer`` (None when it was given)."""
    seconds: float = 0.0
    _saved: torch.Tensor | None = field(default=None, init=False, repr=False, compare=False)
    _written: torch.Tensor | None = field(default=None, init=False, repr=False, compare=False)

    # -- the update ---------------------------------------------------------------------------
    @property
    def conv1d(self) -> bool:
        """True when ``W`` stores its weight ``[in, out]`` (GPT-2's Conv1D)."""
        return self.projection.conv1d

    @property
    def value_change(self) -> torch.Tensor:
        """``v* − W k*`` (float64 ``[out]``): what the update adds to ``W``'s output for ``k*``."""
        return self.right if self.conv1d else self.left

    @property
    def key_direction(self) -> torch.Tensor:
        """``C⁻¹k* / (k*ᵀC⁻¹k*)`` (float64 ``[in]``): a key ``x`` changes ``W``'s output by
        ``value_change * (key_direction · x)``, so keys with ``k*ᵀC⁻¹x = 0`` are untouched."""
        return self.left if self.conv1d else self.right

    def delta(self) -> torch.Tensor:
        """``ΔW`` (float64, the shape of ``W``'s weight): ``outer(left, right)``."""
        return torch.outer(self.left, self.right)

    # -- applying -----------------------------------------------------------------------------
    @property
    def applied(self) -> bool:
        return self._saved is not None

    def _edited(self, weight: torch.Tensor) -> torch.Tensor:
        update = self.delta().to(weight.device)
        return (weight.to(torch.float64) + update).to(weight.dtype)

    def _what(self) -> str:
        how = "identity covariance" if self.covariance == "identity" else "covariance from texts"
        return f"{self.new_target!r} for {self.subject!r} at block {self.layer} (rank one, {how})"

    def apply(self) -> "Edit":
        """Write ``W + ΔW`` into the model (a copy of ``W`` is kept for :meth:`revert`)."""
        with self.model.lock:
            if self.applied:
                raise RuntimeError(f"this edit ({self._what()}) is already applied; applying it twice would add "
                                   f"ΔW twice. Call revert() first, or use a fresh edit")
            weight = self.projection.weight
            self._saved = weight.detach().clone()
            with torch.no_grad():
                weight.copy_(self._edited(self._saved))
            self._written = weight.detach().clone()
            self.model.weights_changed(f"edit applied: {self._what()}")
        return self

    def revert(self) -> "Edit":
        """Put back the weight saved by :meth:`apply`, bit for bit."""
        with self.model.lock:
            if not self.applied:
                raise RuntimeError(f"this edit ({self._what()}) is not applied, so there is nothing to revert")
            weight = self.projection.weight
            if not torch.equal(weight.detach(), self._written):
                raise RuntimeError(f"{self.weight_name}.weight changed after this edit was applied (another edit of "
                                   f"block {self.layer}?); revert the later change first, then this edit")
            with torch.no_grad():
                weight.copy_(self._saved)
            self._saved = self._written = None
            self.model.weights_changed(f"edit reverted: {self._what()}")
        return self

    def __enter__(self) -> "Edit":
        return self.apply()

    def __exit__(self, *_exc) -> None:
        self.revert()

    def _state(self, applied: bool):
        """A context in which the weight is as if the edit were (not) applied, restored after;
        no one sees the switch (the caller holds the lock), so no ``weights_changed``."""
        edit = self

        class _Switch:
            def __enter__(self):
                self.weight = edit.projection.weight
                self.found = self.weight.detach().clone()
                if applied != edit.applied:
                    new = edit._edited(self.found) if applied else edit._saved
                    with torch.no_grad():
                        self.weight.copy_(new)

            def __exit__(self, *_exc):
                with torch.no_grad():
                    self.weight.copy_(self.found)

        return _Switch()

    # -- what it does -------------------------------------------------------------------------
    def evaluate(self, prompts: Sequence[str] | None = None, paraphrases: Sequence[str] = (),
                 neighbours: Sequence[str] = ()) -> Evaluation:
        """Probabilities of ``new_target`` (whole sequence) and ``old_target`` after each prompt,
        before and after the edit, and CounterFact's scores (see :class:`Evaluation`).
        ``prompts`` defaults to the edited prompt; ``neighbours`` should be prompts about other
        subjects whose answer is ``old_target`` (other landmarks in Paris). The model is left as
        found (applied or not)."""
        groups = {"prompt": [self.prompt] if prompts is None else list(prompts),
                  "paraphrase": list(paraphrases), "neighbour": list(neighbours)}
        for kind, texts in groups.items():
            if texts:
                check_texts(texts, f"{kind}s")
        with self.model.lock:
            return evaluate_edit(self.model, groups, self.new_target_ids, self.old_target_id, self._state)

    def generate(self, prompt: str | None = None, max_new_tokens: int = 20) -> tuple[str, str]:
        """Greedy continuations of ``prompt`` (default: the edited prompt) without and with the
        edit: ``(before, after)``. The model is left as found."""
        prompt = self.prompt if prompt is None else prompt
        check_texts([prompt], "prompt")
        max_new_tokens = check_count(max_new_tokens, "max_new_tokens", "max_new_tokens=20")
        with self.model.lock:
            with self._state(False):
                before = greedy(self.model, prompt, max_new_tokens)
            with self._state(True):
                after = greedy(self.model, prompt, max_new_tokens)
        return before, after


def edit(model: LoadedModel, prompt: str, subject: str, new_target: str, *, layer: int | None = None,
         covariance: Sequence[str] | None = None, prefixes: Sequence[str] | None = None, steps: int = 25,
         lr: float = 0.5, kl_weight: float = 0.0625, clamp: float = 4.0, stop_below: float | None = 0.05,
         on_step: Callable | None = None, cancelled: Callable[[], bool] | None = None) -> Edit:
    """Compute ROME's rank-one edit making ``prompt`` continue with ``new_target`` (a string,
    leading space included: ``" Rome"``; several tokens allowed) instead of the model's answer.

    ``subject``: text of the prompt (case-sensitive, first occurrence) whose last token is where
    the fact is looked up. ``layer``: the block whose MLP is edited; None picks it by causal
    tracing (the block whose MLP window, restored at the subject's last token, brings back the
    most of the answer's probability). ``covariance``: None for the identity, or texts whose
    tokens' keys give ``C`` (a ridge is added when ``C`` is ill-conditioned; see
    :func:`~.edit_value.regularised`). ``prefixes``: texts put before the prompt (default
    :data:`PREFIXES`; include "" to keep the bare prompt). ``steps`` (at most), ``lr``,
    ``kl_weight``, ``clamp``, ``stop_below`` (ROME's early stop once the loss is below it; None
    runs every step): the value optimisation (see :func:`~.edit_value.fit_value`).

    ``on_step(stage, done, total, loss)`` reports progress: stage "trace" (blocks), "covariance"
    (texts), "value" (steps, with the loss). ``cancelled()`` returning True stops with
    :class:`~llmxai_widgets.methods.Cancelled`. Returns an :class:`Edit`, not applied.
    """
    started = time.perf_counter()
    require_causal(model, "edit")
    checked = _check(model, prompt, subject, new_target, layer, covariance, prefixes, steps, lr, kl_weight, clamp,
                     stop_below)
    target_ids, layer, prefixes, texts = checked
    prompt_ids, _ = ev.subject_last(model, prompt, subject)
    with model.lock, torch.inference_mode():
        logits = model.model(input_ids=torch.as_tensor(prompt_ids, device=model.device)[None], use_cache=False).logits
    old_id = int(logits[0, -1].argmax())
    old = model.tokenizer.decode([old_id])
    if target_ids[0] == old_id:
        also = "" if len(target_ids) == 1 else f" (the first token of {new_target!r})"
        raise ValueError(f"{model.name} already predicts {old!r}{also} after {prompt!r}; choose another target, "
                         f"e.g. a different city or name")

    trace = None
    if layer is None:
        layer, layer_from, trace = _traced_layer(model, prompt, subject, on_step, cancelled)
    else:
        layer_from = "given"
    projection = ev.mlp_projection(model, layer)

    sequences, positions = [], []
    for prefix in prefixes:
        ids, position = ev.subject_last(model, prefix + prompt, subject, skip=len(prefix))
        sequences.append(ids)
        positions.append(position)
    keys = ev.read_key(model, projection, sequences, positions)
    key = keys.mean(0)
    original = ev.Projection.map64(projection, key).to(torch.float32)  # W k*: the value before the edit

    moment_text, ridge, c_inverse_key = "identity", 0.0, key.to(torch.float64)
    if texts is not None:
        moment, tokens = ev.second_moment(model, projection, texts, on_step=on_step, cancelled=cancelled)
        c, ridge, condition = ev.regularised(moment)
        c_inverse_key = torch.linalg.solve(c, key.to(torch.float64))
        how = (f"ridge {ridge:.3g} ({ev.RIDGE:g} x the mean eigenvalue; condition number {condition:.3g})"
               if ridge else f"no ridge (condition number {condition:.3g})")
        moment_text = f"second moment over {len(texts)} texts ({tokens} tokens), {how}"

    essence_ids, essence_position = ev.subject_last(model, f"{subject} is a", subject)
    fit = ev.fit_value(model, projection, sequences, positions, target_ids, essence_ids, essence_position,
                       float(original.norm()), steps=steps, lr=lr, kl_weight=kl_weight, clamp=clamp,
                       stop_below=stop_below, on_step=on_step, cancelled=cancelled)
    value = original + fit.delta

    # ΔW = (v* − W k*) (C⁻¹k*)ᵀ / (k*ᵀ C⁻¹ k*), in float64
    change = value.to(torch.float64) - ev.Projection.map64(projection, key)
    direction = c_inverse_key / torch.dot(key.to(torch.float64), c_inverse_key)
    left, right = (direction, change) if projection.conv1d else (change, direction)
    tokens = model.tokenize(prompt)
    return Edit(
        model=model, projection=projection, layer=layer, layer_from=layer_from, prompt=prompt, subject=subject, new_target=new_target,
        old_target=old, key=key, value=value, left=left, right=right, covariance=moment_text,
        weight_name=projection.name, losses=fit.losses, nll=fit.nll, kl=fit.kl, target_prob=fit.target_prob,
        ridge=ridge, prefixes=tuple(prefixes), new_target_ids=tuple(target_ids), old_target_id=old_id,
        subject_token=tokens.text[ev.subject_last(model, prompt, subject)[1]], trace=trace,
        seconds=time.perf_counter() - started)


def _check(model, prompt, subject, new_target, layer, covariance, prefixes, steps, lr, kl_weight, clamp, stop_below):
    """Every argument checked before anything runs: ``(target ids, prefixes, covariance texts)``."""
    check_texts([prompt], "prompt")
    if not isinstance(subject, str) or not subject.strip():
        raise TypeError(f"subject must be text that occurs in the prompt (e.g. 'The Eiffel Tower'), got {subject!r}")
    if subject not in prompt:
        lower = prompt.lower().find(subject.lower())
        hint = (f"; the prompt has {prompt[lower:lower + len(subject)]!r}, which differs only in case"
                if lower >= 0 else "")
        raise ValueError(f"subject {subject!r} does not occur in the prompt {prompt!r}: edit() looks for these exact "
                         f"characters (case-sensitive){hint}; copy the subject from the prompt")
    if not isinstance(new_target, str) or not new_target.strip():
        raise ValueError(f"new_target must be a non-empty string such as ' Rome' (mind the leading space), "
                         f"got {new_target!r}")
    target_ids = [int(i) for i in model.tokenizer(new_target, add_special_tokens=False)["input_ids"]]
    if not target_ids:
        raise ValueError(f"new_target {new_target!r} has no tokens for {model.name}; pass a word such as ' Rome'")
    if layer is not None:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise TypeError(f"layer must be a block number (an integer) or None to choose it by causal tracing, "
                            f"got {layer!r}")
        layer = check_layers(model, layer)[0]
    if covariance is not None:
        if isinstance(covariance, str):
            raise TypeError("covariance must be a list of texts (or None for the identity), got one string; "
                            "wrap it in a list")
        if not isinstance(covariance, Sequence) or len(covariance) == 0:
            raise ValueError(f"covariance has no texts ({covariance!r}); pass a list of ordinary texts (a few dozen "
                             f"sentences or more) to estimate C, or None for the identity")
        covariance = check_texts(covariance, "covariance")
    prefixes = PREFIXES if prefixes is None else prefixes
    if isinstance(prefixes, str) or not isinstance(prefixes, Sequence) or not prefixes \
            or not all(isinstance(p, str) for p in prefixes):
        raise ValueError(f"prefixes must be a non-empty list of strings put before the prompt (include '' for the "
                         f"bare prompt), got {prefixes!r}")
    check_count(steps, "steps", "steps=25")
    numbers = [("lr", lr, "> 0"), ("clamp", clamp, "> 0"), ("kl_weight", kl_weight, ">= 0")]
    for name, number, least in numbers + ([] if stop_below is None else [("stop_below", stop_below, ">= 0")]):
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not np.isfinite(number) \
                or (number < 0 if least == ">= 0" else number <= 0):
            raise ValueError(f"{name} must be a number {least}, got {number!r}")
    return target_ids, layer, list(prefixes), covariance


def _traced_layer(model, prompt, subject, on_step, cancelled):
    """The block whose MLP matters most for the fact, by causal tracing: the highest "mlp" score
    (a window of ``TRACE_WINDOW`` MLPs restored) at the subject's last token.

    These are the numbers :func:`~llmxai_widgets.causal_trace` puts in that token's column (same
    noise, samples and seed), computed for that column alone: the whole grid takes about a
    minute on a CPU, the column a few seconds. Returns ``(layer, how it was chosen, scores[layer])``."""
    from ..attention_capture import supports_capture
    from ..locate import engine, grid
    from ..locate.inputs import noise_for, window_layers
    from ..locate.subjects import SUBJECTS

    engine.check_patchable(model, kv=False, purpose="edit")
    tokens = model.tokenize(prompt)
    _, position = ev.subject_last(model, prompt, subject)
    ids = torch.as_tensor(tokens.ids)
    corrupt = noise_for(model, tokens, _subject_span(model, prompt, subject), "3sigma", samples=TRACE_SAMPLES,
                        seed=1, texts=SUBJECTS, replacements=SUBJECTS)
    with model.lock, torch.inference_mode():
        clean = engine.record(model, ids[None])
        corrupted = engine.record(model, corrupt.ids, embed=corrupt.embed, kv=supports_capture(model.model))
    answer = int(clean.logits[0].argmax())
    prob = lambda logits: torch.softmax(logits, -1)[..., answer]  # noqa: E731
    clean_p, corrupted_p = float(prob(clean.logits)[0]), float(prob(corrupted.logits).mean())
    scores = np.zeros(model.n_layers, np.float32)
    for layer in range(model.n_layers):
        blocks = list(window_layers(layer, TRACE_WINDOW, model.n_layers))
        scores[layer] = grid.run_cells(model, ids, "mlp", blocks, [position], corrupted, clean, prob, cancelled)[position]
        if on_step is not None:
            on_step("trace", layer + 1, model.n_layers, None)
    layer = int(np.argmax(scores))
    restored = (scores[layer] - corrupted_p) / max(clean_p - corrupted_p, 1e-12)
    return layer, (f"causal tracing (score {scores[layer]:.3f}: p({model.tokenizer.decode([answer])!r}) with the "
                   f"subject corrupted and the MLPs of blocks {blocks_text(layer, model.n_layers)} restored at "
                   f"{tokens.text[position]!r}, {restored:.0%} of the way from corrupted {corrupted_p:.3f} to clean "
                   f"{clean_p:.3f})"), scores


TRACE_SAMPLES, TRACE_WINDOW = 10, 10
"""Causal tracing's defaults (noise draws, MLPs restored together) for choosing the layer."""


def blocks_text(layer: int, n_layers: int) -> str:
    from ..locate.inputs import window_layers

    blocks = window_layers(layer, TRACE_WINDOW, n_layers)
    return f"{blocks[0]}-{blocks[-1]}"


def _subject_span(model, prompt, subject) -> tuple[int, int]:
    from ..locate.inputs import find_subject

    return find_subject(model.tokenize(prompt), subject)


__all__ = ["PREFIXES", "Edit", "Evaluation", "edit"]
