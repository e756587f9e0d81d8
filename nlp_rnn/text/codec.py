"""Text <-> token ids for language models, at three levels: characters, words, SentencePiece subwords.

Every codec has the same four special ids, so the language model, its batches and the n-gram
baseline need no other vocabulary: :data:`PAD_ID` = 0, :data:`UNK_ID` = 1, :data:`BOS_ID` = 2,
:data:`EOS_ID` = 3. Characters and words get a :class:`~nlp_rnn.text.vocab.Vocab` counted on the
training texts (rarer ones become ``<unk>``); SentencePiece models are trained with these ids as
their own (``<unk>`` only for characters outside the model, or none with ``byte_fallback``).

A codec saves into a model folder as ``tokenizer/`` (the tokenizer, see
:mod:`nlp_rnn.text.tokenizers`) plus ``vocab.json`` for characters and words.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pydantic

from nlp_rnn.config import Schema
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.text.tokenizers import (
    CharTokenizer,
    RegexTokenizer,
    SentencePieceTokenizer,
    load_tokenizer,
)
from nlp_rnn.text.vocab import SPECIALS, Vocab

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
TOKENIZER_DIR = "tokenizer"
VOCAB_FILE = "vocab.json"
UNKNOWN_CHAR = "\ufffd"  # how a character-level <unk> is shown

Level = Literal["char", "word", "sentencepiece"]


class CodecSettings(Schema):
    """How text becomes ids (the ``tokens:`` section of a language model stage)."""

    level: Level = pydantic.Field("char", description="char, word (regex tokens) or sentencepiece subwords")
    lowercase: bool = pydantic.Field(False, description="lowercase the text first")
    min_freq: int = pydantic.Field(1, ge=1, description="char/word: rarer tokens become <unk>")
    max_size: int | None = pydantic.Field(None, ge=5, description="char/word: at most this many ids")
    vocab_size: int = pydantic.Field(8000, ge=8, description="sentencepiece: pieces (a soft limit)")
    character_coverage: float = pydantic.Field(
        1.0, gt=0, le=1, description="sentencepiece: share of characters kept"
    )
    byte_fallback: bool = pydantic.Field(
        False, description="sentencepiece: spell unknown characters in bytes"
    )


class TextCodec(ABC):
    """Turns texts into id arrays and ids back into text."""

    level: ClassVar[str]

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Ids run from 0 to ``vocab_size - 1``."""

    @abstractmethod
    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One int64 id array per text (no start or end marker)."""

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``; special ids other than ``<unk>`` are left out."""

    @abstractmethod
    def save(self, folder: Path) -> None:
        """Write ``tokenizer/`` (and ``vocab.json``) into the model folder ``folder``."""


class _VocabCodec(TextCodec):
    """A rule-based tokenizer plus a vocabulary counted on the training texts."""

    def __init__(self, tokenizer: CharTokenizer | RegexTokenizer, vocab: Vocab) -> None:
        if vocab.specials != SPECIALS:
            raise NlpRnnError(f"a language model vocabulary needs the specials {list(SPECIALS)}")
        self.tokenizer, self.vocab = tokenizer, vocab

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [
            np.asarray(self.vocab.encode(tokens), dtype=np.int64)
            for tokens in self.tokenizer.tokenize_batch(texts)
        ]

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.detokenize(self.vocab.decode(ids))

    def save(self, folder: Path) -> None:
        self.tokenizer.save(folder / TOKENIZER_DIR)
        self.vocab.save(folder / VOCAB_FILE)


class CharCodec(_VocabCodec):
    """One id per character (spaces included); encoding maps code points through a NumPy table."""

    level = "char"

    def __init__(self, tokenizer: CharTokenizer, vocab: Vocab) -> None:
        super().__init__(tokenizer, vocab)
        points = [ord(char) for char in vocab.itos[len(SPECIALS) :]]
        self._table = np.full(max(points, default=0) + 1, UNK_ID, dtype=np.int64)  # code point -> id
        self._table[points] = np.arange(len(SPECIALS), len(vocab))

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        table, last = self._table, len(self._table) - 1
        arrays = []
        for text in texts:
            text = text.lower() if self.tokenizer.lowercase else text
            points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
            arrays.append(np.where(points <= last, table[np.minimum(points, last)], UNK_ID))
        return arrays

    def decode(self, ids: Sequence[int]) -> str:
        itos, skip = self.vocab.itos, (PAD_ID, BOS_ID, EOS_ID)
        return "".join(UNKNOWN_CHAR if i == UNK_ID else itos[i] for i in map(int, ids) if i not in skip)


class WordCodec(_VocabCodec):
    """Regex word tokens (:data:`~nlp_rnn.text.tokenizers.DEFAULT_PATTERN`); spacing is guessed back."""

    level = "word"


class PieceCodec(TextCodec):
    """SentencePiece subwords whose piece ids are the model's ids."""

    level = "sentencepiece"

    def __init__(self, tokenizer: SentencePieceTokenizer) -> None:
        self.tokenizer = tokenizer

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        # One text at a time: SentencePiece encodes a list on a pool of threads, one per core.
        return [np.asarray(self.tokenizer.encode_ids(text), dtype=np.int64) for text in texts]

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode_ids([int(i) for i in ids if int(i) not in (PAD_ID, BOS_ID, EOS_ID)])

    def save(self, folder: Path) -> None:
        self.tokenizer.save(folder / TOKENIZER_DIR)


def train_codec(texts: Iterable[str], settings: CodecSettings, seed: int = 0) -> TextCodec:
    """A codec of ``settings.level`` learned from ``texts`` (read once, streamed)."""
    if settings.level == "sentencepiece":
        import sentencepiece as spm

        spm.set_random_generator_seed(seed)
        tokenizer = SentencePieceTokenizer.train(
            texts,
            vocab_size=settings.vocab_size,
            model_type="unigram",
            character_coverage=settings.character_coverage,
            byte_fallback=settings.byte_fallback,
            lowercase=settings.lowercase,
            hard_vocab_limit=False,
            pad_id=PAD_ID,
            unk_id=UNK_ID,
            bos_id=BOS_ID,
            eos_id=EOS_ID,
        )
        return PieceCodec(tokenizer)
    tokenizer = (
        CharTokenizer(lowercase=settings.lowercase)
        if settings.level == "char"
        else RegexTokenizer(lowercase=settings.lowercase)
    )
    counts: Counter[str] = Counter()
    for text in texts:
        tokenizer.count_into(counts, [text])
    if not counts:
        raise NlpRnnError("no training text to build the vocabulary from")
    vocab = Vocab.build(counts, min_freq=settings.min_freq, max_size=settings.max_size, specials=SPECIALS)
    return CharCodec(tokenizer, vocab) if settings.level == "char" else WordCodec(tokenizer, vocab)  # type: ignore[arg-type]


def load_codec(folder: Path, level: str) -> TextCodec:
    """The codec :meth:`TextCodec.save` wrote into ``folder``."""
    tokenizer = load_tokenizer(folder / TOKENIZER_DIR)
    expected = {"char": CharTokenizer, "word": RegexTokenizer, "sentencepiece": SentencePieceTokenizer}.get(
        level
    )
    if expected is None or not isinstance(tokenizer, expected):
        raise NlpRnnError(
            f"{folder / TOKENIZER_DIR}: a {tokenizer.kind} tokenizer, not one for level {level!r}"
        )
    if isinstance(tokenizer, SentencePieceTokenizer):
        return PieceCodec(tokenizer)
    vocab = Vocab.load(folder / VOCAB_FILE)
    return CharCodec(tokenizer, vocab) if level == "char" else WordCodec(tokenizer, vocab)  # type: ignore[arg-type]
