"""What a masked language model or a sequence classifier is asked to explain (see
:class:`.core.Problem`): the mask predictions of a prompt, or a label of the whole text."""

from __future__ import annotations

import numpy as np
import torch

from ...models.wrapped import LoadedModel, Tokens
from .core import Problem


def prepare_encoder(model: LoadedModel, prompt: str, target, generate: int, contrast, *, target_fn: str,
                    text_pair: str | None) -> tuple[Problem, Tokens]:
    if generate:
        raise ValueError(
            f"generate= needs a causal language model; {model.name} is a {model.kind} model, which predicts "
            f"{'mask tokens' if model.kind == 'masked' else 'a label'} in one pass: leave generate=0"
        )
    tokens = model.tokenize(prompt, text_pair)
    model.check_length(tokens)
    ids = torch.as_tensor(np.asarray(tokens.ids, dtype=np.int64), device=model.device)
    types = None
    if tokens.segments is not None and getattr(model.config, "type_vocab_size", 1) > 1:
        types = torch.as_tensor(np.asarray(tokens.segments, dtype=np.int64), device=model.device)
    if model.kind == "masked":
        positions, labels, foils = _masked_targets(model, ids, types, target, contrast)
        problem = Problem(model, ids, len(ids), positions, foils, target_fn, kind="masked", reads=list(positions),
                          labels=labels, fixed=list(positions), token_type_ids=types)
    else:
        labels, foils = _class_targets(model, ids, types, target, contrast)
        problem = Problem(model, ids, len(ids), [-1] * len(labels), foils, target_fn, kind="classifier",
                          reads=[0] * len(labels), labels=labels, token_type_ids=types)
    return problem, tokens


def _forward(model: LoadedModel, ids: torch.Tensor, types) -> torch.Tensor:
    kwargs = {} if types is None else {"token_type_ids": types[None]}
    with model.lock, torch.inference_mode():
        return model.model(input_ids=ids[None], **kwargs).logits[0]


def _masked_targets(model: LoadedModel, ids, types, target, contrast):
    tok = model.tokenizer
    mask_id = getattr(tok, "mask_token_id", None)
    if mask_id is None:
        raise ValueError(f"{model.name}'s tokenizer has no mask token, so a masked-LM prediction cannot be explained")
    positions = [int(p) for p in (ids == mask_id).nonzero()[:, 0]]
    if not positions:
        raise ValueError(
            f"the prompt has no mask token: write {tok.mask_token} where the model should fill in, "
            f"e.g. 'Paris is the {tok.mask_token} of France.'"
        )
    wanted = target if isinstance(target, (list, tuple)) else [target] * len(positions)
    if len(wanted) != len(positions):
        raise ValueError(
            f"the prompt has {len(positions)} mask tokens and target= gives {len(wanted)} tokens: give one per mask "
            f"(a list), or None for the model's top prediction at each"
        )
    if isinstance(target, (str, int, np.integer)) and len(positions) > 1:
        raise ValueError(
            f"the prompt has {len(positions)} mask tokens: give target= as a list of {len(positions)} tokens, "
            f"one per mask (None in the list: the model's top prediction there)"
        )
    top = None
    labels = []
    vocab = model.model.get_input_embeddings().num_embeddings
    for k, w in enumerate(wanted):
        if w is None:
            if top is None:
                top = _forward(model, ids, types)[positions].argmax(dim=-1).tolist()
            labels.append(int(top[k]))
        else:
            labels.append(_one_token(tok, w, vocab, "target"))
    foil = None if contrast is None else _one_token(tok, contrast, vocab, "contrast")
    return positions, labels, [foil] * len(positions)


def _one_token(tok, value, vocab: int, name: str) -> int:
    if isinstance(value, str):
        got = tok(value, add_special_tokens=False)["input_ids"]
        if len(got) != 1:
            raise ValueError(
                f"a masked LM fills one token per mask; the {name} {value!r} is {len(got)} tokens "
                f"({tok.convert_ids_to_tokens(got)}): pick a single token"
            )
        return int(got[0])
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a token string, a token id or None, got {type(value).__name__}")
    if not 0 <= int(value) < vocab:
        raise ValueError(f"{name} token id {value} is out of range: the vocabulary has {vocab} tokens")
    return int(value)


def _class_targets(model: LoadedModel, ids, types, target, contrast):
    names = {int(k): str(v) for k, v in (getattr(model.config, "id2label", None) or {}).items()}
    n = int(getattr(model.config, "num_labels", len(names)) or len(names))
    if isinstance(target, (list, tuple)):
        targets = list(target)
        if not targets:
            raise ValueError("target= is an empty list: give label names or indices, or None for the predicted label")
    else:
        targets = [target]
    labels = []
    for w in targets:
        if w is None:
            labels.append(int(_forward(model, ids, types).argmax()))
        else:
            labels.append(_label(w, names, n, "target"))
    foil = None if contrast is None else _label(contrast, names, n, "contrast")
    return labels, [foil] * len(labels)


def _label(value, names: dict[int, str], n: int, name: str) -> int:
    valid = ", ".join(f"{i} ({names.get(i, i)!r})" for i in range(n))
    if isinstance(value, str):
        for i, label in names.items():
            if label == value:
                return i
        raise ValueError(f"the classifier has no label {value!r}; its labels: {valid}")
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) < n:
        raise ValueError(f"{name} must be a label name or index; the classifier's labels: {valid}; got {value!r}")
    return int(value)
