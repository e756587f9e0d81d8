"""Language modelling as a task: batches for the Trainer in two layouts, perplexity and bits per
character, training with the state carried across segments, and a predictor that generates text
and scores files.

**Layouts** (over a :class:`~nlp_rnn.data.token_store.Documents` store):

* ``stream`` (truncated back-propagation through time): the store's ids are one continuous stream
  ``<eos> d1 <eos> d2 <eos> ...``, cut into ``streams`` rows of consecutive text (row ``b`` holds
  the ``b``-th ``1/streams`` of it), and those into segments of ``bptt`` steps. Segment ``j`` is
  one batch, ``streams x bptt`` ids; the model carries each row's state from one segment to the
  next (detached), so it reads the corpus as one long text. Training batches come in order (the
  Trainer with one segment per batch, unshuffled); at most ``streams x bptt - 1`` ids at the end
  are left out so that every segment is whole. Evaluation keeps every id (the last row is padded).
* ``documents``: each document is one sequence ``<bos> d -> d <eos>``, batched by length and read
  from the initial state, which a label may set (conditioned models: one-to-many generation).

**Metrics**: ``nll`` (nats per target id), ``ppl = exp(nll)``, and ``bpc``, the total negative
log-likelihood in bits over the characters of the text (each document's characters plus one for
its ``<eos>``), so character, word and subword models are compared on one scale.

A model folder (:meth:`LanguageModelPredictor.save`)::

    config.json         task, format version, architecture, level, layout, labels, evaluation rows
    tokenizer/          the tokenizer (tokenizer.json; sentencepiece.model for subwords)
    vocab.json          the vocabulary (characters and words)
    model.safetensors   the weights
    metrics.json        held-out metrics of these weights (when known)
"""

from __future__ import annotations

import math
import os
import random
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from nlp_rnn import __version__
from nlp_rnn.data.batching import inference_batches, pad_sequences
from nlp_rnn.data.token_store import Documents, write_documents
from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.models.language_model import LanguageModelConfig, RNNLanguageModel
from nlp_rnn.models.sampling import sample
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
from nlp_rnn.text.codec import BOS_ID, EOS_ID, PAD_ID, UNK_ID, TextCodec, load_codec
from nlp_rnn.training.config import TrainerConfig

TASK = "language_model"
FORMAT_VERSION = 1
CARRY_FILE = "carried_state.safetensors"  # in the Trainer's last/: the stream's state, for exact resume
Layout = Literal["stream", "documents"]
EVAL_BATCH_SIZE = 64  # documents per evaluation batch


# --------------------------------------------------------------------------- batches


class StreamSegments(Sequence):
    """Segment ``j`` of the stream: ``(j, inputs, targets)``, each ``rows x T`` (T = ``bptt``,
    less in the last segment of an evaluation); targets past the end of the stream are padding."""

    def __init__(self, documents: Documents, rows: int, bptt: int, whole_segments: bool) -> None:
        targets = documents.targets
        if whole_segments:
            self.row_length = targets // rows // bptt * bptt
            if self.row_length == 0:
                raise NlpRnnError(
                    f"{targets} training ids are too few for {rows} streams of at least {bptt} ids; "
                    "use more text, fewer streams or a shorter bptt"
                )
        else:
            self.row_length = max(1, math.ceil(targets / rows))
        self.ids, self.rows, self.bptt = documents.ids, rows, bptt
        self.segments = math.ceil(self.row_length / bptt)
        self.lengths = [rows * bptt] * self.segments  # equal: the Trainer keeps them in order

    @property
    def used_ids(self) -> np.ndarray:
        """The part of the stream the segments cover (targets: all but its first id)."""
        return np.asarray(self.ids[: min(len(self.ids), self.rows * self.row_length + 1)])

    def __len__(self) -> int:
        return self.segments

    def __getitem__(self, index: int) -> tuple[int, np.ndarray, np.ndarray]:
        if not 0 <= index < self.segments:
            raise IndexError(index)
        start = index * self.bptt
        steps = min(self.bptt, self.row_length - start)
        window = np.full((self.rows, steps + 1), PAD_ID, dtype=np.int64)  # rows x T+1
        for row in range(self.rows):
            begin = row * self.row_length + start
            piece = self.ids[begin : min(begin + steps + 1, len(self.ids), (row + 1) * self.row_length + 1)]
            window[row, : len(piece)] = piece
        return index, window[:, :-1], window[:, 1:].copy()


def collate_segment(examples: Sequence[tuple[int, np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """One segment per batch: ``{"segment": j, "inputs": rows x T, "targets": rows x T}``."""
    if len(examples) != 1:
        raise NlpRnnError("stream batches hold one segment each (trainer batch_size 1)")
    ((index, inputs, targets),) = examples
    return {"segment": index, "inputs": torch.from_numpy(inputs), "targets": torch.from_numpy(targets)}


class DocumentExamples(Sequence):
    """Document ``i``: ``(its ids and <eos>, its label index or -1)``."""

    def __init__(self, documents: Documents) -> None:
        self.documents = documents
        self.lengths = documents.lengths().tolist()

    def __len__(self) -> int:
        return len(self.documents)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        ids = np.asarray(self.documents.document(index), dtype=np.int64)
        labels = self.documents.labels
        return ids, -1 if labels is None else int(labels[index])


def collate_documents(examples: Sequence[tuple[np.ndarray, int]]) -> dict[str, Tensor]:
    """``inputs`` ``<bos> d`` and ``targets`` ``d <eos>`` (B x T, right-padded), ``labels`` (B)."""
    inputs, _ = pad_sequences([np.concatenate(([BOS_ID], ids[:-1])).tolist() for ids, _ in examples])
    targets, _ = pad_sequences([ids.tolist() for ids, _ in examples])
    batch = {"inputs": inputs, "targets": targets}  # B x T each
    labels = [label for _, label in examples]
    if min(labels) >= 0:
        batch["labels"] = torch.tensor(labels, dtype=torch.long)  # B
    return batch


def dataset_for(documents: Documents, layout: Layout, streams: int, bptt: int, training: bool):
    """The Trainer dataset of a store in ``layout`` (and its collate function)."""
    if layout == "stream":
        return StreamSegments(documents, streams, bptt, whole_segments=training), collate_segment
    return DocumentExamples(documents), collate_documents


def stream_trainer_config(config: TrainerConfig) -> TrainerConfig:
    """``config`` with the batching a stream needs: one segment per batch, in order."""
    fixed = {
        "batch_size": 1,
        "max_tokens": None,
        "shuffle": False,
        "eval_batch_size": 1,
        "eval_max_tokens": None,
    }
    return TrainerConfig(**{**config.model_dump(), **fixed})


# --------------------------------------------------------------------------- evaluation


class Perplexity:
    """The Trainer's evaluate function: ``nll``, ``ppl`` and ``bpc`` over batches of either layout,
    given the characters of the evaluated text. Stream segments are read in order, each row's
    state carried across them (not the model's training carry, which stays as it was)."""

    def __init__(self, characters: int) -> None:
        self.characters = characters

    def __call__(self, model: RNNLanguageModel, batches: Iterable[Mapping[str, Any]]) -> dict[str, float]:
        total, count, state = 0.0, 0, None
        with torch.no_grad():
            for batch in batches:
                inputs, targets, labels = batch["inputs"], batch["targets"], batch.get("labels")
                continues = "segment" in batch and int(batch["segment"]) > 0 and state is not None
                start = state if continues else model.initial_state(inputs.size(0), labels)
                logits, state = model.logits(inputs, start, labels)
                total += float(
                    F.cross_entropy(
                        logits.flatten(0, 1), targets.flatten(), ignore_index=PAD_ID, reduction="sum"
                    )
                )
                count += int((targets != PAD_ID).sum())
        return perplexity_metrics(total, count, self.characters)


def perplexity_metrics(nll: float, tokens: int, characters: int) -> dict[str, float]:
    """``nll`` per token (nats), ``ppl``, ``bpc`` from a total negative log-likelihood in nats."""
    if tokens == 0:
        raise NlpRnnError("no tokens to score")
    per_token = nll / tokens
    return {
        "nll": per_token,
        "ppl": math.exp(min(per_token, 700.0)),
        "bpc": nll / math.log(2) / max(characters, 1),
        "loss": per_token,
    }


def evaluate_documents(
    model: RNNLanguageModel, documents: Documents, layout: Layout, streams: int, bptt: int
) -> dict[str, float]:
    """Perplexity of ``model`` on a whole store: every target scored once, in eval mode."""
    dataset, collate = dataset_for(documents, layout, streams, bptt, training=False)
    if layout == "stream":
        order: list[list[int]] = [[j] for j in range(len(dataset))]
    else:
        order = inference_batches(dataset.lengths, EVAL_BATCH_SIZE)
    device = next(model.parameters()).device
    batches = (
        {
            k: v.to(device) if isinstance(v, Tensor) else v
            for k, v in collate([dataset[i] for i in batch]).items()
        }
        for batch in order
    )
    model.eval()
    metrics = Perplexity(documents.characters)(model, batches)
    return {**metrics, "tokens": documents.targets}


# --------------------------------------------------------------------------- training


def fit_language_model(
    model: RNNLanguageModel,
    train: Documents,
    dev: Documents,
    config: TrainerConfig,
    output_dir: Path,
    *,
    layout: Layout,
    streams: int,
    bptt: int,
    eval_streams: int,
    resume: bool = False,
    callbacks: Sequence[Any] = (),
    add_files: Callable[[Path], None] | None = None,
):  # -> FitResult
    """Train with the shared Trainer, selecting on dev perplexity (dev read in ``eval_streams``
    rows, as :func:`evaluate_documents` reads it).

    In the stream layout, every checkpoint also holds the carried state (:data:`CARRY_FILE`), and
    ``resume=True`` restores it with the rest, so a killed run continues exactly.
    """
    from safetensors.torch import load_file, save_file

    from nlp_rnn.training.checkpoint import find_checkpoint
    from nlp_rnn.training.trainer import Trainer

    train_data, collate = dataset_for(train, layout, streams, bptt, training=True)
    dev_data, _ = dataset_for(dev, layout, eval_streams, bptt, training=False)
    if layout == "stream":
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise NlpRnnError("the stream layout trains in one process: its segments must stay in order")
        config = stream_trainer_config(config)
        checkpoint = find_checkpoint(output_dir / "last") if resume else None
        if checkpoint is not None and (checkpoint / CARRY_FILE).is_file():
            model.restore_carry(load_file(str(checkpoint / CARRY_FILE)))

    def write_files(folder: Path) -> None:
        if add_files is not None:
            add_files(folder)
        carried = model.carry_tensors()
        if carried:
            save_file(carried, str(folder / CARRY_FILE))

    return Trainer(config, output_dir).fit(
        model,
        train_data,
        dev_data,
        collate=collate,
        evaluate=Perplexity(dev.characters),
        callbacks=callbacks,
        resume=resume,
        add_files=write_files,
    )


# --------------------------------------------------------------------------- prediction


@dataclass(frozen=True)
class Generation:
    """One generated text: the prompt (as the model read it) and what followed."""

    text: str  # prompt + continuation
    continuation: str
    ids: list[int]  # the generated ids (the final <eos> included when it ended the text)
    finished: bool  # ended with <eos> before max_tokens
    seed: int


@dataclass(frozen=True)
class PerplexityReport:
    """A model's score on a text: totals and the three rates."""

    documents: int
    tokens: int
    characters: int
    nll: float  # nats per token
    ppl: float
    bpc: float

    def to_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


class LanguageModelPredictor:
    """A trained language model with its codec: generates text and scores texts."""

    task = TASK

    def __init__(
        self,
        model: RNNLanguageModel,
        codec: TextCodec,
        layout: Layout,
        labels: Sequence[str] = (),
        streams: int = 16,
        bptt: int = 100,
    ) -> None:
        self.model, self.codec, self.layout = model.eval(), codec, layout
        self.labels, self.streams, self.bptt = list(labels), streams, bptt

    @property
    def start_id(self) -> int:
        """The id a text starts after: ``<eos>`` in a stream (it ends the text before), else ``<bos>``."""
        return EOS_ID if self.layout == "stream" else BOS_ID

    def label_index(self, label: str | None) -> int | None:
        """The index of ``label``; an error when it is unknown, missing for a conditioned model,
        or given to an unconditioned one."""
        if not self.labels:
            if label is not None:
                raise NlpRnnError(
                    f"this language model is not conditioned on labels; drop the label {label!r}"
                )
            return None
        if label is None:
            raise NlpRnnError(
                f"this language model is conditioned on a label: give one of {', '.join(self.labels)}"
            )
        if label not in self.labels:
            raise NlpRnnError(f"unknown label {label!r}; this model knows {', '.join(self.labels)}")
        return self.labels.index(label)

    def generate(
        self,
        prompt: str = "",
        max_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        label: str | None = None,
        seed: int | None = None,
        num: int = 1,
    ) -> list[Generation]:
        """``num`` continuations of ``prompt`` (empty: from the start of a text), each at most
        ``max_tokens`` ids, drawn in one batch; the same ``seed`` gives the same texts."""
        for name, value, low in (("max_tokens", max_tokens, 1), ("num", num, 1), ("top_k", top_k, 0)):
            if value < low:
                raise NlpRnnError(f"{name} must be {low} or more, got {value}")
        if temperature < 0 or not 0 < top_p <= 1:
            raise NlpRnnError(f"need temperature >= 0 and 0 < top_p <= 1, got {temperature} and {top_p}")
        index = self.label_index(label)
        seed = random.SystemRandom().randrange(2**31) if seed is None else seed
        generator = torch.Generator().manual_seed(seed)
        prompt_ids = self.codec.encode([prompt])[0].tolist() if prompt else []
        labels = None if index is None else torch.full((num,), index, dtype=torch.long)
        rows = sample(
            self.model,
            [self.start_id, *prompt_ids],
            num,
            max_tokens,
            labels=labels,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            stop_id=EOS_ID,
            banned=(PAD_ID, UNK_ID, BOS_ID),
            generator=generator,
        )
        head = self.codec.decode(prompt_ids)
        generations = []
        for ids in rows:
            text = self.codec.decode(prompt_ids + ids)
            continuation = text[len(head) :] if text.startswith(head) else self.codec.decode(ids)
            finished = bool(ids) and ids[-1] == EOS_ID
            generations.append(Generation(text, continuation, ids, finished, seed))
        return generations

    def perplexity(self, texts: Iterable[str], labels: Iterable[str] | str | None = None) -> PerplexityReport:
        """Perplexity and bits per character of ``texts`` (one document each; blank ones skipped),
        scored as the held-out text was in training (the model's layout and evaluation rows).
        A conditioned model needs ``labels``: one per text, or one label for all."""
        if isinstance(labels, str) or labels is None:
            index = self.label_index(labels)
            records = ((text, index) for text in texts)
        elif not self.labels:
            raise NlpRnnError("this language model is not conditioned on labels; drop the labels")
        else:
            records = ((text, self.label_index(label)) for text, label in zip(texts, labels, strict=True))
        with tempfile.TemporaryDirectory(prefix="nlp_rnn_lm_") as folder:
            documents = write_documents(
                Path(folder), "texts", self.codec, records, labelled=bool(self.labels)
            )
            if len(documents) == 0:
                raise NlpRnnError("no text to score (every document is empty)")
            metrics = evaluate_documents(self.model, documents, self.layout, self.streams, self.bptt)
            return PerplexityReport(
                documents=len(documents),
                tokens=int(metrics["tokens"]),
                characters=documents.characters,
                nll=metrics["nll"],
                ppl=metrics["ppl"],
                bpc=metrics["bpc"],
            )

    # --- saving -------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {
            "task": TASK,
            "format_version": FORMAT_VERSION,
            "nlp_rnn_version": __version__,
            "model": self.model.config.model_dump(),
            "vocab_size": self.model.vocab_size,
            "level": self.codec.level,
            "layout": self.layout,
            "labels": self.labels,
            "evaluation": {"streams": self.streams, "bptt": self.bptt},
        }

    def save(self, folder: str | Path, metrics: Mapping[str, float] | None = None) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_model_files(folder, self)
        save_weights(self.model, folder, metrics)
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: torch.device | str = "cpu") -> LanguageModelPredictor:
        folder = Path(folder)
        config = read_task_config(folder, TASK, FORMAT_VERSION)
        with config_fields(folder, "language model"):
            architecture = LanguageModelConfig.model_validate(config["model"])
            vocab_size, level, layout = int(config["vocab_size"]), str(config["level"]), str(config["layout"])
            labels = [str(label) for label in config["labels"]]
            streams, bptt = int(config["evaluation"]["streams"]), int(config["evaluation"]["bptt"])
            if layout not in ("stream", "documents"):
                raise ValueError(f"unknown layout {layout!r}")
        codec = load_codec(folder, level)
        if codec.vocab_size != vocab_size:
            raise NlpRnnError(
                f"{folder}: the tokenizer has {codec.vocab_size} ids, config.json says {vocab_size}"
            )
        require_files(folder, WEIGHTS_FILE)
        model = RNNLanguageModel(architecture, vocab_size, num_labels=len(labels), pad_id=PAD_ID)
        load_weights_file(model, folder / WEIGHTS_FILE)
        return cls(model.to(device), codec, layout, labels, streams, bptt)  # type: ignore[arg-type]


def write_model_files(folder: Path, predictor: LanguageModelPredictor) -> None:
    """``config.json`` and the codec's files: with the weights, a complete model folder."""
    write_json(folder / MODEL_CONFIG_FILE, predictor.config())
    predictor.codec.save(folder)


def split_labelled(lines: Iterable[str], where: str) -> Iterator[tuple[str, str]]:
    """``(label, text)`` from ``LABEL<TAB>text`` lines; a line without a tab is an error naming it."""
    for number, line in enumerate(lines, start=1):
        label, tab, text = line.partition("\t")
        if not tab:
            raise InputError("expected LABEL<TAB>text", where, number)
        yield label, text
