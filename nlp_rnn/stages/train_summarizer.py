"""The ``train_summarizer`` stage: a word vocabulary (optionally initialised from word2vec), a
pointer-generator trained on article/headline pairs, ROUGE on dev against first-k baselines, and a
model folder.

It reads the article and headline text columns of a ``corpus`` stage (``format: parallel``, the
``gigaword`` catalog corpus, or ``hf:Harvard/gigaword`` with ``source: document``, ``target:
summary``). Every pass over the training split streams it: the vocabulary is counted line by line
and the encoded pairs go to memory-mapped files in the stage folder, so memory does not grow with
the corpus (the 3.8M-pair Gigaword fits like the 10k sample).

Outputs, in the stage folder::

    pairs/          the encoded training pairs (int32 files, memory-mapped by the Trainer's dataset)
    train/          the Trainer's run: log.jsonl, curves.png, tensorboard/, best/, last/
    evaluation/     report.json (ROUGE with bootstrap intervals for beam, greedy and each first-k
                    baseline; decoding times), dev.beam.txt, dev.greedy.txt
    samples.txt     the saved model's summaries of the configured sample articles
    model/[<model_folder>/]   the model folder (see nlp_rnn.tasks.summarization)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pydantic

from nlp_rnn.config import Schema
from nlp_rnn.models.pointer_generator import PointerGeneratorConfig
from nlp_rnn.pipeline import Metrics, Stage, StageConfig, StageContext
from nlp_rnn.stages.corpus import check_columns, load_split
from nlp_rnn.stages.tokenize import TokenizerSettings
from nlp_rnn.training.config import TrainerConfig

EVALUATION_DIR = "evaluation"
TRAIN_DIR = "train"
PAIRS_DIR = "pairs"
SAMPLES_FILE = "samples.txt"
_STREAM_BATCH = 10_000  # rows read from the Arrow dataset at once


class SummaryDecodingSettings(Schema):
    """How dev (and the samples) are summarized after training."""

    beam_size: int = pydantic.Field(5, ge=1, description="beam width (1: greedy)")
    min_length: int = pydantic.Field(0, ge=0, description="words before the summary may end")
    max_length: int = pydantic.Field(30, ge=1, description="words at most")
    length_penalty: float = pydantic.Field(1.0, ge=0, description="GNMT's alpha")
    no_repeat_ngram_size: int = pydantic.Field(
        0, ge=0, description="block repeated n-grams (0: off; 1: no word twice)"
    )
    ban_unk: bool = pydantic.Field(True, description="never write <unk> (rare words come by copying)")
    batch_size: int = pydantic.Field(64, ge=1, description="articles per decoding batch")
    greedy: bool = pydantic.Field(True, description="also score greedy decoding")

    def options(self, beam_size: int | None = None):  # -> DecodingOptions
        """These settings for the predictor (``beam_size`` overrides the configured width)."""
        from nlp_rnn.tasks.summarization import DecodingOptions

        return DecodingOptions(
            beam_size or self.beam_size, self.min_length, self.max_length, self.length_penalty,
            self.no_repeat_ngram_size, self.batch_size, self.ban_unk,
        )  # fmt: skip


class SummarizerTrainerSettings(TrainerConfig):
    """The Trainer's settings with a summarizer's defaults: token batches, select on dev perplexity."""

    batch_size: int | None = pydantic.Field(None, ge=1)
    max_tokens: int | None = pydantic.Field(3000, ge=1, description="article words per batch")
    metric: str = pydantic.Field("ppl", description="dev metric: ppl, nll or loss")
    mode: Literal["min", "max"] = pydantic.Field("min", description="lower perplexity is better")
    seed: int | None = pydantic.Field(None, description="training randomness (null: the pipeline's seed)")


class TrainSummarizerConfig(StageConfig):
    kind: Literal["train_summarizer"] = "train_summarizer"
    input: str = pydantic.Field(description="the corpus stage of article/headline pairs")
    source: str = pydantic.Field("src", description="its column of articles")
    target: str = pydantic.Field("tgt", description="its column of headlines")
    train_split: str = "train"
    dev_split: str = "dev"
    tokenizer: TokenizerSettings = pydantic.Field(
        default_factory=lambda: TokenizerSettings(kind="whitespace"),
        description="how texts become words (whitespace for pre-tokenized corpora)",
    )
    digits_to_hash: bool = pydantic.Field(True, description="digits become '#' (Gigaword's convention)")
    vocab_size: int = pydantic.Field(20000, ge=8, description="words in the vocabulary, specials included")
    min_freq: int = pydantic.Field(1, ge=1, description="words seen fewer times in training are left out")
    vectors: str | None = pydantic.Field(
        None, description="word2vec vectors (a file or a word2vec run's model folder) for the embeddings"
    )
    vectors_stage: str | None = pydantic.Field(
        None, description="an earlier word2vec stage whose vectors initialise the embeddings"
    )
    max_source_length: int = pydantic.Field(80, ge=1, description="articles are cut to this many words")
    max_target_length: int = pydantic.Field(
        30, ge=1, description="training pairs with longer headlines are dropped"
    )
    model: PointerGeneratorConfig = pydantic.Field(default_factory=PointerGeneratorConfig)
    trainer: SummarizerTrainerSettings = pydantic.Field(default_factory=SummarizerTrainerSettings)
    decoding: SummaryDecodingSettings = pydantic.Field(default_factory=SummaryDecodingSettings)
    lead_baselines: list[int] = pydantic.Field(
        default_factory=lambda: [8, 10, 12, 14], description="first-k-words baselines scored on dev"
    )
    bootstrap_samples: int = pydantic.Field(1000, ge=0, description="resamples for the ROUGE intervals")
    model_folder: str = pydantic.Field(
        "", description="subfolder of <run-dir>/model/ ('' = the folder itself)"
    )
    samples: list[str] = pydantic.Field(default_factory=list, description="articles to summarize at the end")

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> TrainSummarizerConfig:
        if Path(self.model_folder).is_absolute() or ".." in Path(self.model_folder).parts:
            raise ValueError("model_folder must be a relative folder name inside <run-dir>/model/")
        if self.vectors and self.vectors_stage:
            raise ValueError("give vectors or vectors_stage, not both")
        return self


class TrainSummarizerStage(Stage):
    """Trains :class:`~nlp_rnn.models.pointer_generator.PointerGenerator`; metrics: dev ROUGE-1/2/L
    (beam, greedy) with intervals, first-k baselines, perplexity, training time."""

    kind = "train_summarizer"
    Config = TrainSummarizerConfig

    def upstream(self) -> list[str]:
        return [self.config.input, *([self.config.vectors_stage] if self.config.vectors_stage else [])]

    def run(self, ctx: StageContext) -> Metrics:
        from nlp_rnn.tasks import WEIGHTS_FILE, load_weights_file
        from nlp_rnn.tasks.summarization import (
            SummarizationPredictor,
            TextSettings,
            build_model,
            build_vocab,
            encode_pairs,
        )
        from nlp_rnn.text.tokenizers import build_tokenizer
        from nlp_rnn.training.seeding import seed_everything
        from nlp_rnn.training.trainer import fit_metrics

        config = self.config
        seed = config.trainer.seed if config.trainer.seed is not None else ctx.seed
        corpus = ctx.input_dir(config.input)
        train_split, dev_split = load_split(corpus, config.train_split), load_split(corpus, config.dev_split)
        for split, dataset in ((config.train_split, train_split), (config.dev_split, dev_split)):
            hint = "read article/headline pairs with a corpus stage (format: parallel)"
            check_columns(dataset, (config.source, config.target), ctx.name, config.input, split, hint)
        tokenizer = build_tokenizer(config.tokenizer.kind, **config.tokenizer.options())
        text = TextSettings(tokenizer, config.digits_to_hash)

        started = time.perf_counter()
        vocab = build_vocab(
            _stream(train_split, config.source), _stream(train_split, config.target), text,
            max_size=config.vocab_size, min_freq=config.min_freq,
        )  # fmt: skip
        train = encode_pairs(
            _stream(train_split, config.source), _stream(train_split, config.target), vocab, text,
            folder=ctx.out_dir / PAIRS_DIR / config.train_split,
            max_source_length=config.max_source_length, max_target_length=config.max_target_length,
        )  # fmt: skip
        dev = encode_pairs(
            _stream(dev_split, config.source), _stream(dev_split, config.target), vocab, text,
            folder=ctx.out_dir / PAIRS_DIR / config.dev_split, max_source_length=config.max_source_length,
        )  # fmt: skip
        ctx.log.info(
            "vocabulary: %d words; %d training pairs (%d article words; dropped %d with a headline "
            "over %d words, %d with an empty side), %d dev pairs, in %.1f s",
            len(vocab), len(train), train.source_tokens, train.too_long, config.max_target_length,
            train.empty, len(dev), time.perf_counter() - started,
        )  # fmt: skip

        seed_everything(seed)  # the same initial weights for the same seed
        architecture, initial_embedding = self._architecture(ctx, vocab, seed)
        model = build_model(architecture, vocab)
        if initial_embedding is not None:
            for embedding in (model.source_embedding, model.target_embedding):
                embedding.weight.data.copy_(initial_embedding)
        predictor = SummarizationPredictor(model, vocab, text, config.max_source_length)
        started = time.perf_counter()
        result = self._train(ctx, predictor, train, dev, seed)
        train_seconds = time.perf_counter() - started
        assert result.best_dir is not None  # there is always dev data
        load_weights_file(model, result.best_dir / WEIGHTS_FILE)
        predictor = SummarizationPredictor(model.cpu(), vocab, text, config.max_source_length)
        articles, references = (
            list(_stream(dev_split, config.source)),
            list(_stream(dev_split, config.target)),
        )
        metrics = self._evaluate(ctx, predictor, articles, references, seed)
        best = result.best_metrics or {}
        metrics.update(
            {
                "dev.ppl": round(float(best.get("ppl", float("nan"))), 4),
                "train_seconds": round(train_seconds, 3),
                "train.pairs": len(train),
                "train.target_tokens": train.target_tokens,
                "train.source_tokens_per_second": round(
                    train.source_tokens * result.epochs / train_seconds, 1
                ),
                "vocab_size": len(vocab),
                **fit_metrics(model, result),
            }
        )
        folder = ctx.model_dir / config.model_folder if config.model_folder else ctx.model_dir
        predictor.save(
            folder, metrics={key: value for key, value in metrics.items() if key.startswith("dev.")}
        )
        if config.samples:
            self._summarize_samples(ctx, folder)
        return metrics

    def _architecture(
        self, ctx: StageContext, vocab, seed: int
    ):  # -> (PointerGeneratorConfig, Tensor | None)
        """The model config (its embedding size set to the vectors' when there are vectors) and the
        initial embedding matrix from word2vec, or None."""
        from nlp_rnn.embeddings.embedding_layer import embedding_from_vectors
        from nlp_rnn.embeddings.vectors_io import load_any_vectors

        config = self.config
        location = config.vectors or (
            ctx.input_dir(config.vectors_stage) / "model" if config.vectors_stage else None
        )
        if location is None:
            return config.model, None
        vectors = load_any_vectors(location)
        embedding, report = embedding_from_vectors(vocab, vectors, seed=seed)
        ctx.log.info("embeddings from %s: %s", location, report.summary())
        architecture = config.model.model_copy(update={"embedding_dim": vectors.vector_size})
        return PointerGeneratorConfig.model_validate(architecture.model_dump()), embedding.weight.data

    def _train(self, ctx: StageContext, predictor, train, dev, seed: int):  # -> FitResult
        """The shared Trainer, batching by article length; every checkpoint is also a model folder."""
        from nlp_rnn.tasks.summarization import Collate, evaluate_batches, write_model_files
        from nlp_rnn.tasks.translation import ScheduledSampling
        from nlp_rnn.training.trainer import Trainer

        config = self.config
        trainer_config = TrainerConfig(**{**config.trainer.model_dump(), "seed": seed})
        p = predictor

        def add_files(folder: Path) -> None:
            write_model_files(folder, p.model, p.vocab, p.text, p.max_source_length)

        def article_lengths(pairs) -> list[int]:
            return (pairs.source_offsets[1:] - pairs.source_offsets[:-1]).tolist()

        return Trainer(trainer_config, ctx.out_dir / TRAIN_DIR).fit(
            p.model, train, dev, collate=Collate(len(p.vocab)), evaluate=evaluate_batches,
            lengths=article_lengths(train), dev_lengths=article_lengths(dev), add_files=add_files,
            callbacks=[ScheduledSampling(p.model)],
        )  # fmt: skip

    def _evaluate(
        self, ctx: StageContext, predictor, articles: list[str], references: list[str], seed: int
    ) -> Metrics:
        """Summarize dev with beam (and greedy) search; ROUGE for them and the first-k baselines."""
        from nlp_rnn.evaluation.rouge import lead, rouge
        from nlp_rnn.fileio import atomic_file
        from nlp_rnn.tasks import write_json

        config = self.config
        decoding = config.decoding
        folder = ctx.out_dir / EVALUATION_DIR
        folder.mkdir(parents=True, exist_ok=True)
        searches = {"beam": decoding.beam_size, **({"greedy": 1} if decoding.greedy else {})}
        metrics: Metrics = {}
        report: dict[str, dict] = {}
        for name, beam in searches.items():
            options = decoding.options(beam)
            started = time.perf_counter()
            summaries = predictor.summarize(articles, options)
            seconds = time.perf_counter() - started
            hypotheses = [summary.text for summary in summaries]
            with atomic_file(folder / f"dev.{name}.txt", "w", encoding="utf-8", newline="\n") as handle:
                handle.write("".join(h + "\n" for h in hypotheses))
            scores = rouge(hypotheses, references, samples=config.bootstrap_samples, seed=seed)
            words = sum(len(summary.words) for summary in summaries) / max(len(summaries), 1)
            report[name] = {
                **scores.to_dict(), "beam_size": beam, "decode_seconds": round(seconds, 3),
                "mean_words": round(words, 2), "copied_words": sum(s.copied for s in summaries),
            }  # fmt: skip
            suffix = "" if name == "beam" else "_greedy"
            for metric in ("rouge1", "rouge2", "rougeL"):
                metrics[f"dev.{metric}{suffix}"] = scores.scores[metric].f1
            metrics[f"dev.decode_seconds{suffix}"] = round(seconds, 3)
            ctx.log.info("dev, %s search (beam %d), %.1f s:\n%s", name, beam, seconds, scores.summary())
        best_lead = None
        for k in config.lead_baselines:
            scores = rouge(lead(articles, k), references, samples=config.bootstrap_samples, seed=seed)
            report[f"lead{k}"] = scores.to_dict()
            for metric in ("rouge1", "rouge2", "rougeL"):
                metrics[f"dev.lead{k}.{metric}"] = scores.scores[metric].f1
            if best_lead is None or scores.scores["rouge1"].f1 > metrics[f"dev.lead{best_lead}.rouge1"]:
                best_lead = k
        if best_lead is not None:
            metrics["dev.best_lead_words"] = best_lead
            metrics["dev.rouge1_over_best_lead"] = round(
                metrics["dev.rouge1"] - metrics[f"dev.lead{best_lead}.rouge1"], 2
            )
            ctx.log.info(
                "best first-k baseline on dev: k=%d, ROUGE-1 %.2f; the model is %+.2f points above it",
                best_lead, metrics[f"dev.lead{best_lead}.rouge1"], metrics["dev.rouge1_over_best_lead"],
            )  # fmt: skip
        write_json(folder / "report.json", report)
        return metrics

    def _summarize_samples(self, ctx: StageContext, folder: Path) -> None:
        """Summarize the sample articles with the model loaded back from its folder, as a user would."""
        from nlp_rnn.api import load_model

        predictor = load_model(folder)
        summaries = predictor.summarize(self.config.samples, self.config.decoding.options())
        lines = [f"{a}\t{s.text}" for a, s in zip(self.config.samples, summaries, strict=True)]
        (ctx.out_dir / SAMPLES_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
        ctx.log.info("the saved model summarizes the samples:\n  %s", "\n  ".join(lines))


def _stream(dataset, column: str) -> Iterator[str]:  # dataset: datasets.Dataset
    """One column's values, read in batches (an Arrow dataset is memory-mapped; this keeps it so)."""
    for batch in dataset.iter(batch_size=_STREAM_BATCH):
        yield from batch[column]
