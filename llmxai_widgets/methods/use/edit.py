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
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from ...models.wrapped import LoadedModel
from ..forward import check_count, require_causal
from . import edit_value as ev
from .edit_eval import Evaluation, evaluate_edit, greedy
from .edit_inputs import PREFIXES, check_edit, traced_layer
from .features import check_texts


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
    - ``losses[step]``: ROME's loss before that step's update (``nll`` + ``kl_weight`` x ``kl``),
      one per step run (fewer than ``steps`` when the optimisation stopped early);
      ``target_prob[step]`` the new target's mean probability over the prefixed prompts.
    - ``old_target``: the model's top next token after the prompt before the edit.
    - ``layer_from``: "given", or how causal tracing chose the block (its score; ``trace`` holds
      every block's); ``weight_name``: the dotted path of ``W`` (``model.layers.4.mlp.down_proj``).

    ``apply()`` / ``revert()`` (or ``with edit:``, which reverts on the way out, also after an
    exception) change the model's weight; ``evaluate()`` and ``generate()`` compare before and
    after and leave the model as they found it.
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

    @contextmanager
    def _state(self, applied: bool):
        """The weight as if the edit were (not) applied while the block runs, then exactly as
        found. The caller holds the lock, so no one else sees the switch: no ``weights_changed``."""
        weight = self.projection.weight
        found = weight.detach().clone()
        try:
            if applied != self.applied:
                with torch.no_grad():
                    weight.copy_(self._edited(found) if applied else self._saved)
            yield
        finally:
            with torch.no_grad():
                weight.copy_(found)

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
        if not any(groups.values()):
            raise ValueError("evaluate() needs at least one prompt; pass prompts=None for the edited prompt, or "
                             "paraphrases=[...] / neighbours=[...]")
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
    ``kl_weight``, ``clamp``, ``stop_below`` (stop early once the new target's mean negative
    log-likelihood is below it, about p = 0.95; None runs every step): the value optimisation
    (see :func:`~.edit_value.fit_value`).

    ``on_step(stage, done, total, loss)`` reports progress: stage "trace" (blocks), "covariance"
    (texts), "value" (steps, with the loss). ``cancelled()`` returning True stops with
    :class:`~llmxai_widgets.methods.Cancelled`. Returns an :class:`Edit`, not applied.
    """
    started = time.perf_counter()
    require_causal(model, "edit")
    target_ids, layer, prefixes, texts = check_edit(model, prompt, subject, new_target, layer, covariance, prefixes,
                                                    steps, lr, kl_weight, clamp, stop_below)
    projection = ev.mlp_projection(model, 0 if layer is None else layer)  # an MLP ROME can edit?
    prompt_ids, subject_position = ev.subject_last(model, prompt, subject)
    with model.lock, torch.inference_mode():
        logits = model.model(input_ids=torch.as_tensor(prompt_ids, device=model.device)[None], use_cache=False).logits
    old_id = int(logits[0, -1].argmax())
    old = model.tokenizer.decode([old_id])
    if target_ids[0] == old_id:
        also = "" if len(target_ids) == 1 else f" (the first token of {new_target!r})"
        raise ValueError(f"{model.name} already predicts {old!r}{also} after {prompt!r}; choose another target, "
                         f"e.g. a different city or name")

    trace, layer_from = None, "given"
    if layer is None:
        layer, layer_from, trace = traced_layer(model, prompt, subject, on_step, cancelled)
        projection = ev.mlp_projection(model, layer)

    sequences, positions = [], []
    for prefix in prefixes:
        ids, position = ev.subject_last(model, prefix + prompt, subject, skip=len(prefix))
        sequences.append(ids)
        positions.append(position)
    key = ev.read_key(model, projection, sequences, positions).mean(0)
    original = projection.map64(key).to(torch.float32)  # W k*: the value before the edit

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
    change = value.to(torch.float64) - projection.map64(key)
    direction = c_inverse_key / torch.dot(key.to(torch.float64), c_inverse_key)
    left, right = (direction, change) if projection.conv1d else (change, direction)
    return Edit(
        model=model, projection=projection, layer=layer, layer_from=layer_from, prompt=prompt, subject=subject,
        new_target=new_target, old_target=old, key=key, value=value, left=left, right=right, covariance=moment_text,
        weight_name=projection.name, losses=fit.losses, nll=fit.nll, kl=fit.kl, target_prob=fit.target_prob,
        ridge=ridge, prefixes=tuple(prefixes), new_target_ids=tuple(target_ids), old_target_id=old_id,
        subject_token=model.tokenize(prompt).text[subject_position], trace=trace,
        seconds=time.perf_counter() - started)


__all__ = ["PREFIXES", "Edit", "Evaluation", "edit"]
