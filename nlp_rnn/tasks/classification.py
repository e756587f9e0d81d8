"""Text classification as a task: encode labelled token lists, collate batches, evaluate for the
Trainer, save a self-contained model folder, and predict labels for raw text.

A model folder (written by :meth:`ClassificationPredictor.save`, loaded by
:meth:`ClassificationPredictor.load` or :func:`nlp_rnn.api.load_model`)::

    config.json         task, architecture, sizes, input truncation, label names, versions
    vocab.json          the input vocabulary (nlp_rnn.text.vocab format)
    labels.json         the label vocabulary: class index -> label string
    tokenizer/          the tokenizer that produced the training tokens (tokenizer.json, ...)
    model.safetensors   the weights
    metrics.json        the dev metrics of these weights (when known)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from nlp_rnn import __version__
from nlp_rnn.data.batching import inference_batches
from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.evaluation.classification import ClassificationReport, classification_report
from nlp_rnn.models.classifier import ClassifierConfig, RNNClassifier
from nlp_rnn.models.low_precision import FLOAT_PRECISIONS, check_precision
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
from nlp_rnn.text.tokenizers import Tokenizer, load_tokenizer
from nlp_rnn.text.vocab import Vocab

TASK = "classification"
FORMAT_VERSION = 1
VOCAB_FILE = "vocab.json"
LABELS_FILE = "labels.json"
TOKENIZER_DIR = "tokenizer"

Truncation = Literal["head", "tail", "head_tail"]
TRUNCATIONS = ("head", "tail", "head_tail")


class EmptyTextError(NlpRnnError):
    """A text with no tokens was given to a predictor; ``index`` says which."""

    def __init__(self, index: int) -> None:
        super().__init__(f"text {index} is empty (no tokens); a classifier needs at least one token")
        self.index = index


# --------------------------------------------------------------------------- encoding


def truncate_tokens(
    tokens: Sequence[str], max_length: int | None, policy: Truncation = "head"
) -> Sequence[str]:
    """At most ``max_length`` tokens: the first ones (``head``), the last ones (``tail``), or the
    first quarter and the last three quarters of the budget (``head_tail``: a review's opening
    sets the scene, its end gives the verdict; Sun et al. 2019 found this split best for long
    reviews)."""
    if max_length is None or len(tokens) <= max_length:
        return tokens
    if policy == "head":
        return tokens[:max_length]
    if policy == "tail":
        return tokens[-max_length:]
    if policy == "head_tail":
        head = max_length // 4
        return [*tokens[:head], *tokens[len(tokens) - (max_length - head) :]]
    raise ValueError(f"truncate must be one of {TRUNCATIONS}, got {policy!r}")


@dataclass
class EncodedExamples:
    """Token ids of many examples in one flat array (compact for long corpora), with labels.

    ``examples[i]`` is ``(ids, label)``: a NumPy int64 view and a class index (-1: unlabelled);
    with ``targets`` (training on a teacher's probabilities) ``(ids, label, target)``, the target
    a distribution over the classes. ``rows[i]`` is the example's row in the data it came from
    (rows without tokens are left out).
    """

    ids: np.ndarray  # total tokens, int64
    offsets: np.ndarray  # N + 1, int64: example i is ids[offsets[i]:offsets[i + 1]]
    labels: np.ndarray  # N, int64
    rows: np.ndarray  # N, int64
    targets: np.ndarray | None = None  # N x C, float32: the distributions to train towards

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple:  # (ids, label) or (ids, label, target)
        ids = self.ids[self.offsets[index] : self.offsets[index + 1]]
        if self.targets is None:
            return ids, int(self.labels[index])
        return ids, int(self.labels[index]), self.targets[index]

    @cached_property
    def lengths(self) -> list[int]:
        """One length per example (the Trainer batches by them)."""
        return np.diff(self.offsets).tolist()

    @property
    def tokens(self) -> int:
        return int(self.offsets[-1])


def encode_examples(
    token_lists: Iterable[Sequence[str]],
    vocab: Vocab,
    labels: Iterable[Any] | None = None,
    label_vocab: Vocab | None = None,
    *,
    max_length: int | None = None,
    truncate: Truncation = "head",
    skip_empty: bool = False,
    source: str = "data",
) -> EncodedExamples:
    """Token ids (and class indices) of a dataset's rows.

    Rows without tokens raise an :class:`InputError` naming the row, or are left out with
    ``skip_empty``. A label that the label vocabulary does not know raises an :class:`InputError`
    naming the row, the label and the known labels.
    """
    if vocab.pad_id != 0 or vocab.unk_id is None:
        raise NlpRnnError("the input vocabulary needs <pad> (id 0) and <unk>: build it without labels=true")
    label_list = None if labels is None else list(labels)
    if label_list is not None and label_vocab is None:
        raise NlpRnnError("labels were given without a label vocabulary")
    chunks: list[np.ndarray] = []
    lengths: list[int] = []
    kept: list[int] = []
    get, unk = vocab.stoi.get, vocab.unk_id
    for row, tokens in enumerate(token_lists):
        tokens = truncate_tokens(tokens, max_length, truncate)
        if not tokens:
            if skip_empty:
                continue
            raise InputError(f"row {row} has no tokens", source)
        chunks.append(np.fromiter((get(token, unk) for token in tokens), dtype=np.int64, count=len(tokens)))
        lengths.append(len(tokens))
        kept.append(row)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    rows = np.asarray(kept, dtype=np.int64)
    if label_list is None:
        classes = np.full(len(kept), -1, dtype=np.int64)
    else:
        if len(label_list) <= (rows[-1] if len(rows) else -1):
            raise NlpRnnError(f"{source}: {len(label_list)} labels for more rows of tokens")
        classes = encode_labels([label_list[row] for row in kept], label_vocab, rows, source)  # type: ignore[arg-type]
    ids = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
    return EncodedExamples(ids=ids, offsets=offsets, labels=classes, rows=rows)


def encode_labels(labels: Sequence[Any], label_vocab: Vocab, rows: Sequence[int], source: str) -> np.ndarray:
    """Class indices of label values (compared as strings, the catalog's convention)."""
    stoi = label_vocab.stoi
    classes = np.empty(len(labels), dtype=np.int64)
    for position, label in enumerate(labels):
        index = stoi.get(str(label))
        if index is None:
            known = ", ".join(label_vocab.itos)
            raise InputError(
                f"row {rows[position]}: label {str(label)!r} is not one of the model's labels ({known})",
                source,
            )
        classes[position] = index
    return classes


def collate(examples: Sequence[tuple]) -> dict[str, Tensor]:
    """``ids`` (B x T, right-padded with 0), ``lengths`` (B), when labelled ``labels`` (B), and
    ``targets`` (B x C) when the examples carry target distributions (see :class:`EncodedExamples`)."""
    lengths = np.fromiter((len(e[0]) for e in examples), dtype=np.int64, count=len(examples))  # B
    padded = np.zeros((len(examples), int(lengths.max(initial=0))), dtype=np.int64)  # B x T
    for row, example in enumerate(examples):
        padded[row, : len(example[0])] = example[0]
    batch = {"ids": torch.from_numpy(padded), "lengths": torch.from_numpy(lengths)}
    labels = np.fromiter((e[1] for e in examples), dtype=np.int64, count=len(examples))  # B
    if (labels >= 0).all():
        batch["labels"] = torch.from_numpy(labels)
    if examples and len(examples[0]) == 3:
        batch["targets"] = torch.from_numpy(np.stack([e[2] for e in examples]))  # B x C
    return batch


# --------------------------------------------------------------------------- evaluation


def collect_probabilities(
    model: nn.Module, batches: Iterable[Mapping[str, Tensor]]
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Gold classes (-1 when unlabelled), class probabilities (N x C) and the mean loss, in batch order."""
    gold, probabilities = [], []
    loss_sum, count, labelled = 0.0, 0, True
    for batch in batches:
        output = model(batch)
        probabilities.append(output["logits"].float().softmax(dim=-1).cpu().numpy())  # B x C
        size = len(batch["lengths"])
        if "labels" in batch:
            gold.append(batch["labels"].cpu().numpy())
            loss_sum += float(output["loss"]) * size
        else:
            labelled = False
            gold.append(np.full(size, -1, dtype=np.int64))
        count += size
    if not probabilities:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32), None
    loss = loss_sum / count if labelled and count else None
    return np.concatenate(gold), np.concatenate(probabilities), loss


def evaluate_batches(model: nn.Module, batches: Iterable[Mapping[str, Tensor]]) -> dict[str, float]:
    """The Trainer's evaluate function: dev ``accuracy``, ``macro_f1`` and ``loss``."""
    gold, probabilities, loss = collect_probabilities(model, batches)
    num_classes = getattr(model, "num_classes", probabilities.shape[1])
    labels = [str(index) for index in range(num_classes)]
    return classification_report(gold, probabilities.argmax(axis=1), labels, loss).metrics()


def evaluate_examples(
    model: RNNClassifier,
    examples: EncodedExamples,
    labels: Sequence[str],
    batch_size: int = 256,
    max_tokens: int | None = None,
    device: torch.device | str = "cpu",
) -> tuple[ClassificationReport, np.ndarray]:
    """A full report on labelled examples, and the probabilities (N x C) in the examples' order."""
    if len(examples) == 0:
        raise NlpRnnError("nothing to evaluate: no examples")
    probabilities = predict_examples(model, examples, batch_size, max_tokens, device)
    gold = examples.labels
    report = classification_report(gold, probabilities.argmax(axis=1), labels)
    gold_probabilities = probabilities[np.arange(len(gold)), gold]  # N
    report.loss = float(-np.log(np.clip(gold_probabilities, 1e-12, None)).mean())  # cross-entropy
    return report, probabilities


def predict_examples(
    model: RNNClassifier,
    examples: EncodedExamples,
    batch_size: int = 256,
    max_tokens: int | None = None,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
) -> np.ndarray:
    """Probabilities (N x C, in the examples' order), computed in batches of one length where possible.

    ``precision="bf16"`` multiplies the recurrence in bf16 (:meth:`RNNClassifier.encode`).
    """
    bf16 = check_precision(precision, supported=FLOAT_PRECISIONS) == "bf16"
    product_dtype = torch.bfloat16 if bf16 else torch.float32
    probabilities = np.zeros((len(examples), model.num_classes), dtype=np.float32)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for indices in inference_batches(examples.lengths, batch_size, max_tokens):
                batch = collate([(examples[i][0], -1) for i in indices])
                ids, lengths = batch["ids"].to(device), batch["lengths"].to(device)
                logits = model.logits(ids, lengths, product_dtype).float()  # B x C
                probabilities[indices] = logits.softmax(dim=-1).cpu().numpy()
    finally:
        model.train(was_training)
    return probabilities


# --------------------------------------------------------------------------- the predictor


@dataclass(frozen=True)
class InputSettings:
    """How text becomes the model's input; saved in the model folder's config."""

    max_length: int | None = None
    truncate: Truncation = "head"


class ClassificationPredictor:
    """A trained classifier with its tokenizer and vocabularies: raw text in, labels out.

    ``predict(["this movie is good"])`` gives labels, ``predict_proba`` an N x C array whose
    columns follow :attr:`labels`. Texts are batched by length and run under
    ``torch.inference_mode()``.
    """

    task = TASK
    precisions = FLOAT_PRECISIONS  # what predict_proba multiplies in (nlp_rnn.models.low_precision)

    def __init__(
        self,
        model: RNNClassifier,
        tokenizer: Tokenizer,
        vocab: Vocab,
        label_vocab: Vocab,
        settings: InputSettings = InputSettings(),
        device: torch.device | str = "cpu",
    ) -> None:
        if len(label_vocab) != model.num_classes:
            raise NlpRnnError(f"{len(label_vocab)} labels for a model with {model.num_classes} outputs")
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.vocab = vocab
        self.label_vocab = label_vocab
        self.settings = settings
        self.device = torch.device(device)

    @property
    def labels(self) -> list[str]:
        """Label names, in the order of the probability columns."""
        return list(self.label_vocab.itos)

    def encode(self, texts: Sequence[str], skip_empty: bool = False) -> EncodedExamples:
        """Tokenize and encode; a text without tokens raises :class:`EmptyTextError` with its
        index, or with ``skip_empty`` is left out (the result's ``rows`` lists the others)."""
        token_lists = self.tokenizer.tokenize_batch(list(texts))
        if not skip_empty:
            for index, tokens in enumerate(token_lists):
                if not tokens:
                    raise EmptyTextError(index)
        settings = self.settings
        return encode_examples(
            token_lists,
            self.vocab,
            max_length=settings.max_length,
            truncate=settings.truncate,
            skip_empty=skip_empty,
        )

    def predict_proba(
        self, texts: Sequence[str], batch_size: int = 256, precision: str = "fp32"
    ) -> np.ndarray:
        """Class probabilities, N x C (columns: :attr:`labels`). ``precision="bf16"`` multiplies
        the recurrence in bf16 (fast on CPUs with AMX; :mod:`nlp_rnn.models.low_precision`)."""
        if isinstance(texts, str):
            raise TypeError("predict_proba takes a list of texts, not one string")
        check_precision(precision, supported=self.precisions)
        if not texts:
            return np.zeros((0, len(self.label_vocab)), dtype=np.float32)
        encoded = self.encode(texts)
        return predict_examples(self.model, encoded, batch_size, device=self.device, precision=precision)

    def predict(self, texts: Sequence[str], batch_size: int = 256, precision: str = "fp32") -> list[str]:
        """One label per text (``precision``: see :meth:`predict_proba`)."""
        probabilities = self.predict_proba(texts, batch_size, precision)
        itos = self.label_vocab.itos
        return [itos[index] for index in probabilities.argmax(axis=1)]

    def evaluate(
        self,
        texts: Sequence[str],
        labels: Sequence[Any],
        batch_size: int = 256,
        source: str = "data",
    ) -> tuple[ClassificationReport, np.ndarray]:
        """A report on labelled texts (rows without tokens are an error) and the probabilities."""
        token_lists = self.tokenizer.tokenize_batch(list(texts))
        examples = encode_examples(
            token_lists,
            self.vocab,
            labels,
            self.label_vocab,
            max_length=self.settings.max_length,
            truncate=self.settings.truncate,
            source=source,
        )
        return evaluate_examples(self.model, examples, self.labels, batch_size, device=self.device)

    # --- the model folder ----------------------------------------------------------------------

    def save(self, folder: str | Path, metrics: Mapping[str, float] | None = None) -> Path:
        """Write a complete model folder (weights included)."""
        folder = Path(folder)
        write_model_files(folder, self.model, self.tokenizer, self.vocab, self.label_vocab, self.settings)
        save_weights(self.model, folder, metrics)
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: torch.device | str = "cpu") -> ClassificationPredictor:
        """Load a model folder; missing or broken files raise :class:`NlpRnnError` naming them."""
        folder = Path(folder)
        config = read_task_config(folder, TASK, FORMAT_VERSION)
        with config_fields(folder, "classifier"):
            architecture = ClassifierConfig.model_validate(config["model"])
            sizes = {key: int(config[key]) for key in ("vocab_size", "embedding_dim", "num_classes")}
            settings = InputSettings(**config.get("input", {}))
            frozen_rows = int(config.get("frozen_embedding_rows", 0))
        require_files(folder, VOCAB_FILE, LABELS_FILE, WEIGHTS_FILE, dirs=[TOKENIZER_DIR])
        vocab = Vocab.load(folder / VOCAB_FILE)
        label_vocab = Vocab.load(folder / LABELS_FILE)
        tokenizer = load_tokenizer(folder / TOKENIZER_DIR)
        if len(vocab) != sizes["vocab_size"] or len(label_vocab) != sizes["num_classes"]:
            raise NlpRnnError(
                f"{folder}: vocab.json has {len(vocab)} tokens and labels.json {len(label_vocab)} labels, "
                f"but config.json says {sizes['vocab_size']} and {sizes['num_classes']}"
            )
        model = RNNClassifier.from_sizes(
            sizes["vocab_size"],
            sizes["embedding_dim"],
            sizes["num_classes"],
            architecture,
            vocab.pad_id or 0,
            frozen_rows=frozen_rows,
        )
        load_weights_file(model, folder / WEIGHTS_FILE)
        return cls(model, tokenizer, vocab, label_vocab, settings, device=device)


def model_config(
    model: RNNClassifier, vocab: Vocab, label_vocab: Vocab, settings: InputSettings
) -> dict[str, Any]:
    """What ``config.json`` records: enough to rebuild the model without the training pipeline."""
    return {
        "task": TASK,
        "format_version": FORMAT_VERSION,
        "nlp_rnn_version": __version__,
        "model": model.config.model_dump(mode="json"),
        "vocab_size": len(vocab),
        "embedding_dim": model.embedding.embedding_dim,
        # Rows after the training words, kept fixed (vocabulary extended from pretrained vectors).
        "frozen_embedding_rows": model.frozen_embedding_rows,
        "num_classes": model.num_classes,
        "labels": list(label_vocab.itos),
        "input": {"max_length": settings.max_length, "truncate": settings.truncate},
    }


def write_model_files(
    folder: Path,
    model: RNNClassifier,
    tokenizer: Tokenizer,
    vocab: Vocab,
    label_vocab: Vocab,
    settings: InputSettings,
) -> None:
    """Everything of a model folder except the weights and metrics (the Trainer writes those into
    its checkpoints; this goes beside them, so that ``best/`` is a loadable model folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / MODEL_CONFIG_FILE, model_config(model, vocab, label_vocab, settings))
    vocab.save(folder / VOCAB_FILE)
    label_vocab.save(folder / LABELS_FILE)
    tokenizer.save(folder / TOKENIZER_DIR)
