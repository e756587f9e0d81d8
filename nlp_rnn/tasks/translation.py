"""Translation as a task: SentencePiece subwords for parallel text, encoded pairs, collation and
evaluation for the Trainer, and a predictor that translates sentences and files with greedy or
beam search.

Ids: every SentencePiece model of this task is trained with fixed special ids, so its piece ids
are the model's token ids with no extra vocabulary: :data:`PAD_ID` = 0 (``<pad>``),
:data:`UNK_ID` = 1 (``<unk>``), :data:`BOS_ID` = 2 (``<s>``), :data:`EOS_ID` = 3 (``</s>``).
Characters the model never saw map to ``<unk>`` (and ``<unk>`` decodes to `` ⁇ ``).

A model folder (written by :meth:`TranslationPredictor.save`, loaded by
:meth:`TranslationPredictor.load` or :func:`nlp_rnn.api.load_model`)::

    config.json          task, format version, languages, the Seq2SeqConfig, vocabulary sizes
    tokenizer/           the joint SentencePiece tokenizer (tokenizer.json, sentencepiece.model), or
    source_tokenizer/    with separate models: the source's ...
    target_tokenizer/    ... and the target's
    model.safetensors    the weights
    metrics.json         the dev metrics of these weights (when known)
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from nlp_rnn import __version__
from nlp_rnn.data.batching import inference_batches
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.fileio import atomic_file, chunked, iter_lines
from nlp_rnn.models.ensemble import Ensemble
from nlp_rnn.models.low_precision import PRECISIONS, InferenceCopies
from nlp_rnn.models.search import Hypothesis, beam_search, greedy_search
from nlp_rnn.models.seq2seq import Seq2Seq, Seq2SeqConfig
from nlp_rnn.tasks import (
    MODEL_CONFIG_FILE,
    WEIGHTS_FILE,
    config_fields,
    load_weights_file,
    read_model_config,
    read_task_config,
    require_files,
    save_weights,
    write_json,
)
from nlp_rnn.text.tokenizers import SentencePieceTokenizer, load_tokenizer
from nlp_rnn.training.trainer import Callback, TrainerState

TASK = "translation"
FORMAT_VERSION = 1
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
JOINT_TOKENIZER_DIR = "tokenizer"
SOURCE_TOKENIZER_DIR = "source_tokenizer"
TARGET_TOKENIZER_DIR = "target_tokenizer"

DEFAULT_BATCH_SIZE = 64  # sentences per decoding batch
DEFAULT_MAX_TOKENS = 4096  # source subwords per decoding batch (a very long line gets its own)
DEFAULT_CHUNK = 1000  # lines of a file held in memory at once by translate_file


# --------------------------------------------------------------------------- subwords


@dataclass
class SubwordModels:
    """The SentencePiece tokenizers of a translation model: one joint model or one per side."""

    source: SentencePieceTokenizer
    target: SentencePieceTokenizer  # the same object as ``source`` for a joint model

    @property
    def joint(self) -> bool:
        """Whether source and target share one model (and so one vocabulary)."""
        return self.source is self.target

    def save(self, folder: Path) -> None:
        """Write the tokenizer folder(s) (each a ``tokenizer.json`` and ``sentencepiece.model``)."""
        if self.joint:
            self.source.save(folder / JOINT_TOKENIZER_DIR)
        else:
            self.source.save(folder / SOURCE_TOKENIZER_DIR)
            self.target.save(folder / TARGET_TOKENIZER_DIR)

    @classmethod
    def load(cls, folder: Path, joint: bool) -> SubwordModels:
        """Read the tokenizer folder(s) :meth:`save` wrote."""
        names = [JOINT_TOKENIZER_DIR] if joint else [SOURCE_TOKENIZER_DIR, TARGET_TOKENIZER_DIR]
        tokenizers = []
        for name in names:
            tokenizer = load_tokenizer(folder / name)
            if not isinstance(tokenizer, SentencePieceTokenizer):
                raise NlpRnnError(
                    f"{folder / name}: expected a sentencepiece tokenizer, found {tokenizer.kind}"
                )
            tokenizers.append(tokenizer)
        return cls(tokenizers[0], tokenizers[-1])


def train_subwords(
    sources: Iterable[str],
    targets: Iterable[str],
    vocab_size: int = 8000,
    joint: bool = True,
    lowercase: bool = False,
    character_coverage: float = 1.0,
    seed: int = 0,
    max_sentences: int = 2_000_000,
) -> SubwordModels:
    """Train unigram SentencePiece model(s) on the training split's source and target texts.

    The texts are streamed to the trainer (each iterable is read once; a joint model reads the
    sources, then the targets) and the models stay in memory: nothing is written to disk until
    :meth:`SubwordModels.save`. The special ids are fixed (see the module docstring).
    ``vocab_size`` is a soft limit, so a small corpus gives a smaller vocabulary instead of an
    error; with separate models each side gets ``vocab_size`` pieces at most. Training is
    deterministic: SentencePiece's random generator (which samples ``max_sentences`` when the
    corpus has more) is seeded with ``seed`` first.
    """
    import sentencepiece as spm

    def train(texts: Iterable[str]) -> SentencePieceTokenizer:
        spm.set_random_generator_seed(seed)
        return SentencePieceTokenizer.train(
            texts,
            vocab_size=vocab_size,
            model_type="unigram",
            character_coverage=character_coverage,
            lowercase=lowercase,
            max_sentences=max_sentences,
            hard_vocab_limit=False,
            pad_id=PAD_ID,
            unk_id=UNK_ID,
            bos_id=BOS_ID,
            eos_id=EOS_ID,
        )

    if joint:
        model = train(itertools.chain(sources, targets))
        return SubwordModels(model, model)
    return SubwordModels(train(sources), train(targets))


# --------------------------------------------------------------------------- encoding


class EncodedPairs:
    """Sentence pairs as flat id arrays plus offsets (memory: a few integers per subword).

    ``pairs[i]`` is ``(source ids, target ids)``, two NumPy int64 views without BOS or EOS.
    ``lengths`` (for the Trainer's length buckets) counts the decoder's steps of each pair:
    target subwords + 1 (BOS in, EOS out). ``too_long`` and ``empty`` count the pairs that
    :func:`encode_pairs` dropped.
    """

    def __init__(
        self,
        source: tuple[np.ndarray, np.ndarray],
        target: tuple[np.ndarray, np.ndarray],
        too_long: int = 0,
        empty: int = 0,
    ) -> None:
        (self.source_offsets, self.source_ids), (self.target_offsets, self.target_ids) = source, target
        self.too_long, self.empty = too_long, empty
        self.lengths: list[int] = (np.diff(self.target_offsets) + 1).tolist()

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return (
            self.source_ids[self.source_offsets[index] : self.source_offsets[index + 1]],
            self.target_ids[self.target_offsets[index] : self.target_offsets[index + 1]],
        )

    @property
    def source_tokens(self) -> int:
        return int(self.source_offsets[-1])

    @property
    def target_tokens(self) -> int:
        return int(self.target_offsets[-1])


def _flat(id_lists: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (N + 1) and the concatenated ids of ``id_lists``."""
    lengths = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = np.fromiter(itertools.chain.from_iterable(id_lists), dtype=np.int64, count=int(offsets[-1]))
    return offsets, ids


def encode_pairs(
    sources: Iterable[str],
    targets: Iterable[str],
    models: SubwordModels,
    max_length: int | None = None,
) -> EncodedPairs:
    """Subword ids of parallel texts (the same number of each, else an error).

    Pairs with an empty side (nothing to learn, and an empty source cannot be encoded) are
    dropped, and so, when ``max_length`` is given, are pairs with more than ``max_length``
    subwords on either side: dropped rather than truncated, because a truncated target would
    teach the model to stop mid-sentence and a truncated source to translate what is not there.
    Use ``max_length=None`` for dev data to keep every non-empty pair.
    """
    return _encode(sources, targets, models, max_length)[0]


def _encode(
    sources: Iterable[str], targets: Iterable[str], models: SubwordModels, max_length: int | None
) -> tuple[EncodedPairs, list[int]]:
    """:func:`encode_pairs`, and the numbers of the pairs it kept."""
    source_ids: list[list[int]] = []
    target_ids: list[list[int]] = []
    kept: list[int] = []
    too_long = empty = 0
    for number, (source, target) in enumerate(itertools.zip_longest(sources, targets)):
        if source is None or target is None:
            side = "targets" if target is None else "sources"
            raise NlpRnnError(f"pair {number}: the {side} ran out first; parallel texts need one line each")
        src, tgt = models.source.encode_ids(source), models.target.encode_ids(target)
        if not src or not tgt:
            empty += 1
        elif max_length is not None and max(len(src), len(tgt)) > max_length:
            too_long += 1
        else:
            source_ids.append(src)
            target_ids.append(tgt)
            kept.append(number)
    return EncodedPairs(_flat(source_ids), _flat(target_ids), too_long=too_long, empty=empty), kept


class ResampledPairs:
    """Training pairs in several subword segmentations (subword regularization, Kudo 2018): the
    best one, then segmentations sampled from the unigram model. Epoch ``e`` reads segmentation
    ``e mod K`` (:meth:`set_epoch`, which the Trainer calls at every epoch's start), so the model
    sees a word split in several ways and the run stays reproducible and resumable. ``lengths``
    (for batching) and the counts are the best segmentation's; sampled ones are a little longer.
    """

    def __init__(self, segmentations: Sequence[EncodedPairs]) -> None:
        if not segmentations or len({len(pairs) for pairs in segmentations}) != 1:
            raise ValueError("ResampledPairs needs one or more segmentations of the same pairs")
        self.segmentations = list(segmentations)
        best = self.segmentations[0]
        self.lengths, self.too_long, self.empty = best.lengths, best.too_long, best.empty
        self._current = best

    def set_epoch(self, epoch: int) -> None:
        """Serve segmentation ``epoch mod K`` from now on."""
        self._current = self.segmentations[epoch % len(self.segmentations)]

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self._current[index]

    @property
    def target_tokens(self) -> int:
        return self.segmentations[0].target_tokens


def encode_resampled_pairs(
    sources: Sequence[str],
    targets: Sequence[str],
    models: SubwordModels,
    max_length: int | None = None,
    samples: int = 3,
    alpha: float = 0.3,
    seed: int = 0,
) -> ResampledPairs:
    """The pairs :func:`encode_pairs` keeps, in their best segmentation and ``samples`` more, each
    side sampled with ``alpha`` (:meth:`SentencePieceTokenizer.encode_ids`) from a generator
    seeded with ``seed``: the same segmentations for the same seed."""
    import sentencepiece as spm

    best, kept = _encode(sources, targets, models, max_length)
    spm.set_random_generator_seed(seed)
    segmentations = [best]
    for _ in range(samples):
        source_ids = [models.source.encode_ids(sources[i], alpha) for i in kept]
        target_ids = [models.target.encode_ids(targets[i], alpha) for i in kept]
        segmentations.append(EncodedPairs(_flat(source_ids), _flat(target_ids)))
    return ResampledPairs(segmentations)


def pad_ids(id_arrays: Sequence[np.ndarray], prefix: int | None = None, suffix: int | None = None) -> Tensor:
    """B x T right-padded (with :data:`PAD_ID`) ids, each row optionally framed by ``prefix`` and
    ``suffix``."""
    extra = (prefix is not None) + (suffix is not None)
    steps = max((len(ids) for ids in id_arrays), default=0) + extra
    padded = np.full((len(id_arrays), steps), PAD_ID, dtype=np.int64)  # B x T
    start = 1 if prefix is not None else 0
    for row, ids in enumerate(id_arrays):
        if prefix is not None:
            padded[row, 0] = prefix
        padded[row, start : start + len(ids)] = ids
        if suffix is not None:
            padded[row, start + len(ids)] = suffix
    return torch.from_numpy(padded)


class Collate:
    """Pads encoded pairs into the batch :meth:`Seq2Seq.forward` reads.

    ``src`` (B x S), ``src_lengths`` (B), ``tgt_in`` (B x T: BOS + target) and ``tgt_out``
    (B x T: target + EOS), right-padded with 0.
    """

    def __call__(self, examples: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict[str, Tensor]:
        sources = [source for source, _ in examples]
        targets = [target for _, target in examples]
        return {
            "src": pad_ids(sources),  # B x S
            "src_lengths": torch.tensor([len(source) for source in sources], dtype=torch.long),  # B
            "tgt_in": pad_ids(targets, prefix=BOS_ID),  # B x T
            "tgt_out": pad_ids(targets, suffix=EOS_ID),  # B x T
        }


# --------------------------------------------------------------------------- evaluation


def evaluate_batches(model: Seq2Seq, batches: Iterable[Mapping[str, Tensor]]) -> dict[str, float]:
    """The Trainer's evaluate function, averaged over real target tokens (EOS included).

    ``loss`` is the training objective (label-smoothed cross-entropy), ``nll`` the plain
    cross-entropy and ``ppl`` its exponential, the perplexity.
    """
    tokens, loss_sum, nll_sum = 0, 0.0, 0.0
    for batch in batches:
        state = model.encode(batch["src"], batch["src_lengths"])
        logits = model.teacher_forced_logits(state, batch["tgt_in"]).flatten(0, 1).float()  # B*T x V
        targets = batch["tgt_out"].flatten()  # B*T
        smoothing = model.config.label_smoothing
        loss_sum += float(
            F.cross_entropy(logits, targets, ignore_index=PAD_ID, label_smoothing=smoothing, reduction="sum")
        )
        nll_sum += float(F.cross_entropy(logits, targets, ignore_index=PAD_ID, reduction="sum"))
        tokens += int((targets != PAD_ID).sum())
    count = max(tokens, 1)  # the cap below keeps an untrained model's perplexity finite
    return {"loss": loss_sum / count, "nll": nll_sum / count, "ppl": math.exp(min(nll_sum / count, 100.0))}


class ScheduledSampling(Callback):
    """Sets the model's scheduled-sampling probability before every optimizer step from its
    ``scheduled_sampling`` config (:class:`~nlp_rnn.models.seq2seq.ScheduledSamplingConfig`).

    The probability is a pure function of the step and the random choices come from torch's
    generators, which checkpoints hold, so a resumed run mixes exactly as an uninterrupted one.
    """

    def __init__(self, model: Seq2Seq) -> None:
        self.model = model

    def on_step_begin(self, state: TrainerState) -> None:
        self.model.sampling_probability = self.model.config.scheduled_sampling.probability_at(state.step)


# --------------------------------------------------------------------------- the predictor


@dataclass
class Candidate:
    """One output of the search for a sentence."""

    text: str  # detokenized
    ids: list[int]  # target subword ids, without BOS and EOS
    score: float  # the ranking score (beam: log_prob / length penalty; greedy: log_prob)
    log_prob: float  # the model's log-probability of the ids and EOS
    attention: Tensor | None  # (len(ids) + 1) x len(source_pieces), the last row at EOS


@dataclass
class Translation:
    """A source sentence, its subwords, and its ``n_best`` candidates, best first."""

    source: str
    source_pieces: list[str]
    candidates: list[Candidate]  # empty for an empty source line

    @property
    def text(self) -> str:
        """The best candidate's text ("" for an empty source line)."""
        return self.candidates[0].text if self.candidates else ""


class TranslationPredictor:
    """A trained :class:`Seq2Seq` with its SentencePiece models: sentences or files in, translations out.

    ``translate(["ein Hund läuft ."])`` gives :class:`Translation` objects; sentences are sorted
    by length into batches and decoded in eval mode, so a sentence's output does not depend on
    the sentences it is decoded with. ``members`` are further models of the same subwords that
    decode together with ``model`` as an :class:`~nlp_rnn.models.ensemble.Ensemble` (see
    :meth:`ensembled`).
    """

    task = TASK
    precisions = PRECISIONS  # what translate multiplies in (int8: on the CPU)

    def __init__(
        self,
        model: Seq2Seq,
        subwords: SubwordModels,
        source_lang: str,
        target_lang: str,
        device: torch.device | str = "cpu",
        members: Sequence[Seq2Seq] = (),
    ) -> None:
        self.model = model.to(device).eval()
        self.members = [member.to(device).eval() for member in members]
        self.subwords = subwords
        self.source_lang, self.target_lang = source_lang, target_lang
        self.device = torch.device(device)
        self._copies = [
            InferenceCopies(one, self.device, recurrent=("decoder",)) for one in (self.model, *self.members)
        ]

    def ensembled(self, others: Sequence[TranslationPredictor]) -> TranslationPredictor:
        """A predictor whose searches average this model's and ``others``' next-token
        distributions. They must translate the same pair with the same SentencePiece models."""
        for k, other in enumerate(others, start=2):
            if (other.source_lang, other.target_lang) != (self.source_lang, self.target_lang):
                raise NlpRnnError(
                    f"ensemble member {k} translates {other.source_lang} -> {other.target_lang}, "
                    f"member 1 {self.source_lang} -> {self.target_lang}"
                )
            if other.subwords != self.subwords:
                raise NlpRnnError(
                    f"ensemble member {k} has other SentencePiece models than member 1: members must "
                    "share the subwords (train them in pipelines with the same subwords settings and data)"
                )
        models = [model for other in others for model in (other.model, *other.members)]
        return TranslationPredictor(
            self.model,
            self.subwords,
            self.source_lang,
            self.target_lang,
            self.device,
            [*self.members, *models],
        )

    def search_model(self, precision: str = "fp32") -> Seq2Seq | Ensemble:
        """The model that decodes: :attr:`model` itself for ``fp32``; for ``bf16`` or ``int8`` an
        inference copy whose linear layers and decoder RNN multiply in that precision (made once,
        see :mod:`nlp_rnn.models.low_precision`; int8 on the CPU only). With :attr:`members`, an
        :class:`~nlp_rnn.models.ensemble.Ensemble` of all the models in that precision."""
        models = [copies.get(precision) for copies in self._copies]
        return models[0] if len(models) == 1 else Ensemble(models)  # type: ignore[return-value,arg-type]

    def translate(
        self,
        sentences: Sequence[str],
        beam_size: int = 5,
        batch_size: int = DEFAULT_BATCH_SIZE,
        length_penalty: float = 1.0,
        max_len_a: float = 1.5,
        max_len_b: float = 10,
        n_best: int = 1,
        return_attention: bool = False,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        precision: str = "fp32",
    ) -> list[Translation]:
        """Translate raw sentences, in their order; ``beam_size=1`` is greedy search.

        Each sentence produces at most ``floor(max_len_a * source subwords + max_len_b)`` target
        subwords. ``length_penalty`` is GNMT's alpha (beam search only). A batch holds at most
        ``batch_size`` sentences and ``max_tokens`` padded source subwords. ``precision="bf16"``
        multiplies in bf16 (fast on CPUs with AMX and on GPUs), ``"int8"`` in int8 (fast on other
        x86 CPUs; CPU only; see :meth:`search_model`).
        """
        if isinstance(sentences, str):
            raise TypeError("translate takes a list of sentences")
        if beam_size < 1 or not 1 <= n_best <= beam_size:
            raise NlpRnnError(
                f"need beam_size >= 1 and 1 <= n_best <= beam_size, got {beam_size} and {n_best}"
            )
        source = self.subwords.source
        ids = [source.encode_ids(sentence) for sentence in sentences]
        results = [Translation(text, source.tokenize(text), []) for text in sentences]
        real = [i for i, sentence_ids in enumerate(ids) if sentence_ids]
        batches = inference_batches([len(ids[i]) for i in real], batch_size, max_tokens, one_length=False)
        model = self.search_model(precision)
        was_training = self.model.training
        for one in (self.model, *self.members):
            one.eval()
        try:
            for batch in batches:
                rows = [real[j] for j in batch]
                src = pad_ids([np.asarray(ids[i], dtype=np.int64) for i in rows]).to(self.device)  # B x S
                src_lengths = torch.tensor([len(ids[i]) for i in rows], dtype=torch.long)  # B
                if beam_size == 1:
                    found = greedy_search(model, src, src_lengths, max_len_a, max_len_b, return_attention)
                    hypotheses = [[hypothesis] for hypothesis in found]
                else:
                    hypotheses = beam_search(
                        model, src, src_lengths, beam_size, length_penalty, n_best,
                        max_len_a, max_len_b, return_attention,
                    )  # fmt: skip
                for i, sentence in zip(rows, hypotheses, strict=True):
                    results[i].candidates = [self._candidate(hypothesis) for hypothesis in sentence]
        finally:
            self.model.train(was_training)
        return results

    def output_pieces(self, ids: Sequence[int]) -> list[str]:
        """One label per output step of a candidate's ``ids``, ending with ``</s>``: the rows of its
        attention matrix."""
        decode = self.subwords.target.decode_ids
        return [decode([i]) for i in ids] + ["</s>"]

    def attention_record(self, translation: Translation) -> dict[str, list]:
        """The best candidate's attention as plain lists: ``source`` (its subwords, the columns),
        ``output`` (:meth:`output_pieces`, the rows) and ``weights`` (rounded to 4 places); all
        empty for an empty source line. The candidates must come with ``return_attention``."""
        if not translation.candidates:
            return {"source": [], "output": [], "weights": []}
        best = translation.candidates[0]
        if best.attention is None:
            raise NlpRnnError("no attention weights: translate with return_attention=True")
        return {
            "source": translation.source_pieces,
            "output": self.output_pieces(best.ids),
            "weights": [[round(float(w), 4) for w in row] for row in best.attention.tolist()],
        }

    def _candidate(self, hypothesis: Hypothesis) -> Candidate:
        """A search result as text (on the CPU)."""
        attention = None if hypothesis.attention is None else hypothesis.attention.cpu()
        return Candidate(
            text=self.subwords.target.decode_ids(hypothesis.tokens),
            ids=hypothesis.tokens,
            score=hypothesis.score,
            log_prob=hypothesis.log_prob,
            attention=attention,
        )

    def translate_file(
        self,
        source: str | os.PathLike[str],
        target: str | os.PathLike[str],
        beam_size: int = 5,
        batch_size: int = DEFAULT_BATCH_SIZE,
        length_penalty: float = 1.0,
        max_len_a: float = 1.5,
        max_len_b: float = 10,
        chunk: int = DEFAULT_CHUNK,
        precision: str = "fp32",
    ) -> int:
        """Translate every line of ``source`` (plain or ``.gz``) into the same line of ``target``.

        The file is read ``chunk`` lines at a time, so memory does not grow with it; ``target`` is
        written atomically (a failure leaves no partial file). Empty lines stay empty; a newline
        inside a translation (there is none in SentencePiece's output) could not shift lines
        anyway, as each output is written on one line. Returns the number of lines.
        """
        count = 0
        with atomic_file(target, "w", encoding="utf-8", newline="\n") as handle:
            for lines in chunked((text for _, text in iter_lines(source)), chunk):
                translations = self.translate(
                    lines, beam_size=beam_size, batch_size=batch_size, length_penalty=length_penalty,
                    max_len_a=max_len_a, max_len_b=max_len_b, precision=precision,
                )  # fmt: skip
                handle.write("".join(t.text.replace("\n", " ") + "\n" for t in translations))
                count += len(lines)
        return count

    # --- the model folder ----------------------------------------------------------------------

    def save(self, folder: str | Path, metrics: Mapping[str, float] | None = None) -> Path:
        """Write a complete model folder (weights included); an ensemble is saved model by model."""
        if self.members:
            raise NlpRnnError(
                "an ensemble has no single model folder: save each model with its own predictor "
                "and pass the folders to --ensemble"
            )
        folder = Path(folder)
        write_model_files(folder, self.model, self.subwords, self.source_lang, self.target_lang)
        save_weights(self.model, folder, metrics)
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: torch.device | str = "cpu") -> TranslationPredictor:
        """Load a model folder; missing or broken files raise :class:`NlpRnnError` naming them."""
        folder = Path(folder)
        config = read_task_config(folder, TASK, FORMAT_VERSION)
        with config_fields(folder, "translation"):
            architecture = Seq2SeqConfig.model_validate(config["model"])
            joint = bool(config["joint_vocabulary"])
            source_lang, target_lang = str(config["source_lang"]), str(config["target_lang"])
            sizes = int(config["source_vocab_size"]), int(config["target_vocab_size"])
        require_files(folder, WEIGHTS_FILE)
        subwords = SubwordModels.load(folder, joint)
        found = subwords.source.vocab_size, subwords.target.vocab_size
        if found != sizes:
            raise NlpRnnError(
                f"{folder}: config.json says vocabulary sizes {sizes}, the sentencepiece models have {found}"
            )
        model = build_seq2seq(architecture, subwords)
        load_weights_file(model, folder / WEIGHTS_FILE)
        return cls(model, subwords, source_lang, target_lang, device=device)

    @classmethod
    def load_ensemble(
        cls, folders: Sequence[str | Path], device: torch.device | str = "cpu"
    ) -> TranslationPredictor:
        """One predictor of the model folders ``folders`` (an ensemble when there are several,
        :meth:`ensembled`). Every folder is checked to hold a translator before any is loaded."""
        for folder in folders:
            task = read_model_config(folder)["task"]
            if task != TASK:
                raise NlpRnnError(
                    f"{folder} is a {task} model, not a translator (train one with a train_translator stage)"
                )
        first, *others = (cls.load(folder, device=device) for folder in folders)
        return first.ensembled(others)


def build_seq2seq(config: Seq2SeqConfig, subwords: SubwordModels) -> Seq2Seq:
    """An untrained model of the subword vocabularies' sizes, with this task's special ids."""
    return Seq2Seq(
        config,
        source_vocab_size=subwords.source.vocab_size,
        target_vocab_size=subwords.target.vocab_size,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        pad_id=PAD_ID,
    )


def model_config(
    model: Seq2Seq, subwords: SubwordModels, source_lang: str, target_lang: str
) -> dict[str, Any]:
    """What ``config.json`` records: enough to rebuild the model without the training pipeline."""
    return {
        "task": TASK,
        "format_version": FORMAT_VERSION,
        "nlp_rnn_version": __version__,
        "source_lang": source_lang,
        "target_lang": target_lang,
        "model": model.config.model_dump(mode="json"),
        "joint_vocabulary": subwords.joint,
        "source_vocab_size": subwords.source.vocab_size,
        "target_vocab_size": subwords.target.vocab_size,
        "special_ids": {"pad": PAD_ID, "unk": UNK_ID, "bos": BOS_ID, "eos": EOS_ID},
    }


def write_model_files(
    folder: Path, model: Seq2Seq, subwords: SubwordModels, source_lang: str, target_lang: str
) -> None:
    """Everything of a model folder except the weights and metrics (so that the Trainer's ``best/``
    checkpoint is a loadable model folder too)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / MODEL_CONFIG_FILE, model_config(model, subwords, source_lang, target_lang))
    subwords.save(folder)
