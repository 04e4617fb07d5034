"""Prompt pairs for circuit lessons: a *task* is a list of (clean, corrupted, answers) pairs of
equal token length, with the metric that says how well the model does it.

- :func:`induction`: random tokens repeated (``A B C ... A B`` -> ``C``); the corrupted prompt's
  first half is other random tokens, so nothing before says what comes next. Metric: the log
  probability of the repeated token.
- :func:`factual`: "<landmark> is in the city of" -> its city; corrupted: another landmark.
  Metric: logit of the clean city minus the corrupted one.
- :func:`agreement`: "The keys to the cabinet" -> " are"; corrupted: the singular subject.
  Metric: logit of " are" minus " is" (or " were"/" was").

Pairs whose prompts tokenize to different lengths for the model, or whose answers are not one
token, are left out (the task says how many remain); none left is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...models.wrapped import LoadedModel, Tokens


@dataclass(frozen=True)
class Pair:
    clean: str | Tokens
    corrupt: str | Tokens
    answers: tuple


@dataclass
class Task:
    name: str
    pairs: list[Pair]
    metric: str
    description: str
    dropped: list[str] = field(default_factory=list)
    """Pairs left out for this model, and why."""

    def __len__(self) -> int:
        return len(self.pairs)


FACTS = [
    ("The Eiffel Tower", " Paris"), ("The Colosseum", " Rome"), ("Big Ben", " London"),
    ("The Brandenburg Gate", " Berlin"), ("The Kremlin", " Moscow"), ("The Sagrada Familia", " Barcelona"),
    ("The Acropolis", " Athens"), ("The Space Needle", " Seattle"), ("The Golden Gate Bridge", " San"),
    ("The Statue of Liberty", " New"), ("The Forbidden City", " Beijing"), ("The Sydney Opera House", " Sydney"),
]
NOUNS = [("key", "keys", "cabinet"), ("author", "authors", "book"), ("picture", "pictures", "wall"),
         ("label", "labels", "bottle"), ("road", "roads", "city"), ("door", "doors", "house"),
         ("flower", "flowers", "garden"), ("student", "students", "teacher")]


def _fits(model: LoadedModel, clean: str, corrupt: str, answers, dropped: list[str]) -> bool:
    tok = model.tokenizer
    a, b = model.tokenize(clean), model.tokenize(corrupt)
    if len(a) != len(b):
        dropped.append(f"{clean!r} / {corrupt!r}: {len(a)} and {len(b)} tokens")
        return False
    for answer in answers:
        if len(tok(answer, add_special_tokens=False)["input_ids"]) != 1:
            dropped.append(f"{clean!r}: answer {answer!r} is not one token")
            return False
    return True


def _task(name, metric, description, candidates, model) -> Task:
    dropped: list[str] = []
    pairs = [Pair(c, k, a) for c, k, a in candidates if _fits(model, c, k, a, dropped)]
    if not pairs:
        raise ValueError(f"no pair of the {name} task tokenizes to equal lengths with one-token answers for "
                         f"{model.name}: {'; '.join(dropped)}. Pass your own pairs to circuit().")
    return Task(name, pairs, metric, description, dropped)


def factual(model: LoadedModel, n_pairs: int = 6) -> Task:
    """Landmark -> city pairs; each clean landmark is paired with the next one in :data:`FACTS`
    that has the same token length."""
    candidates = []
    for i, (subject, city) in enumerate(FACTS):
        for other, other_city in FACTS[i + 1:] + FACTS[:i]:
            if other_city != city and len(model.tokenize(subject)) == len(model.tokenize(other)):
                candidates.append((f"{subject} is in the city of", f"{other} is in the city of", (city, other_city)))
                break
    return _task("factual", "logit_diff", "Which city a landmark is in: the landmark's name decides the answer.",
                 candidates[:n_pairs], model)


def agreement(model: LoadedModel, n_pairs: int = 6) -> Task:
    """Subject-verb number agreement across a prepositional phrase ("The keys to the cabinet" -> " are")."""
    candidates = [(f"The {plural} to the {place}", f"The {single} to the {place}", (" are", " is"))
                  for single, plural, place in NOUNS]
    return _task("agreement", "logit_diff", "Subject-verb agreement: the verb's number follows the subject, "
                 "not the nearer noun.", candidates[:n_pairs], model)


def induction(model: LoadedModel, n_pairs: int = 6, length: int = 6, seed: int = 0) -> Task:
    """``length`` random tokens, then the same tokens again up to the last one (the answer); the
    corrupted prompt starts with ``length`` other random tokens. Tokens are drawn (seeded) from
    the vocabulary's ordinary tokens that start with a space and are letters only."""
    rng = np.random.default_rng(seed)
    pool = _word_tokens(model)
    if len(pool) < 2 * length:
        raise ValueError(f"{model.name}'s vocabulary has too few word tokens ({len(pool)}) for induction pairs")
    pairs = []
    bos = [] if getattr(model.tokenizer, "bos_token_id", None) is None or not _adds_bos(model) else [
        model.tokenizer.bos_token_id]
    for _ in range(n_pairs):
        draw = rng.choice(pool, size=2 * length, replace=False)
        a, b = draw[:length].tolist(), draw[length:].tolist()
        clean = model.tokens_from_ids(bos + a + a[:-1])
        corrupt = model.tokens_from_ids(bos + b + a[:-1])
        pairs.append(Pair(clean, corrupt, (int(a[-1]),)))
    return Task("induction", pairs, "logprob", f"Induction: {length} random tokens repeated; after the repeat "
                "starts, the model can copy what followed the same token before.")


def _adds_bos(model: LoadedModel) -> bool:
    ids = model.tokenizer("x")["input_ids"]
    return bool(ids) and ids[0] == model.tokenizer.bos_token_id


def _word_tokens(model: LoadedModel, limit: int = 20_000) -> np.ndarray:
    tok = model.tokenizer
    special = set(getattr(tok, "all_special_ids", []) or [])
    size = min(len(tok), limit)
    words = []
    for i in range(size):
        if i in special:
            continue
        text = tok.decode([i])
        if len(text) >= 4 and text[0] == " " and text[1:].isalpha() and text[1:].isascii():
            words.append(i)
    return np.asarray(words, np.int64)


TASKS = {"induction": induction, "factual": factual, "agreement": agreement}
