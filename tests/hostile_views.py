"""The views tests/test_hostile_exports.py does not reach, built on hostile text: causal tracing,
activation patching, circuits, probing, steering, editing, evaluation and the explorer.

``hostile_tiny()`` is a tiny random LLaMA (4 blocks) with the bundled SmolLM2 tokenizer whose
vocabulary holds every corpus token of tests/browser/lab_hostile.py (tests/hostile.py plus the
payloads that would set ``window.__pwned``) as one token, as ``lab_hostile.hostile_model()`` does
for the real SmolLM2: the views see exactly the corpus, and each computation takes a moment. Its
output layer is biased towards the corpus, so what it generates is corpus tokens too.

Plain module: tests/test_hostile_exports_more.py and tests/browser/test_hostile_browser.py import it."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE / "browser") not in sys.path:
    sys.path.insert(0, str(HERE / "browser"))

from lab_hostile import MODEL_TOKENS, TEXT  # noqa: E402

_MODEL = None


def token(name: str) -> str:
    """The corpus token called ``name`` (tests/hostile.py, lab_hostile.PAYLOADS)."""
    from lab_hostile import LIVE

    return dict(LIVE)[name]


def hostile_tiny():
    """The tiny model whose tokenizer reads TEXT as exactly MODEL_TOKENS (made once)."""
    global _MODEL
    if _MODEL is not None:
        return _MODEL
    import torch
    from tokenizers import AddedToken
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    import llmxai_widgets as lx
    from llmxai_widgets.models import bundled

    tokenizer = AutoTokenizer.from_pretrained(bundled.smollm2_folder())
    tokenizer.add_tokens([AddedToken(t, normalized=False, lstrip=False, rstrip=False, single_word=False)
                          for t in MODEL_TOKENS])
    torch.manual_seed(5)
    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=len(tokenizer), max_position_embeddings=256)
    model = LlamaForCausalLM(config).eval()
    ids = tokenizer.convert_tokens_to_ids(MODEL_TOKENS)
    with torch.no_grad():  # the corpus tokens are what it predicts most
        model.lm_head.weight[ids] *= 40
    _MODEL = lx.load_model(model=model, tokenizer=tokenizer, name_or_path="tiny + hostile tokens")
    got = list(_MODEL.tokenize(TEXT).text)
    assert [t for t in got if t in MODEL_TOKENS] == MODEL_TOKENS, [t[:40] for t in got]
    return _MODEL


def corrupted(text_tokens: list[str], swaps: list[tuple[str, str]]) -> str:
    """TEXT with each corpus token ``a`` replaced by ``b`` (same token count)."""
    out = list(text_tokens)
    for a, b in swaps:
        out[out.index(token(a))] = token(b)
    return "".join(out)


# What the views are asked about: every name is a corpus token's (tests/hostile.py, lab_hostile.PAYLOADS).
SUBJECT = ("rlo", "long")  # the subject runs from the right-to-left override to the 10,000-character token
TARGET = "pwned-img"
ANSWERS = ("script", "long")
SWAPS = [("entity", "pwned-svg"), ("zwsp", "pwned-script"), ("nul", "pwned-style")]


def subject_text() -> str:
    a, b = (MODEL_TOKENS.index(token(n)) for n in SUBJECT)
    return "".join(MODEL_TOKENS[a: b + 1])


def trace_view(**kw):
    import llmxai_widgets as lx

    return lx.CausalTraceView(hostile_tiny(), TEXT, subject_text(), token(TARGET), samples=2, window=2,
                              background=False, **kw)


def patching_view(**kw):
    import llmxai_widgets as lx

    return lx.PatchingView(hostile_tiny(), TEXT, corrupted(MODEL_TOKENS, SWAPS),
                           answers=tuple(token(n) for n in ANSWERS), background=False, **kw)


def circuit_view(**kw):
    import llmxai_widgets as lx

    view = lx.CircuitView(hostile_tiny(), TEXT, corrupted(MODEL_TOKENS, SWAPS), answers=tuple(token(n) for n in ANSWERS),
                          steps=2, n_shown=12, candidates=40, background=False, **kw)
    return view


PROBE_CLASSES = (token("script"), token("rlo"))


def probe_texts() -> tuple[list[str], list[str]]:
    """A text per corpus token (the token between words), labelled with hostile class names."""
    texts = [f"a {t} b" for t in MODEL_TOKENS] * 2
    labels = [PROBE_CLASSES[i % 2] for i in range(len(texts))]
    return texts, labels


def probe_view(**kw):
    import llmxai_widgets as lx

    texts, labels = probe_texts()
    view = lx.ProbeView(hostile_tiny(), texts, labels, layers=[1, 3], folds=2, background=False, **kw)
    view.picked_layer = 3
    return view


def steering_view(**kw):
    import llmxai_widgets as lx

    m = hostile_tiny()
    half = len(MODEL_TOKENS) // 2
    positive = [f"{t} yes" for t in MODEL_TOKENS[:half]]
    negative = [f"{t} no" for t in MODEL_TOKENS[half: 2 * half]]
    vector = lx.steering_vector(m, positive, negative, layers=[1])
    return lx.SteeringView(m, vector, TEXT, alphas=(-4, 0, 4), max_new_tokens=6,
                           concept=[token("script"), token("long")], background=False, **kw)


def edit_view(**kw):
    import llmxai_widgets as lx

    prompt = TEXT
    return lx.EditView(hostile_tiny(), prompt, subject_text(), token("pwned-svg"),
                       paraphrases=[token("long") + " " + token("rlo") + " again" + token("pwned-img")],
                       neighbours=[token("lri") + token("script")],
                       layer=1, max_new_tokens=6, edit_options={"steps": 2, "prefixes": [""]}, background=False, **kw)


def evaluation_view(**kw):
    import llmxai_widgets as lx

    return lx.EvaluationView(hostile_tiny(), TEXT, token(TARGET), methods=("saliency", "input_x_gradient"),
                             random_samples=2, background=False, **kw)


def explorer(**kw):
    import llmxai_widgets as lx

    return lx.Explorer(hostile_tiny(), TEXT, background=False, **kw)


BUILDERS = {"trace": trace_view, "patching": patching_view, "circuit": circuit_view, "probe": probe_view,
            "steering": steering_view, "edit": edit_view, "evaluation": evaluation_view}
