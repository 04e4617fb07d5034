"""``load_model``: the bundled models, any Hugging Face model, or objects already loaded."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

# Imported with the package, not inside load_model(): every method needs transformers, and its
# first import (~1.2 s of torch.distributed and friends) is paid once here instead of on each load.
import transformers
from transformers import modeling_utils  # noqa: F401  (the heavy part of every from_pretrained)

from . import bundled
from .wrapped import LoadedModel

_KINDS = {
    "causal": "AutoModelForCausalLM",
    "masked": "AutoModelForMaskedLM",
    "seq2seq": "AutoModelForSeq2SeqLM",
    "classifier": "AutoModelForSequenceClassification",
    "encoder": "AutoModel",
}


def load_model(
    name_or_path: str | os.PathLike | None = None,
    *,
    model=None,
    tokenizer=None,
    kind: str | None = None,
    **hf_kwargs,
) -> LoadedModel:
    """Load a model to explain.

    - ``load_model()`` or ``load_model("smollm2")``: the bundled SmolLM2-135M-Instruct.
    - ``load_model("minilm")``: the bundled all-MiniLM-L6-v2 encoder.
    - ``load_model(folder_or_hub_id, **hf_kwargs)``: any causal LM, masked LM, seq2seq model or
      sequence classifier; ``kind=`` ("causal", "masked", "seq2seq", "classifier", "encoder")
      overrides the guess from ``config.architectures``; ``hf_kwargs`` go to ``from_pretrained``.
    - ``load_model(model=m, tokenizer=t)``: wrap objects already loaded (``device_map`` too).
    """
    if model is not None:
        if tokenizer is None:
            raise ValueError("load_model(model=...) also needs tokenizer=...; pass the model's tokenizer")
        name = name_or_path or getattr(model.config, "_name_or_path", None) or type(model).__name__
        if os.sep in str(name) and os.path.exists(str(name)):  # a local folder: its last two parts name it
            name = "/".join(os.path.normpath(str(name)).split(os.sep)[-2:])
        kind = kind or _guess_kind(model.config, type(model).__name__)
        return LoadedModel(model.eval(), tokenizer, str(name), kind)
    if name_or_path is None:
        name_or_path = bundled.DEFAULT_BUNDLED
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(
            f"load_model takes a model name or folder, got {type(name_or_path).__name__}; to wrap a "
            f"loaded model use load_model(model=m, tokenizer=t)"
        )
    key = str(name_or_path)
    if key.lower() in bundled.BUNDLED:
        return _load_bundled(key.lower(), kind, hf_kwargs)
    return _load_pretrained(key, key, kind, hf_kwargs)


def _load_bundled(name: str, kind: str | None, hf_kwargs: dict) -> LoadedModel:
    folder = bundled.smollm2_folder() if name == "smollm2" else bundled.minilm_folder()
    return _load_pretrained(str(folder), name, kind, hf_kwargs)


def _load_pretrained(path: str, name: str, kind: str | None, hf_kwargs: dict) -> LoadedModel:
    local = Path(path).expanduser()
    source = str(local) if local.exists() else path
    try:
        config = transformers.AutoConfig.from_pretrained(source, **_config_kwargs(hf_kwargs))
    except (OSError, ValueError) as err:
        names = ", ".join(f"'{n}'" for n in bundled.BUNDLED)
        raise ValueError(
            f"unknown model '{path}': it is not a bundled model ({names}), not a local model folder, "
            f"and could not be loaded as a Hugging Face hub id (this machine may be offline). Pass "
            f"a bundled name, a folder with config.json, or load_model(model=m, tokenizer=t). "
            f"Cause: {err}"
        ) from err
    kind = kind or _guess_kind(config)
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}; got {kind!r}")
    auto = getattr(transformers, _KINDS[kind])
    tokenizer = transformers.AutoTokenizer.from_pretrained(source)
    with _quiet_progress():
        model = auto.from_pretrained(source, **hf_kwargs)
    return LoadedModel(model.eval(), tokenizer, name, kind)


@contextmanager
def _quiet_progress():
    """No "Loading weights" bar: in a notebook it becomes a stray widget in every loading cell."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _config_kwargs(hf_kwargs: dict) -> dict:
    return {k: v for k, v in hf_kwargs.items() if k in ("revision", "trust_remote_code", "token")}


def _guess_kind(config, class_name: str = "") -> str:
    if getattr(config, "is_encoder_decoder", False):
        return "seq2seq"
    archs = " ".join([class_name, *(getattr(config, "architectures", None) or [])])
    for suffix, kind in (
        ("ForCausalLM", "causal"),
        ("LMHeadModel", "causal"),
        ("ForMaskedLM", "masked"),
        ("ForSequenceClassification", "classifier"),
        ("ForConditionalGeneration", "seq2seq"),
    ):
        if suffix in archs:
            return kind
    return "causal" if getattr(config, "is_decoder", False) else "encoder"
