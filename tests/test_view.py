"""The view framework (llmxai_widgets/widgets/view.py): the checks every view's constructor makes,
and the validators that refuse a value a person sets in the view (the message in ``error``, the
old value kept). Each view's own errors are tested beside it."""

from __future__ import annotations

import pytest
import traitlets

import llmxai_widgets as lx
from llmxai_widgets.widgets.view import View

TEXT = "The capital of France is"
FOLLOWERS = [lx.LogitLensView, lx.ContributionView]  # the views built on FollowsTarget


@pytest.mark.parametrize("view", FOLLOWERS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (("minilm", TEXT), {}, ValueError, "needs a causal language model"),
        (("smollm2", " "), {}, ValueError, "text is empty"),
        (("smollm2", TEXT), {"target": "Paris France"}, ValueError, "must be exactly one"),
        (("smollm2", TEXT), {"target": 10_000_000}, IndexError, "target id 10000000 is out of range"),
        (("smollm2", TEXT), {"position": 9}, IndexError, "position 9 is out of range"),
        ((None, TEXT), {}, TypeError, "model must come from llmxai_widgets.load_model"),
    ],
    ids=["not-causal", "empty", "two-token-target", "target-id", "position", "not-a-model"],
)
def test_constructor_errors_name_the_problem(request, view, args, kwargs, error, message):
    model = request.getfixturevalue(args[0]) if args[0] else object()
    with pytest.raises(error, match=message):
        view(model, args[1], **kwargs)


class Knobs(View):
    """A view with one trait of each kind the validators check (no model needed)."""

    mode = traitlets.Unicode("a")
    level = traitlets.Float(0.5)
    layer = traitlets.Int(0)

    @traitlets.validate("mode")
    def _valid_mode(self, proposal):
        return self._choose(proposal, ("a", "b"))

    @traitlets.validate("level")
    def _valid_level(self, proposal):
        return self._within(proposal, 0.0, 1.0)

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        return self._indexed(proposal, 3, "tiny", note=" (try 0)")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("mode", "c", "mode must be one of 'a', 'b', got 'c'"),
        ("level", 1.5, "level must be between 0.0 and 1.0, got 1.5"),
        ("layer", 3, "layer 3 is out of range: tiny has 3 layers, numbered 0-2 (try 0)"),
    ],
)
def test_validators_refuse_with_a_message_and_keep_the_value(name, value, message):
    view = Knobs()
    before = getattr(view, name)
    with pytest.raises(traitlets.TraitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        setattr(view, name, value)
    assert view.error == message and getattr(view, name) == before


def test_set_given_sets_only_what_is_given_and_silent_nests():
    view = Knobs()
    view._set_given(mode="b", level=None, layer=2)
    assert (view.mode, view.level, view.layer) == ("b", 0.5, 2)
    with view._silent():
        with view._silent():
            pass
        assert view._quiet  # the inner block does not end the outer one
    assert not view._quiet
