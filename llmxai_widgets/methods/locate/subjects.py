"""Subjects of short factual statements, written for this package.

Causal tracing measures the spread of the model's input embeddings over these (``noise="3sigma"``
adds Gaussian noise with three times that standard deviation, as Meng et al. 2022 measured it over
the subjects of their fact set) and draws replacement subjects from them (``noise="resample"``).
"""

SUBJECTS = (
    "Paris", "Rome", "Berlin", "Madrid", "Tokyo", "Cairo", "Lisbon", "Vienna", "Toronto", "Sydney",
    "the Eiffel Tower", "the Colosseum", "the Great Wall of China", "the Statue of Liberty",
    "the Taj Mahal", "Big Ben", "the Golden Gate Bridge", "Mount Everest", "the Amazon River",
    "the Sahara Desert", "Albert Einstein", "Marie Curie", "Isaac Newton", "Ada Lovelace",
    "Leonardo da Vinci", "William Shakespeare", "Wolfgang Amadeus Mozart", "Frida Kahlo",
    "Nelson Mandela", "Cleopatra", "Napoleon Bonaparte", "Charles Darwin", "Galileo Galilei",
    "Serena Williams", "Lionel Messi", "Toyota", "Microsoft", "Nokia", "Volkswagen", "IKEA",
    "Samsung", "the BBC", "the Louvre", "the Nile", "the Pacific Ocean", "Mars", "Jupiter",
    "the Moon", "Harry Potter", "Sherlock Holmes", "the Beatles", "Pablo Picasso", "Beethoven",
    "the Mona Lisa", "Nintendo", "Switzerland", "Japan", "Brazil", "Kenya", "Iceland",
)
