"""Linear probes per layer: how well a logistic regression reads a label from the residual stream.

For each block, the residual stream after it (at each text's last token, or averaged over its
tokens) is the probe's input. Every text is predicted once, by the probe trained on the other
folds of a stratified k-fold split, so ``accuracy`` is held out. A probe that scores well may
have learned the property, or may only be expressive enough to memorise whatever the features
hold; the control task of Hewitt & Liang (2019, "Designing and Interpreting Probes with Control
Tasks") tells them apart: each word type gets a random label, the same probe is trained on those,
and ``selectivity = accuracy - control_accuracy`` is how much of the accuracy comes from the
property rather than from memorising word types.

Held-out accuracy can fall below chance where a layer does not hold the label: texts that look
alike there (the same last token, say) but carry both labels are split between folds, and the
training fold always has more of the other label than the text left out.

The classifier is scikit-learn's ``LogisticRegression`` objective, solved exactly here (Newton's
method in float64) so that the package does not need scikit-learn: binary,
``C * sum(log-loss) + 0.5 * ||w||^2``; more classes, the multinomial (softmax) loss with the same
penalty on every class's weights. Intercepts are not penalised.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ...models.wrapped import LoadedModel
from ..attention import Cancelled
from ..registry import register
from .features import block_outputs, check_layers, check_position_kind, check_texts, encode
from .probe_fit import control_labels, cross_validate, fit_logistic, standardiser, stratified_folds


@dataclass(repr=False)
class ProbeResult:
    """Held-out accuracy of a linear probe at each layer in ``layers`` (row ``i`` = ``layers[i]``).

    - ``classes``: the sorted distinct labels, as given; class index ``c`` is ``classes[c]``.
    - ``accuracy[row]``, ``control_accuracy[row]``, ``selectivity[row]``: float64, NaN for layers
      not done yet (and the control ones None when ``control=False``).
    - ``chance``: the majority class's share, what predicting it for every text scores.
    - ``predictions[row, text]``: the held-out predicted class index (-1 until done);
      ``probabilities[row, text, class]``: the held-out probabilities.
    - ``fold_of[text]``: the fold each text is tested in; ``control_labels[text]``: its class
      index in the control task.
    - ``weights[row, k, hidden]``, ``intercepts[row, k]``: the probe fit on every text, in
      residual-stream units (the standardisation undone): ``logit = weights @ x + intercept``.
      Binary: ``k = 1``, the logit of ``classes[1]``; more classes: ``k = len(classes)``.
    - ``features[row, text, hidden]``: the float32 residual streams the probes read.
    - ``seconds[row]``: the time to fit that layer's probes.
    """

    layers: list[int]
    classes: list
    texts: list[str]
    labels: list
    position: str
    model_name: str
    accuracy: np.ndarray
    control_accuracy: np.ndarray | None
    selectivity: np.ndarray | None
    chance: float
    predictions: np.ndarray
    probabilities: np.ndarray
    folds: int
    C: float
    seed: int
    fold_of: np.ndarray
    control_labels: np.ndarray | None
    weights: np.ndarray = field(repr=False)
    intercepts: np.ndarray = field(repr=False)
    features: np.ndarray = field(repr=False)
    seconds: np.ndarray = field(repr=False)

    @property
    def done(self) -> np.ndarray:
        """Bool per row: that layer's probes are fit."""
        return ~np.isnan(self.accuracy)

    @property
    def targets(self) -> np.ndarray:
        """Each text's true class index."""
        return np.asarray([self.classes.index(label) for label in self.labels])

    def row(self, layer: int) -> int:
        """Row of model layer ``layer``, or an error naming the layers this result holds."""
        if layer not in self.layers:
            raise ValueError(f"layer {layer!r} is not in this result; it holds layers {self.layers}")
        row = self.layers.index(layer)
        if not self.done[row]:
            raise ValueError(f"layer {layer} is not done yet (the probe was cancelled or is still running)")
        return row

    def confusion(self, layer: int) -> np.ndarray:
        """int64 ``[true class, predicted class]`` counts of the held-out predictions at ``layer``."""
        k = len(self.classes)
        counts = np.zeros((k, k), np.int64)
        np.add.at(counts, (self.targets, self.predictions[self.row(layer)]), 1)
        return counts

    def wrong(self, layer: int) -> list[dict]:
        """The texts the held-out probe at ``layer`` got wrong, most confident mistakes first:
        ``{"index", "text", "label", "predicted", "probability"}`` (of the predicted class)."""
        row = self.row(layer)
        predicted = self.predictions[row]
        out = [{"index": int(i), "text": self.texts[i], "label": self.labels[i], "predicted": self.classes[p],
                "probability": float(self.probabilities[row, i, p])}
               for i, (p, t) in enumerate(zip(predicted, self.targets)) if p != t]
        return sorted(out, key=lambda w: -w["probability"])

    def best_layer(self, by: str = "accuracy") -> int:
        """The layer with the highest ``accuracy`` (or ``"selectivity"``); ties: the earliest."""
        values = {"accuracy": self.accuracy, "selectivity": self.selectivity}.get(by)
        if values is None:
            raise ValueError(f"by must be 'accuracy' or 'selectivity' (with control=True), got {by!r}")
        if not self.done.any():
            raise ValueError("no layer is done yet")
        return self.layers[int(np.nanargmax(values))]

    def direction(self, layer: int, cls=None) -> np.ndarray:
        """Unit vector (float64 ``[hidden]``) in the residual stream that the probe at ``layer``
        reads (its weights in residual-stream units, so dimensions of small variance, which the
        standardisation scaled up, weigh more): moving along it raises the logit of ``classes[1]``,
        the second label in sorted order (e.g. "positive" of negative/positive), or of ``cls`` if
        given. With more than two classes ``cls`` is needed: that class's weights (they sum to 0)."""
        row = self.row(layer)
        if cls is not None and cls not in self.classes or cls is None and len(self.classes) > 2:
            raise ValueError(f"cls must be one of the classes {self.classes}, got {cls!r}")
        if len(self.classes) == 2:
            w = self.weights[row, 0] * (-1 if cls is not None and self.classes.index(cls) == 0 else 1)
        else:
            w = self.weights[row, self.classes.index(cls)]
        norm = np.linalg.norm(w)
        return w / norm if norm > 0 else w

    def to_table(self) -> str:
        """One line per layer: held-out accuracy, control accuracy and selectivity."""
        control = self.control_accuracy if self.control_accuracy is not None else np.full(len(self.layers), np.nan)
        rows = zip(self.layers, self.accuracy, control)
        return "\n".join(["layer  accuracy  control  selectivity"]
                         + [f"{layer:>5}  {a:8.3f}  {c:7.3f}  {a - c:11.3f}" for layer, a, c in rows])

    def __repr__(self) -> str:
        done = int(self.done.sum())
        best = f", best layer {self.best_layer()} ({np.nanmax(self.accuracy):.3f})" if done else ""
        return (f"ProbeResult({self.model_name}, {len(self.texts)} texts, classes {self.classes}, position="
                f"{self.position!r}, chance {self.chance:.3f}{best}, {done}/{len(self.layers)} layers done)\n"
                + self.to_table())


@register("probe")
def probe(model: LoadedModel, texts: Sequence[str], labels: Sequence[Hashable], *, layers=None,
          position: str = "last", control: bool = True, folds: int = 5, C: float = 1.0, seed: int = 0,
          batch_size: int = 16, on_layer: Callable[[int, ProbeResult], None] | None = None,
          cancelled: Callable[[], bool] | None = None,
          on_progress: Callable[[float, str], None] | None = None) -> ProbeResult:
    """Train a logistic-regression probe on the residual stream after each block in ``layers``
    (None: every block) to predict ``labels`` (one string or int per text), held out by
    ``folds``-fold stratified cross-validation (folds drawn from ``seed``).

    Each feature is standardised with the training fold's mean and standard deviation (0 -> 1).
    ``C``: scikit-learn's inverse regularisation strength. ``control``: also train on the control
    task (each word type gets a random label drawn from the label distribution, from ``seed``):
    the token at the probed position for ``position="last"``, the whole token sequence for
    ``"mean"``. After the held-out runs, one probe is fit on every text for ``weights`` and
    :meth:`ProbeResult.direction`.

    ``on_layer(layer, result)`` runs after each layer is done; ``cancelled()`` returning True
    stops between layers (or feature batches) with :class:`~llmxai_widgets.methods.Cancelled`;
    the layers done stay in the result passed to ``on_layer``. ``on_progress(fraction, label)``
    reports the features (first half) and the layers (second half).
    """
    if model.kind == "seq2seq":
        raise ValueError(f"probe() reads one stack of blocks over each text; {model.name} is an encoder-decoder "
                         "(seq2seq) model, which is not supported. Load a decoder-only or encoder model, e.g. "
                         "lx.load_model('smollm2')")
    texts = check_texts(texts, at_least=2)
    classes, y, C = _check(texts, labels, folds, C)
    position = check_position_kind(position)
    layers = check_layers(model, layers)
    fold_of = stratified_folds(y, folds, seed)
    ids = encode(model, texts)
    types = [int(i[-1]) if position == "last" else tuple(int(t) for t in i) for i in ids]
    control_y = control_labels(types, y, len(classes), seed) if control else None
    progress = on_progress or (lambda fraction, label: None)
    on_batch = lambda done, total: progress(0.5 * done / total, f"features: {done}/{total} texts")  # noqa: E731
    features = block_outputs(model, texts, layers, position=position, batch_size=batch_size, on_batch=on_batch,
                             cancelled=cancelled)
    n, k, rows = len(texts), len(classes), len(layers)
    nan = lambda *shape: np.full((rows, *shape), np.nan)  # noqa: E731
    result = ProbeResult(
        layers=layers, classes=classes, texts=texts, labels=list(labels), position=position, model_name=model.name,
        accuracy=nan(), control_accuracy=nan() if control else None, selectivity=nan() if control else None,
        chance=float(np.bincount(y).max() / n), predictions=np.full((rows, n), -1, np.int64),
        probabilities=nan(n, k), folds=folds, C=C, seed=seed, fold_of=fold_of, control_labels=control_y,
        weights=nan(1 if k == 2 else k, features.shape[-1]), intercepts=nan(1 if k == 2 else k), features=features,
        seconds=nan())
    for row, layer in enumerate(layers):
        if cancelled is not None and cancelled():
            raise Cancelled(f"cancelled after {row} of {len(layers)} layers")
        start = time.perf_counter()
        x = torch.as_tensor(features[row], dtype=torch.float64)
        result.probabilities[row] = cross_validate(x, y, k, fold_of, C)
        result.predictions[row] = result.probabilities[row].argmax(1)
        if control:
            result.control_accuracy[row] = np.mean(cross_validate(x, control_y, k, fold_of, C).argmax(1) == control_y)
        mean, std = standardiser(x)
        w, b = fit_logistic((x - mean) / std, torch.as_tensor(y), k, C)
        result.weights[row] = (w / std).numpy()
        result.intercepts[row] = (b - (w * mean / std).sum(1)).numpy()
        result.seconds[row] = time.perf_counter() - start
        result.accuracy[row] = np.mean(result.predictions[row] == y)  # last: marks the layer done
        if control:
            result.selectivity[row] = result.accuracy[row] - result.control_accuracy[row]
        progress(0.5 + 0.5 * (row + 1) / len(layers), f"layer {layer}: {row + 1}/{len(layers)}")
        if on_layer is not None:
            on_layer(layer, result)
    return result


def _check(texts: list[str], labels, folds, C) -> tuple[list, np.ndarray, float]:
    """Sorted classes, each text's class index and C, or an error that names the problem and the fix."""
    if isinstance(labels, str) or not hasattr(labels, "__len__"):
        raise TypeError(f"labels must be a list with one label per text, got {type(labels).__name__}")
    if len(labels) != len(texts):
        raise ValueError(f"texts and labels must have the same length: got {len(texts)} texts and {len(labels)} "
                         "labels; pass one label per text")
    for i, label in enumerate(labels):
        if not isinstance(label, Hashable):
            raise TypeError(f"labels must be hashable (strings or ints); labels[{i}] is a {type(label).__name__}: "
                            f"{label!r}. Pass one string or int per text")
    try:
        classes = sorted(set(labels))
    except TypeError:
        raise TypeError("labels must be all strings or all numbers (they are sorted into classes), got "
                        f"{sorted({type(label).__name__ for label in labels})}") from None
    if len(classes) < 2:
        raise ValueError(f"a probe needs at least two classes; every label is {classes[0]!r}. Pass texts of two "
                         "or more labels")
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 2:
        raise ValueError(f"folds must be a whole number >= 2 (each text is predicted by a probe trained on the "
                         f"other folds), got {folds!r}")
    index = {c: i for i, c in enumerate(classes)}
    y = np.asarray([index[label] for label in labels], np.int64)
    counts = np.bincount(y, minlength=len(classes))
    for c, count in zip(classes, counts):
        if count < folds:
            fix = f"Lower folds (folds={count}) or add" if count >= 2 else "Add"
            raise ValueError(f"class {c!r} has {count} example{'s' if count != 1 else ''}, fewer than folds={folds}: "
                             f"every fold needs one to test on. {fix} examples of {c!r}")
    if isinstance(C, bool) or not isinstance(C, int | float | np.integer | np.floating) or not 0 < C < math.inf:
        raise ValueError(f"C must be a positive number (the inverse regularisation strength: smaller is a simpler "
                         f"probe; scikit-learn's default is 1.0), got {C!r}")
    return classes, y, float(C)


__all__ = ["ProbeResult", "probe"]
