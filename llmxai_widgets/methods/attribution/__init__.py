"""Feature attribution: which input tokens made the model produce its output.

``attribute(model, prompt, target=None, generate=0, method="integrated_gradients", contrast=None)``
explains:

- for a causal language model: the next token (``target=None, generate=0``: the model's greedy
  choice); a given continuation (``target="..."``: every token of it is a row); a greedy
  generation (``generate=N``: every generated token is a row);
- for a masked language model: the token predicted at each mask token of the prompt (default
  the model's top token; ``target=`` a token, or a list of them, one per mask);
- for a sequence classifier: a label (default the predicted one; ``target=`` a label name or
  index); ``text_pair=`` gives the second text of a sentence pair.

Methods live in one registry keyed by string ids (``ATTRIBUTION_METHODS``).
"""

from __future__ import annotations

import numpy as np
import torch

from ...models.wrapped import LoadedModel, Tokens, check_text
from ..registry import register
from . import gradient, perturbation, vector  # noqa: F401  (each registers its methods)
from .core import (
    ATTRIBUTION_METHODS,
    TARGET_FUNCTIONS,
    AttributionResult,
    Problem,
    attribution_method,
    get_attribution_method,
    mask_unseen,
)

KINDS = ("causal", "masked", "classifier")


@register("attribute")
def attribute(
    model: LoadedModel,
    prompt: str,
    target: str | int | None = None,
    generate: int = 0,
    method: str = "integrated_gradients",
    contrast: str | int | None = None,
    *,
    target_fn: str = "logprob",
    text_pair: str | None = None,
    every_token: bool = False,
    on_row=None,
    cancelled=lambda: False,
    **options,
) -> AttributionResult:
    """Scores of every prompt (and earlier continuation) token for each target token; see the
    module docstring and :class:`AttributionResult`. ``every_token=True`` (causal LMs) explains
    every token of ``prompt`` after the first from the tokens before it (the text read as its own
    continuation: row ``i`` is token ``i + 1``). ``options`` go to the method (e.g. ``n_steps``,
    ``rule``, ``baseline`` for integrated gradients)."""
    spec = get_attribution_method(method)
    problem, tokens = prepare(model, prompt, target, generate, contrast, target_fn=target_fn, method=spec.id,
                              text_pair=text_pair, every_token=every_token)
    return explain(problem, tokens, spec.id, on_row=on_row, cancelled=cancelled, **options)


def prepare(model: LoadedModel, prompt: str, target=None, generate: int = 0, contrast=None, *,
            target_fn: str = "logprob", method: str = "integrated_gradients",
            text_pair: str | None = None, every_token: bool = False) -> tuple[Problem, Tokens]:
    """Fix what is explained: the token sequence (running the generation if asked) and the
    target positions; validates every argument with an error that says what to pass."""
    if not isinstance(model, LoadedModel):
        raise TypeError(
            f"model must come from llmxai_widgets.load_model(), got {type(model).__name__}; "
            f"wrap a transformers model with load_model(model=m, tokenizer=t)"
        )
    if model.kind not in KINDS:
        raise ValueError(
            f"attribute() explains causal LMs' tokens, masked LMs' mask predictions and sequence classifiers' "
            f"labels; {model.name} was loaded as a {model.kind!r} model: load it with kind='causal', 'masked' or "
            f"'classifier' (a model with that head)"
        )
    if target_fn not in TARGET_FUNCTIONS:
        raise ValueError(f"target_fn must be one of {', '.join(TARGET_FUNCTIONS)}, got {target_fn!r}")
    check_text(prompt)
    if isinstance(generate, bool) or not isinstance(generate, (int, np.integer)) or generate < 0:
        raise ValueError(f"generate must be a number of tokens (0 or more), got {generate!r}")
    if every_token:
        return _every_token(model, prompt, target, int(generate), contrast, target_fn)
    if model.kind != "causal":
        from .encoders import prepare_encoder

        return prepare_encoder(model, prompt, target, int(generate), contrast, target_fn=target_fn,
                               text_pair=text_pair)
    if text_pair is not None:
        raise ValueError("text_pair= is for encoders (sentence pairs); a causal model reads one prompt: join the texts")
    if target is not None and generate:
        raise ValueError("give target= (a continuation to explain) or generate= (tokens to generate), not both")
    prompt_tokens = model.tokenize(prompt)
    model.check_length(prompt_tokens)
    with model.lock:
        ids = _sequence(model, prompt_tokens, target, int(generate))
    targets = list(range(len(prompt_tokens), len(ids)))
    foil = _foil(model, contrast)
    problem = Problem(model, torch.as_tensor(ids, device=model.device), len(prompt_tokens), targets,
                      [foil] * len(targets), target_fn)
    tokens = _with_prompt_offsets(model.tokens_from_ids(ids), prompt_tokens)
    return problem, tokens


def explain(problem: Problem, tokens: Tokens, method: str, *, on_row=None, cancelled=lambda: False,
            **options) -> AttributionResult:
    """Run attribution ``method`` on a prepared problem."""
    spec = get_attribution_method(method)
    model = problem.model
    targets = problem.targets
    with model.lock:
        scores, extra = spec.fn(problem, on_row=on_row, cancelled=cancelled, **options)
        with torch.no_grad():
            rows, problem.base_rows = problem.base_rows, None  # used once
            if rows is None:
                rows = problem.read_logits(problem.embed(problem.ids[None]), list(range(len(targets))))[0]
            rows = rows.float()
            target_probs = torch.softmax(rows, dim=-1)[torch.arange(len(targets)), problem.labels].numpy()
            values = problem.values(rows, list(range(len(targets)))).numpy().astype(np.float32)
    foil = problem.foils[0] if problem.foils else None
    foil_text = None if foil is None else label_text(problem, foil)
    return AttributionResult(
        tokens=tokens,
        n_prompt=problem.n_prompt,
        target_positions=targets,
        scores=mask_unseen(scores, problem.ends, problem.fixed),
        target_probs=target_probs.astype(np.float32),
        target_values=values,
        method=spec.id,
        params={"target_fn": problem.target_fn, **{k: v for k, v in options.items() if isinstance(v, (int, float, str))},
                **integration_params(extra)},
        model_name=model.name,
        foils=[foil_text] * len(targets),
        completeness=extra.get("completeness"),
        converged=extra.get("converged"),
        notes=list(extra.get("notes", [])),
        kind=problem.kind,
        target_texts=None if problem.causal else [label_text(problem, label) for label in problem.labels],
        target_ids=[int(label) for label in problem.labels],
    )


def integration_params(extra: dict) -> dict:
    """What an integrating method did, per target: its rule, the steps it took and (adaptive rules)
    the summed local error estimate, so a result says how its scores were computed."""
    out = {}
    if extra.get("rule"):
        out["rule"] = extra["rule"]
    if extra.get("steps") is not None:
        out["steps"] = [int(s) for s in extra["steps"]]
    if extra.get("local_error") is not None:
        out["local_error"] = [float(e) for e in extra["local_error"]]
    return out


def label_text(problem: Problem, label: int) -> str:
    """A target's (or foil's) text: a classifier's label name, else the token."""
    if problem.pooled:
        return str(problem.model.config.id2label.get(label, label))
    return problem.model.tokenizer.decode([label])


def _every_token(model: LoadedModel, text: str, target, generate: int, contrast, target_fn: str):
    """Every token of ``text`` after the first is a target, read from the tokens before it."""
    if model.kind != "causal":
        raise ValueError(f"every_token=True explains each token of a text from the ones before it, which needs a "
                         f"causal LM; {model.name} is a {model.kind!r} model")
    if target is not None or generate:
        raise ValueError("every_token=True explains the text's own tokens: leave out target= and generate=")
    tokens = model.tokenize(text)
    model.check_length(tokens)
    if len(tokens) < 2:
        raise ValueError(f"every_token=True needs a text of two or more tokens; {text!r} has {len(tokens)}")
    foil = _foil(model, contrast)
    targets = list(range(1, len(tokens)))
    problem = Problem(model, torch.as_tensor(np.asarray(tokens.ids), device=model.device), 1, targets,
                      [foil] * len(targets), target_fn)
    return problem, tokens


def _with_prompt_offsets(tokens: Tokens, prompt: Tokens) -> Tokens:
    """The whole sequence's tokens, with the prompt's own token texts and special-token marks
    (the tokenizer knows them better than decoding does)."""
    n = len(prompt)
    return Tokens(
        source=tokens.source,
        ids=tokens.ids,
        text=list(prompt.text) + list(tokens.text[n:]),
        offsets=tokens.offsets,
        special=np.concatenate([prompt.special, tokens.special[n:]]).astype(bool),
    )


def _sequence(model: LoadedModel, prompt: Tokens, target, generate: int) -> list[int]:
    ids = [int(i) for i in prompt.ids]
    if isinstance(target, str):
        check_text(target)
        cont = model.tokenizer(target, add_special_tokens=False)["input_ids"]
        back = model.tokenizer.decode(cont)
        if not cont or back != target:
            raise ValueError(
                f"the tokenizer cannot produce the target {target!r} exactly (it reads back as {back!r}); "
                f"check leading spaces, e.g. target=' Paris' after 'The capital of France is'"
            )
        return ids + list(cont)
    if target is not None:
        if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
            raise TypeError(f"target must be a string, a token id or None, got {type(target).__name__}")
        vocab = model.model.get_input_embeddings().num_embeddings
        if not 0 <= int(target) < vocab:
            raise ValueError(f"target token id {target} is out of range: the vocabulary has {vocab} tokens")
        return ids + [int(target)]
    steps = max(1, generate)
    with torch.inference_mode():
        out = model.model.generate(
            input_ids=torch.as_tensor([ids], device=model.device), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=steps, do_sample=False,
        )[0].tolist()
    return out


def _foil(model: LoadedModel, contrast) -> int | None:
    if contrast is None:
        return None
    if isinstance(contrast, str):
        ids = model.tokenizer(contrast, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise ValueError(
                f"the contrast must be one token; {contrast!r} is {len(ids)} tokens "
                f"({model.tokenizer.convert_ids_to_tokens(ids)}); pick a single token, e.g. ' Rome'"
            )
        return int(ids[0])
    if isinstance(contrast, bool) or not isinstance(contrast, (int, np.integer)):
        raise TypeError(f"contrast must be a one-token string or a token id, got {type(contrast).__name__}")
    return int(contrast)


__all__ = ["ATTRIBUTION_METHODS", "AttributionResult", "attribute", "attribution_method", "explain",
           "get_attribution_method", "label_text", "prepare"]
