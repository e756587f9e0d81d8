"""Tokenizers behind one small interface: whitespace, regex, char, spaCy and SentencePiece.

Every tokenizer turns a string into a list of token strings and back, and saves itself as a
directory holding ``tokenizer.json`` (``kind`` plus options) and, for SentencePiece, the
trained ``sentencepiece.model``. ``build_tokenizer(kind, **options)`` makes a fresh one,
``load_tokenizer(directory)`` restores a saved one.

Tokenizers pickle by their options (plus the model bytes for SentencePiece), so they can be
sent to worker processes and hashed by ``datasets.map`` for caching.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.fileio import atomic_file, read_json

TOKENIZER_FILE = "tokenizer.json"
SENTENCEPIECE_MODEL_FILE = "sentencepiece.model"
FORMAT_VERSION = 1

# The default pattern of the regex tokenizer. It is a compromise between the Penn Treebank
# conventions that English corpora (UD, SST, Gigaword) follow and the speed of a single
# `re.findall`: every branch starts with a cheap first-character test, and the only look-ahead
# is one negative test at the end of each word. Tokens never span whitespace, so a whole
# batch of lines joined by "\n" tokenizes exactly like the lines one by one.
DEFAULT_PATTERN = (
    # numbers with inner separators stay whole: 1,000  3.14  10.2.1
    r"\d+(?:[.,]\d+)+"
    # words (letters, digits, underscore); a word followed by 't backs off one letter so
    # that the n't clitic splits the Treebank way: don't -> do n't, can't -> ca n't
    r"|\w+(?!['’][tT]\b)"
    r"|[nN]['’][tT]\b"
    # the other English clitics: John's -> John 's, we're -> we 're, I'll -> I 'll
    r"|['’](?:[sSmMdD]|ll|LL|re|RE|ve|VE)\b"
    # a word that the first word branch refused (the rare x't that is not n't)
    r"|\w+"
    # anything else that is not a space is a one-character token: punctuation, symbols
    r"|[^\w\s]"
)

# Tokens that attach to their neighbour when guessing the original spacing.
_CLITICS = ("n't", "'s", "'m", "'d", "'ll", "'re", "'ve")
_ATTACH_LEFT = frozenset(".,;:!?%)]}…") | {
    variant
    for clitic in _CLITICS
    for variant in (clitic, clitic.upper(), clitic.replace("'", "’"), clitic.upper().replace("'", "’"))
}
_ATTACH_RIGHT = frozenset("([{$#")


def guess_detokenize(tokens: Sequence[str]) -> str:
    """Join tokens with spaces, except where English punctuation and clitics usually attach.

    Used by the regex and spaCy tokenizers, whose tokens do not record the original spacing:
    ``["I", "do", "n't", "know", "."]`` becomes ``"I don't know."``. Quotes stay spaced
    because an opening and a closing quote cannot be told apart.
    """
    parts: list[str] = []
    previous = None
    for token in tokens:
        if parts and token not in _ATTACH_LEFT and previous not in _ATTACH_RIGHT:
            parts.append(" ")
        parts.append(token)
        previous = token
    return "".join(parts)


class Tokenizer(ABC):
    """Turns text into a list of token strings and back.

    Subclasses implement :meth:`tokenize` and :meth:`detokenize`; the batch and counting
    methods have correct defaults that fast tokenizers override.
    """

    kind: ClassVar[str]

    def __init__(self, lowercase: bool = False) -> None:
        self.lowercase = lowercase

    @abstractmethod
    def tokenize(self, text: str) -> list[str]:
        """Split one text into tokens."""

    @abstractmethod
    def detokenize(self, tokens: Sequence[str]) -> str:
        """Join tokens back into text (exactly where the tokenizer allows it)."""

    def tokenize_batch(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokenize many texts; faster than a loop over :meth:`tokenize` for some kinds."""
        return [self.tokenize(text) for text in texts]

    def count_into(self, counter: Counter[str], texts: Sequence[str]) -> int:
        """Add the tokens of ``texts`` to ``counter`` and return how many there were.

        The streaming counters in :mod:`nlp_rnn.text.corpus_ops` call this on batches of
        lines, so that a tokenizer can count without building one list per line.
        """
        total = 0
        for tokens in self.tokenize_batch(texts):
            counter.update(tokens)
            total += len(tokens)
        return total

    def options(self) -> dict[str, Any]:
        """The constructor options, as saved in ``tokenizer.json``."""
        return {"lowercase": self.lowercase}

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``tokenizer.json`` (and any model file) into ``directory``; return its path.

        The directory may already hold other files (a model directory does); only the
        tokenizer's own files are replaced, each atomically.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_model(directory)
        config = {"kind": self.kind, "format_version": FORMAT_VERSION, "options": self.options()}
        with atomic_file(directory / TOKENIZER_FILE, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        return directory

    def _save_model(self, directory: Path) -> None:
        """Write model files next to ``tokenizer.json``; rule-based tokenizers have none."""
        return None

    def _normalize(self, text: str) -> str:
        return text.lower() if self.lowercase else text

    def __repr__(self) -> str:
        options = ", ".join(f"{key}={value!r}" for key, value in self.options().items())
        return f"{type(self).__name__}({options})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.options() == self.options()

    __hash__ = None  # type: ignore[assignment]  # mutable options: not hashable


class WhitespaceTokenizer(Tokenizer):
    """Splits on runs of whitespace. ``detokenize(tokenize(t)) == " ".join(t.split())``."""

    kind = "whitespace"

    def tokenize(self, text: str) -> list[str]:
        return self._normalize(text).split()

    def detokenize(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)

    def count_into(self, counter: Counter[str], texts: Sequence[str]) -> int:
        # One split over the joined batch: whitespace tokens never span the joining newline.
        tokens = self._normalize("\n".join(texts)).split()
        counter.update(tokens)
        return len(tokens)


class RegexTokenizer(Tokenizer):
    """Tokens are the matches of a regular expression (``re.findall``), by default
    :data:`DEFAULT_PATTERN`: words, numbers, English clitics split Treebank-style
    (``don't`` -> ``do n't``), and every other non-space character on its own.

    A custom ``pattern`` must not contain capturing groups (use ``(?:...)``).
    :meth:`detokenize` guesses the spacing (see :func:`guess_detokenize`).
    """

    kind = "regex"

    def __init__(self, pattern: str = DEFAULT_PATTERN, lowercase: bool = False) -> None:
        super().__init__(lowercase)
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise NlpRnnError(f"invalid tokenizer pattern {pattern!r}: {exc}") from None
        if compiled.groups:
            raise NlpRnnError(
                f"tokenizer pattern {pattern!r} has capturing groups; "
                "use non-capturing groups (?:...) so that whole matches are the tokens"
            )
        self.pattern = pattern
        # The default pattern never matches whitespace, so each match may swallow the spaces
        # before it (possessively, in one C loop) and return only the group: ~25% faster
        # than failing every branch at every space. It also never matches across a newline,
        # so a batch of lines can be tokenized in one call; a custom pattern gets neither.
        self._is_default = pattern == DEFAULT_PATTERN
        self._regex = re.compile(rf"\s*+({pattern})") if self._is_default else compiled

    def tokenize(self, text: str) -> list[str]:
        return self._regex.findall(self._normalize(text))

    def detokenize(self, tokens: Sequence[str]) -> str:
        return guess_detokenize(tokens)

    def count_into(self, counter: Counter[str], texts: Sequence[str]) -> int:
        if self._is_default:
            # One findall over the whole batch is ~10% faster than one per line, and
            # Counter.update on a list runs in C.
            tokens = self._regex.findall(self._normalize("\n".join(texts)))
            counter.update(tokens)
            return len(tokens)
        return super().count_into(counter, texts)

    def options(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "lowercase": self.lowercase}


class CharTokenizer(Tokenizer):
    """One token per character, spaces included: ``detokenize(tokenize(t)) == t``.

    ``space_token`` replaces the space character (for example ``"▁"``) where tokens are
    written space-separated; text that already contains it then does not round-trip.
    """

    kind = "char"

    def __init__(self, lowercase: bool = False, space_token: str = " ") -> None:
        super().__init__(lowercase)
        if len(space_token) != 1:
            raise NlpRnnError(f"space_token must be one character, got {space_token!r}")
        self.space_token = space_token

    def tokenize(self, text: str) -> list[str]:
        text = self._normalize(text)
        if self.space_token != " ":
            text = text.replace(" ", self.space_token)
        return list(text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        text = "".join(tokens)
        return text.replace(self.space_token, " ") if self.space_token != " " else text

    def options(self) -> dict[str, Any]:
        return {"lowercase": self.lowercase, "space_token": self.space_token}


class SpacyTokenizer(Tokenizer):
    """spaCy's rule-based tokenizer for ``lang`` (``spacy.blank(lang)``: no model download).

    :meth:`tokenize` first collapses runs of whitespace to one space, so that no token is
    whitespace. :meth:`tokenize_with_spaces` keeps spaCy's record of the spacing, and
    :meth:`detokenize` given that record restores the text exactly; without it the spacing
    is guessed.
    """

    kind = "spacy"
    # spaCy keeps every string it has seen (and a cache entry per distinct word) forever,
    # about 0.6 kB per word type: past this many strings the pipeline is rebuilt (~0.3 s),
    # so that memory stays bounded however much text goes through.
    max_strings: ClassVar[int] = 250_000
    # count_into tokenizes the distinct chunks of a batch joined into strings of this many chunks.
    chunks_per_doc: ClassVar[int] = 20_000

    def __init__(self, lang: str = "en", lowercase: bool = False, batch_size: int = 1000) -> None:
        super().__init__(lowercase)
        self.lang = lang
        self.batch_size = batch_size
        self._nlp = _blank_spacy(lang)
        self._count_chunks = _chunks_are_independent(self._nlp.tokenizer)

    def tokenize(self, text: str) -> list[str]:
        tokens = [token.text for token in self._nlp.tokenizer(self._clean(text))]
        self._bound_memory()
        return tokens

    def tokenize_batch(self, texts: Iterable[str]) -> list[list[str]]:
        docs = self._nlp.tokenizer.pipe(map(self._clean, texts), batch_size=self.batch_size)
        token_lists = [[token.text for token in doc] for doc in docs]
        self._bound_memory()
        return token_lists

    def count_into(self, counter: Counter[str], texts: Sequence[str]) -> int:
        # spaCy's rule-based tokenizer splits each whitespace-separated chunk on its own (its
        # cache works per chunk too), so counting the chunks first and tokenizing each distinct
        # chunk once gives exactly the counts of tokenizing every text: a few times faster on
        # running text, where most chunks repeat.
        if not self._count_chunks:
            return self._count_docs(counter, texts)
        import numpy as np
        from spacy.attrs import IDX, ORTH

        chunks: Counter[str] = Counter()
        for text in texts:
            chunks.update(self._normalize(text).split())
        words = list(chunks)
        weights = np.fromiter(chunks.values(), dtype=np.int64, count=len(words))  # one per chunk
        strings, total = self._nlp.vocab.strings, 0
        for start in range(0, len(words), self.chunks_per_doc):
            part = words[start : start + self.chunks_per_doc]
            table = self._nlp.tokenizer(" ".join(part)).to_array([ORTH, IDX])  # tokens x 2
            widths = np.fromiter(map(len, part), dtype=np.int64, count=len(part)) + 1
            starts = np.cumsum(widths) - widths  # where each chunk begins in the joined string
            owner = np.searchsorted(starts, table[:, 1].astype(np.int64), side="right") - 1
            unique, inverse = np.unique(table[:, 0], return_inverse=True)
            sums = np.zeros(len(unique), dtype=np.int64)
            np.add.at(sums, inverse, weights[start : start + len(part)][owner])
            for string_id, count in zip(unique.tolist(), sums.tolist(), strict=True):
                counter[strings[string_id]] += count
            total += int(sums.sum())
        self._bound_memory()
        return total

    def _count_docs(self, counter: Counter[str], texts: Sequence[str]) -> int:
        """Count by tokenizing every text (for tokenizers that look across whitespace)."""
        import numpy as np
        from spacy.attrs import ORTH

        docs = self._nlp.tokenizer.pipe(map(self._clean, texts), batch_size=self.batch_size)
        ids = np.concatenate([np.zeros(0, dtype=np.uint64)] + [doc.to_array(ORTH) for doc in docs])
        unique, counts = np.unique(ids, return_counts=True)
        strings = self._nlp.vocab.strings
        for string_id, count in zip(unique.tolist(), counts.tolist(), strict=True):
            counter[strings[string_id]] += count
        self._bound_memory()
        return len(ids)

    def tokenize_with_spaces(self, text: str) -> tuple[list[str], list[bool]]:
        """Tokens of the text as is, and for each whether a space followed it."""
        doc = self._nlp.tokenizer(self._normalize(text))
        return [token.text for token in doc], [bool(token.whitespace_) for token in doc]

    def detokenize(self, tokens: Sequence[str], spaces: Sequence[bool] | None = None) -> str:
        """Join tokens, exactly when ``spaces`` from :meth:`tokenize_with_spaces` is given."""
        if spaces is None:
            return guess_detokenize(tokens)
        if len(spaces) != len(tokens):
            raise ValueError(f"{len(tokens)} tokens but {len(spaces)} spaces")
        return "".join(token + (" " if space else "") for token, space in zip(tokens, spaces, strict=True))

    def options(self) -> dict[str, Any]:
        return {"lang": self.lang, "lowercase": self.lowercase, "batch_size": self.batch_size}

    def _clean(self, text: str) -> str:
        return " ".join(self._normalize(text).split())

    def _bound_memory(self) -> None:
        if len(self._nlp.vocab.strings) > self.max_strings:
            self._nlp = _blank_spacy(self.lang)

    def __getstate__(self) -> dict[str, Any]:
        # The spaCy pipeline is rebuilt from the options: smaller and deterministic, which
        # keeps datasets' cache fingerprints stable.
        return self.options()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)


def _chunks_are_independent(tokenizer: Any) -> bool:
    """Whether ``tokenizer`` is spaCy's rule-based one with no special case spanning a space
    (languages such as Chinese or Japanese bring word segmenters that look across text)."""
    from spacy.tokenizer import Tokenizer as RuleTokenizer

    rules = getattr(tokenizer, "rules", None) or {}
    return isinstance(tokenizer, RuleTokenizer) and not any(
        any(char.isspace() for char in key) and not key.isspace() for key in rules
    )


def _blank_spacy(lang: str):
    import spacy

    try:
        return spacy.blank(lang)
    except (ImportError, KeyError, ValueError) as exc:
        raise NlpRnnError(f"spaCy has no language {lang!r}: {exc}") from None


class SentencePieceTokenizer(Tokenizer):
    """A trained SentencePiece model (unigram or BPE); tokens are its pieces.

    Make one with :meth:`train`, or load a saved directory with :func:`load_tokenizer`.
    ``detokenize(tokenize(t)) == normalize(t)`` whenever every character is in the model,
    which ``byte_fallback=True`` guarantees.
    """

    kind = "sentencepiece"

    def __init__(
        self,
        model: bytes | str | os.PathLike[str],
        lowercase: bool = False,
        vocab_size: int | None = None,
        model_type: str | None = None,
        character_coverage: float | None = None,
        byte_fallback: bool | None = None,
    ) -> None:
        """``model`` is the serialized model or the path of a ``.model`` file.

        The training settings are not used here; they are recorded in ``tokenizer.json`` so
        that a saved tokenizer says how its model was made.
        """
        import sentencepiece as spm

        super().__init__(lowercase)
        if not isinstance(model, bytes):
            path = Path(model)
            if not path.is_file():
                raise InputError("sentencepiece model file not found", path)
            model = path.read_bytes()
        try:
            self._processor = spm.SentencePieceProcessor(model_proto=model)
        except (RuntimeError, OSError) as exc:
            raise NlpRnnError(f"cannot load the sentencepiece model: {exc}") from None
        self._model = model
        self.training = {
            "vocab_size": vocab_size,
            "model_type": model_type,
            "character_coverage": character_coverage,
            "byte_fallback": byte_fallback,
        }

    @classmethod
    def train(
        cls,
        texts: Iterable[str] | str | os.PathLike[str],
        vocab_size: int = 8000,
        model_type: str = "unigram",
        character_coverage: float = 1.0,
        byte_fallback: bool = False,
        lowercase: bool = False,
        max_sentences: int = 2_000_000,
        **trainer_options: Any,
    ) -> SentencePieceTokenizer:
        """Train a model on an iterable of texts or on a text file (one sentence per line).

        ``model_type`` is ``"unigram"`` or ``"bpe"`` (also ``"char"``, ``"word"``).
        SentencePiece keeps its training sentences in memory, so at most ``max_sentences``
        (a random sample when there are more) are used. Other keyword arguments go to
        ``SentencePieceTrainer`` as they are.
        """
        import sentencepiece as spm

        if model_type not in ("unigram", "bpe", "char", "word"):
            raise NlpRnnError(
                f"unknown sentencepiece model_type {model_type!r}; expected unigram, bpe, char or word"
            )
        if isinstance(texts, (str, os.PathLike)):
            from nlp_rnn.fileio import iter_lines

            texts = (line for _, line in iter_lines(texts))
        if lowercase:
            texts = (text.lower() for text in texts)
        # Empty lines carry nothing to learn and make the trainer warn.
        sentences = (text for text in texts if text.strip())
        writer = io.BytesIO()
        options = dict(
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=character_coverage,
            byte_fallback=byte_fallback,
            input_sentence_size=max_sentences,
            shuffle_input_sentence=True,
            minloglevel=2,
            **trainer_options,
        )
        try:
            spm.SentencePieceTrainer.train(sentence_iterator=sentences, model_writer=writer, **options)
        except RuntimeError as exc:
            raise NlpRnnError(f"sentencepiece training failed: {exc}") from None
        recorded = dict(
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=character_coverage,
            byte_fallback=byte_fallback,
        )
        return cls(writer.getvalue(), lowercase=lowercase, **recorded)

    @property
    def vocab_size(self) -> int:
        """Number of pieces in the model."""
        return self._processor.get_piece_size()

    def tokenize(self, text: str) -> list[str]:
        return self._processor.encode(self._normalize(text), out_type=str)

    def tokenize_batch(self, texts: Iterable[str]) -> list[list[str]]:
        texts = [self._normalize(text) for text in texts]
        return self._processor.encode(texts, out_type=str)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return self._processor.decode_pieces(list(tokens))

    def encode_ids(self, text: str, sampling_alpha: float | None = None) -> list[int]:
        """The piece ids of a text (the model's own ids, not a :class:`Vocab`'s). With
        ``sampling_alpha`` (a unigram model only) one segmentation is sampled from the model's
        distribution sharpened by that power, instead of the best one (subword regularization;
        ``sentencepiece.set_random_generator_seed`` seeds it)."""
        if sampling_alpha is None:
            return self._processor.encode(self._normalize(text), out_type=int)
        return self._processor.encode(
            self._normalize(text), out_type=int, enable_sampling=True, alpha=sampling_alpha, nbest_size=-1
        )

    def decode_ids(self, ids: Sequence[int]) -> str:
        """Text from piece ids."""
        return self._processor.decode_ids(list(ids))

    def normalize(self, text: str) -> str:
        """The text as the model sees it, spaced as :meth:`detokenize` returns it."""
        pieces = self._processor.normalize(self._normalize(text))
        return pieces.replace("▁", " ").strip(" ")

    def options(self) -> dict[str, Any]:
        return {"lowercase": self.lowercase, **self.training}

    def _save_model(self, directory: Path) -> None:
        with atomic_file(directory / SENTENCEPIECE_MODEL_FILE, "wb") as handle:
            handle.write(self._model)

    def __getstate__(self) -> dict[str, Any]:
        return {"model": self._model, **self.options()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and other._model == self._model  # type: ignore[attr-defined]


# The kinds build_tokenizer knows, spelled out (no registration decorators).
TOKENIZER_KINDS: dict[str, type[Tokenizer]] = {
    "whitespace": WhitespaceTokenizer,
    "regex": RegexTokenizer,
    "char": CharTokenizer,
    "spacy": SpacyTokenizer,
    "sentencepiece": SentencePieceTokenizer,
}


def build_tokenizer(kind: str, **options: Any) -> Tokenizer:
    """Make a tokenizer of ``kind`` (one of :data:`TOKENIZER_KINDS`) with ``options``.

    An unknown kind or option raises :class:`NlpRnnError` naming it. A ``sentencepiece``
    tokenizer needs ``model`` (a ``.model`` path or bytes); train one with
    :meth:`SentencePieceTokenizer.train`.
    """
    cls = TOKENIZER_KINDS.get(kind)
    if cls is None:
        raise NlpRnnError(f"unknown tokenizer kind {kind!r}; expected one of {', '.join(TOKENIZER_KINDS)}")
    if cls is SentencePieceTokenizer and "model" not in options:
        raise NlpRnnError(
            "a sentencepiece tokenizer needs a trained model: train one with "
            "SentencePieceTokenizer.train(...) or load a saved tokenizer directory"
        )
    allowed = list(inspect.signature(cls).parameters)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise NlpRnnError(
            f"unknown option(s) {', '.join(unknown)} for the {kind} tokenizer; expected {', '.join(allowed)}"
        )
    return cls(**options)


def load_tokenizer(directory: str | os.PathLike[str]) -> Tokenizer:
    """Restore a tokenizer saved by :meth:`Tokenizer.save`."""
    directory = Path(directory)
    path = directory / TOKENIZER_FILE
    if not path.is_file():
        raise InputError(f"no {TOKENIZER_FILE} in this directory", directory)
    config = read_json(path)
    if not isinstance(config, dict) or not isinstance(config.get("kind"), str):
        raise InputError('expected a JSON object with a "kind" string', path)
    options = config.get("options", {})
    if not isinstance(options, dict):
        raise InputError('"options" must be a JSON object', path)
    kind = config["kind"]
    if kind not in TOKENIZER_KINDS:
        raise InputError(
            f"unknown tokenizer kind {kind!r}; expected one of {', '.join(TOKENIZER_KINDS)}",
            path,
        )
    if kind == "sentencepiece":
        options = {**options, "model": directory / SENTENCEPIECE_MODEL_FILE}
    try:
        return build_tokenizer(kind, **options)
    except NlpRnnError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(str(exc), path) from None


def resolve_tokenizer(spec: str, lowercase: bool | None = None, **options: Any) -> Tokenizer:
    """A tokenizer from a command-line spec: a saved tokenizer directory or a kind name.

    ``lowercase`` (when not None) overrides the tokenizer's own setting; other ``options``
    (say ``lang`` for spaCy) apply to a kind name only.
    """
    if Path(spec).is_dir():
        if options:
            raise NlpRnnError(
                f"{', '.join(options)} cannot change a saved tokenizer ({spec}); "
                "save a new one with the options you want"
            )
        tokenizer = load_tokenizer(spec)
    elif spec in TOKENIZER_KINDS:
        tokenizer = build_tokenizer(spec, **options)
    else:
        raise NlpRnnError(
            f"--tokenizer {spec!r} is neither a tokenizer directory nor one of "
            f"{', '.join(k for k in TOKENIZER_KINDS if k != 'sentencepiece')}"
        )
    if lowercase is not None:
        tokenizer.lowercase = lowercase
    return tokenizer
