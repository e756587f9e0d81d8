"""The ``train_classifier`` stage: train a text classifier on a tokenize stage, select it on dev,
evaluate it, and write a self-contained model folder.

It reads the token column and the label column of a ``tokenize`` stage. Vocabularies come from
``vocab`` stages when named (``vocab:``, ``labels:``), else they are built here from the training
rows, which is what a held-out dev set needs (``dev_fraction``): a vocab stage counts the whole
train split, dev rows included.

Outputs, in the stage folder::

    train/          the Trainer's run: log.jsonl, curves.png, tensorboard/, best/, last/
    evaluation/     report.json (accuracy, macro-F1, per-class P/R/F1, confusion counts, mistakes),
                    confusion.png, mistakes.tsv (the most confident wrong predictions on dev)
    samples.tsv     the labels the saved model gives to the configured sample texts
    model/[<model_folder>/]   the model folder (see nlp_rnn.tasks.classification), merged into
                    <run-dir>/model/ by the pipeline runner
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import pydantic

from nlp_rnn.embeddings.embedding_layer import EmbeddingConfig
from nlp_rnn.models.classifier import ClassifierConfig
from nlp_rnn.pipeline import Metrics, Stage, StageConfig, StageContext
from nlp_rnn.stages.corpus import check_columns, load_split
from nlp_rnn.stages.tokenize import TOKENIZER_DIR
from nlp_rnn.stages.vocab import VOCAB_FILE
from nlp_rnn.training.config import TrainerConfig

EVALUATION_DIR = "evaluation"
TRAIN_DIR = "train"
SAMPLES_FILE = "samples.tsv"


class ClassifierTrainerSettings(TrainerConfig):
    """The Trainer's settings with a classifier's defaults: select on dev accuracy."""

    metric: str = pydantic.Field("accuracy", description="dev metric: accuracy, macro_f1 or loss")
    mode: Literal["min", "max"] = pydantic.Field("max", description="max for accuracy/macro_f1, min for loss")
    seed: int | None = pydantic.Field(None, description="training randomness (null: the pipeline's seed)")


class TrainClassifierConfig(StageConfig):
    kind: Literal["train_classifier"] = "train_classifier"
    input: str = pydantic.Field(description="the tokenize stage to read")
    tokens: str = pydantic.Field("tokens", description="its column of token lists")
    label: str = pydantic.Field("label", description="its column of labels")
    text: str | None = pydantic.Field("text", description="raw text column, for listing mistakes")
    vocab: str | None = pydantic.Field(None, description="a vocab stage of the tokens (null: build here)")
    labels: str | None = pydantic.Field(None, description="a label vocab stage (null: build here)")
    min_freq: int = pydantic.Field(1, ge=1, description="building here: keep tokens seen this often")
    max_vocab_size: int | None = pydantic.Field(
        None, ge=3, description="building here: cap, specials included"
    )
    extend_vocab: int = pydantic.Field(
        0,
        ge=0,
        description="also add the N most frequent words of embedding.vectors missing from the vocabulary",
    )
    train_split: str = "train"
    extra_train: list[str] = pydantic.Field(
        default_factory=list,
        description="more tokenize stages whose `train` split is added to the training examples "
        "(e.g. of a teacher_labels stage); dev stays the input's",
    )
    soft_targets: bool = pydantic.Field(
        False,
        description="train towards the `probabilities` of the extra_train rows (a teacher_labels "
        "stage's averaged distributions) instead of their labels",
    )
    dev_split: str | None = pydantic.Field(
        "dev", description="the split to select on (null with dev_fraction)"
    )
    dev_fraction: float | None = pydantic.Field(
        None, gt=0, lt=1, description="hold out this share of the train split as dev instead"
    )
    dev_seed: int | None = pydantic.Field(
        None, description="which rows are held out (null: the pipeline's seed)"
    )
    max_length: int | None = pydantic.Field(
        None, ge=1, description="truncate longer texts to this many tokens"
    )
    truncate: Literal["head", "tail", "head_tail"] = pydantic.Field(
        "head", description="which tokens to keep"
    )
    embedding: EmbeddingConfig = pydantic.Field(default_factory=EmbeddingConfig)
    model: ClassifierConfig = pydantic.Field(default_factory=ClassifierConfig)
    trainer: ClassifierTrainerSettings = pydantic.Field(default_factory=ClassifierTrainerSettings)
    model_folder: str = pydantic.Field(
        "", description="subfolder of <run-dir>/model/ ('' = the folder itself)"
    )
    init_from: str | None = pydantic.Field(
        None,
        description="a trained classifier's model folder to start from (encoder, pooling, the "
        "embedding rows of shared words, and the output layer if the labels agree), or a "
        "train_bilm stage's (encoder and embedding rows)",
    )
    mistakes: int = pydantic.Field(20, ge=0, description="how many confident mistakes to list")
    samples: list[str] = pydantic.Field(
        default_factory=list, description="texts to label with the saved model (logged, and in samples.tsv)"
    )

    @pydantic.model_validator(mode="after")
    def _one_dev_source(self) -> TrainClassifierConfig:
        if (self.dev_split is None) == (self.dev_fraction is None):
            raise ValueError("give exactly one of dev_split and dev_fraction (set the other to null)")
        if self.soft_targets and not self.extra_train:
            raise ValueError("soft_targets trains towards the probabilities of extra_train stages; name them")
        if self.vocab is not None and self.dev_fraction is not None:
            raise ValueError(
                "a vocab stage counts the rows that dev_fraction holds out; leave vocab null to build it here"
            )
        if self.extend_vocab and (self.embedding.vectors is None or self.embedding.one_hot):
            raise ValueError(
                "extend_vocab adds words from embedding.vectors; set vectors (and one_hot: false)"
            )
        if Path(self.model_folder).is_absolute() or ".." in Path(self.model_folder).parts:
            raise ValueError("model_folder must be a relative folder name inside <run-dir>/model/")
        return self


class TrainClassifierStage(Stage):
    """Trains :class:`~nlp_rnn.models.classifier.RNNClassifier`; metrics: dev accuracy, macro-F1, seconds."""

    kind = "train_classifier"
    Config = TrainClassifierConfig

    def upstream(self) -> list[str]:
        config = self.config
        vocabs = [name for name in (config.vocab, config.labels) if name is not None]
        return [config.input, *config.extra_train, *vocabs]

    def input_files(self, data_dir: Path) -> list[Path]:
        files = vectors_files(self.config.embedding.vectors, "embedding.vectors")
        if self.config.init_from is not None:
            folder = Path(self.config.init_from)
            if not (folder / "config.json").is_file():
                from nlp_rnn.errors import ConfigError

                raise ConfigError(
                    f"init_from: {folder} is not a model folder (run the pipeline that makes it first)"
                )
            files += sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        return files

    def run(self, ctx: StageContext) -> Metrics:
        from nlp_rnn.embeddings.embedding_layer import build_embedding
        from nlp_rnn.models.classifier import RNNClassifier
        from nlp_rnn.models.partly_frozen_embedding import PartlyFrozenEmbedding
        from nlp_rnn.tasks.classification import (
            WEIGHTS_FILE,
            ClassificationPredictor,
            InputSettings,
            load_weights_file,
        )
        from nlp_rnn.text.tokenizers import load_tokenizer
        from nlp_rnn.training.seeding import seed_everything
        from nlp_rnn.training.trainer import fit_metrics

        config = self.config
        seed = config.trainer.seed if config.trainer.seed is not None else ctx.seed
        source_dir = ctx.input_dir(config.input)
        train_rows, dev_rows = self._splits(ctx, source_dir)
        gold_rows = len(train_rows)
        extras = self._extra_splits(ctx)
        train_rows = self._with_extra(ctx, train_rows, extras)
        vocab = self._vocab(ctx, train_rows)
        extended = 0
        if config.extend_vocab:
            vocab, extended = self._extend_vocab(ctx, vocab)
        label_vocab = self._label_vocab(ctx, train_rows)
        settings = InputSettings(max_length=config.max_length, truncate=config.truncate)
        train = self._encode(train_rows, vocab, label_vocab, settings, f"{config.input}:{config.train_split}")
        if config.soft_targets:
            train.targets = self._targets(ctx, train, label_vocab, gold_rows, extras)
        dev = self._encode(
            dev_rows, vocab, label_vocab, settings, f"{config.input}:{config.dev_split or 'held-out'}"
        )
        ctx.log.info(
            "%d training examples (%d tokens), %d dev examples, %d words, labels: %s",
            len(train), train.tokens, len(dev), len(vocab), ", ".join(label_vocab.itos),
        )  # fmt: skip

        seed_everything(seed)  # the same initial weights for the same seed
        embedding, coverage = build_embedding(config.embedding, vocab, seed=seed)
        if extended and not config.embedding.freeze:  # the added rows never see a gradient
            embedding = PartlyFrozenEmbedding.split(embedding, trainable_rows=len(vocab) - extended)
        model = RNNClassifier(embedding, len(label_vocab), config.model)
        transfer = self._transfer(ctx, model, vocab, label_vocab) if config.init_from else None
        tokenizer = load_tokenizer(source_dir / TOKENIZER_DIR)
        predictor = ClassificationPredictor(model, tokenizer, vocab, label_vocab, settings)
        started = time.perf_counter()
        result = self._train(ctx, predictor, train, dev, seed)
        train_seconds = time.perf_counter() - started
        assert result.best_dir is not None  # there is always dev data
        load_weights_file(model, result.best_dir / WEIGHTS_FILE)
        report = self._evaluate(ctx, model, dev, dev_rows, label_vocab.itos)

        predictor.model.cpu()
        folder = ctx.model_dir / config.model_folder if config.model_folder else ctx.model_dir
        predictor.save(folder, metrics={**report.metrics(), "train_seconds": round(train_seconds, 3)})
        if config.samples:
            self._label_samples(ctx, folder)

        metrics: Metrics = {
            "dev.accuracy": round(report.accuracy, 6),
            "dev.macro_f1": round(report.macro_f1, 6),
            "dev.loss": round(float(report.loss or 0.0), 6),
            "train_seconds": round(train_seconds, 3),
            "train.examples": len(train),
            "dev.examples": len(dev),
            "vocab_size": len(vocab),
            "vocab_from_vectors": extended,
            **fit_metrics(model, result),
        }
        for name, rows, encoded in (("train", train_rows, train), ("dev", dev_rows, dev)):
            if len(encoded) < len(rows):
                metrics[f"{name}.skipped_empty"] = len(rows) - len(encoded)
        if transfer is not None:
            metrics["init_from.words_copied"] = transfer.words_copied
        if coverage is not None:
            metrics["embedding.type_coverage"] = round(coverage.type_coverage, 6)
            if coverage.token_coverage is not None:
                metrics["embedding.token_coverage"] = round(coverage.token_coverage, 6)
        return metrics

    def _transfer(self, ctx: StageContext, model, vocab, label_vocab):  # -> TransferReport
        """Copy the ``init_from`` classifier's or bidirectional language model's weights into ``model``."""
        from nlp_rnn.tasks import read_model_config
        from nlp_rnn.tasks.bidirectional_lm import TASK as BILM_TASK
        from nlp_rnn.tasks.bidirectional_lm import BidirectionalLMPredictor
        from nlp_rnn.tasks.classification import ClassificationPredictor
        from nlp_rnn.tasks.classifier_transfer import transfer_from_language_model, transfer_weights

        assert self.config.init_from is not None
        if read_model_config(self.config.init_from)["task"] == BILM_TASK:
            language_model = BidirectionalLMPredictor.load(self.config.init_from)
            report = transfer_from_language_model(model, vocab, language_model.model, language_model.vocab)
        else:
            source = ClassificationPredictor.load(self.config.init_from)
            report = transfer_weights(
                model, vocab, label_vocab, source.model, source.vocab, source.label_vocab
            )
        ctx.log.info("initialised from %s: %s", self.config.init_from, report.summary())
        return report

    def _train(self, ctx: StageContext, predictor, train, dev, seed: int):  # -> FitResult
        """The shared Trainer on the predictor's model; every checkpoint is also a model folder."""
        from nlp_rnn.tasks.classification import collate, evaluate_batches, write_model_files
        from nlp_rnn.training.trainer import Trainer

        trainer_config = TrainerConfig(**{**self.config.trainer.model_dump(), "seed": seed})
        p = predictor

        def add_files(folder: Path) -> None:
            write_model_files(folder, p.model, p.tokenizer, p.vocab, p.label_vocab, p.settings)

        return Trainer(trainer_config, ctx.out_dir / TRAIN_DIR).fit(
            p.model, train, dev, collate=collate, evaluate=evaluate_batches, add_files=add_files
        )

    def _evaluate(
        self, ctx: StageContext, model, dev, dev_rows, labels: list[str]
    ):  # -> ClassificationReport
        """Score the selected weights on dev; write report.json, confusion.png and mistakes.tsv."""
        from nlp_rnn.evaluation.classification import confident_mistakes, write_report
        from nlp_rnn.tasks.classification import evaluate_examples

        batch_size, max_tokens = self.config.trainer.eval_batching
        device = next(model.parameters()).device
        report, probabilities = evaluate_examples(
            model, dev, labels, batch_size or 256, max_tokens, device=device
        )
        texts = self._texts(dev_rows, dev.rows)
        mistakes = confident_mistakes(dev.labels, probabilities, labels, texts, self.config.mistakes)
        write_report(ctx.out_dir / EVALUATION_DIR, report, mistakes, title=f"{ctx.name}: dev")
        ctx.log.info("dev accuracy %.4f, macro-F1 %.4f\n%s", report.accuracy, report.macro_f1, report.table())
        return report

    def _label_samples(self, ctx: StageContext, folder: Path) -> None:
        """Label the sample texts with the model loaded back from its folder, as a user would."""
        from nlp_rnn.api import load_model

        predictor = load_model(folder)
        probabilities = predictor.predict_proba(self.config.samples)
        lines = []
        for text, row in zip(self.config.samples, probabilities, strict=True):
            best = int(row.argmax())
            lines.append(f"{predictor.labels[best]}\t{row[best]:.4f}\t{text}")
        (ctx.out_dir / SAMPLES_FILE).write_text("label\tprobability\ttext\n" + "\n".join(lines) + "\n")
        ctx.log.info("the saved model labels the samples:\n  %s", "\n  ".join(lines))

    # --- data --------------------------------------------------------------------------------------

    def _splits(self, ctx: StageContext, source_dir: Path):  # -> (datasets.Dataset, datasets.Dataset)
        """The training rows and the dev rows (a split, or a seeded share of the train split)."""
        config = self.config
        train = load_split(source_dir, config.train_split)
        self._check_columns(ctx, train, config.train_split)
        if config.dev_split is not None:
            dev = load_split(source_dir, config.dev_split)
            self._check_columns(ctx, dev, config.dev_split)
            return train, dev
        assert config.dev_fraction is not None
        seed = config.dev_seed if config.dev_seed is not None else ctx.seed
        kept, held_out = hold_out(len(train), config.dev_fraction, seed)
        return train.select(kept), train.select(held_out)

    def _check_columns(self, ctx: StageContext, dataset, split: str, stage: str | None = None) -> None:
        config = self.config
        check_columns(dataset, (config.tokens, config.label), ctx.name, stage or config.input, split)

    def _extra_splits(self, ctx: StageContext) -> dict:  # -> {stage name: datasets.Dataset}
        """The ``extra_train`` stages' train splits, their token and label columns checked."""
        extras = {}
        for stage in self.config.extra_train:
            extras[stage] = load_split(ctx.input_dir(stage), "train")
            self._check_columns(ctx, extras[stage], "train", stage)
        return extras

    def _with_extra(self, ctx: StageContext, gold_rows, extras: dict):  # -> datasets.Dataset
        """The gold training rows followed by the ``extras``' rows (their token and label columns
        only, the labels cast to the gold column's type)."""
        config = self.config
        if not extras:
            return gold_rows
        import datasets

        from nlp_rnn.errors import NlpRnnError

        columns = [config.tokens, config.label]
        parts = [gold_rows.select_columns(columns)]
        for stage, extra in extras.items():
            try:
                parts.append(extra.select_columns(columns).cast(parts[0].features))
            except (ValueError, TypeError) as exc:  # pyarrow: a label that is not of the gold type
                raise NlpRnnError(
                    f"stage {ctx.name!r}: the {config.label!r} column of stage {stage!r} does not match "
                    f"{config.input!r}'s ({parts[0].features[config.label]}): {exc}".splitlines()[0]
                ) from None
            ctx.log.info("%d more training examples from stage %r", len(extra), stage)
        return datasets.concatenate_datasets(parts)

    def _targets(self, ctx: StageContext, train, label_vocab, gold_rows: int, extras: dict):  # -> np.ndarray
        """Target distributions (N x C) of the training examples: one-hot for the gold rows (the
        first ``gold_rows``), the ``probabilities`` column of the ``extras``' rows."""
        import numpy as np

        from nlp_rnn.errors import NlpRnnError

        targets = np.eye(len(label_vocab), dtype=np.float32)[train.labels]  # N x C
        silver = np.zeros((sum(len(rows) for rows in extras.values()), len(label_vocab)), dtype=np.float32)
        start = 0
        for stage, rows in extras.items():
            feature = rows.features.get("probabilities")
            if not isinstance(feature, dict) or set(feature) != set(label_vocab.itos):
                raise NlpRnnError(
                    f"stage {ctx.name!r}: soft_targets needs a `probabilities` column with one field per "
                    f"label ({', '.join(label_vocab.itos)}) in stage {stage!r} (a teacher_labels stage's)"
                )
            column = rows.with_format("arrow")["probabilities"].combine_chunks()  # pyarrow struct array
            for index, label in enumerate(label_vocab.itos):
                silver[start : start + len(rows), index] = column.field(label).to_numpy(zero_copy_only=False)
            start += len(rows)
        from_silver = train.rows >= gold_rows  # N
        targets[from_silver] = silver[train.rows[from_silver] - gold_rows]
        ctx.log.info("training towards the teachers' probabilities on %d examples", int(from_silver.sum()))
        return targets

    def _vocab(self, ctx: StageContext, train):  # -> Vocab
        from nlp_rnn.errors import NlpRnnError
        from nlp_rnn.text.vocab import Vocab

        config = self.config
        if config.vocab is not None:
            vocab = Vocab.load(ctx.input_dir(config.vocab) / VOCAB_FILE)
            if vocab.pad_id != 0 or vocab.unk_id is None:
                raise NlpRnnError(
                    f"stage {ctx.name!r}: vocab stage {config.vocab!r} has no <pad>/<unk> "
                    "(is it a label vocabulary?)"
                )
            return vocab
        # The classifier needs padding and unknown words only: no sentence markers.
        return vocab_from_rows(train, config.tokens, config.min_freq, config.max_vocab_size)

    def _extend_vocab(self, ctx: StageContext, vocab):  # -> (Vocab, int)
        """Add the most frequent words of the vectors that the vocabulary lacks.

        Words never seen in training would otherwise all share ``<unk>``; with a row of their own
        they keep their pretrained vector (no gradient reaches it), which carries much of their
        meaning, so test sentences lose less to unseen words (Kim 2014 kept such words too).
        """
        from nlp_rnn.embeddings.vectors_io import load_any_vectors
        from nlp_rnn.text.vocab import Vocab

        embedding = self.config.embedding
        assert embedding.vectors is not None  # checked by the config
        vectors = load_any_vectors(embedding.vectors, embedding.vectors_format)
        known = vocab.stoi
        extra = [str(word) for word in vectors.index_to_key[: self.config.extend_vocab] if word not in known]
        ctx.log.info("vocabulary: %d words from training, %d more from the vectors", len(vocab), len(extra))
        ordinary = vocab.itos[len(vocab.specials) :]
        return Vocab([*ordinary, *extra], specials=vocab.specials, freqs=vocab.freqs), len(extra)

    def _label_vocab(self, ctx: StageContext, train):  # -> Vocab
        from collections import Counter

        from nlp_rnn.errors import NlpRnnError
        from nlp_rnn.text.vocab import LABEL_SPECIALS, Vocab

        config = self.config
        if config.labels is not None:
            labels = Vocab.load(ctx.input_dir(config.labels) / VOCAB_FILE)
            if labels.specials:
                raise NlpRnnError(
                    f"stage {ctx.name!r}: {config.labels!r} is not a label vocabulary "
                    "(build it with labels: true)"
                )
        else:
            counts = Counter(str(label) for label in train[config.label])
            # Sorted by name, not frequency: "neg" before "pos", "0" before "1", whatever the data.
            labels = Vocab(sorted(counts), specials=LABEL_SPECIALS, freqs=counts)
        if len(labels) < 2:
            raise NlpRnnError(
                f"stage {ctx.name!r}: the training rows have {len(labels)} label(s); "
                "a classifier needs 2 or more"
            )
        return labels

    def _encode(self, rows, vocab, label_vocab, settings, source: str):  # -> EncodedExamples
        from nlp_rnn.tasks.classification import encode_examples

        config = self.config
        # Token lists stream from Arrow in batches; only the ids are kept, in one flat array.
        token_lists = (tokens for batch in rows.iter(batch_size=10_000) for tokens in batch[config.tokens])
        return encode_examples(
            token_lists,
            vocab,
            rows[config.label],
            label_vocab,
            max_length=settings.max_length,
            truncate=settings.truncate,
            skip_empty=True,  # a text without tokens carries no evidence; counted in the metrics
            source=source,
        )

    def _texts(self, rows, kept) -> list[str]:
        """The raw text of the kept rows (or their tokens joined, without a text column)."""
        column = self.config.text
        if column is not None and column in rows.column_names:
            values = rows[column]
            return [str(values[i]) for i in kept]
        tokens = rows[self.config.tokens]
        return [" ".join(tokens[i]) for i in kept]


def vectors_files(location: str | None, setting: str, missing: str = "") -> list[Path]:
    """The files a ``vectors:`` setting reads (a word2vec run's model folder: the files in it), so
    that a training stage re-runs when the vectors change; a missing path is a config error that
    says ``missing`` (by default: how to get vectors). Any setting naming a model folder will do."""
    if location is None:
        return []
    path = Path(location)
    if not path.exists():
        from nlp_rnn.errors import ConfigError

        hint = (
            missing or f"train vectors first, e.g. with pipelines/word2vec_wiki.yaml, or set {setting}=null"
        )
        raise ConfigError(f"{setting}: {path} not found ({hint})")
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return [path]


def vocab_from_rows(rows, column: str, min_freq: int, max_size: int | None):  # -> Vocab
    """``<pad>``, ``<unk>`` and the words of ``rows``' token column ``column`` (a ``datasets.Dataset``)
    seen at least ``min_freq`` times, most frequent first, at most ``max_size`` in all. Rows are
    read in blocks: memory holds the counts, not the corpus."""
    from collections import Counter

    from nlp_rnn.text.vocab import NO_MARKERS, Vocab

    counts: Counter[str] = Counter()
    for batch in rows.iter(batch_size=10_000):
        for tokens in batch[column]:
            counts.update(tokens)
    return Vocab.build(counts, min_freq=min_freq, max_size=max_size, specials=NO_MARKERS)


def hold_out(rows: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Split ``range(rows)`` into (kept, held out) at random, the same way for the same seed.

    The held-out share is ``round(fraction * rows)`` (at least 1). Both lists are sorted, so both
    parts keep the corpus order (and Arrow reads stay sequential).
    """
    import numpy as np

    from nlp_rnn.errors import NlpRnnError

    held = max(1, round(fraction * rows))
    if held >= rows:
        raise NlpRnnError(f"dev_fraction {fraction} of {rows} rows leaves no training rows")
    order = np.random.default_rng(seed).permutation(rows)
    return np.sort(order[held:]).tolist(), np.sort(order[:held]).tolist()
