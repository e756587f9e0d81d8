"""The ``train_bilm`` stage: pretrain a classifier's encoder as a bidirectional language model on
the unlabelled text of a tokenize stage, and write a model folder that a ``train_classifier``
stage can start from (``init_from``).

Each text is cut into chunks of at most ``chunk_length`` tokens; a seeded share of the rows
(``dev_fraction``) is held out, and the weights with the lowest held-out perplexity are kept.
The vocabulary is built here from the training rows (``min_freq``, ``max_vocab_size``), and the
word vectors start from ``embedding.vectors`` like a classifier's.

Outputs, in the stage folder::

    train/                     the Trainer's run: log.jsonl, curves.png, best/, last/
    heldout.txt                the held-out rows as the model read them (tokens joined by spaces,
                               one row a line): ``nlp-rnn lm-perplexity --model DIR --input
                               heldout.txt`` gives the stage's dev.ppl* again
    model/[<model_folder>/]    the model folder (see nlp_rnn.tasks.bidirectional_lm)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import pydantic

from nlp_rnn.embeddings.embedding_layer import EmbeddingConfig
from nlp_rnn.models.bidirectional_lm import BidirectionalLMConfig
from nlp_rnn.pipeline import Metrics, Stage, StageConfig, StageContext
from nlp_rnn.stages.corpus import check_columns, load_split
from nlp_rnn.stages.tokenize import TOKENIZER_DIR
from nlp_rnn.stages.train_classifier import hold_out, vectors_files, vocab_from_rows
from nlp_rnn.training.config import TrainerConfig

TRAIN_DIR = "train"
HELDOUT_FILE = "heldout.txt"


class BidirectionalLMTrainerSettings(TrainerConfig):
    """The Trainer's settings with a language model's defaults: select on held-out perplexity."""

    metric: str = pydantic.Field("ppl", description="held-out metric: ppl, ppl_forward, ppl_backward or loss")
    mode: Literal["min", "max"] = pydantic.Field("min", description="lower perplexity is better")
    seed: int | None = pydantic.Field(None, description="training randomness (null: the pipeline's seed)")


class TrainBidirectionalLMConfig(StageConfig):
    kind: Literal["train_bilm"] = "train_bilm"
    input: str = pydantic.Field(description="the tokenize stage to read")
    tokens: str = pydantic.Field("tokens", description="its column of token lists")
    split: str = pydantic.Field("train", description="its split to read (labels, if any, are ignored)")
    max_rows: int | None = pydantic.Field(None, ge=2, description="read only the split's first rows")
    dev_fraction: float = pydantic.Field(0.01, gt=0, lt=1, description="share of the rows held out")
    dev_seed: int | None = pydantic.Field(
        None, description="which rows are held out (null: the pipeline's seed)"
    )
    chunk_length: int = pydantic.Field(64, ge=2, description="texts are cut into chunks of this many tokens")
    min_freq: int = pydantic.Field(3, ge=1, description="keep words seen this often in the training rows")
    max_vocab_size: int | None = pydantic.Field(
        None, ge=3, description="cap on the vocabulary, specials included"
    )
    embedding: EmbeddingConfig = pydantic.Field(default_factory=EmbeddingConfig)
    model: BidirectionalLMConfig = pydantic.Field(default_factory=BidirectionalLMConfig)
    trainer: BidirectionalLMTrainerSettings = pydantic.Field(default_factory=BidirectionalLMTrainerSettings)
    model_folder: str = pydantic.Field(
        "", description="subfolder of <run-dir>/model/ ('' = the folder itself)"
    )

    @pydantic.model_validator(mode="after")
    def _checks(self) -> TrainBidirectionalLMConfig:
        if self.embedding.one_hot:
            raise ValueError("a language model needs dense word vectors: set embedding.one_hot: false")
        if Path(self.model_folder).is_absolute() or ".." in Path(self.model_folder).parts:
            raise ValueError("model_folder must be a relative folder name inside <run-dir>/model/")
        return self


class TrainBidirectionalLMStage(Stage):
    """Trains :class:`~nlp_rnn.models.bidirectional_lm.BidirectionalLM`; metrics: held-out
    perplexities, seconds."""

    kind = "train_bilm"
    Config = TrainBidirectionalLMConfig

    def upstream(self) -> list[str]:
        return [self.config.input]

    def input_files(self, data_dir: Path) -> list[Path]:
        return vectors_files(self.config.embedding.vectors, "embedding.vectors")

    def run(self, ctx: StageContext) -> Metrics:
        from nlp_rnn.embeddings.embedding_layer import build_embedding
        from nlp_rnn.models.bidirectional_lm import BidirectionalLM
        from nlp_rnn.tasks import WEIGHTS_FILE, load_weights_file
        from nlp_rnn.tasks.bidirectional_lm import BidirectionalLMPredictor
        from nlp_rnn.text.tokenizers import load_tokenizer
        from nlp_rnn.training.seeding import seed_everything
        from nlp_rnn.training.trainer import fit_metrics

        config = self.config
        seed = config.trainer.seed if config.trainer.seed is not None else ctx.seed
        source_dir = ctx.input_dir(config.input)
        train_rows, dev_rows = self._splits(ctx, source_dir, seed)
        self._write_heldout(ctx, dev_rows)
        vocab = vocab_from_rows(train_rows, config.tokens, config.min_freq, config.max_vocab_size)
        where = f"{config.input}:{config.split}"
        train = self._encode(train_rows, vocab, where)
        dev = self._encode(dev_rows, vocab, f"{where} (held out)")
        ctx.log.info(
            "%d training chunks (%d tokens), %d held-out chunks (%d tokens), %d words",
            len(train), train.tokens, len(dev), dev.tokens, len(vocab),
        )  # fmt: skip
        if len(train) == 0 or len(dev) == 0:
            from nlp_rnn.errors import NlpRnnError

            raise NlpRnnError(
                f"stage {ctx.name!r}: no chunk of two or more tokens to "
                f"{'train on' if len(train) == 0 else 'hold out'} in {where}"
            )

        seed_everything(seed)  # the same initial weights for the same seed
        embedding, coverage = build_embedding(config.embedding, vocab, seed=seed)
        assert vocab.unk_id is not None  # built with <pad> and <unk>
        model = BidirectionalLM(embedding, len(vocab), vocab.unk_id, config.model)
        tokenizer = load_tokenizer(source_dir / TOKENIZER_DIR)
        predictor = BidirectionalLMPredictor(model, tokenizer, vocab, config.chunk_length)
        started = time.perf_counter()
        result = self._train(ctx, predictor, train, dev, seed)
        train_seconds = time.perf_counter() - started
        assert result.best_dir is not None  # there is always held-out text
        load_weights_file(model, result.best_dir / WEIGHTS_FILE)
        assert result.best_metrics is not None  # the validation that chose these weights
        held_out = result.best_metrics
        ctx.log.info(
            "held-out perplexity %.2f (forward %.2f, backward %.2f)",
            held_out["ppl"], held_out["ppl_forward"], held_out["ppl_backward"],
        )  # fmt: skip

        predictor.model.cpu()
        folder = ctx.model_dir / config.model_folder if config.model_folder else ctx.model_dir
        scores = {f"dev.{name}": round(value, 4) for name, value in held_out.items() if name != "tokens"}
        predictor.save(folder, metrics={**scores, "train_seconds": round(train_seconds, 3)})
        metrics: Metrics = {
            **scores,
            "train_seconds": round(train_seconds, 3),
            "train.chunks": len(train),
            "train.tokens": train.tokens,
            "dev.chunks": len(dev),
            "vocab_size": len(vocab),
            "output_words": model.classes,
            **fit_metrics(model, result),
        }
        if coverage is not None:
            metrics["embedding.type_coverage"] = round(coverage.type_coverage, 6)
        return metrics

    def _train(self, ctx: StageContext, predictor, train, dev, seed: int):  # -> FitResult
        """The shared Trainer; every checkpoint is also a model folder."""
        from nlp_rnn.tasks.bidirectional_lm import evaluate_perplexity
        from nlp_rnn.tasks.classification import collate
        from nlp_rnn.training.trainer import Trainer

        trainer_config = TrainerConfig(**{**self.config.trainer.model_dump(), "seed": seed})
        return Trainer(trainer_config, ctx.out_dir / TRAIN_DIR).fit(
            predictor.model,
            train,
            dev,
            collate=collate,
            evaluate=evaluate_perplexity,
            add_files=predictor.write_files,
        )

    def _splits(self, ctx: StageContext, source_dir: Path, seed: int):  # -> (Dataset, Dataset)
        """The training rows and the held-out rows (a seeded share of the split's first rows)."""
        config = self.config
        rows = load_split(source_dir, config.split)
        check_columns(rows, (config.tokens,), ctx.name, config.input, config.split)
        if config.max_rows is not None and config.max_rows < len(rows):
            rows = rows.select(range(config.max_rows))
        kept, held_out = hold_out(
            len(rows), config.dev_fraction, config.dev_seed if config.dev_seed is not None else seed
        )
        return rows.select(kept), rows.select(held_out)

    def _write_heldout(self, ctx: StageContext, rows) -> None:  # rows: Dataset
        """``heldout.txt``: each held-out row's tokens joined by single spaces (white space inside
        a token would split it again, so there is none), rows without tokens left out."""
        from nlp_rnn.fileio import atomic_file

        with atomic_file(ctx.out_dir / HELDOUT_FILE, "w", encoding="utf-8", newline="\n") as handle:
            for batch in rows.iter(batch_size=10_000):
                for tokens in batch[self.config.tokens]:
                    if line := " ".join(" ".join(tokens).split()):
                        handle.write(line + "\n")

    def _encode(self, rows, vocab, source: str):  # -> EncodedExamples
        from nlp_rnn.tasks.bidirectional_lm import encode_chunks

        column = self.config.tokens
        token_lists = (tokens for batch in rows.iter(batch_size=10_000) for tokens in batch[column])
        return encode_chunks(token_lists, vocab, self.config.chunk_length, source=source)
