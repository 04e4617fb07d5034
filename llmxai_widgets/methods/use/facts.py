"""A small set of facts to edit, written for this package (not taken from CounterFact).

Each :class:`Fact` is a prompt whose answer the bundled SmolLM2-135M-Instruct gets right (its
top-1 next token is ``target`` after the prompt, after every paraphrase and after every
neighbour prompt; checked when written, probabilities in the comments), a new answer to teach it,
paraphrases that ask the same thing another way (does the edit generalise?) and neighbour
prompts about other subjects with the same answer (does the edit stay specific?).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    """``prompt`` ends where ``target`` (the true answer, leading space included) should follow;
    ``subject`` occurs in it; ``new_target`` is the answer an edit teaches instead."""

    prompt: str
    subject: str
    target: str
    new_target: str
    paraphrases: tuple[str, ...]
    neighbours: tuple[str, ...]

    def evaluate(self, edit):
        """``edit.evaluate`` on this fact's prompt, paraphrases and neighbours."""
        return edit.evaluate([self.prompt], self.paraphrases, self.neighbours)


FACTS = (
    Fact(
        prompt="The Eiffel Tower is located in the city of",  # ' Paris' 0.70
        subject="The Eiffel Tower",
        target=" Paris",
        new_target=" Rome",
        paraphrases=(
            "The Eiffel Tower stands in the city of",  # 0.83
            "People travel to see the Eiffel Tower in the city of",  # 0.97
            "The Eiffel Tower can be found in the city of",  # 0.57
        ),
        neighbours=(
            "The Louvre is located in the city of",  # 0.81
            "The Notre-Dame cathedral is located in the city of",  # 0.31
            "The Musee d'Orsay is located in the city of",  # 0.13
            "The capital of France is",  # 0.77
        ),
    ),
    Fact(
        prompt="The Colosseum is located in the city of",  # ' Rome' 0.73
        subject="The Colosseum",
        target=" Rome",
        new_target=" London",
        paraphrases=(
            "The Colosseum stands in the city of",  # 0.81
            "People travel to see the Colosseum in the city of",  # 0.79
            "The Colosseum can be found in the city of",  # 0.60
        ),
        neighbours=(
            "The Roman Forum is located in the city of",  # 0.89
            "The Vatican is located in the city of",  # 0.53
            "St. Peter's Basilica is located in the city of",  # 0.47
            "The Sistine Chapel is located in the city of",  # 0.20
            "The capital of Italy is",  # 0.38
        ),
    ),
    Fact(
        prompt="The Acropolis is located in the city of",  # ' Athens' 0.76
        subject="The Acropolis",
        target=" Athens",
        new_target=" Buenos Aires",  # two tokens
        paraphrases=(
            "The Acropolis stands in the city of",  # 0.77
            "People travel to see the Acropolis in the city of",  # 0.85
            "The Acropolis can be found in the city of",  # 0.62
        ),
        neighbours=(
            "The Parthenon is located in the city of",  # 0.66
            "The Panathenaic Stadium is located in the city of",  # 0.55
            "The Erechtheion is located in the city of",  # 0.13
            "The capital of Greece is",  # 0.66
        ),
    ),
    Fact(
        prompt="The mother tongue of Vladimir Putin is",  # ' Russian' 0.62
        subject="Vladimir Putin",
        target=" Russian",
        new_target=" French",
        paraphrases=(
            "Vladimir Putin's mother tongue is",  # 0.62
            "Vladimir Putin grew up speaking",  # 0.65
        ),
        neighbours=(
            "The mother tongue of Leo Tolstoy is",  # 0.46
            "The mother tongue of Fyodor Dostoevsky is",  # 0.26
            "The mother tongue of Mikhail Gorbachev is",  # 0.31
            "The mother tongue of Boris Yeltsin is",  # 0.38
        ),
    ),
    Fact(
        prompt="The official language of Mexico is",  # ' Spanish' 0.46
        subject="Mexico",
        target=" Spanish",
        new_target=" Japanese",
        paraphrases=(
            "In Mexico, the official language is",  # 0.83
            "Most people in Mexico speak",  # 0.48
            "The people of Mexico speak",  # 0.37
        ),
        neighbours=(
            "The official language of Spain is",  # 0.31
            "The official language of Argentina is",  # 0.33
            "The official language of Colombia is",  # 0.35
            "The official language of Cuba is",  # 0.45
        ),
    ),
)
"""The facts, checked against SmolLM2-135M-Instruct (``lx.load_model()``)."""
