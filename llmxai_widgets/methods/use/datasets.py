"""Small labelled sets of short sentences for probes, written for this package.

Each set is balanced (as many sentences per label), and every label ends its sentences the same
mix of ways: a few with ".", "!" or "?", most with a plain word that says nothing of the label.
So a probe at the last token cannot win by reading the punctuation, and the control task (which
keys on the last token) sees many word types, as in Hewitt & Liang's setting.

The sentences of different labels are not minimal pairs on purpose: stratified folds would put
the two halves of a pair in different folds, and where a layer does not hold the label yet, the
nearly identical twin in training (with the other label) drags held-out accuracy below chance.

>>> texts, labels = load("sentiment")
"""

from __future__ import annotations


def _groups(**groups: str) -> tuple[list[str], list[str]]:
    """One label per keyword, one sentence a line."""
    texts, labels = [], []
    for label, rows in groups.items():
        for line in rows.strip().splitlines():
            texts.append(line.strip())
            labels.append(label)
    return texts, labels


def tense() -> tuple[list[str], list[str]]:
    """Whether the sentence's verb is in the past or the present tense ("past", "present")."""
    return _groups(past="""
        The farmer sold his apples at the market.
        My sister painted a picture of the harbour.
        The bus stopped outside the library.
        We carried the boxes up the stairs.
        The crowd cheered for the runners!
        She finally found her keys!
        Did you lock the front door?
        Why did the baby cry?
        The old man fed the pigeons in the square
        Our team won the match on Saturday
        The children built a sandcastle near the water
        He fixed the bicycle in the garage
        The chef burned the onions in the pan
        My parents visited a museum in Rome
        The dog chased a squirrel across the lawn
        Anna wrote a letter to her grandmother
        The wind knocked over the fence behind the house
        They planted roses along the path
        The students asked many questions about the test
        I drank a cup of tea with lemon
        The kitten climbed onto the roof of the shed
        Tom played the guitar at the party
        The river flooded the fields near the village
        We watched a film about penguins
    """, present="""
        The baker opens the shop at six.
        My brother works at the hospital.
        The train leaves from platform four.
        They live in a small flat.
        The kids love the puppet show!
        He sings so beautifully!
        Does she speak Italian?
        Where do you keep the sugar?
        The cat sleeps on the warm windowsill
        Our neighbours grow tomatoes on the balcony
        The teacher explains the rules to the class
        My uncle drives a taxi in the city
        Maria reads the newspaper over breakfast
        The river flows past the old mill
        The boys ride their bikes to the lake
        She keeps her books in a wooden box
        The shop sells fresh bread and cheese
        He walks the dog along the canal
        Grandpa tells stories by the fire
        The birds build nests under the bridge
        I write my notes in a green notebook
        The nurse checks on the patients at night
        We eat lunch in the garden
        The company makes toys for young children
    """)


def number() -> tuple[list[str], list[str]]:
    """Whether the sentence's subject is singular or plural ("singular", "plural")."""
    return _groups(singular="""
        The cat sleeps on the mat.
        My friend lives near the station.
        The car needs new tyres.
        A bird sings outside my window.
        That dog runs so fast!
        The baby is finally asleep!
        Is the window open?
        Does your brother play chess?
        The pilot checks the engines before takeoff
        A woman waits at the bus stop
        The horse drinks from the stream
        The painter mixes colours on a board
        My cousin visits us in the summer
        The student reads in the library after class
        The child builds a tower of blocks
        The farmer feeds the cows at dawn
        This lamp needs a new bulb
        The doctor was very kind to my mother
        Our neighbour plays the piano in the evening
        The tree loses its leaves in autumn
        A fox lives in the woods behind our house
        The waiter brings the soup on a tray
        My aunt has a garden full of roses
        The clock on the wall stopped at noon
    """, plural="""
        The teachers explain the lesson slowly.
        Some students work very hard.
        The children play in the park.
        My parents own a small boat.
        The singers were amazing tonight!
        These apples taste so sweet!
        Are the boxes heavy?
        Do the nurses know the answer?
        The boys kick a ball against the wall
        Two men repair the road outside
        The ducks swim across the pond
        The mice hide under the stairs
        My sisters sing in a choir
        The workers start early in the morning
        The geese fly south in winter
        The tourists take photos of the castle
        Our friends cook dinner on Fridays
        The leaves fall into the water
        These shoes were too small for me
        The players train on the field after school
        Three dogs sleep by the door
        The farmers sell eggs at the market
        My grandparents live in the mountains
        The lights in the hall went out at midnight
    """)


def sentiment() -> tuple[list[str], list[str]]:
    """Whether the sentence says something good or bad about its subject ("positive", "negative")."""
    return _groups(positive="""
        I loved every minute of this film.
        The soup was warm and full of flavour.
        The hotel staff were friendly and helpful to us.
        Her garden looks beautiful in the spring.
        What a lovely surprise this party is!
        I am so proud of my team!
        Isn't this the nicest park in town?
        Have you ever met anyone so cheerful?
        The kids had a fantastic time at the zoo
        My grandmother bakes the most delicious bread
        The new teacher makes every lesson fun for the class
        We enjoyed a peaceful walk along the beach
        This phone works perfectly after the update
        The movie was funny and clever from beginning to end
        Everyone at the wedding smiled all evening
        The nurse was patient and gentle with my son
        Our trip to the mountains was a dream
        The repair was quick and the price was fair for the work
        I feel wonderful after a swim in the lake
        The concert was the best night of the year
        My colleagues threw me a lovely birthday party at the office
        This little café serves excellent coffee in the morning
        The puppy brings so much joy to our house
        The students were delighted with their results in the exam
    """, negative="""
        I hated every minute of this meeting.
        The bread was stale and hard as a rock.
        The waiter was rude to everyone at our table.
        The hotel room smelled of smoke.
        What an awful mess this kitchen is!
        This is the worst pizza I have ever eaten!
        Why is this train always so dirty?
        Could the service be any slower?
        The kids were miserable at the party
        My neighbour plays loud music late at night
        The new manager shouts at everyone in the office
        We got soaked and cold on the walk to the beach
        This laptop crashes every time I open it
        The movie was dull and far too long for the children
        Nobody enjoyed the food at the wedding
        The doctor was careless with my son
        Our holiday in the mountains was a disaster from the start
        The repair took weeks and cost far too much money
        I feel terrible after that argument with my brother
        The concert was so boring that we left early
        The printer jammed again during the meeting
        The traffic made us miss the beginning of the show
        The dog next door barks all day and keeps us awake
        The students were upset about their results in the exam
    """)


def language() -> tuple[list[str], list[str]]:
    """Which language the sentence is written in ("English", "French", "German", "Spanish")."""
    return _groups(English="""
        The weather is nice today.
        My brother works in a bakery.
        I can't believe it!
        Where is the train station?
        She reads a book before bed
        The children are playing outside in the snow
        Please close the door behind you
        My grandmother lives by the sea
        We need more milk for the cake
        The museum opens at ten on Sundays
        He forgot his umbrella on the bus
        Our cat likes to sleep in the sun
    """, French="""
        Il fait beau aujourd'hui.
        Nous allons au marché demain.
        C'est incroyable!
        Tu veux du café?
        Elle lit un livre chaque soir
        Les enfants jouent dans le jardin
        Ferme la fenêtre s'il te plaît
        Mon oncle habite à Lyon depuis dix ans
        Le train part à huit heures
        J'ai perdu mes clés dans la rue
        Nous mangeons souvent chez ma tante
        Le chien dort sous la table
    """, German="""
        Das Wetter ist heute schön.
        Mein Vater arbeitet in einer Fabrik.
        Das ist ja unglaublich!
        Wo ist der Bahnhof?
        Sie liest jeden Abend ein Buch
        Die Kinder spielen im Garten
        Mach bitte die Tür zu
        Meine Großmutter wohnt am Meer
        Wir brauchen noch Brot und Butter
        Der Bus kommt heute später
        Ich habe meinen Schlüssel im Auto vergessen
        Unser Hund schläft gern in der Sonne
    """, Spanish="""
        Hoy hace buen tiempo.
        Mi hermano trabaja en una panadería.
        ¡No me lo puedo creer!
        ¿Dónde está la estación de tren?
        Ella lee un libro cada noche
        Los niños juegan en la calle
        Cierra la puerta por favor
        Mi abuela vive junto al mar
        Necesitamos más leche para el pastel
        El museo abre a las diez
        Mi padre cocina los domingos
        El gato duerme en el sofá
    """)


SETS = {"tense": tense, "number": number, "sentiment": sentiment, "language": language}
NAMES = tuple(SETS)
"""The sets :func:`load` knows."""


def load(name: str) -> tuple[list[str], list[str]]:
    """``(texts, labels)`` of the set ``name`` (one of :data:`NAMES`), fresh lists each call."""
    if name not in SETS:
        raise ValueError(f"unknown dataset {name!r}; the probe datasets are {', '.join(map(repr, NAMES))}")
    return SETS[name]()


__all__ = ["NAMES", "language", "load", "number", "sentiment", "tense"]
