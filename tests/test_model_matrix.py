"""The model matrix (issue 16): every public method on float16 and bfloat16 weights, on a model
dispatched by accelerate with CPU and disk offload (``device_map``: the stand-in for multi-GPU
sharding on this CPU-only machine), with a tokenizer that reports no character offsets (a Python,
"slow", tokenizer) and with one that has no chat template.

Each method either gives the float32 model's result within a stated tolerance, or refuses with a
message naming what is missing. Tolerances, relative to the largest value compared (tiny random
LLaMA models: 3 blocks of width 64, the bundled tokenizer):

- float16 weights: 2e-2; bfloat16 weights: 8e-2 (8 bits of mantissa: 4e-3 per rounding, a few
  roundings per block); the low-precision model is the float32 model's weights cast, so the gap
  is the dtype's rounding only. Where accuracy needs it the library computes in float32 (the
  integrated-gradients path and every score sum, the logits read) and says so in the result.
- offloaded model: the same weights, so 1e-5 (float32 rounding only).

One real-model case (the bundled SmolLM2-135M in bfloat16 against float32: attention, logit lens,
contributions) keeps tiny random models from being the only test. Every protection has a test
that fails without it (dtype casts in the patching engine, the contributions check's dtype-aware
tolerance and offloaded weights, float32 integration and sums, the execution device of a
dispatched model, the refusals, the offsets recovered by decoding)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import llmxai_widgets as lx
from llmxai_widgets.methods.attribution.perturbation import group_tokens
from llmxai_widgets.methods.locate.inputs import find_subject

PROMPT, SUBJECT, TARGET = "The Eiffel Tower is in the city of", "The Eiffel Tower", " Paris"
CORRUPT = "The Colosseum is in the city of"
TOLERANCE = {"float16": 2e-2, "bfloat16": 8e-2, "offload": 1e-5}
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def close(got, want, tol, what=""):
    """``|got - want| <= tol * max|want|`` elementwise (NaN where both are NaN)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, what
    assert np.array_equal(np.isnan(got), np.isnan(want)), what
    scale = max(float(np.nanmax(np.abs(want))), 1e-12)
    gap = float(np.nanmax(np.abs(got - want))) if np.isfinite(want).any() else 0.0
    assert gap <= tol * scale, f"{what}: max gap {gap:.3g} > {tol} x {scale:.3g}"


# -- models ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from llmxai_widgets.models import bundled

    return AutoTokenizer.from_pretrained(bundled.smollm2_folder())


@pytest.fixture(scope="module")
def base(tokenizer):
    """A tiny float32 LLaMA (grouped-query attention), the reference of every comparison."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=49152, max_position_embeddings=128)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # larger weights than the default init, so predictions are not all ties
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(4.0)
    return lx.load_model(model=model, tokenizer=tokenizer, name_or_path="tiny-float32")


@pytest.fixture(scope="module", params=["float16", "bfloat16"])
def low(request, base):
    """``(name, model)``: the float32 model's weights cast to float16 or bfloat16."""
    model = copy.deepcopy(base.model).to(DTYPES[request.param])
    return request.param, lx.load_model(model=model, tokenizer=base.tokenizer, name_or_path=f"tiny-{request.param}")


DEVICE_MAP = {"model.embed_tokens": "disk", "model.rotary_emb": "cpu", "model.layers.0": "cpu",
              "model.layers.1": "disk", "model.layers.2": "cpu", "model.norm": "cpu", "lm_head": "disk"}


@pytest.fixture(scope="module")
def offloaded(base, tmp_path_factory):
    """The float32 model loaded again by accelerate with ``device_map``: block 1, the input
    embeddings and the unembedding offloaded to disk (``offload_folder``), the rest on the CPU."""
    from transformers import LlamaForCausalLM

    folder = tmp_path_factory.mktemp("offload")
    base.model.save_pretrained(folder / "model")
    model = LlamaForCausalLM.from_pretrained(folder / "model", device_map=DEVICE_MAP,
                                             offload_folder=str(folder / "offload"))
    assert model.hf_device_map == DEVICE_MAP
    assert model.model.layers[1].mlp.down_proj.weight.device.type == "meta"  # really offloaded
    return lx.load_model(model=model, tokenizer=base.tokenizer, name_or_path="tiny-offload")


def python_tokenizer(fast):
    """The bundled vocabulary through transformers' Python tokenizer base class (what
    ``use_fast=False`` gives for models with a slow tokenizer): same ids, no offsets."""
    from transformers import PreTrainedTokenizer

    class PythonBPE(PreTrainedTokenizer):
        def __init__(self, **kwargs):
            super().__init__(bos_token=fast.bos_token, eos_token=fast.eos_token, unk_token=fast.unk_token,
                             pad_token=fast.pad_token, **kwargs)

        @property
        def vocab_size(self):
            return fast.vocab_size

        def get_vocab(self):
            return fast.get_vocab()

        def _tokenize(self, text):
            return fast.tokenize(text)

        def _convert_token_to_id(self, token):
            return fast.convert_tokens_to_ids(token)

        def _convert_id_to_token(self, index):
            return fast.convert_ids_to_tokens(index)

        def convert_tokens_to_string(self, tokens):
            return fast.convert_tokens_to_string(tokens)

    return PythonBPE()


@pytest.fixture(scope="module")
def slow(base):
    """The float32 model with a Python tokenizer that reports no offsets (they are recovered by
    decoding: the decoded tokens give the text back)."""
    return lx.load_model(model=base.model, tokenizer=python_tokenizer(base.tokenizer), name_or_path="tiny-slow")


@pytest.fixture(scope="module")
def lossy(base):
    """A Python WordPiece tokenizer that lower-cases and drops accents: no offsets reported and
    none recoverable (decoding does not give the text back)."""
    from transformers import BertTokenizerLegacy

    from llmxai_widgets.models import bundled

    tokenizer = BertTokenizerLegacy(str(bundled.minilm_folder() / "vocab.txt"))
    return lx.load_model(model=base.model, tokenizer=tokenizer, name_or_path="tiny-lossy")


@pytest.fixture(scope="module")
def no_chat(base):
    tokenizer = copy.deepcopy(base.tokenizer)
    tokenizer.chat_template = None
    return lx.load_model(model=base.model, tokenizer=tokenizer, name_or_path="tiny-no-chat")


# -- float16 / bfloat16: every method against the float32 model -------------------------------------
def test_attention_matches_float32(low, base):
    name, model = low
    got, want = lx.attention(model, PROMPT), lx.attention(base, PROMPT)
    for layer in range(base.n_layers):
        close(got.layer(layer), want.layer(layer), TOLERANCE[name], f"attention layer {layer}")


def test_logit_lens_matches_float32(low, base):
    name, model = low
    got, want = lx.logit_lens(model, PROMPT, TARGET), lx.logit_lens(base, PROMPT, TARGET)
    assert got.top_probs.dtype == np.float32
    close(got.target_probs, want.target_probs, TOLERANCE[name], "target probabilities")
    close(got.top_logits[..., 0], want.top_logits[..., 0], TOLERANCE[name], "top logits")


def test_neurons_and_nmf_match_float32(low, base):
    name, model = low
    got, want = lx.neurons(model, PROMPT), lx.neurons(base, PROMPT)
    close(got.activations, want.activations, TOLERANCE[name], "activations")
    factors, ref_factors = lx.nmf(got, k=3), lx.nmf(want, k=3)
    assert abs(factors.relative_error - ref_factors.relative_error) <= TOLERANCE[name]
    top = lx.top_activating(model, [PROMPT, CORRUPT], 0, 3, k=3)
    ref = lx.top_activating(base, [PROMPT, CORRUPT], 0, 3, k=3)
    close(np.concatenate([e.window_activations for e in top.examples]),
          np.concatenate([e.window_activations for e in ref.examples]), TOLERANCE[name], "top activating")


def test_contributions_match_float32_and_add_up(low, base):
    """The parts are read in the model's dtype and summed in float64; they still add up to the
    model's logit within the dtype's rounding (the residual check's tolerance depends on it)."""
    name, model = low
    got, want = lx.contributions(model, PROMPT, TARGET), lx.contributions(base, PROMPT, TARGET)
    close(got.components()[1], want.components()[1], TOLERANCE[name], "components")
    close(got.heads, want.heads, TOLERANCE[name], "heads")
    assert abs(got.total - got.logit) <= TOLERANCE[name] * max(1.0, abs(want.logit))


def test_head_summary_matches_float32(low, base):
    name, model = low
    got, want = lx.head_summary(model, PROMPT), lx.head_summary(base, PROMPT)
    for score in ("sink", "previous_token", "entropy", "induction"):
        close(getattr(got, score), getattr(want, score), TOLERANCE[name], score)


@pytest.mark.parametrize("method", ["saliency", "input_x_gradient", "occlusion", "shapley_sampling", "kernel_shap",
                                    "lime", "gradient_shap", "attention_x_gradient", "attention_rollout",
                                    "norm_attention"])
def test_attribution_matches_float32(low, base, method):
    name, model = low
    options = {"n_samples": 8} if method in ("shapley_sampling", "kernel_shap", "lime", "gradient_shap") else {}
    got = lx.attribute(model, PROMPT, TARGET, method=method, **options)
    want = lx.attribute(base, PROMPT, TARGET, method=method, **options)
    tol = 2 * TOLERANCE[name] if method in ("saliency", "input_x_gradient", "gradient_shap",
                                            "attention_x_gradient") else TOLERANCE[name]  # gradients: two passes
    close(got.scores, want.scores, tol, method)
    close(got.target_values, want.target_values, TOLERANCE[name], "target values")


@pytest.mark.parametrize("method", ["input_x_gradient", "saliency"])
def test_gradient_scores_sum_in_float32(low, method):
    """``sum_d gradient[d] * embedding[d]`` (and the gradient's norm) of a half-precision model
    summed in float32: equal to a float64 sum of the same (half-precision) gradient and
    embedding to float32 rounding, not to the half-precision rounding of the sum (1e-3)."""
    name, model = low
    result = lx.attribute(model, PROMPT, TARGET, method=method)
    ids = torch.as_tensor(result.tokens.ids)
    embeds = model.model.get_input_embeddings()(ids[None]).detach().requires_grad_(True)
    logits = model.model(inputs_embeds=embeds, use_cache=False).logits[0, -2].float()
    value = torch.log_softmax(logits, -1)[int(ids[-1])]
    (grad,) = torch.autograd.grad(value, embeds)
    grad, embeds = grad[0].double(), embeds[0].detach().double()
    want = (grad * embeds).sum(-1) if method == "input_x_gradient" else grad.norm(dim=-1)
    close(result.scores[0, :-1], want.numpy()[:-1], 1e-5, f"{name} {method}")


def test_integrated_gradients_path_in_float32(low, base):
    """Fixed steps: the scores match float32's; "auto" says the dtype limits completeness."""
    name, model = low
    got = lx.attribute(model, PROMPT, TARGET, n_steps=16)
    want = lx.attribute(base, PROMPT, TARGET, n_steps=16)
    close(got.scores, want.scores, 2 * TOLERANCE[name], "integrated gradients")
    auto = lx.attribute(model, PROMPT, TARGET, max_steps=40)
    assert any(f"computes in {name}" in note and "float32" in note for note in auto.notes), auto.notes
    assert not any("computes in" in note for note in lx.attribute(base, PROMPT, TARGET, max_steps=40).notes)


def test_integrated_gradients_points_are_float32(low, monkeypatch):
    """The path points reach the model as float32 alphas rounded once: alpha = 1e-3 must not
    collapse to bfloat16's nearest alpha (9.98e-4 vs 1e-3 differ by 2e-3 relative)."""
    from llmxai_widgets.methods.attribution import gradient

    name, model = low
    seen = []
    original = gradient._Path._run

    def spy(self, alphas, targets):
        seen.append((self.base.float(), self.delta.float(), list(alphas)))
        return original(self, alphas, targets)

    monkeypatch.setattr(gradient._Path, "_run", spy)
    from llmxai_widgets.methods.attribution import prepare

    problem, _ = prepare(model, PROMPT, TARGET)
    path = gradient._Path(problem, [0], 0, 4, lambda: False)
    reads = []
    monkeypatch.setattr(problem, "target_values", lambda embeds, which=None: (reads.append(embeds.detach()) or
                                                                              type(problem).target_values(
                                                                                  problem, embeds, which)))
    path.at([1e-3, 0.5], [0])
    base_, delta, alphas = seen[-1]
    exact = (base_ + torch.as_tensor(alphas)[:, None, None] * delta).to(reads[-1].dtype)
    assert torch.equal(reads[-1], exact)


def test_causal_trace_matches_float32(low, base):
    """Activations recorded in float32 are cast back to the model's dtype before a block reads them."""
    name, model = low
    got = lx.causal_trace(model, PROMPT, SUBJECT, TARGET, samples=3, window=1)
    want = lx.causal_trace(base, PROMPT, SUBJECT, TARGET, samples=3, window=1)
    for kind in want.kinds:
        close(got.scores[kind], want.scores[kind], TOLERANCE[name], kind)


def test_patching_matches_float32(low, base):
    name, model = low
    got, want = lx.patch(model, PROMPT, CORRUPT), lx.patch(base, PROMPT, CORRUPT)
    for site in want.scores:
        scale = max(abs(want.clean_metric - want.corrupted_metric), 1e-6)
        close(got.scores[site] * scale, want.scores[site] * scale, TOLERANCE[name], site)


def test_circuit_matches_float32(low, base):
    name, model = low
    got = lx.circuit(model, PROMPT, CORRUPT, method="eap", level="node")
    want = lx.circuit(base, PROMPT, CORRUPT, method="eap", level="node")
    close(got.node_scores, want.node_scores, 2 * TOLERANCE[name], "node scores")


def test_probe_and_steering_match_float32(low, base):
    name, model = low
    texts = ["good day", "great fun", "nice one", "lovely", "bad day", "awful", "terrible one", "horrid"] * 2
    labels = [1, 1, 1, 1, 0, 0, 0, 0] * 2
    got = lx.probe(model, texts, labels, folds=2, control=False)
    want = lx.probe(base, texts, labels, folds=2, control=False)
    assert np.abs(np.asarray(got.accuracy) - np.asarray(want.accuracy)).max() <= 0.125  # one text of 16 may flip
    vector = lx.steering_vector(model, ["good", "great"], ["bad", "awful"], layers=[1])
    ref = lx.steering_vector(base, ["good", "great"], ["bad", "awful"], layers=[1])
    close(vector.directions[1], ref.directions[1], TOLERANCE[name], "steering direction")
    ids = torch.as_tensor(model.tokenize(PROMPT).ids)[None]
    with torch.no_grad(), steer(model, vector, 4.0):
        steered = model.model(input_ids=ids).logits[0, -1].float()
    with torch.no_grad(), steer(base, ref, 4.0):
        steered_ref = base.model(input_ids=ids).logits[0, -1].float()
    close(steered.numpy(), steered_ref.numpy(), 2 * TOLERANCE[name], "steered logits")


def steer(model, vector, alpha):
    return lx.steer(model, vector, alpha)


def test_edit_in_half_precision(low, base):
    """ROME on a half-precision model: solved in float64, written back in the weight's dtype,
    reverted bit for bit; the key matches float32's."""
    name, model = low
    got = lx.edit(model, PROMPT, SUBJECT, " Rome", layer=1, steps=5)
    want = lx.edit(base, PROMPT, SUBJECT, " Rome", layer=1, steps=5)
    close(got.key.numpy(), want.key.numpy(), TOLERANCE[name], "key")
    weight = got.projection.weight
    before = weight.detach().clone()
    with got:
        assert weight.dtype == DTYPES[name] and not torch.equal(weight, before)
    assert torch.equal(weight, before)


def test_evaluation_matches_float32(low, base):
    name, model = low
    got = lx.attribute(model, PROMPT, TARGET, method="occlusion")
    want = lx.attribute(base, PROMPT, TARGET, method="occlusion")
    f_got = lx.faithfulness(model, got, random_samples=2, baselines=())
    f_want = lx.faithfulness(base, want, random_samples=2, baselines=())
    close(f_got.targets[0].full, f_want.targets[0].full, TOLERANCE[name], "probability")
    r_got = lx.score_rationale(model, got, [1, 2, 3])
    r_want = lx.score_rationale(base, want, [1, 2, 3])
    close([r_got.full, r_got.without, r_got.only], [r_want.full, r_want.without, r_want.only], TOLERANCE[name])


# -- the real model: SmolLM2 in bfloat16 -----------------------------------------------------------
@pytest.fixture(scope="module")
def smollm2_bf16(smollm2):
    return lx.load_model(model=copy.deepcopy(smollm2.model).to(torch.bfloat16), tokenizer=smollm2.tokenizer,
                         name_or_path="smollm2-bfloat16")


def test_smollm2_bfloat16_attention_and_logit_lens(smollm2, smollm2_bf16):
    """Real weights, 30 blocks: attention within 5e-2 of float32, the same top prediction at the
    last position of every block from the middle up, the target's final probability within 5e-2."""
    got, want = lx.attention(smollm2_bf16, PROMPT), lx.attention(smollm2, PROMPT)
    for layer in (0, 15, 29):
        close(got.layer(layer), want.layer(layer), 5e-2, f"layer {layer}")
    lens, ref = lx.logit_lens(smollm2_bf16, PROMPT, TARGET), lx.logit_lens(smollm2, PROMPT, TARGET)
    assert lens.top_ids[-1, -1, 0] == ref.top_ids[-1, -1, 0]
    assert abs(float(lens.target_probs[-1, -1]) - float(ref.target_probs[-1, -1])) <= 5e-2
    agree = np.mean(lens.top_ids[15:, -1, 0] == ref.top_ids[15:, -1, 0])
    assert agree >= 0.8, agree


def test_smollm2_bfloat16_contributions_add_up(smollm2, smollm2_bf16):
    """30 bfloat16 blocks round the residual by ~0.5% of its norm: above float32's 1e-3 check,
    well inside bfloat16's (eps x sqrt(61) = 6%); the split stays close to float32's."""
    got, want = lx.contributions(smollm2_bf16, PROMPT, TARGET), lx.contributions(smollm2, PROMPT, TARGET)
    assert abs(got.total - got.logit) <= 0.05 * abs(want.logit)
    close(got.components()[1], want.components()[1], 0.15, "components")


# -- accelerate: CPU and disk offload --------------------------------------------------------------
def test_offloaded_model_runs_on_the_execution_device(offloaded):
    """The input embeddings rest on the meta device (offloaded to disk); inputs go to the device
    accelerate runs them on."""
    assert offloaded.model.get_input_embeddings().weight.device.type == "meta"
    assert offloaded.device == torch.device("cpu")
    assert offloaded.offloaded == ["model.embed_tokens", "model.layers.1", "lm_head"]


@pytest.mark.parametrize("method", ["attention", "logit_lens", "neurons", "contributions", "head_summary",
                                    "causal_trace", "patch"])
def test_offloaded_model_matches_float32(offloaded, base, method):
    run = {
        "attention": lambda m: lx.attention(m, PROMPT).layer(1),
        "logit_lens": lambda m: lx.logit_lens(m, PROMPT, TARGET).target_probs,
        "neurons": lambda m: lx.neurons(m, PROMPT).activations,
        "contributions": lambda m: lx.contributions(m, PROMPT, TARGET).components()[1],
        "head_summary": lambda m: lx.head_summary(m, PROMPT).induction,
        "causal_trace": lambda m: lx.causal_trace(m, PROMPT, SUBJECT, TARGET, samples=2, window=1).scores["mlp"],
        "patch": lambda m: lx.patch(m, PROMPT, CORRUPT).scores["residual"],
    }[method]
    close(run(offloaded), run(base), TOLERANCE["offload"], method)


@pytest.mark.parametrize("method", ["integrated_gradients", "input_x_gradient", "occlusion", "kernel_shap",
                                    "attention_x_gradient", "norm_attention"])
def test_offloaded_attribution_matches_float32(offloaded, base, method):
    options = {"n_steps": 8} if method == "integrated_gradients" else {"n_samples": 8} if method == "kernel_shap" else {}
    got = lx.attribute(offloaded, PROMPT, TARGET, method=method, **options)
    want = lx.attribute(base, PROMPT, TARGET, method=method, **options)
    close(got.scores, want.scores, 1e-4, method)


def test_offloaded_probe_steering_and_evaluation(offloaded, base):
    texts = ["good day", "great fun", "bad day", "awful"] * 2
    got = lx.probe(offloaded, texts, [1, 1, 0, 0] * 2, folds=2, control=False, layers=[1])
    want = lx.probe(base, texts, [1, 1, 0, 0] * 2, folds=2, control=False, layers=[1])
    close(got.accuracy, want.accuracy, 1e-6)
    vector = lx.steering_vector(offloaded, ["good"], ["bad"], layers=[1])
    close(vector.directions[1], lx.steering_vector(base, ["good"], ["bad"], layers=[1]).directions[1], 1e-5)
    result = lx.attribute(offloaded, PROMPT, TARGET, method="occlusion")
    scores = lx.faithfulness(offloaded, result, random_samples=2, baselines=())
    ref = lx.faithfulness(base, lx.attribute(base, PROMPT, TARGET, method="occlusion"), random_samples=2,
                          baselines=())
    close(scores.targets[0].full, ref.targets[0].full, 1e-5)


def test_offloaded_circuit_refuses(offloaded):
    with pytest.raises(ValueError, match=r"circuit\(\) reads every block's projection weights.*offloaded"):
        lx.circuit(offloaded, PROMPT, CORRUPT, method="eap")


def test_offloaded_edit_refuses_a_block_on_disk_and_edits_one_in_memory(offloaded, base):
    with pytest.raises(ValueError, match=r"edit\(\) writes the weights of block 1's MLP.*offloaded"):
        lx.edit(offloaded, PROMPT, SUBJECT, " Rome", layer=1, steps=2)
    got = lx.edit(offloaded, PROMPT, SUBJECT, " Rome", layer=2, steps=3)
    want = lx.edit(base, PROMPT, SUBJECT, " Rome", layer=2, steps=3)
    close(got.key.numpy(), want.key.numpy(), 1e-5, "key")


# -- tokenizers -----------------------------------------------------------------------------------
def test_python_tokenizer_offsets_recovered_by_decoding(slow, base):
    """No ``offset_mapping`` from a Python tokenizer: the spans come from decoding and equal the
    fast tokenizer's, byte pieces of a character excepted (they cover nothing; the last piece
    covers the character)."""
    assert "offset_mapping" not in slow.tokenizer(PROMPT, return_offsets_mapping=True)
    for text in (PROMPT, "Hello world,  two spaces\nand a line"):
        got, want = slow.tokenize(text), base.tokenize(text)
        assert got.has_offsets and want.has_offsets
        assert np.array_equal(got.ids, want.ids)
        assert np.array_equal(got.offsets, want.offsets) and got.text == want.text
    pieces = slow.tokenize("a 日本 b")
    assert pieces.has_offsets
    assert "".join(t for t, (s, _) in zip(pieces.text, pieces.offsets) if s >= 0) == "a 日本 b"


def test_python_tokenizer_methods_work(slow, base):
    """With offsets recovered, a subject given as text and word-level grouping work."""
    got = lx.causal_trace(slow, PROMPT, SUBJECT, TARGET, samples=2, window=1)
    want = lx.causal_trace(base, PROMPT, SUBJECT, TARGET, samples=2, window=1)
    assert got.subject == want.subject
    close(got.scores["mlp"], want.scores["mlp"], 1e-6)
    scores = lx.attribute(slow, PROMPT, TARGET, method="occlusion", level="word").scores
    close(scores, lx.attribute(base, PROMPT, TARGET, method="occlusion", level="word").scores, 1e-6)


def test_unrecoverable_offsets_refuse_with_a_message(lossy):
    """A tokenizer that lower-cases: no offsets, none recoverable; text-span features refuse."""
    tokens = lossy.tokenize("Hello World")
    assert not tokens.has_offsets and (tokens.offsets == -1).all()
    assert tokens.text == ["[CLS]", "hello", "world", "[SEP]"]
    with pytest.raises(ValueError, match="needs character offsets, which this tokenizer does not report"):
        find_subject(tokens, "Hello")
    with pytest.raises(ValueError, match="grouping tokens into words needs each token's character offsets"):
        group_tokens(tokens, "word")
    assert find_subject(tokens, (1, 2)) == (1, 2)  # a token range needs no offsets
    with pytest.raises(ValueError, match="needs character offsets"):
        lx.causal_trace(lossy, "Hello World", "Hello", samples=1, window=1)
    with pytest.raises(ValueError, match="needs character offsets"):
        lx.edit(lossy, "Hello World", "Hello", " Rome", layer=1, steps=1)
    trace = lx.causal_trace(lossy, "Hello World", (1, 2), samples=1, window=1)
    assert np.isfinite(trace.scores["mlp"]).all()
    with pytest.raises(ValueError, match="noise='resample' writes other subjects into the prompt's text, which "
                                         "needs the subject tokens' character offsets"):
        lx.causal_trace(lossy, "Hello World", (1, 2), noise="resample", replacements=["Goodbye"], window=1)


def test_no_chat_template(no_chat, base):
    """Without a chat template every method reads plain text as before; messages are refused."""
    from llmxai_widgets.widgets.explorer import chat_text

    assert no_chat.chat_template is None and base.chat_template
    close(lx.logit_lens(no_chat, PROMPT).top_probs, lx.logit_lens(base, PROMPT).top_probs, 0)
    messages = [{"role": "user", "content": "Hi"}]
    assert "Hi" in chat_text(base, messages)
    with pytest.raises(ValueError, match="has no chat template"):
        chat_text(no_chat, messages)
    with pytest.raises(ValueError, match="has no chat template"):
        lx.Explorer(no_chat, messages)


@pytest.mark.slow
def test_smollm2_bfloat16_causal_trace_and_patching(smollm2, smollm2_bf16):
    """The patching engine on real bfloat16 weights (30 blocks): the causal trace's and the
    residual patching's maps within 0.1 of float32's largest effect, the same peak cell."""
    got = lx.causal_trace(smollm2_bf16, PROMPT, SUBJECT, TARGET, samples=2, kinds=("mlp",))
    want = lx.causal_trace(smollm2, PROMPT, SUBJECT, TARGET, samples=2, kinds=("mlp",))
    close(got.scores["mlp"], want.scores["mlp"], 0.1, "causal trace")
    assert np.argmax(got.scores["mlp"]) == np.argmax(want.scores["mlp"])
    patched = lx.patch(smollm2_bf16, PROMPT, CORRUPT, sites=("residual",))
    ref = lx.patch(smollm2, PROMPT, CORRUPT, sites=("residual",))
    close(patched.scores["residual"], ref.scores["residual"], 0.1, "patching")


@pytest.mark.slow
def test_smollm2_bfloat16_attribution_and_edit(smollm2, smollm2_bf16):
    """Input x gradient within 0.1 of float32's largest score. Integrated gradients with 16
    steps: its integration error (completeness ~30% from a zero baseline, in float32 too)
    dominates the dtype's, so the comparison is of what it is sure of: the same top token and
    completeness within 0.05. A ROME edit of the bfloat16 model makes it say the new target."""
    got = lx.attribute(smollm2_bf16, PROMPT, TARGET, method="input_x_gradient")
    want = lx.attribute(smollm2, PROMPT, TARGET, method="input_x_gradient")
    close(got.scores, want.scores, 0.1, "input x gradient")
    got = lx.attribute(smollm2_bf16, PROMPT, TARGET, n_steps=16)
    want = lx.attribute(smollm2, PROMPT, TARGET, n_steps=16)
    assert np.nanargmax(got.scores[0]) == np.nanargmax(want.scores[0])
    assert abs(float(got.completeness[0]) - float(want.completeness[0])) <= 0.05
    edit = lx.edit(smollm2_bf16, PROMPT, SUBJECT, " Rome", layer=4, steps=15)
    ids = torch.as_tensor(smollm2_bf16.tokenize(PROMPT).ids)[None]
    with torch.no_grad(), edit:
        top = int(smollm2_bf16.model(input_ids=ids).logits[0, -1].argmax())
    assert smollm2_bf16.tokenizer.decode([top]) == " Rome"
