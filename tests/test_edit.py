"""ROME's rank-one edit: the update's algebra (W' k* = v*, rank one, other keys untouched) on
LLaMA and GPT-2 (Conv1D) weights, the key against plain hooks, bit-for-bit revert, bad inputs,
and real edits of SmolLM2's facts scored as CounterFact does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import llmxai_widgets as lx
from llmxai_widgets.methods.attention import Cancelled
from llmxai_widgets.methods.use import edit_value
from llmxai_widgets.methods.use.edit import edit
from llmxai_widgets.methods.use.facts import FACTS

COLOSSEUM, ACROPOLIS = FACTS[1], FACTS[2]
TEXTS = [f"{who} walked to the {place} on {day} and {did}." for who, place, day, did in zip(
    ["Anna", "The old man", "Our teacher", "A dog", "The mayor", "Two children", "My aunt", "The pilot", "A farmer",
     "The band", "Her cousin", "The nurse", "A tourist", "The chef", "Grandpa", "The students", "A painter",
     "The doctor", "His brother", "The team"],
    ["market", "station", "river", "park", "library", "harbour", "bakery", "museum", "bridge", "school", "garden",
     "hospital", "castle", "beach", "church", "stadium", "forest", "office", "zoo", "village"],
    ["Monday", "Tuesday", "Friday", "Sunday", "a rainy day", "New Year", "a cold night", "Saturday", "Wednesday",
     "a sunny morning", "Thursday", "her birthday", "holiday", "a windy day", "payday", "the last day", "Easter",
     "a quiet evening", "a busy day", "the first day"],
    ["bought bread", "waited an hour", "went fishing", "read the news", "met a friend", "sang a song",
     "lost a glove", "took photos", "sold apples", "played music", "wrote a letter", "helped a child",
     "asked for directions", "cooked soup", "fell asleep", "won the match", "painted trees", "called home",
     "fed the lions", "planted seeds"])]
PROMPT, SUBJECT = "The Eiffel Tower is located in the city of", "The Eiffel Tower"


# -- edits computed once ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def colosseum(smollm2):
    """The Colosseum fact edited to ' London', the block chosen by causal tracing (identity C)."""
    return edit(smollm2, COLOSSEUM.prompt, COLOSSEUM.subject, COLOSSEUM.new_target)


@pytest.fixture(scope="module")
def colosseum_covariance(smollm2):
    """The same edit at the same block with C from 20 short texts (fewer tokens than keys have
    dimensions: the ridge is needed)."""
    return edit(smollm2, COLOSSEUM.prompt, COLOSSEUM.subject, COLOSSEUM.new_target, layer=4, covariance=TEXTS)


@pytest.fixture(scope="module")
def tiny_edits(tiny_gqa, tiny_gpt2):
    """Identity and covariance edits of a LLaMA (Linear) and a GPT-2 (Conv1D) model."""
    return {(name, cov): edit(model, PROMPT, SUBJECT, " Rome", layer=1, covariance=TEXTS if cov else None, steps=5)
            for name, model in (("llama", tiny_gqa), ("gpt2", tiny_gpt2)) for cov in (False, True)}


ALGEBRA = [("llama", False), ("llama", True), ("gpt2", False), ("gpt2", True), ("smollm2", False), ("smollm2", True)]


@pytest.fixture(params=ALGEBRA, ids=[f"{m}-{'covariance' if c else 'identity'}" for m, c in ALGEBRA])
def any_edit(request, tiny_edits):
    name, cov = request.param
    if name == "smollm2":
        return request.getfixturevalue("colosseum_covariance" if cov else "colosseum")
    return tiny_edits[(name, cov)]


def _map(e, keys: torch.Tensor) -> torch.Tensor:
    """``W`` of the edit's module applied to ``keys[n, in]`` as the model runs it (float32)."""
    with torch.no_grad():
        return e.projection.module(keys.to(e.projection.weight.dtype)[None])[0]


def _second_moment(model, module, texts) -> torch.Tensor:
    """E[k kᵀ] over every token of ``texts``, one plain forward pass per text."""
    keys = []
    handle = module.register_forward_hook(lambda _m, args, _o: keys.append(args[0][0].detach().double()))
    try:
        with torch.no_grad():
            for text in texts:
                model.model(input_ids=torch.as_tensor(model.tokenize(text).ids)[None])
    finally:
        handle.remove()
    k = torch.cat(keys)
    return k.T @ k / len(k)


# -- 1-3, 7: the algebra ---------------------------------------------------------------------------
def test_edited_weight_maps_the_key_to_the_value(any_edit):
    """W' k* = v* within 1e-4 of ||v*|| (float32 weights), and the change is not negligible."""
    e = any_edit
    before = _map(e, e.key[None])[0]
    assert (e.value - before).norm() > 0.1 * before.norm()  # the optimised vector moved the value
    with e:
        after = _map(e, e.key[None])[0]
    assert (after - e.value).norm() <= 1e-4 * e.value.norm()


def test_the_update_has_rank_one(any_edit):
    e = any_edit
    s = torch.linalg.svdvals(e.delta())
    assert s.dtype == torch.float64 and s[1] < 1e-6 * s[0]
    assert e.delta().shape == e.projection.weight.shape
    weight = e.projection.weight
    before = weight.detach().double().clone()
    with e:
        applied = weight.detach().double() - before  # what was written, after rounding to float32
    assert torch.allclose(applied, e.delta(), atol=1e-6 * float(before.abs().max()))


def test_keys_orthogonal_to_the_update_are_unchanged(any_edit):
    """Identity: keys orthogonal to k*; covariance: C⁻¹-orthogonal keys (C computed here
    independently, with the documented ridge) map as before."""
    e = any_edit
    model = e.model
    key = e.key.double()
    if e.covariance == "identity":
        normal = key
    else:
        moment = _second_moment(model, e.projection.module, TEXTS)
        eigen = torch.linalg.eigvalsh(moment)
        ill = eigen[0] <= 0 or eigen[-1] / eigen[0] > edit_value.MAX_CONDITION  # the documented rule
        ridge = edit_value.RIDGE * float(eigen.clamp(min=0).mean()) if ill else 0.0
        assert e.ridge == pytest.approx(ridge, rel=1e-3)
        assert ("ridge" in e.covariance) and (("no ridge" in e.covariance) == (not ill))
        normal = torch.linalg.solve(moment + ridge * torch.eye(len(moment), dtype=torch.float64), key)
    assert torch.nn.functional.cosine_similarity(e.key_direction, normal, 0) > 1 - 1e-6
    x = torch.randn(8, len(key), generator=torch.Generator().manual_seed(0), dtype=torch.float64) * key.norm()
    x -= (x @ normal)[:, None] * normal / (normal @ normal)
    before = _map(e, x.float())
    with e:
        after = _map(e, x.float())
        moved = _map(e, e.key[None])
    scale = float(before.abs().max())
    assert torch.allclose(after, before, atol=2e-5 * scale)
    assert not torch.allclose(moved[0], before[0], atol=1e-2 * scale)


def test_gpt2_edits_its_conv1d_in_its_own_orientation(tiny_edits):
    e = tiny_edits[("gpt2", False)]
    assert e.conv1d and e.weight_name == "transformer.h.1.mlp.c_proj"
    assert e.left.shape == (128,) and e.right.shape == (32,)  # ΔW = outer(left, right), weight [in, out]
    assert torch.equal(e.left, e.key_direction) and torch.equal(e.right, e.value_change)
    llama = tiny_edits[("llama", False)]
    assert not llama.conv1d and llama.weight_name == "model.layers.1.mlp.down_proj"
    assert torch.equal(llama.left, llama.value_change) and llama.left.shape == (64,)
    assert "second moment over 20 texts" in tiny_edits[("gpt2", True)].covariance


# -- 6: the key --------------------------------------------------------------------------------------
def test_key_is_the_mean_of_plain_hooked_runs(colosseum, smollm2):
    e = colosseum
    keys = []
    for prefix in e.prefixes:
        text = prefix + e.prompt
        tokens = smollm2.tokenize(text)
        end = len(prefix) + e.prompt.index(e.subject) + len(e.subject)
        last = max(i for i, (a, b) in enumerate(tokens.offsets) if 0 <= a < end)
        seen = []
        handle = e.projection.module.register_forward_hook(lambda _m, args, _o: seen.append(args[0][0, last]))
        try:
            with torch.no_grad():
                smollm2.model(input_ids=torch.as_tensor(tokens.ids)[None])
        finally:
            handle.remove()
        keys.append(seen[0])
    assert e.subject_token == "um" and len(keys) == 3
    assert torch.allclose(e.key, torch.stack(keys).mean(0), rtol=1e-4, atol=1e-5 * float(e.key.abs().max()))


# -- 5: apply, revert ------------------------------------------------------------------------------
def test_revert_restores_every_parameter_bit_for_bit(colosseum, smollm2):
    e = colosseum
    state = {name: value.clone() for name, value in smollm2.model.state_dict().items()}
    version = smollm2.weights_version
    e.apply()
    assert e.applied and not torch.equal(e.projection.weight, state[e.weight_name + ".weight"])
    with pytest.raises(RuntimeError, match="already applied"):
        e.apply()
    e.revert()
    assert not e.applied and smollm2.weights_version == version + 2
    assert smollm2.weights_changes[-2].startswith("edit applied: ' London' for 'The Colosseum' at block")
    assert smollm2.weights_changes[-1].startswith("edit reverted:")
    with pytest.raises(RuntimeError, match="not applied"):
        e.revert()
    with pytest.raises(KeyError):
        with e:
            assert e.applied
            raise KeyError("inside")
    assert not e.applied and smollm2.weights_version == version + 4
    current = smollm2.model.state_dict()
    assert all(torch.equal(current[name], value) for name, value in state.items())


def test_evaluate_and_generate_leave_the_model_as_found(tiny_edits, tiny_gqa):
    e = tiny_edits[("llama", False)]
    weight = e.projection.weight.detach().clone()
    version = tiny_gqa.weights_version
    result = e.evaluate(paraphrases=["The Eiffel Tower stands in the city of"])
    before, after = e.generate(max_new_tokens=3)
    assert torch.equal(e.projection.weight, weight) and tiny_gqa.weights_version == version
    with e:
        applied = e.projection.weight.detach().clone()
        assert e.evaluate().rows[0].p_new_after == pytest.approx(result.rows[0].p_new_after, rel=1e-5)
        assert e.generate(max_new_tokens=3) == (before, after)
        assert torch.equal(e.projection.weight, applied)
    assert result.efficacy in (0.0, 1.0) and result.specificity is None and len(result.rows) == 2
    with pytest.raises(ValueError, match="needs at least one prompt"):
        e.evaluate(prompts=[])


# -- 4: real facts ---------------------------------------------------------------------------------
def test_facts_are_what_smollm2_answers(smollm2):
    """Every prompt of the fact set (prompt, paraphrases, neighbours) has the true target on top."""
    from llmxai_widgets.methods.use.edit_eval import probabilities

    for fact in FACTS:
        (target,) = smollm2.tokenizer(fact.target, add_special_tokens=False)["input_ids"]
        prompts = [fact.prompt, *fact.paraphrases, *fact.neighbours]
        _, _, top = probabilities(smollm2, prompts, [target], target)
        assert [p for p, t in zip(prompts, top) if t != target] == []
        assert fact.subject in fact.prompt
        assert 2 <= len(fact.paraphrases) <= 3 and 3 <= len(fact.neighbours) <= 5


@pytest.mark.parametrize("which", ["colosseum", "acropolis"])
def test_smollm2_learns_the_new_fact(which, request, smollm2):
    fact = COLOSSEUM if which == "colosseum" else ACROPOLIS
    if which == "colosseum":
        e = request.getfixturevalue("colosseum")
        assert e.layer_from.startswith("causal tracing (score ") and e.trace.shape == (smollm2.n_layers,)
        assert e.layer == int(np.argmax(e.trace))
    else:  # the block causal tracing picks for it (saves the trace's seconds); a two-token target
        e = edit(smollm2, fact.prompt, fact.subject, fact.new_target, layer=5)
        assert len(e.new_target_ids) == 2
    result = fact.evaluate(e)
    print(f"\n{fact.subject}: block {e.layer} ({e.layer_from}), {len(e.losses)} steps, {e.seconds:.1f} s\n"
          f"{result.table()}")
    assert e.old_target == fact.target and e.target_prob[-1] > 0.9
    assert all(row.p_old_before > row.p_new_before for row in result.rows)  # the facts were right
    assert result.rows[0].new_first_on_top_after
    assert any(row.new_first_on_top_after for row in result.of("paraphrase"))
    # measured: efficacy 1, generalisation 1, specificity 1 for both facts
    assert result.efficacy == 1.0 and result.generalisation >= 2 / 3 and result.specificity >= 0.75
    before, after = e.generate(max_new_tokens=3)
    assert before.startswith(fact.target) and after.startswith(fact.new_target)


# -- tracing, progress, cancelling -----------------------------------------------------------------
def test_traced_block_matches_causal_trace(tiny_gqa):
    e = edit(tiny_gqa, PROMPT, SUBJECT, " Rome", steps=1)
    trace = lx.causal_trace(tiny_gqa, PROMPT, SUBJECT, kinds=("mlp",), window=tiny_gqa.n_layers)
    np.testing.assert_allclose(e.trace, trace.scores["mlp"][:, trace.subject[1] - 1], rtol=1e-4, atol=1e-9)
    assert e.layer == int(np.argmax(e.trace)) and e.layer_from.startswith("causal tracing")


def test_progress_and_cancel(tiny_gqa):
    seen = []
    e = edit(tiny_gqa, PROMPT, SUBJECT, " Rome", layer=2, covariance=TEXTS[:10], steps=4, stop_below=None,
             on_step=lambda *args: seen.append(args))
    assert [s[:3] for s in seen if s[0] == "covariance"] == [("covariance", 8, 10), ("covariance", 10, 10)]
    assert [s[1] for s in seen if s[0] == "value"] == [1, 2, 3, 4] and len(e.losses) == 4
    with pytest.raises(Cancelled):
        edit(tiny_gqa, PROMPT, SUBJECT, " Rome", layer=2, cancelled=lambda: True)


# -- 8: bad input ----------------------------------------------------------------------------------
def test_bad_inputs_say_what_to_do(smollm2, tiny_t5, tiny_gqa):
    fact = COLOSSEUM
    with pytest.raises(ValueError, match=r"'the Colosseum' does not occur in the prompt 'The Colosseum is located"
                                         r".*case-sensitive.*differs only in case"):
        edit(smollm2, fact.prompt, "the Colosseum", " London", layer=4)
    with pytest.raises(ValueError, match=r"already predicts ' Rome' after .*choose another target"):
        edit(smollm2, fact.prompt, fact.subject, " Rome", layer=4)
    for target in ("", "  ", 5, None):
        with pytest.raises(ValueError, match="new_target must be a non-empty string"):
            edit(smollm2, fact.prompt, fact.subject, target, layer=4)
    with pytest.raises(IndexError, match="layer 30 is out of range: smollm2 has 30 blocks"):
        edit(smollm2, fact.prompt, fact.subject, " London", layer=30)
    with pytest.raises(TypeError, match="layer must be a block number"):
        edit(smollm2, fact.prompt, fact.subject, " London", layer="4")
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        edit(smollm2, fact.prompt, fact.subject, " London", layer=4, steps=0)
    with pytest.raises(ValueError, match="covariance has no texts"):
        edit(smollm2, fact.prompt, fact.subject, " London", layer=4, covariance=[])
    with pytest.raises(TypeError, match="covariance must be a list of texts"):
        edit(smollm2, fact.prompt, fact.subject, " London", layer=4, covariance="one text")
    with pytest.raises(ValueError, match="edit.. decodes .* needs a causal language model"):
        edit(tiny_t5, PROMPT, SUBJECT, " Rome", layer=0)


def test_an_mlp_that_does_not_end_in_a_linear_map_is_refused(tiny_gqa):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=49152, max_position_embeddings=64)
    model = LlamaForCausalLM(config)
    model.model.layers[0].mlp.down_proj = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Tanh())
    loaded = lx.load_model(model=model, tokenizer=tiny_gqa.tokenizer, name_or_path="tanh-llama")
    with pytest.raises(ValueError, match=r"the output of model.layers.0.mlp \(LlamaMLP\) in block 0 is not the "
                                         r"output of one linear map"):
        edit(loaded, PROMPT, SUBJECT, " Rome", layer=0)
