"""The ``train_language_model`` stage: a recurrent language model on a slice of a corpus, scored on
held-out text against interpolated Kneser-Ney n-gram models trained on the same tokens.

It reads a ``corpus`` stage's text column (and, for a conditioned model, its label column): the
training documents are a range of rows of one split, the held-out documents a range of another
split or a later, disjoint range of the same one (``shuffle_rows`` permutes a split's rows by the
pipeline's seed first). ``max_chars`` cuts each document to its opening, at the last sentence end
(else word end) within that many characters. The codec (characters, words or SentencePiece) is
learned from the training documents alone; both sets are encoded to token stores on disk.

The Kneser-Ney models count exactly the ids the RNN trains on (in the stream layout, the stream
less its unused tail; in the documents layout, every document after ``order - 1`` ``<bos>``) and
score exactly the held-out ids the RNN scores, with the same ``<unk>``.

Outputs, in the stage folder::

    data/           the token stores (train, dev): ids, offsets, labels
    train/          the Trainer's run: log.jsonl, curves.png, best/, last/
    heldout.txt     the held-out documents as scored, one per line (LABEL<TAB>text when conditioned):
                    ``nlp-rnn lm-perplexity --model DIR --input heldout.txt`` gives dev.rnn_* again
    report.json     metrics, every Kneser-Ney order's scores and discounts, the samples
    samples.txt     texts the saved model generates from the configured prompts
    model/[<model_folder>/]   the model folder (see nlp_rnn.tasks.language_modeling)

Metrics: ``dev.rnn_ppl``, ``dev.rnn_bpc``, ``dev.rnn_nll``; ``dev.kn_ppl``, ``dev.kn_bpc`` and
``dev.kn_order`` (the best order tried) and ``dev.kn<n>_ppl`` / ``dev.kn<n>_bpc`` for each order;
for a conditioned model ``dev.rnn_ppl_other_label`` (every held-out document read with the next
label instead of its own) and ``dev.label_nats_per_document`` (what its own label saves);
``dev.tokens``, ``dev.characters``, ``dev.documents`` and the same for ``train``;
``train_seconds``, ``train.tokens_per_second`` (the median of the Trainer's logged rates),
``kn_seconds``, ``vocab_size``, ``parameters``, ``steps``, ``epochs``, ``best_step``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pydantic

from nlp_rnn.config import Schema
from nlp_rnn.models.language_model import LanguageModelConfig
from nlp_rnn.pipeline import Metrics, Stage, StageConfig, StageContext
from nlp_rnn.stages.corpus import check_columns, load_split
from nlp_rnn.text.codec import CodecSettings
from nlp_rnn.training.config import TrainerConfig

TRAIN_DIR = "train"
DATA_DIR = "data"
HELDOUT_FILE = "heldout.txt"
REPORT_FILE = "report.json"
SAMPLES_FILE = "samples.txt"
STREAM_FIXED = ("batch_size", "max_tokens", "shuffle", "eval_batch_size", "eval_max_tokens")


class LanguageModelTrainerSettings(TrainerConfig):
    """The Trainer's settings with a language model's defaults: select on held-out perplexity."""

    lr: float = pydantic.Field(2e-3, gt=0)
    metric: str = pydantic.Field("ppl", description="dev metric: ppl, bpc or nll")
    mode: Literal["min", "max"] = pydantic.Field("min", description="lower perplexity is better")
    log_every: int = pydantic.Field(50, ge=1)
    seed: int | None = pydantic.Field(None, description="training randomness (null: the pipeline's seed)")


class KneserNeySettings(Schema):
    """The n-gram baselines."""

    orders: list[int] = pydantic.Field(
        default_factory=lambda: [3, 4, 5], description="orders tried; the best held-out score is reported"
    )
    discount: float | None = pydantic.Field(
        None, gt=0, lt=1, description="one fixed discount (null: modified Kneser-Ney's three per order)"
    )

    @pydantic.field_validator("orders")
    @classmethod
    def _positive(cls, orders: list[int]) -> list[int]:
        if any(order < 1 for order in orders):
            raise ValueError("orders must be 1 or more")
        return orders


class SampleSettings(Schema):
    """How the samples are generated at the end."""

    max_tokens: int = pydantic.Field(200, ge=1, description="ids per sample at most")
    temperature: float = pydantic.Field(0.8, ge=0, description="0: greedy")
    top_k: int = pydantic.Field(0, ge=0, description="keep the k most likely ids (0: all)")
    top_p: float = pydantic.Field(0.95, gt=0, le=1, description="nucleus: the smallest set reaching p")
    seed: int = pydantic.Field(0, description="seed of the sampling")


class Prompt(Schema):
    """One sample: a prompt (empty: from the start) and, for a conditioned model, a label."""

    prompt: str = ""
    label: str | None = None


class TrainLanguageModelConfig(StageConfig):
    kind: Literal["train_language_model"] = "train_language_model"
    input: str = pydantic.Field(description="the corpus stage to read")
    text: str = pydantic.Field("text", description="its column of documents")
    label: str | None = pydantic.Field(None, description="a label column to condition on (documents layout)")
    train_split: str = "train"
    dev_split: str = pydantic.Field("dev", description="the split of the held-out documents")
    train_rows: tuple[int, int] | None = pydantic.Field(None, description="[start, stop) rows (null: all)")
    dev_rows: tuple[int, int] | None = pydantic.Field(None, description="[start, stop) rows (null: all)")
    shuffle_rows: bool = pydantic.Field(False, description="permute each split's rows (pipeline seed) first")
    max_chars: int | None = pydantic.Field(None, ge=1, description="keep each document's opening (null: all)")
    layout: Literal["stream", "documents"] = pydantic.Field(
        "stream", description="stream: one text, truncated BPTT; documents: one sequence each"
    )
    streams: int = pydantic.Field(64, ge=1, description="stream: parallel rows of the training stream")
    bptt: int = pydantic.Field(100, ge=1, description="stream: steps per segment")
    eval_streams: int = pydantic.Field(16, ge=1, description="stream: parallel rows of held-out text")
    tokens: CodecSettings = pydantic.Field(default_factory=CodecSettings)
    model: LanguageModelConfig = pydantic.Field(default_factory=LanguageModelConfig)
    trainer: LanguageModelTrainerSettings = pydantic.Field(default_factory=LanguageModelTrainerSettings)
    kn: KneserNeySettings = pydantic.Field(default_factory=KneserNeySettings)
    generation: SampleSettings = pydantic.Field(default_factory=SampleSettings)
    samples: list[Prompt] = pydantic.Field(
        default_factory=list, description="prompts generated from at the end"
    )
    model_folder: str = pydantic.Field(
        "", description="subfolder of <run-dir>/model/ ('' = the folder itself)"
    )

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> TrainLanguageModelConfig:
        if Path(self.model_folder).is_absolute() or ".." in Path(self.model_folder).parts:
            raise ValueError("model_folder must be a relative folder name inside <run-dir>/model/")
        for name in ("train_rows", "dev_rows"):
            rows = getattr(self, name)
            if rows is not None and not 0 <= rows[0] < rows[1]:
                raise ValueError(f"{name} must be [start, stop) with 0 <= start < stop")
        if self.train_split == self.dev_split:
            if self.train_rows is None or self.dev_rows is None:
                raise ValueError("held-out rows from the training split need both train_rows and dev_rows")
            (a, b), (c, d) = self.train_rows, self.dev_rows
            if a < d and c < b:
                raise ValueError(
                    f"train_rows {list(self.train_rows)} and dev_rows {list(self.dev_rows)} overlap"
                )
        if self.label is not None and self.layout != "documents":
            raise ValueError("a label conditions each document from its start: use layout: documents")
        fixed = sorted(set(STREAM_FIXED) & self.trainer.model_fields_set)
        if self.layout == "stream" and fixed:
            raise ValueError(
                f"trainer {', '.join(fixed)}: a stream's batches are `streams` x `bptt` ids, in order; "
                "set those keys instead"
            )
        return self


class TrainLanguageModelStage(Stage):
    """Trains :class:`~nlp_rnn.models.language_model.RNNLanguageModel`; metrics: held-out
    perplexity and bits per character of the RNN and of Kneser-Ney."""

    kind = "train_language_model"
    Config = TrainLanguageModelConfig

    def upstream(self) -> list[str]:
        return [self.config.input]

    def run(self, ctx: StageContext) -> Metrics:
        from nlp_rnn.data.token_store import write_documents
        from nlp_rnn.models.language_model import RNNLanguageModel
        from nlp_rnn.tasks import WEIGHTS_FILE, load_weights_file, write_json
        from nlp_rnn.tasks.language_modeling import LanguageModelPredictor, evaluate_documents
        from nlp_rnn.text.codec import PAD_ID, train_codec
        from nlp_rnn.training.seeding import seed_everything
        from nlp_rnn.training.trainer import fit_metrics

        config = self.config
        seed = config.trainer.seed if config.trainer.seed is not None else ctx.seed
        source = ctx.input_dir(config.input)
        train_rows = self._rows(ctx, source, config.train_split, config.train_rows)
        dev_rows = self._rows(ctx, source, config.dev_split, config.dev_rows)
        labels = self._labels(train_rows) if config.label is not None else []
        started = time.perf_counter()
        codec = train_codec((text for text, _ in train_rows.documents()), config.tokens, seed)
        data = ctx.out_dir / DATA_DIR
        train = write_documents(data, "train", codec, train_rows.records(labels), labelled=bool(labels))
        dev = write_documents(data, "dev", codec, dev_rows.records(labels), labelled=bool(labels))
        ctx.log.info(
            "%s codec: %d ids in %.1f s; train %d documents, %d tokens, %d characters; dev %d, %d, %d",
            config.tokens.level,
            codec.vocab_size,
            time.perf_counter() - started,
            len(train),
            train.targets,
            train.characters,
            len(dev),
            dev.targets,
            dev.characters,
        )
        self._write_heldout(ctx, dev_rows, labels)

        seed_everything(seed)  # the same initial weights for the same seed
        model = RNNLanguageModel(config.model, codec.vocab_size, num_labels=len(labels), pad_id=PAD_ID)
        predictor = LanguageModelPredictor(
            model, codec, config.layout, labels, config.eval_streams, config.bptt
        )
        started = time.perf_counter()
        result = self._train(ctx, predictor, train, dev, seed)
        train_seconds = time.perf_counter() - started
        assert result.best_dir is not None  # there is always held-out text
        load_weights_file(model, result.best_dir / WEIGHTS_FILE)
        model.cpu()
        rnn = evaluate_documents(model, dev, config.layout, config.eval_streams, config.bptt)
        started = time.perf_counter()
        kn = self._kneser_ney(ctx, train, dev, codec.vocab_size)
        kn_seconds = time.perf_counter() - started

        metrics: Metrics = {
            "dev.rnn_ppl": round(rnn["ppl"], 4),
            "dev.rnn_bpc": round(rnn["bpc"], 4),
            "dev.rnn_nll": round(rnn["nll"], 5),
        }
        if labels:  # how much the label helps: every document read with the next label instead
            assert dev.labels is not None
            other = replace(dev, labels=(dev.labels + 1) % len(labels))
            wrong = evaluate_documents(model, other, config.layout, config.eval_streams, config.bptt)
            metrics["dev.rnn_ppl_other_label"] = round(wrong["ppl"], 4)
            gain = (wrong["nll"] - rnn["nll"]) * dev.targets / len(dev)
            metrics["dev.label_nats_per_document"] = round(gain, 4)
        metrics.update(_kn_metrics(kn))
        metrics.update(
            {
                "dev.tokens": dev.targets,
                "dev.characters": dev.characters,
                "dev.documents": len(dev),
                "train.tokens": train.targets,
                "train.characters": train.characters,
                "train.documents": len(train),
                "train_seconds": round(train_seconds, 3),
                "train.tokens_per_second": round(_median_rate(result.output_dir), 1),
                "kn_seconds": round(kn_seconds, 3),
                "vocab_size": codec.vocab_size,
                **fit_metrics(model, result),
            }
        )
        ctx.log.info(
            "held-out: RNN ppl %.3f, %.4f bits/char; Kneser-Ney (order %d) ppl %.3f, %.4f bits/char",
            metrics["dev.rnn_ppl"],
            metrics["dev.rnn_bpc"],
            metrics.get("dev.kn_order", 0),
            metrics.get("dev.kn_ppl", float("nan")),
            metrics.get("dev.kn_bpc", float("nan")),
        )
        folder = ctx.model_dir / config.model_folder if config.model_folder else ctx.model_dir
        predictor.save(folder, metrics={k: v for k, v in metrics.items() if k.startswith("dev.")})
        samples = self._samples(ctx, folder)
        write_json(ctx.out_dir / REPORT_FILE, {"metrics": metrics, "kneser_ney": kn, "samples": samples})
        return metrics

    # --- steps ------------------------------------------------------------------------------------

    def _rows(self, ctx: StageContext, source: Path, split: str, rows: tuple[int, int] | None) -> _Rows:
        """The chosen rows of ``split`` (permuted by the pipeline's seed with ``shuffle_rows``)."""
        from nlp_rnn.errors import NlpRnnError

        config = self.config
        dataset = load_split(source, split)
        columns = (config.text,) if config.label is None else (config.text, config.label)
        check_columns(dataset, columns, ctx.name, config.input, split)
        order = (
            np.random.default_rng(ctx.seed).permutation(len(dataset))
            if config.shuffle_rows
            else np.arange(len(dataset))
        )
        start, stop = rows if rows is not None else (0, len(dataset))
        if stop > len(dataset):
            raise NlpRnnError(
                f"stage {ctx.name!r}: rows [{start}, {stop}) of split {split!r}, which has {len(dataset)}"
            )
        return _Rows(dataset.select(order[start:stop]), config.text, config.label, config.max_chars)

    def _labels(self, rows: _Rows) -> list[str]:
        """The label names of the training rows, sorted: label index i is the i-th."""
        return sorted({label for _, label in rows.documents()})  # type: ignore[type-var]

    def _write_heldout(self, ctx: StageContext, rows: _Rows, labels: list[str]) -> None:
        from nlp_rnn.fileio import atomic_file

        with atomic_file(ctx.out_dir / HELDOUT_FILE, "w", encoding="utf-8", newline="\n") as handle:
            for text, label in rows.documents():
                if text.strip():
                    handle.write(f"{label}\t{text}\n" if labels else f"{text}\n")

    def _train(self, ctx: StageContext, predictor, train, dev, seed: int):  # -> FitResult
        from nlp_rnn.tasks.language_modeling import fit_language_model, write_model_files

        config = self.config
        trainer_config = TrainerConfig(**{**config.trainer.model_dump(), "seed": seed})
        return fit_language_model(
            predictor.model,
            train,
            dev,
            trainer_config,
            ctx.out_dir / TRAIN_DIR,
            layout=config.layout,
            streams=config.streams,
            bptt=config.bptt,
            eval_streams=config.eval_streams,
            add_files=lambda folder: write_model_files(folder, predictor),
        )

    def _kneser_ney(self, ctx: StageContext, train, dev, vocab_size: int) -> list[dict[str, Any]]:
        """Each order's held-out score and discounts, on the ids the RNN trains on and scores."""
        from nlp_rnn.evaluation.ngram_lm import KneserNey
        from nlp_rnn.tasks.language_modeling import StreamSegments, perplexity_metrics
        from nlp_rnn.text.codec import BOS_ID

        config, results = self.config, []
        if config.layout == "stream":
            trained = StreamSegments(train, config.streams, config.bptt, whole_segments=True).used_ids
        for order in config.kn.orders:
            started = time.perf_counter()
            if config.layout == "stream":
                skip, train_sequence, dev_sequence = None, trained, np.asarray(dev.ids)
            else:
                skip, train_sequence, dev_sequence = BOS_ID, _padded(train, order), _padded(dev, order)
            kn = KneserNey(order, vocab_size, config.kn.discount).fit(train_sequence, skip)
            nll, tokens = kn.perplexity(dev_sequence, skip)
            scores = perplexity_metrics(nll, tokens, dev.characters)
            results.append(
                {
                    "order": order,
                    "ppl": scores["ppl"],
                    "bpc": scores["bpc"],
                    "tokens": tokens,
                    "discounts": [list(d) for d in kn.discounts],
                    "seconds": round(time.perf_counter() - started, 3),
                }
            )
            ctx.log.info(
                "Kneser-Ney order %d: held-out ppl %.3f, %.4f bits/char", order, scores["ppl"], scores["bpc"]
            )
        return results

    def _samples(self, ctx: StageContext, folder: Path) -> list[dict[str, Any]]:
        """Generate from the saved model, loaded back as a user would."""
        from nlp_rnn.api import load_model

        if not self.config.samples:
            return []
        predictor, settings = load_model(folder), self.config.generation
        samples, lines = [], []
        for sample in self.config.samples:
            (generation,) = predictor.generate(
                sample.prompt,
                max_tokens=settings.max_tokens,
                temperature=settings.temperature,
                top_k=settings.top_k,
                top_p=settings.top_p,
                label=sample.label,
                seed=settings.seed,
            )
            samples.append({"prompt": sample.prompt, "label": sample.label, "text": generation.text})
            lines.append(f"[{sample.label or ''}] {generation.text}")
        (ctx.out_dir / SAMPLES_FILE).write_text("\n\n".join(lines) + "\n", encoding="utf-8")
        ctx.log.info("the saved model generates:\n  %s", "\n  ".join(lines))
        return samples


class _Rows:
    """The selected rows of a split: documents as the model sees them (one line, opening only)."""

    def __init__(self, dataset, text: str, label: str | None, max_chars: int | None) -> None:
        self.dataset, self.text, self.label, self.max_chars = dataset, text, label, max_chars

    def documents(self) -> Iterator[tuple[str, str | None]]:
        columns = [self.text] if self.label is None else [self.text, self.label]
        for batch in self.dataset.select_columns(columns).iter(batch_size=1000):
            labels = batch[self.label] if self.label is not None else [None] * len(batch[self.text])
            for text, label in zip(batch[self.text], labels, strict=True):
                yield (
                    opening(" ".join(text.splitlines()), self.max_chars),
                    None if label is None else str(label),
                )

    def records(self, labels: list[str]) -> Iterator[tuple[str, int | None]]:
        """``(text, label index)`` (index None without labels) for
        :func:`~nlp_rnn.data.token_store.write_documents`."""
        known = {label: index for index, label in enumerate(labels)}
        for text, label in self.documents():
            yield text, _known_label(known, label) if labels else None


def _known_label(known: dict[str, int], label: str | None) -> int:
    from nlp_rnn.errors import NlpRnnError

    if label not in known:
        raise NlpRnnError(f"held-out label {label!r} never occurs in the training rows ({', '.join(known)})")
    return known[label]


def opening(text: str, max_chars: int | None) -> str:
    """``text`` cut to at most ``max_chars`` characters at its last sentence end there (past half
    the limit), else at its last space, else hard; the whole text when it is short enough."""
    if max_chars is None or len(text) <= max_chars:
        return text
    head = text[: max_chars + 1]
    ends = [head.rfind(mark + " ") for mark in ".!?"]
    end = max(ends)
    if end >= max_chars // 2:
        return head[: end + 1]
    space = head.rfind(" ")
    return head[:space] if space > 0 else text[:max_chars]


def _padded(documents, order: int) -> np.ndarray:
    """The documents' ids, each document after ``order - 1`` ``<bos>`` (and no leading ``<eos>``)."""
    from nlp_rnn.text.codec import BOS_ID

    ids = np.asarray(documents.ids[1:], dtype=np.int64)
    starts = documents.offsets[:-1] - 1
    return np.insert(ids, np.repeat(starts, max(order - 1, 1)), BOS_ID)


def _kn_metrics(results: list[dict[str, Any]]) -> Metrics:
    metrics: Metrics = {}
    for result in results:
        metrics[f"dev.kn{result['order']}_ppl"] = round(result["ppl"], 4)
        metrics[f"dev.kn{result['order']}_bpc"] = round(result["bpc"], 4)
    if results:
        best = min(results, key=lambda result: result["ppl"])
        metrics.update(
            {
                "dev.kn_ppl": round(best["ppl"], 4),
                "dev.kn_bpc": round(best["bpc"], 4),
                "dev.kn_order": best["order"],
            }
        )
    return metrics


def _median_rate(train_dir: Path) -> float:
    from nlp_rnn.training.logging_utils import read_jsonl

    rates = [r["tokens_per_s"] for r in read_jsonl(train_dir / "log.jsonl") if r.get("kind") == "train"]
    return float(np.median(rates)) if rates else 0.0
