"""Sequence tagging as a task: encode tagged sentences, collate batches, evaluate for the Trainer,
save a self-contained model folder, and tag token lists, CoNLL-U files and raw text.

A model folder (written by :meth:`TaggingPredictor.save`, loaded by :meth:`TaggingPredictor.load`
or :func:`nlp_rnn.api.load_model`)::

    config.json         task, architecture, sizes, versions
    words.json          the trainable word vocabulary (lowercased training words)
    pretrained.json     the pretrained vectors' vocabulary (absent without vectors)
    chars.json          the character vocabulary
    upos.json           UPOS tags, in the order of the UPOS outputs
    xpos.json           XPOS tags (absent when the model predicts UPOS only)
    training_words.txt  the word forms seen in training (for accuracy on unseen words)
    model.safetensors   the weights
    metrics.json        the dev metrics of these weights (when known)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nlp_rnn import __version__
from nlp_rnn.data.batching import inference_batches
from nlp_rnn.data.conllu import iter_sentences, write_conllu
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.fileio import atomic_file, chunked, iter_lines
from nlp_rnn.models import bilstm_inference
from nlp_rnn.models.low_precision import FLOAT_PRECISIONS, check_precision
from nlp_rnn.models.tagger import IGNORE, RNNTagger, TaggerConfig
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
from nlp_rnn.text.sentences import Sentence, split_sentences
from nlp_rnn.text.vocab import Vocab

TASK = "tagging"
FORMAT_VERSION = 1
WORDS_FILE = "words.json"
PRETRAINED_FILE = "pretrained.json"
CHARS_FILE = "chars.json"
UPOS_FILE = "upos.json"
XPOS_FILE = "xpos.json"
TRAINING_WORDS_FILE = "training_words.txt"

DEFAULT_MAX_TOKENS = 4096  # padded words per inference batch (faster than 8,192 on 2 AVX2 cores)


@dataclass
class TaggingVocabs:
    """Everything that maps text to the tagger's ids and its outputs back to tags."""

    words: Vocab  # lowercased training words (<pad>, <unk>, ...)
    chars: Vocab  # characters (<pad>, <unk>, <bos> = begin of word, <eos> = end of word, ...)
    upos: Vocab  # UPOS tags (no specials)
    xpos: Vocab | None  # XPOS tags, or None for a UPOS-only model
    pretrained: Vocab | None  # words of the pretrained vectors (lowercased), or None


# --------------------------------------------------------------------------- encoding


class FormTable:
    """Distinct word forms and their character ids, shared by every dataset one collator reads.

    Each form's characters are encoded once: ``<bos>``, the characters (the first and last
    ``max_chars // 2`` of longer words), ``<eos>``, padded with 0 in a growing matrix.
    """

    def __init__(self, chars: Vocab, max_chars: int) -> None:
        self.chars, self.max_chars = chars, max_chars
        self.index: dict[str, int] = {}
        self.forms: list[str] = []  # by id
        self._matrix = np.zeros((1024, max_chars + 2), dtype=np.int64)  # forms x (chars + marks)
        self._lengths = np.zeros(1024, dtype=np.int64)
        singles = {ord(char): i for char, i in chars.stoi.items() if len(char) == 1}
        self._lookup = np.full(max(singles, default=0) + 1, chars.unk_id, dtype=np.int64)  # code point -> id
        self._lookup[list(singles)] = list(singles.values())

    def __len__(self) -> int:
        return len(self.index)

    def ids(self, forms: Sequence[str]) -> np.ndarray:
        """The form ids of ``forms`` (adding new forms)."""
        forms = list(forms)
        index = self.index
        new = [form for form in dict.fromkeys(forms) if form not in index]
        if new:
            self._add(new)
        return np.fromiter((index[form] for form in forms), dtype=np.int64, count=len(forms))

    def _add(self, forms: list[str]) -> None:
        """Encode the characters of new forms, all at once (no Python loop over characters)."""
        start, count = len(self.index), len(forms)
        while start + count > len(self._matrix):
            self._matrix = np.concatenate([self._matrix, np.zeros_like(self._matrix)])
            self._lengths = np.concatenate([self._lengths, np.zeros_like(self._lengths)])
        half = self.max_chars // 2
        kept = [form if len(form) <= self.max_chars else form[:half] + form[-half:] for form in forms]
        lengths = np.fromiter(map(len, kept), dtype=np.int64, count=count)  # characters per form
        codes = np.frombuffer("".join(kept).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        known = codes < len(self._lookup)
        char_ids = np.where(known, self._lookup[np.where(known, codes, 0)], self.chars.unk_id)
        rows = np.arange(start, start + count)
        row_of_char = np.repeat(rows, lengths)
        position = np.arange(len(codes)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        self._matrix[rows] = 0
        self._matrix[rows, 0] = self.chars.bos_id
        self._matrix[row_of_char, 1 + position] = char_ids
        self._matrix[rows, 1 + lengths] = self.chars.eos_id
        self._lengths[rows] = lengths + 2
        self.index.update(zip(forms, rows.tolist(), strict=True))
        self.forms.extend(forms)

    def copy(self) -> FormTable:
        """An independent table holding the same forms (new forms added to it stay out of this one)."""
        other = FormTable.__new__(FormTable)
        other.chars, other.max_chars, other._lookup = self.chars, self.max_chars, self._lookup
        other.index, other.forms = dict(self.index), list(self.forms)
        other._matrix, other._lengths = self._matrix.copy(), self._lengths.copy()
        return other

    def lengths(self) -> np.ndarray:
        """Characters (marks included) of each form, F."""
        return self._lengths[: len(self.index)]

    def chars_of(self, form_ids: np.ndarray) -> np.ndarray:
        """U x L character ids of the given forms, L = the longest of them."""
        width = int(self._lengths[form_ids].max(initial=1))
        return self._matrix[form_ids, :width]


class EncodedSentences:
    """Sentences as flat id arrays plus offsets (memory: a few integers per word).

    ``sentences[i]`` is ``(words, pretrained, forms, upos, xpos)``: five NumPy int64 views of
    sentence ``i`` (tags ``-100`` when unlabelled; a gold tag unknown to the model gets the id
    ``len(tag vocabulary)``, which no output predicts).
    """

    def __init__(self, offsets: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        self.offsets = offsets
        self.columns = columns
        self.lengths: list[int] = np.diff(offsets).tolist()

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        start, end = self.offsets[index], self.offsets[index + 1]
        return tuple(
            self.columns[name][start:end] for name in ("words", "pretrained", "forms", "upos", "xpos")
        )

    @property
    def tokens(self) -> int:
        return int(self.offsets[-1])


def _tag_ids(tag_lists: Iterable[Sequence[str]] | None, vocab: Vocab | None, total: int) -> np.ndarray:
    if tag_lists is None or vocab is None:
        return np.full(total, IGNORE, dtype=np.int64)
    stoi, unknown = vocab.stoi, len(vocab)
    ids = np.fromiter((stoi.get(tag, unknown) for tags in tag_lists for tag in tags), dtype=np.int64)
    if len(ids) != total:
        raise NlpRnnError(f"{len(ids)} tags for {total} words: every word needs one tag")
    return ids


def encode_sentences(
    token_lists: Sequence[Sequence[str]],
    vocabs: TaggingVocabs,
    table: FormTable,
    upos: Sequence[Sequence[str]] | None = None,
    xpos: Sequence[Sequence[str]] | None = None,
) -> EncodedSentences:
    """Ids of every word (and gold tag, when given); an empty sentence is an error naming it."""
    lengths = np.fromiter((len(tokens) for tokens in token_lists), dtype=np.int64, count=len(token_lists))
    if len(lengths) and lengths.min() == 0:
        raise NlpRnnError(f"sentence {int(np.argmin(lengths))} has no words; a tagger needs at least one")
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    total = int(offsets[-1])
    forms = table.ids([token for tokens in token_lists for token in tokens])
    # word ids are a function of the form: looked up once per distinct form, then gathered
    distinct, inverse = np.unique(forms, return_inverse=True)
    lowered = [table.forms[i].lower() for i in distinct.tolist()]

    def lookup(vocab: Vocab) -> np.ndarray:
        stoi, unk = vocab.stoi, vocab.unk_id
        return np.fromiter((stoi.get(w, unk) for w in lowered), dtype=np.int64, count=len(lowered))[inverse]

    columns = {
        "words": lookup(vocabs.words),
        "forms": forms,
        "upos": _tag_ids(upos, vocabs.upos, total),
        "xpos": _tag_ids(xpos, vocabs.xpos, total),
        "pretrained": lookup(vocabs.pretrained)
        if vocabs.pretrained is not None
        else np.zeros(total, np.int64),
    }
    return EncodedSentences(offsets, columns)


class Collate:
    """Pads sentences into a batch; characters once per distinct form of the batch."""

    def __init__(self, table: FormTable) -> None:
        self.table = table

    def __call__(self, examples: Sequence[tuple[np.ndarray, ...]]) -> dict[str, Tensor]:
        lengths = np.fromiter((len(e[0]) for e in examples), dtype=np.int64, count=len(examples))  # B
        batch, steps = len(examples), int(lengths.max(initial=1))
        padded = {
            name: np.full((batch, steps), IGNORE if name in ("upos", "xpos") else 0, dtype=np.int64)
            for name in ("words", "pretrained", "forms", "upos", "xpos")
        }  # each B x T
        for row, example in enumerate(examples):
            for name, values in zip(("words", "pretrained", "forms", "upos", "xpos"), example, strict=True):
                padded[name][row, : len(values)] = values
        real = np.arange(steps) < lengths[:, None]  # B x T
        unique, first, inverse = np.unique(padded["forms"][real], return_index=True, return_inverse=True)
        form_index = np.zeros((batch, steps), dtype=np.int64)  # B x T, into the rows of chars
        form_index[real] = inverse
        out = {
            "words": torch.from_numpy(padded["words"]),
            "pretrained": torch.from_numpy(padded["pretrained"]),
            "chars": torch.from_numpy(self.table.chars_of(unique)),  # U x L
            "form_index": torch.from_numpy(form_index),
            # the word ids of each distinct form (a function of the form), U each
            "form_words": torch.from_numpy(padded["words"][real][first]),
            "form_pretrained": torch.from_numpy(padded["pretrained"][real][first]),
            "lengths": torch.from_numpy(lengths),
        }
        for name in ("upos", "xpos"):
            if (padded[name][real] != IGNORE).all():
                out[name] = torch.from_numpy(padded[name])
        return out


# --------------------------------------------------------------------------- evaluation


def evaluate_batches(model: nn.Module, batches: Iterable[Mapping[str, Tensor]]) -> dict[str, float]:
    """The Trainer's evaluate function: dev ``upos_accuracy``, ``xpos_accuracy`` and ``loss``."""
    correct = {"upos": 0, "xpos": 0}
    words, loss_sum = 0, 0.0
    for batch in batches:
        output = model(batch)
        real = batch["upos"] != IGNORE  # B x T
        count = int(real.sum())
        words += count
        for name, predicted in model.best_tags(output, batch["lengths"]).items():
            if name in batch:
                correct[name] += int(((predicted == batch[name]) & real).sum())
        loss_sum += float(output["loss"]) * count
    metrics = {"upos_accuracy": correct["upos"] / max(words, 1), "loss": loss_sum / max(words, 1)}
    if getattr(model, "xpos", None) is not None:
        metrics["xpos_accuracy"] = correct["xpos"] / max(words, 1)
    return metrics


def predict_ids(
    model: RNNTagger,
    encoded: EncodedSentences,
    collate: Collate,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    device: torch.device | str = "cpu",
    per_form: Tensor | None = None,
    precision: str = "fp32",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted UPOS (and XPOS) ids of every word, flat in the sentences' order.

    With a bidirectional LSTM, the first layer's input products are computed once per distinct
    form of the whole call (:func:`form_projections`; or given as ``per_form``, one row per form
    of ``collate.table``), and each batch only gathers them. ``precision="bf16"`` runs the
    recurrence and upper layers' products in bf16 on that path (the other path ignores it).
    """
    upos = np.zeros(encoded.tokens, dtype=np.int64)
    xpos = np.zeros(encoded.tokens, dtype=np.int64) if model.xpos is not None else None
    for positions, real, lengths, output in _batch_outputs(
        model, encoded, collate, max_tokens, device, per_form, precision
    ):
        tags = model.best_tags(output, lengths.to(device))
        upos[positions] = tags["upos"].cpu()[real].numpy()
        if xpos is not None:
            xpos[positions] = tags["xpos"].cpu()[real].numpy()
    return upos, xpos


def predict_probabilities(
    model: RNNTagger,
    encoded: EncodedSentences,
    collate: Collate,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    device: torch.device | str = "cpu",
    per_form: Tensor | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Each word's UPOS (and XPOS) distribution, N x K float32 flat in the sentences' order: the
    softmax of the tag scores (a CRF tagger has none per word: use :func:`predict_ids`)."""
    if model.upos_crf is not None:
        raise NlpRnnError(
            "a CRF tagger scores tag sequences, not single words: it gives no per-word probabilities"
        )
    upos = np.zeros((encoded.tokens, model.num_upos), dtype=np.float32)
    xpos = np.zeros((encoded.tokens, model.num_xpos), dtype=np.float32) if model.xpos is not None else None
    for positions, real, _, output in _batch_outputs(
        model, encoded, collate, max_tokens, device, per_form, "fp32"
    ):
        upos[positions] = output["upos_logits"].softmax(-1).cpu()[real].numpy()  # words x K
        if xpos is not None:
            xpos[positions] = output["xpos_logits"].softmax(-1).cpu()[real].numpy()
    return upos, xpos


def _batch_outputs(
    model: RNNTagger,
    encoded: EncodedSentences,
    collate: Collate,
    max_tokens: int,
    device: torch.device | str,
    per_form: Tensor | None,
    precision: str,
) -> Iterator[tuple[np.ndarray, Tensor, Tensor, dict[str, Tensor]]]:
    """Eval-mode batches by length: each batch's flat word positions, its B x T mask of real
    words, its lengths (B, on the CPU) and the model's logits (B x T x K each)."""
    bf16 = check_precision(precision, supported=FLOAT_PRECISIONS) == "bf16"
    product_dtype = torch.bfloat16 if bf16 else torch.float32
    offsets = encoded.offsets
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            if per_form is None and model.fast_inference(encoded.tokens, bf16):
                per_form = form_projections(model, encoded, collate.table, device)
            # batch_size bounds the sentences, max_tokens the padded words, of one batch.
            for indices in inference_batches(encoded.lengths, max(1, max_tokens // 8), max_tokens):
                examples = [encoded[i] for i in indices]
                if per_form is not None:
                    lengths, form_index = _pad_forms(examples)
                    output = model.tag_logits(
                        per_form, form_index.to(device), lengths.to(device), product_dtype
                    )
                else:
                    batch = {k: v.to(device) for k, v in collate(examples).items()}
                    on_gpu = torch.device(device).type == "cuda"  # (oneDNN has no bf16 LSTM on AVX2)
                    with torch.autocast("cuda", torch.bfloat16, enabled=bf16 and on_gpu):
                        output = {key: value.float() for key, value in model(batch).items()}
                    lengths = batch["lengths"].cpu()
                real = torch.arange(int(lengths.max())) < lengths[:, None]  # B x T
                positions = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in indices])
                yield positions, real, lengths, output
    finally:
        model.train(was_training)


def form_projections(
    model: RNNTagger,
    encoded: EncodedSentences,
    table: FormTable,
    device: torch.device | str,
    chunk: int = 4096,
    first: int = 0,
    out: Tensor | None = None,
) -> Tensor:
    """The first layer's input products of every form in ``table`` (F x 8H), in chunks of forms of
    the same length (no character padding: a chunk padded to its longest form would run the
    character CNN over several times the characters there are).

    With ``first`` and ``out`` (at least F rows), only the forms from id ``first`` on are computed,
    into ``out``; the rows before are taken as they are there. Returns the F rows."""
    forms = len(table)
    columns = encoded.columns
    form_words = np.zeros(forms, dtype=np.int64)
    form_words[columns["forms"]] = columns["words"]  # a function of the form: any occurrence will do
    form_pretrained = np.zeros(forms, dtype=np.int64)
    form_pretrained[columns["forms"]] = columns["pretrained"]
    result = out
    for ids in _equal_length_chunks(table.lengths(), first, chunk):
        batch = {
            "form_words": torch.from_numpy(form_words[ids]).to(device),
            "form_pretrained": torch.from_numpy(form_pretrained[ids]).to(device),
            "chars": torch.from_numpy(table.chars_of(ids)).to(device),
        }
        projections = model.form_projections(batch)  # chunk x 8H
        if result is None:
            result = projections.new_empty(forms, projections.size(1))
        result[torch.from_numpy(ids).to(device)] = projections
    assert result is not None, "no forms to project"
    return result[:forms]


def _equal_length_chunks(lengths: np.ndarray, first: int, chunk: int) -> Iterator[np.ndarray]:
    """The form ids from ``first`` on, grouped by character length, at most ``chunk`` per group."""
    order = first + np.argsort(lengths[first:], kind="stable")
    bounds = np.flatnonzero(np.diff(lengths[order])) + 1  # where the length changes
    for group in np.split(order, bounds):
        for start in range(0, len(group), chunk):
            yield group[start : start + chunk]


class FormCache:
    """The first layer's input products of frequent training forms, computed once per set of weights.

    The forms are the training words whose lowercased form has a trainable row (seen at least
    ``word_min_freq`` times): on EWT dev they are about 90% of the words and 63% of the distinct
    forms, so tagging computes character features and projections for the rest only. Rows
    ``[0, K)`` of one buffer hold the cached forms (ids ``0..K-1`` of every call's form table); a
    call writes its new forms' rows after them, so memory is K plus the largest call's new forms.
    The weights' in-place version counters are compared at every use: after an optimizer step or
    loading other weights, the cache is rebuilt. One call at a time (a lock guards the buffer).
    """

    def __init__(self, forms: Sequence[str]) -> None:
        self.forms = list(dict.fromkeys(forms))
        self.lock = threading.Lock()
        self._key: tuple | None = None
        self._table: FormTable | None = None
        self._rows: Tensor | None = None

    def __len__(self) -> int:
        return len(self.forms)

    def table(self, model: RNNTagger, vocabs: TaggingVocabs, device: torch.device) -> FormTable:
        """A fresh form table that starts with the cached forms (rebuilding them if the weights
        changed); hold :attr:`lock` from here to the end of :meth:`projections`'s use."""
        key = (device, bilstm_inference.weights_version(model))
        if key != self._key or self._table is None:
            table = FormTable(vocabs.chars, model.config.max_word_chars)
            encoded = encode_sentences([self.forms], vocabs, table)
            with torch.inference_mode():
                self._rows = form_projections(model, encoded, table, device)
            self._table, self._key = table, key
        return self._table.copy()

    def projections(
        self, model: RNNTagger, encoded: EncodedSentences, table: FormTable, device: torch.device
    ) -> Tensor:
        """F x 8H rows for every form of ``table`` (from :meth:`table`, then encoded): the cached
        ones as they are, the new ones computed."""
        assert self._rows is not None, "call table() first"
        cached = len(self.forms)
        if self._rows.size(0) < len(table):  # room for this call's new forms
            grown = self._rows.new_empty(len(table), self._rows.size(1))
            grown[:cached] = self._rows[:cached]
            self._rows = grown
        with torch.inference_mode():
            return form_projections(model, encoded, table, device, first=cached, out=self._rows)


def _pad_forms(examples: Sequence[tuple[np.ndarray, ...]]) -> tuple[Tensor, Tensor]:
    """Lengths (B) and right-padded form ids (B x T) of a batch of encoded sentences."""
    lengths = np.fromiter((len(e[2]) for e in examples), dtype=np.int64, count=len(examples))
    padded = np.zeros((len(examples), int(lengths.max())), dtype=np.int64)  # B x T
    for row, example in enumerate(examples):
        padded[row, : len(example[2])] = example[2]
    return torch.from_numpy(lengths), torch.from_numpy(padded)


# --------------------------------------------------------------------------- the predictor


@dataclass
class TaggedSentence:
    """A sentence's words and the tags the model gave them (``xpos`` None for a UPOS-only model)."""

    tokens: list[str]
    upos: list[str]
    xpos: list[str] | None


class TaggingPredictor:
    """A trained tagger with its vocabularies: token lists, CoNLL-U files or raw text in, tags out.

    ``tag([["I", "saw", "her"]])`` gives :class:`TaggedSentence` objects; sentences are batched
    by length and run under ``torch.inference_mode()``.
    """

    task = TASK
    precisions = FLOAT_PRECISIONS  # what tag multiplies in (nlp_rnn.models.low_precision)

    def __init__(
        self,
        model: RNNTagger,
        vocabs: TaggingVocabs,
        training_words: Sequence[str] = (),
        device: torch.device | str = "cpu",
    ) -> None:
        self.model = model.to(device).eval()
        self.vocabs = vocabs
        self.training_words = list(training_words)
        self.device = torch.device(device)
        words = vocabs.words.stoi
        specials = set(vocabs.words.specials)
        self.form_cache = FormCache(
            [w for w in self.training_words if w.lower() in words and w.lower() not in specials]
        )

    def new_collate(self) -> Collate:
        """A collator with an empty form table (one per tagging call: memory does not grow)."""
        return Collate(FormTable(self.vocabs.chars, self.model.config.max_word_chars))

    def tag(
        self,
        token_lists: Sequence[Sequence[str]],
        max_tokens: int = DEFAULT_MAX_TOKENS,
        precision: str = "fp32",
    ) -> list[TaggedSentence]:
        """Tag pre-tokenized sentences (each a non-empty list of words). ``precision="bf16"``
        multiplies in bf16: on the CPU in the per-form path (fast with AMX;
        :mod:`nlp_rnn.models.low_precision`), on a GPU under autocast."""
        check_precision(precision, supported=self.precisions)
        if not _sentence_lists(token_lists):
            return []
        encoded, (upos_ids, xpos_ids) = self._predict(
            token_lists,
            lambda encoded, collate, per_form: predict_ids(
                self.model, encoded, collate, max_tokens, self.device, per_form, precision
            ),
            bf16=precision == "bf16",
        )
        upos = _tag_names(self.vocabs.upos, upos_ids)
        xpos = (
            None if xpos_ids is None or self.vocabs.xpos is None else _tag_names(self.vocabs.xpos, xpos_ids)
        )
        bounds = encoded.offsets.tolist()
        return [
            TaggedSentence(list(tokens), upos[start:end], None if xpos is None else xpos[start:end])
            for tokens, start, end in zip(token_lists, bounds, bounds[1:], strict=False)
        ]

    def probabilities(
        self, token_lists: Sequence[Sequence[str]], max_tokens: int = DEFAULT_MAX_TOKENS
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Each word's UPOS (and XPOS) distribution, N x K float32 over all words of the sentences
        in order; columns follow ``vocabs.upos.itos`` (and ``vocabs.xpos.itos``)."""
        if not _sentence_lists(token_lists):
            return np.zeros((0, len(self.vocabs.upos)), np.float32), None
        _, probabilities = self._predict(
            token_lists,
            lambda encoded, collate, per_form: predict_probabilities(
                self.model, encoded, collate, max_tokens, self.device, per_form
            ),
        )
        return probabilities

    def _predict(
        self, token_lists: Sequence[Sequence[str]], predict: Callable[..., Any], bf16: bool = False
    ) -> tuple[EncodedSentences, Any]:
        """Encode the sentences and call ``predict(encoded, collate, per_form)``; with the fast path
        (chosen for the call's words and precision) the frequent training forms' projections come
        from the form cache."""
        if self.model.fast_inference(sum(map(len, token_lists)), bf16) and len(self.form_cache):
            with self.form_cache.lock:
                collate = Collate(self.form_cache.table(self.model, self.vocabs, self.device))
                encoded = encode_sentences(token_lists, self.vocabs, collate.table)
                per_form = self.form_cache.projections(self.model, encoded, collate.table, self.device)
                return encoded, predict(encoded, collate, per_form)
        collate = self.new_collate()
        encoded = encode_sentences(token_lists, self.vocabs, collate.table)
        return encoded, predict(encoded, collate, None)

    def tag_conllu(
        self,
        source: str | os.PathLike[str],
        target: str | os.PathLike[str],
        chunk: int = 2000,
        precision: str = "fp32",
    ) -> int:
        """Fill columns 4 and 5 of every word line of ``source`` into ``target`` (written atomically);
        everything else is copied byte for byte. Returns the number of sentences."""

        def tagged_rows() -> Iterator[dict]:
            block: list[dict] = []
            for sentence in iter_sentences(source):
                block.append(sentence)
                if len(block) == chunk:
                    yield from self._tag_rows(block, precision)
                    block = []
            yield from self._tag_rows(block, precision)

        return write_conllu(tagged_rows(), target)

    def _tag_rows(self, rows: list[dict], precision: str) -> Iterator[dict]:
        tagged_rows = self.tag([row["tokens"] for row in rows], precision=precision)
        for row, tagged in zip(rows, tagged_rows, strict=True):
            yield {"conllu": row["conllu"], "upos": tagged.upos, "xpos": tagged.xpos}

    def tag_text(
        self,
        source: str | os.PathLike[str],
        target: str | os.PathLike[str],
        output_format: str = "conllu",
        tagset: str = "upos",
        chunk: int = 1000,
        precision: str = "fp32",
    ) -> int:
        """Tag raw text: each line is split into sentences and words by spaCy's rule-based English
        tokenizer and sentencizer. ``output_format="conllu"`` writes CoNLL-U (``# text``,
        ``SpaceAfter=No``); ``"tags"`` writes one ``word/TAG ...`` line per input line, so line i
        of the output tags line i of the input (empty lines stay empty). Returns sentences tagged."""
        if output_format not in ("conllu", "tags"):
            raise NlpRnnError(f"output format must be conllu or tags, got {output_format!r}")
        if tagset not in ("upos", "xpos") or (tagset == "xpos" and self.vocabs.xpos is None):
            raise NlpRnnError(
                f"tagset {tagset!r}: this model predicts {'UPOS and XPOS' if self.vocabs.xpos else 'UPOS'}"
            )
        count = 0
        with atomic_file(target, "w", encoding="utf-8", newline="") as handle:
            for lines in chunked(iter_lines(source), chunk):
                split = [(number, split_sentences(text)) for number, text in lines]
                words = [sentence.words for _, parts in split for sentence in parts]
                tagged = iter(self.tag(words, precision=precision))
                for number, parts in split:
                    results = [next(tagged) for _ in parts]
                    count += len(parts)
                    if output_format == "conllu":
                        for k, (sentence, result) in enumerate(zip(parts, results, strict=True), start=1):
                            handle.write(_conllu_block(f"{number}-{k}", sentence, result))
                        continue
                    pairs = (
                        f"{word}/{tag}"
                        for result in results
                        for word, tag in zip(result.tokens, getattr(result, tagset), strict=True)
                    )
                    handle.write(" ".join(pairs) + "\n")
        return count

    # --- the model folder ----------------------------------------------------------------------

    def save(self, folder: str | Path, metrics: Mapping[str, float] | None = None) -> Path:
        """Write a complete model folder (weights included)."""
        folder = Path(folder)
        write_model_files(folder, self.model, self.vocabs, self.training_words)
        save_weights(self.model, folder, metrics)
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: torch.device | str = "cpu") -> TaggingPredictor:
        """Load a model folder; missing or broken files raise :class:`NlpRnnError` naming them."""
        folder = Path(folder)
        config = read_task_config(folder, TASK, FORMAT_VERSION)
        with config_fields(folder, "tagger"):
            architecture = TaggerConfig.model_validate(config["model"])
            pretrained_dim = int(config["pretrained_dim"])
            has_xpos = bool(config["xpos"])
        required = [WORDS_FILE, CHARS_FILE, UPOS_FILE, WEIGHTS_FILE, TRAINING_WORDS_FILE]
        required += [PRETRAINED_FILE] if pretrained_dim else []
        required += [XPOS_FILE] if has_xpos else []
        require_files(folder, *required)
        vocabs = TaggingVocabs(
            words=Vocab.load(folder / WORDS_FILE),
            chars=Vocab.load(folder / CHARS_FILE),
            upos=Vocab.load(folder / UPOS_FILE),
            xpos=Vocab.load(folder / XPOS_FILE) if has_xpos else None,
            pretrained=Vocab.load(folder / PRETRAINED_FILE) if pretrained_dim else None,
        )
        model = build_tagger(architecture, vocabs, pretrained_dim)
        load_weights_file(model, folder / WEIGHTS_FILE)
        training_words = (folder / TRAINING_WORDS_FILE).read_text(encoding="utf-8").split("\n")
        return cls(model, vocabs, [w for w in training_words if w], device=device)


def _sentence_lists(token_lists: Sequence[Sequence[str]]) -> bool:
    """Whether there are sentences to tag; a flat list of words is a caller's mistake."""
    if isinstance(token_lists, str) or (token_lists and isinstance(token_lists[0], str)):
        raise TypeError("tag takes a list of sentences, each a list of words")
    return len(token_lists) > 0


def _tag_names(vocab: Vocab, ids: np.ndarray) -> list[str]:
    """Tag names of flat ids, looked up by NumPy (no Python loop over words)."""
    return np.asarray(vocab.itos, dtype=object)[ids].tolist()


def _conllu_block(sent_id: str, sentence: Sentence, tagged: TaggedSentence) -> str:
    """A CoNLL-U sentence for raw-text input: ID, FORM, UPOS, XPOS and SpaceAfter=No filled."""
    lines = [f"# sent_id = {sent_id}", f"# text = {sentence.text}"]
    xpos = tagged.xpos or ["_"] * len(tagged.tokens)
    rows = zip(sentence.words, sentence.space_after, tagged.upos, xpos, strict=True)
    for index, (word, space, upos, x) in enumerate(rows, start=1):
        misc = "_" if space or index == len(sentence.words) else "SpaceAfter=No"
        lines.append("\t".join([str(index), word, "_", upos, x, "_", "_", "_", "_", misc]))
    return "\n".join(lines) + "\n\n"


def build_tagger(config: TaggerConfig, vocabs: TaggingVocabs, pretrained_dim: int) -> RNNTagger:
    """An untrained tagger of the vocabularies' sizes (a zero pretrained table when ``pretrained_dim``)."""
    pretrained = None
    if vocabs.pretrained is not None and pretrained_dim:
        pretrained = nn.Embedding(len(vocabs.pretrained), pretrained_dim, padding_idx=0)
    return RNNTagger(
        config,
        pretrained=pretrained,
        num_words=len(vocabs.words),
        num_chars=len(vocabs.chars),
        num_upos=len(vocabs.upos),
        num_xpos=len(vocabs.xpos) if vocabs.xpos is not None else 0,
    )


def model_config(model: RNNTagger, vocabs: TaggingVocabs) -> dict[str, Any]:
    """What ``config.json`` records: enough to rebuild the model without the training pipeline."""
    return {
        "task": TASK,
        "format_version": FORMAT_VERSION,
        "nlp_rnn_version": __version__,
        "model": model.config.model_dump(mode="json"),
        "pretrained_dim": model.pretrained.embedding_dim if model.pretrained is not None else 0,
        "xpos": vocabs.xpos is not None,
        "upos_tags": list(vocabs.upos.itos),
    }


def write_model_files(
    folder: Path, model: RNNTagger, vocabs: TaggingVocabs, training_words: Sequence[str]
) -> None:
    """Everything of a model folder except the weights and metrics (so that the Trainer's ``best/``
    checkpoint is a loadable model folder too)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / MODEL_CONFIG_FILE, model_config(model, vocabs))
    vocabs.words.save(folder / WORDS_FILE)
    vocabs.chars.save(folder / CHARS_FILE)
    vocabs.upos.save(folder / UPOS_FILE)
    if vocabs.xpos is not None:
        vocabs.xpos.save(folder / XPOS_FILE)
    if vocabs.pretrained is not None:
        vocabs.pretrained.save(folder / PRETRAINED_FILE)
    with atomic_file(folder / TRAINING_WORDS_FILE, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("".join(word + "\n" for word in training_words))
