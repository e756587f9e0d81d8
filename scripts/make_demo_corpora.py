"""Write the small demo corpora under ``corpora/demo/`` from hand-written grammars.

The demo pipeline (``pipelines/demo.yaml``) trains on these so that a newcomer sees every model
work within minutes on a laptop, with no download. They are synthetic on purpose: we wrote the
word lists and templates ourselves, so the files carry no third-party license.

    python scripts/make_demo_corpora.py            # rewrite corpora/demo/
    python scripts/make_demo_corpora.py --check    # fail if the committed files are stale

* ``sentiment.{train,dev}.txt`` — ``LABEL text`` lines (1 positive, 0 negative), with negation
  ("not good") and contrast ("dull but charming") so that word order matters.
* ``tagged.{train,dev}.conllu`` — CoNLL-U sentences with UPOS and Penn XPOS tags, including
  ambiguous words (``book``, ``watch`` as noun or verb) and a multiword token (``don't``).
* ``translate.{train,dev}.{en,xx}`` — a toy "English to Demolang" parallel corpus: a word-for-word
  lexicon plus adjective-noun reordering, so attention must learn a non-monotonic alignment.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent.parent / "corpora" / "demo"

SUBJECTS = [
    "the movie",
    "the film",
    "this story",
    "the plot",
    "the acting",
    "the ending",
    "the script",
    "the cast",
]
POSITIVE = ["good", "great", "wonderful", "charming", "moving", "funny", "brilliant", "clever", "delightful"]
NEGATIVE = ["bad", "awful", "boring", "dull", "clumsy", "tedious", "weak", "silly", "painful"]
INTENSIFIERS = ["", "", "very ", "truly ", "rather ", "quite "]


def sentiment_sentence(rng: random.Random) -> tuple[int, str]:
    """One labelled sentence from a handful of templates."""
    subject = rng.choice(SUBJECTS)
    positive = rng.random() < 0.5
    word = rng.choice(POSITIVE if positive else NEGATIVE)
    other = rng.choice(NEGATIVE if positive else POSITIVE)
    template = rng.randrange(5)
    if template == 0:
        text = f"{subject} is {rng.choice(INTENSIFIERS)}{word} ."
        label = positive
    elif template == 1:  # negation flips the polarity of the adjective
        text = f"{subject} is not {word} ."
        label = not positive
    elif template == 2:  # the clause after "but" carries the verdict
        text = f"{subject} is {other} but {word} ."
        label = positive
    elif template == 3:
        second = rng.choice(POSITIVE if positive else NEGATIVE)
        text = f"i found {subject} {rng.choice(INTENSIFIERS)}{word} and {second} ."
        label = positive
    else:
        text = f"what a {word} {subject.split()[-1]} !"
        label = positive
    return int(label), text


# (form, lemma, UPOS, XPOS) entries of the tagging grammar.
DETS = [("the", "the", "DET", "DT"), ("a", "a", "DET", "DT"), ("this", "this", "DET", "DT")]
NOUNS = [
    ("dog", "dog", "NOUN", "NN"),
    ("book", "book", "NOUN", "NN"),
    ("watch", "watch", "NOUN", "NN"),
    ("teacher", "teacher", "NOUN", "NN"),
    ("city", "city", "NOUN", "NN"),
    ("cats", "cat", "NOUN", "NNS"),
]
VERBS = [
    ("reads", "read", "VERB", "VBZ"),
    ("sees", "see", "VERB", "VBZ"),
    ("likes", "like", "VERB", "VBZ"),
    ("found", "find", "VERB", "VBD"),
    ("watched", "watch", "VERB", "VBD"),
]
BASE_VERBS = [
    ("book", "book", "VERB", "VB"),
    ("watch", "watch", "VERB", "VB"),
    ("read", "read", "VERB", "VB"),
]
ADJS = [
    ("old", "old", "ADJ", "JJ"),
    ("small", "small", "ADJ", "JJ"),
    ("red", "red", "ADJ", "JJ"),
    ("quiet", "quiet", "ADJ", "JJ"),
]
NAMES = [("Anna", "Anna", "PROPN", "NNP"), ("Paris", "Paris", "PROPN", "NNP"), ("Tom", "Tom", "PROPN", "NNP")]
ADVS = [("quickly", "quickly", "ADV", "RB"), ("often", "often", "ADV", "RB")]
PRONS = [("I", "I", "PRON", "PRP"), ("we", "we", "PRON", "PRP"), ("you", "you", "PRON", "PRP")]
DOT = (".", ".", "PUNCT", ".")


def noun_phrase(rng: random.Random) -> list[tuple[str, str, str, str]]:
    if rng.random() < 0.25:
        return [rng.choice(NAMES)]
    phrase = [rng.choice(DETS)]
    if rng.random() < 0.5:
        phrase.append(rng.choice(ADJS))
    phrase.append(rng.choice(NOUNS))
    return phrase


def tagged_sentence(rng: random.Random) -> tuple[list[tuple[str, str, str, str]], bool]:
    """Words of one sentence, and whether it starts with the multiword token "don't"."""
    kind = rng.choices(range(3), weights=[6, 3, 1])[0]
    if kind == 0:
        words = noun_phrase(rng) + [rng.choice(VERBS)] + noun_phrase(rng)
        if rng.random() < 0.3:
            words.append(rng.choice(ADVS))
        return words + [DOT], False
    if kind == 1:  # imperative with an ambiguous verb: "book a quiet city"
        return [rng.choice(BASE_VERBS)] + noun_phrase(rng) + [DOT], False
    # "don't" is one orthographic token split into two syntactic words (do + n't).
    words = [("do", "do", "AUX", "VBP"), ("n't", "not", "PART", "RB"), rng.choice(BASE_VERBS)]
    return words + noun_phrase(rng) + [DOT], True


def conllu_block(words: list[tuple[str, str, str, str]], mwt: bool, sent_id: str) -> str:
    forms = [w[0] for w in words]
    text = " ".join(forms).replace(" .", ".")
    if mwt:
        text = "don't " + text.split(" ", 2)[2]
    lines = [f"# sent_id = {sent_id}", f"# text = {text}"]
    for index, (form, lemma, upos, xpos) in enumerate(words, start=1):
        if mwt and index == 1:
            lines.append("1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_")
        space = "SpaceAfter=No" if index < len(words) and words[index][0] == "." else "_"
        if mwt and index == 1:
            space = "_"
        lines.append(f"{index}\t{form}\t{lemma}\t{upos}\t{xpos}\t_\t_\t_\t_\t{space}")
    return "\n".join(lines) + "\n\n"


LEXICON = {
    "the": "le",
    "a": "un",
    "dog": "hund",
    "cat": "kat",
    "bird": "fogel",
    "child": "kinto",
    "woman": "dama",
    "man": "omo",
    "big": "gran",
    "small": "peti",
    "red": "roso",
    "black": "nero",
    "happy": "feliz",
    "runs": "kore",
    "sleeps": "dorme",
    "eats": "manja",
    "sees": "vide",
    "jumps": "salta",
    "sings": "kanta",
    "in": "en",
    "on": "sur",
    "park": "parko",
    "garden": "jardin",
    "house": "kaso",
    "street": "strado",
    "and": "e",
    "with": "kon",
    "ball": "bola",
    "apple": "pomo",
}
T_NOUNS = ["dog", "cat", "bird", "child", "woman", "man"]
T_ADJS = ["big", "small", "red", "black", "happy"]
T_VERBS = ["runs", "sleeps", "eats", "sees", "jumps", "sings"]
T_PLACES = ["park", "garden", "house", "street"]
T_OBJECTS = ["ball", "apple"]


def translation_pair(rng: random.Random) -> tuple[str, str]:
    """English source and its Demolang target: adjectives follow their noun in Demolang."""

    def phrase(nouns: list[str]) -> tuple[list[str], list[str]]:
        det, noun = rng.choice(["the", "a"]), rng.choice(nouns)
        if rng.random() < 0.6:
            adj = rng.choice(T_ADJS)
            return [det, adj, noun], [LEXICON[det], LEXICON[noun], LEXICON[adj]]
        return [det, noun], [LEXICON[det], LEXICON[noun]]

    src, tgt = phrase(T_NOUNS)
    verb = rng.choice(T_VERBS)
    src, tgt = src + [verb], tgt + [LEXICON[verb]]
    if verb in ("eats", "sees") and rng.random() < 0.7:
        obj_src, obj_tgt = phrase(T_OBJECTS + T_NOUNS)
        src, tgt = src + obj_src, tgt + obj_tgt
    if rng.random() < 0.5:
        prep = rng.choice(["in", "on", "with"])
        place_src, place_tgt = phrase(T_PLACES if prep != "with" else T_OBJECTS)
        src, tgt = src + [prep] + place_src, tgt + [LEXICON[prep]] + place_tgt
    return " ".join(src) + " .", " ".join(tgt) + " ."


def build(seed: int = 20261122) -> dict[str, str]:
    """All demo files as {file name: content}; deterministic for a seed."""
    rng = random.Random(seed)
    files: dict[str, str] = {}
    for split, count in (("train", 400), ("dev", 100)):
        rows = [sentiment_sentence(rng) for _ in range(count)]
        files[f"sentiment.{split}.txt"] = "".join(f"{label} {text}\n" for label, text in rows)
    for split, count in (("train", 60), ("dev", 20)):
        blocks = []
        for number in range(1, count + 1):
            words, mwt = tagged_sentence(rng)
            blocks.append(conllu_block(words, mwt, f"demo-{split}-{number:03d}"))
        files[f"tagged.{split}.conllu"] = "".join(blocks)
    for split, count in (("train", 2000), ("dev", 200)):
        pairs = [translation_pair(rng) for _ in range(count)]
        files[f"translate.{split}.en"] = "".join(src + "\n" for src, _ in pairs)
        files[f"translate.{split}.xx"] = "".join(tgt + "\n" for _, tgt in pairs)
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if corpora/demo differs from the generator"
    )
    args = parser.parse_args()
    files = build()
    if args.check:
        stale = [
            name
            for name, text in files.items()
            if not (OUT_DIR / name).is_file() or (OUT_DIR / name).read_text(encoding="utf-8") != text
        ]
        for name in stale:
            print(f"stale: corpora/demo/{name}", file=sys.stderr)
        return 1 if stale else 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT_DIR / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files to corpora/demo/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
