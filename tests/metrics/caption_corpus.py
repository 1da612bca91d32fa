"""Varied captions for the tokenizer parity test, generated from a fixed seed.

Each caption is a plain COCO-style sentence with one to three features mixed in:
contractions, possessives, hyphens, numbers, quotes, brackets, abbreviations, unicode,
capitalisation, spacing and punctuation variants.
"""

from __future__ import annotations

import random

SUBJECTS = [
    "a man",
    "a woman",
    "two dogs",
    "the cat",
    "a group of people",
    "an old bus",
    "a little girl",
    "three zebras",
    "a plate of food",
    "the red train",
    "a young boy",
    "people",
    "a giraffe",
    "an elephant",
    "a pizza",
    "the kitchen",
    "a surfer",
    "skiers",
    "a bowl of fruit",
    "the horse",
]
VERBS = [
    "is riding",
    "sitting on",
    "standing next to",
    "holding",
    "eating",
    "looking at",
    "walking down",
    "playing with",
    "parked near",
    "flying over",
    "lying on",
    "covered with",
    "jumping over",
    "in front of",
]
OBJECTS = [
    "a wave",
    "the street",
    "a bench",
    "a frisbee",
    "a red umbrella",
    "the table",
    "a field of grass",
    "a snowy hill",
    "a tennis racket",
    "the beach",
    "a laptop",
    "a large clock tower",
    "the water",
    "a sign",
]
CONTRACTIONS = [
    "it's",
    "don't",
    "can't",
    "won't",
    "I'm",
    "they're",
    "we'll",
    "you've",
    "she'd",
    "isn't",
    "aren't",
    "wasn't",
    "couldn't",
    "there's",
    "that's",
    "what's",
    "let's",
    "he'll",
    "who's",
    "shouldn't",
    "ain't",
    "IT'S",
    "DON'T",
    "Can't",
    "y'all",
    "o'clock",
    "'em",
    "rock'n'roll",
    "gonna",
    "wanna",
    "cannot",
    "gotta",
    "'tis",
    "ma'am",
    "didn't",
    "doesn't",
    "hasn't",
    "haven't",
    "wouldn't",
    "you'd",
    "we're",
]
POSSESSIVES = [
    "man's",
    "dog's",
    "dogs'",
    "James's",
    "children's",
    "people's",
    "the cat's",
    "women's",
    "Boss's",
    "giraffe's",
    "it's",
    "owner's",
    "bus's",
    "horses'",
    "Dr.'s",
    "McDonald's",
    "St. Mary's",
]
HYPHENS = [
    "well-known",
    "x-ray",
    "t-shirt",
    "3-year-old",
    "two-story",
    "red-and-white",
    "half-eaten",
    "black-and-white",
    "double-decker",
    "e-mail",
    "co-op",
    "self-driving",
    "ice-cream",
    "5-10",
    "Wi-Fi",
    "high-speed",
    "look-alike",
    "- ",
    " -- ",
    "---",
    "a - b",
    "to-do",
    "twenty-one",
]
NUMBERS = [
    "3",
    "10",
    "1,000",
    "3.5",
    "2nd",
    "1990s",
    "'90s",
    "10:30",
    "50%",
    "$5",
    "$3.50",
    "1/2",
    "3/4",
    "#1",
    "24/7",
    "4x4",
    "100m",
    "-5",
    "+2",
    "0.75",
    "12.5.2020",
    "10/20/2020",
    "No. 5",
    "1 1/2",
    "1st",
    "21st",
    "4k",
    "1080p",
    "90's",
    "5'10",
    "6 ft",
    "£20",
    "€15",
    "¥100",
    "½",
    "¾",
    "3rd",
]
QUOTES = [
    '"{}"',
    "'{}'",
    "“{}”",
    "‘{}’",
    "``{}''",
    "`{}'",
    '"{}',
    '{}"',
    "«{}»",
    '" {} "',
]
BRACKETS = ["({})", "[{}]", "{{{}}}", "( {} )", "<{}>", "({}", "{})"]
ABBREVIATIONS = [
    "Mr. Smith",
    "Dr. Jones",
    "St. Louis",
    "U.S.",
    "etc.",
    "e.g.",
    "i.e.",
    "vs.",
    "a.m.",
    "p.m.",
    "Mt. Hood",
    "Jan.",
    "Inc.",
    "U.K.",
    "Ave.",
    "approx.",
    "Co.",
    "Jr.",
    "Sr.",
    "mr. bean",
    "Ltd.",
]
UNICODE = [
    "café",
    "naïve",
    "jalapeño",
    "Zürich",
    "São Paulo",
    "東京",
    "Ωmega",
    "crème brûlée",
    "Ångström",
    "piñata",
    "résumé",
    "façade",
    "Škoda",
    "smörgåsbord",
    "über",
    "—",
    "–",
    "…",
    "•",
    "©",
    "™",
    "°",
    "×",
    "→",
    "★",
    "♥",
    "ß",
    "İstanbul",
    "ﬁsh",
    "😀",
    "\u00a0",
    "\u200b",
    "ǅ",
    "Ⅻ",
]
PUNCTUATION = [
    ".",
    " .",
    ",",
    "!",
    "?",
    "!!",
    "?!",
    "...",
    ";",
    ":",
    " ..",
    ". .",
    "..",
    "....",
    "!?",
]


def _insert(rng: random.Random, words: list[str], item: str) -> None:
    words.insert(rng.randint(0, len(words)), item)


def _wrap(rng: random.Random, words: list[str], pattern: str) -> None:
    start = rng.randrange(len(words))
    stop = min(len(words), start + rng.randint(1, 3))
    words[start:stop] = [pattern.format(" ".join(words[start:stop]))]


def _case(rng: random.Random, text: str) -> str:
    style = rng.randrange(4)
    if style == 0:
        return text[:1].upper() + text[1:]
    if style == 1:
        return text.upper()
    if style == 2:
        return text.title()
    return text


def _spacing(rng: random.Random, text: str) -> str:
    style = rng.randrange(4)
    if style == 0:
        return "  " + text + "  "
    if style == 1:
        return text.replace(" ", "  ", 1)
    if style == 2:
        return text.replace(" ", "\t", 1)
    return text


FEATURES = {
    "contraction": lambda rng, w: _insert(rng, w, rng.choice(CONTRACTIONS)),
    "possessive": lambda rng, w: _insert(rng, w, rng.choice(POSSESSIVES)),
    "hyphen": lambda rng, w: _insert(rng, w, rng.choice(HYPHENS)),
    "number": lambda rng, w: _insert(rng, w, rng.choice(NUMBERS)),
    "quote": lambda rng, w: _wrap(rng, w, rng.choice(QUOTES)),
    "bracket": lambda rng, w: _wrap(rng, w, rng.choice(BRACKETS)),
    "abbreviation": lambda rng, w: _insert(rng, w, rng.choice(ABBREVIATIONS)),
    "unicode": lambda rng, w: _insert(rng, w, rng.choice(UNICODE)),
    "comma": lambda rng, w: _insert(rng, w, rng.choice([",", ";", ":", " - ", "&", "/", "@"])),
}


def generate_captions(count: int, seed: int = 0) -> list[str]:
    """Return `count` captions, each a plain sentence with one to three features."""
    rng = random.Random(seed)
    captions = []
    names = sorted(FEATURES)
    for _ in range(count):
        words = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}".split()
        for name in rng.sample(names, rng.randint(1, 3)):
            FEATURES[name](rng, words)
        text = " ".join(words)
        if rng.random() < 0.4:
            text += rng.choice(PUNCTUATION)
        if rng.random() < 0.5:
            text = _case(rng, text)
        if rng.random() < 0.2:
            text = _spacing(rng, text)
        captions.append(text)
    return captions
