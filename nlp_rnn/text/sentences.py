"""Sentence splitting and word tokenization of raw text with spaCy's rule-based English pipeline.

``spacy.blank("en")`` (the rule-based tokenizer, no statistical model) plus spaCy's punctuation
``sentencizer``: nothing to download, and the same tokenization conventions as the Universal
Dependencies English treebanks (``don't`` -> ``do`` ``n't``, punctuation split off).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass
class Sentence:
    """One sentence of raw text: its text, its words, and whether a space follows each word."""

    text: str
    words: list[str]
    space_after: list[bool]


@lru_cache(maxsize=4)
def _pipeline(lang: str):
    from nlp_rnn.text.tokenizers import _blank_spacy

    nlp = _blank_spacy(lang)
    nlp.add_pipe("sentencizer")
    nlp.max_length = 10**8  # one long line is fine for rule-based components
    return nlp


def split_sentences(text: str, lang: str = "en") -> list[Sentence]:
    """The sentences of ``text``; whitespace-only tokens are dropped, an empty text gives none."""
    if not text.strip():
        return []
    sentences = []
    for span in _pipeline(lang)(text).sents:
        tokens = [token for token in span if not token.is_space]
        if not tokens:
            continue
        space_after = [bool(token.whitespace_) for token in tokens]
        space_after[-1] = False  # nothing follows a sentence within it
        sentences.append(Sentence(span.text.strip(), [token.text for token in tokens], space_after))
    return sentences
