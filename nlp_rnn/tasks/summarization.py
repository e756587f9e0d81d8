"""Summarization (headline generation) as a task: word vocabularies, pairs encoded in the copying
model's extended ids (streamed to disk for large corpora), collation and evaluation for the Trainer,
and a predictor that summarizes articles and files with greedy or beam search under decoding
constraints.

Text: an article or headline is normalised (digits to ``#`` when ``digits_to_hash``, the Gigaword
convention) and split by the model's word tokenizer (whitespace for pre-tokenized corpora such as
Gigaword). One vocabulary serves both sides (:data:`PAD_ID` 0, :data:`UNK_ID` 1, :data:`BOS_ID` 2,
:data:`EOS_ID` 3, then words by frequency in the training articles and headlines), so copying and
shared embeddings line up. Ids at or above the vocabulary size are copy ids: ``V + j`` is the
``j``-th distinct out-of-vocabulary word of the article (see
:mod:`nlp_rnn.models.pointer_generator`).

A model folder (written by :meth:`SummarizationPredictor.save`)::

    config.json          task, format version, PointerGeneratorConfig, text settings, source cap
    vocab.json           the word vocabulary
    tokenizer/           the word tokenizer
    model.safetensors    the weights
    metrics.json         the dev metrics of these weights (when known)
"""

from __future__ import annotations

import itertools
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nlp_rnn import __version__
from nlp_rnn.data.batching import inference_batches
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.fileio import atomic_file, chunked, iter_lines
from nlp_rnn.models.low_precision import PRECISIONS, InferenceCopies
from nlp_rnn.models.pointer_generator import PointerGenerator, PointerGeneratorConfig
from nlp_rnn.models.search import Constraints, Hypothesis, beam_search, greedy_search
from nlp_rnn.tasks import (
    MODEL_CONFIG_FILE,
    WEIGHTS_FILE,
    config_fields,
    load_weights_file,
    read_task_config,
    require_files,
    save_weights,
    write_json,
)
from nlp_rnn.tasks.translation import EncodedPairs, pad_ids
from nlp_rnn.text.tokenizers import Tokenizer, load_tokenizer
from nlp_rnn.text.vocab import Vocab

TASK = "summarization"
FORMAT_VERSION = 1
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
VOCAB_FILE = "vocab.json"
TOKENIZER_DIR = "tokenizer"
DEFAULT_BATCH_SIZE = 64  # articles per decoding batch
DEFAULT_CHUNK = 1000  # lines of a file held in memory at once by summarize_file
_ENCODE_CHUNK = 10_000  # pairs encoded between two writes to disk
_DIGIT = re.compile(r"[0-9]")


# --------------------------------------------------------------------------- text


@dataclass
class TextSettings:
    """How articles and headlines become words: the tokenizer, and digits to ``#`` or not."""

    tokenizer: Tokenizer
    digits_to_hash: bool = True

    def words(self, text: str) -> list[str]:
        """The words of one text, normalised as the model's training text was."""
        if self.digits_to_hash:
            text = _DIGIT.sub("#", text)
        return self.tokenizer.tokenize(text)


def build_vocab(
    articles: Iterable[str], titles: Iterable[str], text: TextSettings, max_size: int, min_freq: int = 1
) -> Vocab:
    """One vocabulary of the most frequent words of the training articles and headlines (streamed)."""
    counts: Counter[str] = Counter()
    for lines in (articles, titles):
        for line in lines:
            counts.update(text.words(line))
    return Vocab.build(counts, min_freq=min_freq, max_size=max_size)


def extended_ids(words: Sequence[str], vocab: Vocab) -> tuple[list[int], list[str]]:
    """An article's ids in the extended vocabulary, and its out-of-vocabulary words in id order."""
    size, stoi = len(vocab), vocab.stoi
    oov: dict[str, int] = {}
    ids = [stoi.get(word) or size + oov.setdefault(word, len(oov)) for word in words]
    return ids, list(oov)


def target_ids(words: Sequence[str], vocab: Vocab, oov: Sequence[str]) -> list[int]:
    """A headline's ids: vocabulary words keep theirs, an article's own out-of-vocabulary words get
    their copy id, other words ``<unk>``."""
    copy = {word: len(vocab) + j for j, word in enumerate(oov)}
    stoi = vocab.stoi
    return [stoi.get(word) or copy.get(word, UNK_ID) for word in words]


# --------------------------------------------------------------------------- encoding


class _FlatWriter:
    """Appends id lists to one int32 file and remembers their lengths (a few bytes per pair)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = path.open("wb")
        self.lengths: list[int] = []

    def write(self, id_lists: list[list[int]]) -> None:
        self.lengths.extend(map(len, id_lists))
        np.fromiter((i for ids in id_lists for i in ids), dtype=np.int32).tofile(self.handle)

    def close(self) -> tuple[np.ndarray, np.ndarray]:
        """The offsets (N + 1) and the ids, memory-mapped read-only."""
        self.handle.close()
        offsets = np.concatenate([[0], np.cumsum(self.lengths, dtype=np.int64)])
        ids = np.memmap(self.path, dtype=np.int32, mode="r") if offsets[-1] else np.zeros(0, np.int32)
        return offsets, ids


def encode_pairs(
    articles: Iterable[str],
    titles: Iterable[str],
    vocab: Vocab,
    text: TextSettings,
    folder: str | os.PathLike[str] | None = None,
    max_source_length: int | None = None,
    max_target_length: int | None = None,
) -> EncodedPairs:
    """Article/headline pairs in extended ids, streamed into two int32 files under ``folder``.

    The files are memory-mapped, so memory does not grow with the corpus (``folder=None``: a
    temporary folder, for small data and tests). Articles are cut to ``max_source_length`` words
    (the encoder never sees longer ones); pairs with a headline longer than ``max_target_length``
    are dropped (a cut headline would teach the model to stop mid-phrase), and so are pairs with an
    empty side; ``EncodedPairs.too_long`` and ``.empty`` count them. Unequal numbers of articles
    and headlines raise :class:`NlpRnnError`.
    """
    directory = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="nlp-rnn-pairs-"))
    directory.mkdir(parents=True, exist_ok=True)
    sources, targets = _FlatWriter(directory / "source.int32"), _FlatWriter(directory / "target.int32")
    too_long = empty = 0
    pairs = _pairs(articles, titles)
    for chunk in chunked(pairs, _ENCODE_CHUNK):
        source_chunk, target_chunk = [], []
        for article, title in chunk:
            source, headline = text.words(article), text.words(title)
            if not source or not headline:
                empty += 1
                continue
            if max_target_length is not None and len(headline) > max_target_length:
                too_long += 1
                continue
            ids, oov = extended_ids(source[:max_source_length], vocab)
            source_chunk.append(ids)
            target_chunk.append(target_ids(headline, vocab, oov))
        sources.write(source_chunk)
        targets.write(target_chunk)
    return EncodedPairs(sources.close(), targets.close(), too_long=too_long, empty=empty)


def _pairs(articles: Iterable[str], titles: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Zip two texts that must have the same number of lines."""
    missing = object()
    for number, (article, title) in enumerate(itertools.zip_longest(articles, titles, fillvalue=missing)):
        if article is missing or title is missing:
            side = "headlines" if title is missing else "articles"
            raise NlpRnnError(
                f"pair {number + 1}: the {side} ran out first; articles and headlines need one line each"
            )
        yield article, title


class Collate:
    """Pads encoded pairs into the batch :meth:`PointerGenerator.forward` reads.

    ``src`` (B x S, plain ids: copy ids as ``<unk>``), ``src_ext`` (B x S, extended ids),
    ``src_lengths`` (B), ``tgt_in`` (B x T: BOS + headline, plain ids), ``tgt_out`` (B x T:
    headline + EOS, extended ids); right-padded with 0.
    """

    def __init__(self, vocab_size: int) -> None:
        self.vocab_size = vocab_size

    def __call__(self, examples: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict[str, Tensor]:
        sources = [source.astype(np.int64) for source, _ in examples]
        targets = [target.astype(np.int64) for _, target in examples]
        src_ext = pad_ids(sources)  # B x S
        tgt_out = pad_ids(targets, suffix=EOS_ID)  # B x T
        tgt_in = pad_ids(targets, prefix=BOS_ID)  # B x T
        return {
            "src": self._plain(src_ext),
            "src_ext": src_ext,
            "src_lengths": torch.tensor([len(source) for source in sources], dtype=torch.long),  # B
            "tgt_in": self._plain(tgt_in),
            "tgt_out": tgt_out,
        }

    def _plain(self, ids: Tensor) -> Tensor:
        return torch.where(ids < self.vocab_size, ids, UNK_ID)


@torch.no_grad()
def evaluate_batches(model: PointerGenerator, batches: Iterable[Mapping[str, Tensor]]) -> dict[str, float]:
    """The Trainer's evaluate function: ``loss`` (the objective), ``nll`` and ``ppl`` per real
    headline token (EOS included), under the copy mixture."""
    tokens, loss_sum, nll_sum = 0, 0.0, 0.0
    for batch in batches:
        out = model(dict(batch))
        count = int(out["tokens"])
        loss_sum += float(out["loss"]) * count
        nll_sum += float(out["nll"]) * count
        tokens += count
    count = max(tokens, 1)
    return {"loss": loss_sum / count, "nll": nll_sum / count, "ppl": math.exp(min(nll_sum / count, 100.0))}


# --------------------------------------------------------------------------- the predictor


@dataclass
class DecodingOptions:
    """How summaries are searched for."""

    beam_size: int = 5
    min_length: int = 0  # words before EOS is allowed
    max_length: int = 30  # words at most
    length_penalty: float = 1.0  # GNMT's alpha (beam search)
    no_repeat_ngram_size: int = 0  # block repeated n-grams (0: off)
    batch_size: int = DEFAULT_BATCH_SIZE
    ban_unk: bool = True  # never write <unk> (a word outside the vocabulary comes only by copying)
    precision: str = "fp32"  # fp32, bf16 or int8 (CPU) products: nlp_rnn.models.low_precision


@dataclass
class Summary:
    """An article's best summary."""

    text: str  # words joined by spaces ("" for an empty article)
    words: list[str]
    score: float  # the search's ranking score (nan for an empty article)
    copied: int  # words that came from the article's out-of-vocabulary list


class SummarizationPredictor:
    """A trained :class:`PointerGenerator` with its vocabulary and text settings."""

    task = TASK
    precisions = PRECISIONS  # what summarize multiplies in (int8: on the CPU)

    def __init__(
        self,
        model: PointerGenerator,
        vocab: Vocab,
        text: TextSettings,
        max_source_length: int,
        device: torch.device | str = "cpu",
    ) -> None:
        self.model = model.to(device).eval()
        self.vocab, self.text, self.max_source_length = vocab, text, max_source_length
        self.device = torch.device(device)
        self._copies = InferenceCopies(self.model, self.device, recurrent=("decoder",))

    def search_model(self, precision: str = "fp32") -> PointerGenerator:
        """The model that decodes: :attr:`model` itself for ``fp32``; for ``bf16`` or ``int8`` an
        inference copy whose linear layers and decoder RNN multiply in that precision (made once,
        see :mod:`nlp_rnn.models.low_precision`; int8 on the CPU only)."""
        return self._copies.get(precision)  # type: ignore[return-value]

    def summarize(self, articles: Sequence[str], options: DecodingOptions | None = None) -> list[Summary]:
        """Summaries of raw articles, in order. Articles longer than ``max_source_length`` words are
        cut to it (the model was trained on no longer ones); an empty article gives ``""``."""
        if isinstance(articles, str):
            raise TypeError("summarize takes a list of articles")
        options = options or DecodingOptions()
        if options.beam_size < 1 or options.max_length < 1 or options.min_length > options.max_length:
            raise NlpRnnError(
                f"need beam_size >= 1 and 1 <= max_length, min_length <= max_length; got beam "
                f"{options.beam_size}, lengths {options.min_length}..{options.max_length}"
            )
        encoded = [extended_ids(self.text.words(a)[: self.max_source_length], self.vocab) for a in articles]
        results = [Summary("", [], float("nan"), 0) for _ in articles]
        real = [i for i, (ids, _) in enumerate(encoded) if ids]
        banned = (UNK_ID,) if options.ban_unk else ()
        constraints = Constraints(options.min_length, options.no_repeat_ngram_size, banned)
        model = self.search_model(options.precision)
        was_training = self.model.training
        self.model.eval()
        try:
            source_lengths = [len(encoded[i][0]) for i in real]
            for batch in inference_batches(source_lengths, options.batch_size, one_length=False):
                rows = [real[j] for j in batch]
                src_ext = pad_ids([np.asarray(encoded[i][0], dtype=np.int64) for i in rows]).to(self.device)
                src = torch.where(src_ext < len(self.vocab), src_ext, UNK_ID)  # B x S
                lengths = torch.tensor([len(encoded[i][0]) for i in rows], dtype=torch.long)  # B
                found = self._search(model, src, lengths, src_ext, options, constraints)
                for i, hypothesis in zip(rows, found, strict=True):
                    results[i] = self._summary(hypothesis, encoded[i][1])
        finally:
            self.model.train(was_training)
        return results

    def _search(
        self,
        model: PointerGenerator,
        src: Tensor,
        lengths: Tensor,
        src_ext: Tensor,
        options: DecodingOptions,
        constraints: Constraints,
    ) -> list[Hypothesis]:
        """The best hypothesis per article from ``model`` (:meth:`search_model`); at most
        ``max_length`` words whatever the article's length."""
        cap = {"max_len_a": 0.0, "max_len_b": options.max_length}
        if options.beam_size == 1:
            return greedy_search(model, src, lengths, constraints=constraints, src_extended=src_ext, **cap)
        beams = beam_search(
            model, src, lengths, options.beam_size, options.length_penalty,
            constraints=constraints, src_extended=src_ext, **cap,
        )  # fmt: skip
        return [sentence[0] for sentence in beams]

    def _summary(self, hypothesis: Hypothesis, oov: list[str]) -> Summary:
        size = len(self.vocab)
        words = [self.vocab.itos[i] if i < size else oov[i - size] for i in hypothesis.tokens]
        copied = sum(i >= size for i in hypothesis.tokens)
        return Summary(" ".join(words), words, hypothesis.score, copied)

    def summarize_file(
        self,
        source: str | os.PathLike[str],
        target: str | os.PathLike[str],
        options: DecodingOptions | None = None,
        chunk: int = DEFAULT_CHUNK,
    ) -> tuple[int, int, int]:
        """Summarize every line of ``source`` (plain or ``.gz``) into the same line of ``target``,
        ``chunk`` lines at a time, written atomically. Returns (lines, empty lines, articles cut to
        ``max_source_length``)."""
        count = empty = cut = 0
        with atomic_file(target, "w", encoding="utf-8", newline="\n") as handle:
            for lines in chunked((text for _, text in iter_lines(source)), chunk):
                summaries = self.summarize(lines, options)
                handle.write("".join(summary.text + "\n" for summary in summaries))
                count += len(lines)
                empty += sum(not line.strip() for line in lines)
                cut += sum(len(self.text.words(line)) > self.max_source_length for line in lines)
        return count, empty, cut

    # --- the model folder ----------------------------------------------------------------------

    def save(self, folder: str | Path, metrics: Mapping[str, float] | None = None) -> Path:
        """Write a complete model folder (weights included)."""
        folder = Path(folder)
        write_model_files(folder, self.model, self.vocab, self.text, self.max_source_length)
        save_weights(self.model, folder, metrics)
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: torch.device | str = "cpu") -> SummarizationPredictor:
        """Load a model folder; missing or broken files raise :class:`NlpRnnError` naming them."""
        folder = Path(folder)
        config = read_task_config(folder, TASK, FORMAT_VERSION)
        with config_fields(folder, "summarization"):
            architecture = PointerGeneratorConfig.model_validate(config["model"])
            size, max_source = int(config["vocab_size"]), int(config["max_source_length"])
            digits = bool(config["digits_to_hash"])
        require_files(folder, WEIGHTS_FILE)
        vocab = Vocab.load(folder / VOCAB_FILE)
        if len(vocab) != size:
            raise NlpRnnError(f"{folder}: config.json says {size} words, {VOCAB_FILE} has {len(vocab)}")
        model = build_model(architecture, vocab)
        load_weights_file(model, folder / WEIGHTS_FILE)
        text = TextSettings(load_tokenizer(folder / TOKENIZER_DIR), digits)
        return cls(model, vocab, text, max_source, device=device)


def build_model(config: PointerGeneratorConfig, vocab: Vocab) -> PointerGenerator:
    """An untrained model over ``vocab`` with this task's special ids."""
    return PointerGenerator(config, vocab_size=len(vocab), bos_id=BOS_ID, eos_id=EOS_ID, unk_id=UNK_ID)


def write_model_files(
    folder: Path, model: PointerGenerator, vocab: Vocab, text: TextSettings, max_source_length: int
) -> None:
    """Everything of a model folder except the weights and metrics (so the Trainer's checkpoints are
    loadable model folders too)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json(
        folder / MODEL_CONFIG_FILE,
        {
            "task": TASK,
            "format_version": FORMAT_VERSION,
            "nlp_rnn_version": __version__,
            "model": model.config.model_dump(mode="json"),
            "vocab_size": len(vocab),
            "max_source_length": max_source_length,
            "digits_to_hash": text.digits_to_hash,
            "special_ids": {"pad": PAD_ID, "unk": UNK_ID, "bos": BOS_ID, "eos": EOS_ID},
        },
    )
    vocab.save(folder / VOCAB_FILE)
    text.tokenizer.save(folder / TOKENIZER_DIR)
