"""What ``AttributionView`` adds to judge its explanation: the Evaluate tab (the shown method's
faithfulness beside a random ranking and the leave-one-out oracle) and predict-then-reveal (a
student marks the tokens they think mattered before the scores show; on reveal their marks are
scored as a rationale: plausibility of the method against them, and how faithful their own choice
is). Kept apart from attribution.py, which draws the scores."""

from __future__ import annotations

import traitlets as t

from ..methods.evaluate.faithfulness import faithfulness
from ..methods.evaluate.rationale import score_rationale

TABS = ("scores", "evaluate")


class JudgeTraits(t.HasTraits):
    """Traits and reactions of the Evaluate tab and predict-then-reveal (a mixin of AttributionView)."""

    tab = t.Unicode("scores").tag(sync=True)
    """"scores" (the heatmap) or "evaluate" (the faithfulness of the method shown)."""
    evaluation = t.Dict().tag(sync=True)
    """:meth:`FaithfulnessResult.to_json` of the result shown (computed when the Evaluate tab
    opens; empty until then and after the method changes)."""
    guessing = t.Bool(False).tag(sync=True)
    """Predict-then-reveal: the scores stay hidden until ``revealed``; clicks mark ``guess``."""
    guess = t.List(t.Int()).tag(sync=True)
    """The token positions the student marked (a rationale for the selected target)."""
    revealed = t.Bool(False).tag(sync=True)
    guess_scores = t.Dict().tag(sync=True)
    """:meth:`RationaleScores.as_dict` of ``guess`` once revealed (empty before)."""

    @t.validate("tab")
    def _valid_tab(self, proposal):
        return self._choose(proposal, TABS)

    @t.observe("tab", "status")
    def _evaluate_when_shown(self, change) -> None:
        """The Evaluate tab's numbers once it is open and the result ready; revealed marks scored
        again against a new result (another method)."""
        if self.status != "ready" or self._result is None:
            return
        if self.tab == "evaluate" and not self.evaluation:
            self._aside(self._evaluate, self._result)
        if change["name"] == "status" and self.revealed and self.guess and not self.guess_scores:
            self._aside(self._score_guess, self._result, list(self.guess), self.selected)

    def _evaluate(self, result) -> None:
        label = self.progress_label
        self.progress_label = "evaluating faithfulness\u2026"
        try:
            faith = faithfulness(self._model, result)
        except Exception as err:  # noqa: BLE001  (shown in the view; the scores stay)
            self.error = f"could not evaluate faithfulness: {err}"
            return
        finally:
            self.progress_label = label
        if result is self._result:  # not a result replaced meanwhile
            self._faithfulness = faith
            self.evaluation = faith.to_json()

    @t.observe("revealed")
    def _reveal(self, change) -> None:
        if not change["new"]:
            self.guess_scores = {}
            return
        if self._result is None:
            return
        if not self.guess:
            self.error = "mark at least one token you think mattered, then reveal"
            self._quietly(revealed=False)
            return
        self._aside(self._score_guess, self._result, list(self.guess), self.selected)

    def _score_guess(self, result, guess: list[int], selected: int) -> None:
        try:
            scores = score_rationale(self._model, result, guess, target=selected)
        except (TypeError, ValueError, IndexError) as err:
            self.error = f"your marks cannot be scored: {err}"
            self._quietly(revealed=False)
            return
        self.error = ""
        self.guess_scores = scores.as_dict()

    @t.observe("selected", "guessing")
    def _new_guess(self, change) -> None:
        """Another target (or the mode switched): the marks start again."""
        if change["old"] != change["new"]:
            with self.hold_sync():
                self.guess, self.guess_scores = [], {}
                self._quietly(revealed=False)

    def _forget_judgement(self) -> None:
        """A new result: its evaluation and the scores of the marks are computed again (the
        marks stay, and stay revealed)."""
        self._faithfulness = None
        with self.hold_sync():
            self.evaluation, self.guess_scores = {}, {}

    _faithfulness = None

    @property
    def faithfulness_result(self):
        """The :class:`~llmxai_widgets.FaithfulnessResult` the Evaluate tab shows (None until it opened)."""
        return self._faithfulness


__all__ = ["JudgeTraits", "TABS"]
