"""EditView's traits against an edit computed here (same block, same prompts), Apply / Revert
through the browser's message path (the weight written and restored bit for bit, other views told,
this one not), refusals, figures and the Export button."""

from __future__ import annotations

import pytest
import torch

import llmxai_widgets as lx

FACT = lx.edit_facts.FACTS[1]  # the Colosseum, Rome -> London
LAYER = 4


@pytest.fixture(scope="module")
def view(smollm2):
    return lx.EditView(smollm2, fact=FACT, layer=LAYER, max_new_tokens=6, background=False)


def test_rows_scores_and_continuations_are_the_edits(smollm2, view):
    edit = lx.edit(smollm2, FACT.prompt, FACT.subject, FACT.new_target, layer=LAYER)
    evaluation = FACT.evaluate(edit)
    assert view.status == "ready" and view.error == ""
    assert (view.layer, view.layer_from, view.old_target) == (LAYER, "given", FACT.target)
    assert [r["prompt"] for r in view.rows] == [r.prompt for r in evaluation.rows]
    for shown, row in zip(view.rows, evaluation.rows):
        for key in ("p_new_before", "p_new_after", "p_old_before", "p_old_after"):
            assert shown[key] == pytest.approx(getattr(row, key), abs=1e-5), (row.prompt, key)
        assert (shown["top_before"], shown["top_after"]) == (row.top_before, row.top_after)
    assert view.scores == {"efficacy": evaluation.efficacy, "generalisation": evaluation.generalisation,
                           "specificity": evaluation.specificity}
    before, after = edit.generate(FACT.prompt, 6)
    assert view.generations[0] == {"kind": "prompt", "prompt": FACT.prompt, "before": before, "after": after}
    assert [g["kind"] for g in view.generations] == ["prompt", "paraphrase", "neighbour"]
    assert view.target_prob == pytest.approx(edit.target_prob, abs=1e-5) and view.trace == []


def test_apply_and_revert_from_the_view(smollm2, view):
    weight = view.result.projection.weight
    original = weight.detach().clone()
    other = lx.ContributionView(smollm2, "The Colosseum is in", background=False)
    version = smollm2.weights_version
    view.set_state({"applied": True})  # the Apply button
    try:
        assert view.result.applied and view.applied and view.error == ""
        assert torch.equal(weight.detach(), (original.double() + view.result.delta()).to(original.dtype))
        assert "weights changed after this view computed" in other.error and "edit applied" in other.error
        assert smollm2.weights_version == version + 1
    finally:
        view.set_state({"applied": False})  # Revert
    assert not view.result.applied and not view.applied and view.error == ""
    assert torch.equal(weight.detach(), original)
    assert "edit reverted" in other.error
    view.result.apply()  # from Python: the view's button follows
    assert view.applied
    view.result.revert()
    assert not view.applied and torch.equal(weight.detach(), original)


def test_refusals(smollm2, view):
    with pytest.raises(ValueError, match="does not occur in the prompt"):
        lx.EditView(smollm2, "The Colosseum is located in the city of", "the colosseum", " London")
    with pytest.raises(ValueError, match="already predicts ' Rome'"):
        lx.EditView(smollm2, "The Colosseum is located in the city of", "The Colosseum", " Rome", layer=LAYER,
                    background=False)
    with pytest.raises(IndexError, match="layer"):
        lx.EditView(smollm2, fact=FACT, layer=30)
    with pytest.raises(ValueError, match="paraphrases"):
        lx.EditView(smollm2, fact=FACT, layer=LAYER, paraphrases=["ok", ""], neighbours=())


def test_figures_and_export(view, svg_texts, press_export, tmp_path):
    texts = svg_texts(view.figure().svg())
    assert any("efficacy 1.00" in text for text in texts)
    assert any(FACT.paraphrases[0] in text for text in texts)
    assert any(text.startswith("p(") and "London" in text for text in texts)
    for suffix in ("svg", "pdf", "png"):
        assert view.save(tmp_path / f"e.{suffix}").stat().st_size > 1000
    kind, content, buffers = press_export(view, format="png")
    assert kind == "export" and content["ok"] and content["name"] == "edit-smollm2-block4.png"
    assert buffers[0][:4] == b"\x89PNG"
