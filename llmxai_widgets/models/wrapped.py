"""``LoadedModel``: a Hugging Face model plus tokenizer, with what every method needs to know."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

import numpy as np
import torch

from .architectures import Architecture, architecture_for
from .devices import execution_device


@dataclass(frozen=True)
class Tokens:
    """A tokenised text.

    - ``ids[token]``: int64 token ids.
    - ``text[token]``: the token as shown to people: the exact source characters it covers when
      the tokenizer reports offsets, else its vocabulary string (special tokens such as ``<s>``).
    - ``offsets[token] = (start, end)``: character span in ``source``; ``(-1, -1)`` when a token
      covers no characters (special tokens).
    - ``special[token]``: True for tokens the tokenizer added (BOS, [CLS], [SEP], ...).
    - ``segments[token]``: 0 for the first text, 1 for ``text_pair`` (sentence pairs), else None.
      Offsets of segment-1 tokens index into ``source_pair``.
    - ``has_offsets``: False when the tokenizer reports no character offsets (a Python, "slow",
      tokenizer) and decoding the tokens does not give the text back, so no span could be
      recovered: ``offsets`` are all ``(-1, -1)`` and ``text`` holds vocabulary strings; what
      needs spans (a subject given as text, word and sentence grouping) refuses.
    """

    source: str
    ids: np.ndarray
    text: list[str]
    offsets: np.ndarray
    special: np.ndarray
    segments: np.ndarray | None = None
    source_pair: str | None = None
    has_offsets: bool = True

    def __len__(self) -> int:
        return len(self.text)


@dataclass
class LoadedModel:
    """A transformers model and tokenizer, with the facts our methods and widgets use.

    Build one with :func:`llmxai_widgets.load_model`.
    """

    model: torch.nn.Module
    tokenizer: object
    name: str
    kind: str
    """"causal", "masked", "seq2seq", "classifier" or "encoder"."""
    architecture: Architecture = field(init=False)
    lock: threading.RLock = field(init=False, repr=False)
    """Held by every computation that runs the model: methods switch the model's attention
    implementation for the duration of a forward pass, so two threads (a view computing in the
    background, a cell calling a method) must take turns."""

    weights_version: int = field(default=0, init=False, repr=False)
    """Counts changes to the weights made through this package (an edit applied or reverted)."""
    weights_changes: list = field(default_factory=list, init=False, repr=False)
    """What changed the weights, one line per change, in order."""

    def __post_init__(self) -> None:
        self.architecture = architecture_for(self.config.model_type)
        self.lock = threading.RLock()
        self._watchers = weakref.WeakSet()

    def watch_weights(self, watcher) -> None:
        """``watcher._weights_changed(model, what)`` runs after each change to the weights (views
        that show results of this model register themselves; held weakly)."""
        self._watchers.add(watcher)

    def weights_changed(self, what: str) -> None:
        """Record that the weights changed (``what`` says how) and tell every watcher."""
        self.weights_version += 1
        self.weights_changes.append(what)
        for watcher in list(self._watchers):
            watcher._weights_changed(self, what)

    # -- facts -------------------------------------------------------------------------------
    @property
    def config(self):
        return self.model.config

    @property
    def n_layers(self) -> int:
        """Blocks in the main stack (the decoder for decoder-only and encoder-decoder models)."""
        return len(self.layers(self.main_stack))

    @property
    def n_heads(self) -> int:
        """Query heads per attention layer."""
        cfg = self.config
        for key in ("num_attention_heads", "n_head", "num_heads"):
            if getattr(cfg, key, None):
                return int(getattr(cfg, key))
        raise AttributeError(f"{self.name}: config names no attention head count")

    @property
    def n_kv_heads(self) -> int:
        """Key/value heads per layer (fewer than ``n_heads`` under grouped-query attention)."""
        return int(getattr(self.config, "num_key_value_heads", None) or self.n_heads)

    @property
    def kv_group(self) -> np.ndarray:
        """``kv_group[head]``: the key/value head each query head reads."""
        return np.arange(self.n_heads) // (self.n_heads // self.n_kv_heads)

    @property
    def max_positions(self) -> int | None:
        """Longest input the model accepts, in tokens (None when positions are relative)."""
        for key in ("max_position_embeddings", "n_positions"):
            value = getattr(self.config, key, None)
            if value:
                return int(value)
        return None

    @property
    def chat_template(self) -> str | None:
        return getattr(self.tokenizer, "chat_template", None)

    @property
    def device(self) -> torch.device:
        """Where inputs go: the device of the input embeddings (models may span devices). A
        model dispatched by accelerate (``device_map``, ``hf_device_map``) computes its input
        embeddings on their hook's execution device, whatever device (``meta`` when offloaded
        to disk or CPU) the weights rest on."""
        embeddings = self.model.get_input_embeddings()
        if getattr(self.model, "hf_device_map", None):
            device = execution_device(embeddings)
            if device is not None:
                return device
        return embeddings.weight.device

    @property
    def offloaded(self) -> list[str]:
        """Modules of ``hf_device_map`` whose weights accelerate offloads (to disk, or to CPU
        memory next to a GPU): they rest on the ``meta`` device and are loaded for each forward
        pass only, so a method that reads or writes weights directly cannot use them as they are."""
        device_map = getattr(self.model, "hf_device_map", None) or {}
        return [name for name, where in device_map.items() if where == "disk" or any(
            p.device.type == "meta" for p in self.model.get_submodule(name).parameters())]

    @property
    def main_stack(self) -> str:
        return "decoder" if "decoder" in self.architecture.layer_stacks else "encoder"

    # -- modules -----------------------------------------------------------------------------
    def module(self, path: str, root: torch.nn.Module | None = None) -> torch.nn.Module:
        """Resolve a dotted path relative to ``model.base_model``; list indices may be negative."""
        mod = self.model.base_model if root is None else root
        for part in path.split("."):
            if part.lstrip("-").isdigit():
                mod = mod[int(part)]
            else:
                mod = getattr(mod, part)
        return mod

    def layers(self, stack: str | None = None) -> torch.nn.ModuleList:
        stack = stack or self.main_stack
        return self.module(self.architecture.layer_stacks[stack])

    def attention_module(self, layer: int, stack: str | None = None, *, cross: bool = False) -> torch.nn.Module:
        """Self-attention of block ``layer`` of ``stack``, or (``cross=True``) a decoder block's
        attention over the encoder output."""
        if cross:
            path = self.architecture.cross_attention
            if path is None:
                raise ValueError(f"{self.name} has no cross-attention (it is not an encoder-decoder)")
            return self.module(path, root=self.layers("decoder")[layer])
        return self.module(self.architecture.attention, root=self.layers(stack)[layer])

    @property
    def n_neurons(self) -> int:
        """Hidden units of each block's MLP (the width of ``mlp_activation_module``'s tensor)."""
        cfg = self.config
        for key in ("intermediate_size", "n_inner", "d_ff", "ffn_dim", "hidden_dim"):
            if getattr(cfg, key, None):
                return int(getattr(cfg, key))
        if self.config.model_type == "gpt2":  # n_inner=None means 4 x the embedding width
            return 4 * int(cfg.n_embd)
        raise AttributeError(f"{self.name}: config names no MLP width (intermediate_size)")

    def mlp_activation_module(self, layer: int, stack: str | None = None) -> tuple[torch.nn.Module, str]:
        """``(module, "input" | "output")``: where block ``layer``'s MLP activation after the
        non-linearity flows (the architecture table's ``mlp_activation``)."""
        path, what = self.architecture.mlp_activation
        return self.module(path, root=self.layers(stack)[layer]), what

    def _needs(self, field_name: str, purpose: str) -> str:
        value = getattr(self.architecture, field_name)
        if value is None:
            from .architectures import ARCHITECTURES

            known = ", ".join(sorted(k for k, a in ARCHITECTURES.items() if getattr(a, field_name) is not None))
            raise ValueError(
                f"{purpose} needs the {field_name.replace('_', ' ')} of a '{self.config.model_type}' model, "
                f"which llmxai_widgets does not know; it works with model types: {known}. Set "
                f"ARCHITECTURES[{self.config.model_type!r}].{field_name} in "
                f"llmxai_widgets.models.architectures if this architecture has one."
            )
        return value

    def attention_output_module(self, layer: int, purpose: str = "this method") -> torch.nn.Module:
        """Block ``layer``'s attention output projection (its input: the heads side by side)."""
        return self.module(self._needs("attention_output", purpose), root=self.layers()[layer])

    def mlp_output_module(self, layer: int, purpose: str = "this method") -> torch.nn.Module:
        """The module whose output is block ``layer``'s MLP addition to the residual stream."""
        return self.module(self._needs("mlp_output", purpose), root=self.layers()[layer])

    def final_norm_module(self, purpose: str = "this method") -> torch.nn.Module:
        """The norm between the last block and the unembedding."""
        return self.module(self._needs("final_norm", purpose))

    def unembedding_module(self, purpose: str = "this method") -> torch.nn.Module:
        """The output embedding (``lm_head``): residual -> logits over the vocabulary."""
        return self.module(self._needs("unembedding", purpose), root=self.model)

    def n_layers_of(self, stack: str) -> int:
        """Blocks in ``stack`` ("encoder" or "decoder")."""
        return len(self.layers(stack))

    # -- text --------------------------------------------------------------------------------
    def tokenize(self, text: str, text_pair: str | None = None, *, add_special_tokens: bool = True) -> Tokens:
        """Tokenise ``text`` (and ``text_pair``, for sentence-pair encoders) into :class:`Tokens`."""
        check_text(text)
        if text_pair is not None:
            check_text(text_pair)
        tok = self.tokenizer
        try:
            enc = tok(
                text,
                text_pair,
                add_special_tokens=add_special_tokens,
                return_offsets_mapping=True,
                return_special_tokens_mask=True,
            )
        except NotImplementedError:  # older transformers: slow tokenizers refuse to report offsets
            enc = tok(text, text_pair, add_special_tokens=add_special_tokens, return_special_tokens_mask=True)
        has_offsets = "offset_mapping" in enc
        if has_offsets:
            offsets = [tuple(o) for o in enc["offset_mapping"]]
        else:  # a Python ("slow") tokenizer reports no offsets: recover them by decoding
            added = enc.get("special_tokens_mask", [0] * len(enc["input_ids"]))
            offsets, has_offsets = _offsets_by_decoding(tok, list(enc["input_ids"]), added, text, text_pair)
        segments = None
        if text_pair is not None:
            sequence = enc.sequence_ids() if hasattr(enc, "sequence_ids") else None
            if sequence is None:
                raise ValueError("this tokenizer cannot say which tokens belong to text_pair; use a fast tokenizer")
            # special tokens (None) belong to the segment of the token before them ([SEP] ends A)
            segments, current = [], 0
            for s in sequence:
                current = current if s is None else s
                segments.append(current)
        ids = list(enc["input_ids"])
        # the mask marks only the tokens the tokenizer added; markers written in the text (a chat
        # template's <|im_start|>) are special tokens too
        marked = set(getattr(tok, "all_special_ids", []) or [])
        special = [bool(s) or i in marked for s, i in zip(enc.get("special_tokens_mask", [0] * len(ids)), ids)]
        vocab = tok.convert_ids_to_tokens(ids)
        shown, spans = [], []
        for i, (start, end) in enumerate(offsets):
            source = text_pair if segments is not None and segments[i] == 1 else text
            if special[i] or end <= start:
                shown.append(str(vocab[i]))
                spans.append((-1, -1))
            else:
                shown.append(source[start:end])
                spans.append((start, end))
        return Tokens(
            source=text,
            ids=np.asarray(ids, dtype=np.int64),
            text=shown,
            offsets=np.asarray(spans, dtype=np.int64).reshape(-1, 2),
            special=np.asarray(special, dtype=bool),
            segments=None if segments is None else np.asarray(segments, dtype=np.int64),
            source_pair=text_pair,
            has_offsets=has_offsets,
        )

    def tokens_from_ids(self, ids) -> Tokens:
        """:class:`Tokens` for token ids the model produced (a generation): each token's text is
        what it adds to the decoded string, so spaces and multi-byte characters stay exact."""
        ids = [int(i) for i in ids]
        tok = self.tokenizer
        special_ids = set(getattr(tok, "all_special_ids", []) or [])
        vocab = tok.convert_ids_to_tokens(ids)
        shown, spans, special = [], [], []
        ordinary: list[int] = []
        before = ""
        for i, token_id in enumerate(ids):
            if token_id in special_ids:
                shown.append(str(vocab[i]))
                spans.append((-1, -1))
                special.append(True)
                continue
            ordinary.append(token_id)
            after = tok.decode(ordinary, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            start = len(before) if after.startswith(before) else len(after)
            shown.append(after[start:] if after.startswith(before) else str(vocab[i]))
            spans.append((start, len(after)) if after.startswith(before) and len(after) > start else (-1, -1))
            special.append(False)
            before = after
        return Tokens(
            source=before,
            ids=np.asarray(ids, dtype=np.int64),
            text=shown,
            offsets=np.asarray(spans, dtype=np.int64).reshape(-1, 2),
            special=np.asarray(special, dtype=bool),
        )

    def decoder_tokens(self, target: str) -> Tokens:
        """What an encoder-decoder's decoder reads when it is taught ``target``: the decoder
        start token followed by ``target``'s tokens (transformers' ``shift_tokens_right`` of the
        labels: the final end-of-sequence label is predicted, never read)."""
        labels = self.tokenize(target)
        start = getattr(self.config, "decoder_start_token_id", None)
        if start is None:
            raise ValueError(f"{self.name} names no decoder_start_token_id in its config; it is not an encoder-decoder")
        keep = len(labels) - 1 if len(labels) > 1 and labels.special[-1] else len(labels)
        start_text = str(self.tokenizer.convert_ids_to_tokens([int(start)])[0])
        return Tokens(
            source=labels.source,
            ids=np.concatenate([[int(start)], labels.ids[:keep]]).astype(np.int64),
            text=[start_text, *labels.text[:keep]],
            offsets=np.concatenate([[(-1, -1)], labels.offsets[:keep]]).astype(np.int64).reshape(-1, 2),
            special=np.concatenate([[True], labels.special[:keep]]).astype(bool),
        )

    def check_length(self, tokens: Tokens) -> None:
        limit = self.max_positions
        if limit is not None and len(tokens) > limit:
            raise ValueError(
                f"the text is {len(tokens):,} tokens but {self.name} accepts at most {limit:,}; "
                f"shorten the text (for example text[:{_chars_for(tokens, limit):,}])"
            )

    def __repr__(self) -> str:
        return (
            f"LoadedModel({self.name!r}, kind={self.kind!r}, type={self.config.model_type!r}, "
            f"layers={self.n_layers}, heads={self.n_heads}, kv_heads={self.n_kv_heads})"
        )


def _offsets_by_decoding(tok, ids: list[int], added, text: str, text_pair: str | None):
    """``(offsets, True)``: each token's character span, found by decoding the tokens one at a
    time (those the tokenizer added, such as BOS, cover nothing), when the decoded tokens give
    ``text`` back exactly; else ``((-1, -1) per token, False)``. A token that decodes to part of
    a character (byte-level BPE) covers nothing; the token completing the character covers it."""
    none = [(-1, -1)] * len(ids)
    if text_pair is not None:
        return none, False
    spans, kept, end = list(none), [], 0
    for k, (token_id, was_added) in enumerate(zip(ids, added)):
        if was_added:
            continue
        kept.append(token_id)
        decoded = tok.decode(kept, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        if len(decoded) > end and text.startswith(decoded):
            spans[k], end = (end, len(decoded)), len(decoded)
    if end != len(text):
        return none, False
    return spans, True


def _chars_for(tokens: Tokens, limit: int) -> int:
    ends = [int(e) for _, e in tokens.offsets[:limit] if e >= 0]
    return max(ends) if ends else len(tokens.source)


def check_text(text: object) -> None:
    if not isinstance(text, str):
        raise TypeError(
            f"text must be a string, got {type(text).__name__}; pass the text itself, e.g. "
            f"'The capital of France is'"
        )
    if not text.strip():
        raise ValueError("text is empty; pass some text to explain, e.g. 'The capital of France is'")
