"""Thirty prompts written for this package, for judging explanations on the bundled model: each
ends where a one-token answer follows (leading space included) that SmolLM2-135M-Instruct ranks
first, and carries several words that matter to it and several that do not."""

from __future__ import annotations

PROMPTS = (
    ("The Eiffel Tower is a famous landmark located in the city of", " Paris"),
    ("After a long flight from Tokyo, the travellers finally landed in the capital of Italy,", " Rome"),
    ("My grandmother was born in Madrid, so her first language is", " Spanish"),
    ("The opposite of hot is", " cold"),
    ("He brushed his teeth and then combed his", " hair"),
    ("Water freezes into ice when the temperature drops below zero degrees", " Celsius"),
    ("When the teacher asked a question, the student raised her", " hand"),
    ("It started to rain heavily, so everyone ran inside to stay", " dry"),
    ("The Statue of Liberty stands in the harbour of New", " York"),
    ("Bees collect nectar from flowers to make", " honey"),
    ("Shakespeare was born in the country of", " England"),
    ("The Great Wall is one of the most famous sights in", " China"),
    ("To unlock the door, she put the key into the", " lock"),
    ("The Amazon rainforest is located in South", " America"),
    ("She plays the piano and her brother plays the", " guitar"),
    ("The largest ocean on Earth is the", " Pacific"),
    ("Romeo and Juliet is a famous play written by William", " Shakespeare"),
    ("The Moon orbits the", " Earth"),
    ("A baby cat is called a", " kitten"),
    ("The sun rises in the east and sets in the", " west"),
    ("Spaghetti and pizza are famous dishes from", " Italy"),
    ("The chef chopped the onions with a sharp", " knife"),
    ("Penguins live mostly in the cold regions near the South", " Pole"),
    ("In winter the lake was frozen, so the children went ice", "-"),
    ("The capital of Germany, a city with a famous wall that fell in 1989, is", " Berlin"),
    ("He was very thirsty after the run, so he drank a bottle of", " water"),
    ("The baby was tired and fell asleep in her", " crib"),
    ("Doctors and nurses work together in a", " hospital"),
    ("The train was late, so we waited on the", " platform"),
    ("The students listened carefully while the teacher wrote on the", " whiteboard"),
)
"""``(prompt, answer)`` pairs."""


__all__ = ["PROMPTS"]
