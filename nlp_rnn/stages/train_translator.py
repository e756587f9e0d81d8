"""The ``train_translator`` stage: train SentencePiece subwords and an attention encoder-decoder
on a parallel corpus, select it on dev, score dev with sacreBLEU, and write a model folder.

It reads the ``src`` and ``tgt`` raw-text columns of a ``corpus`` stage (``format: parallel``, or
the ``multi30k`` catalog corpus). Subwords are trained here on the training split (joint or
separate unigram models), so the model folder is self-contained.

Outputs, in the stage folder::

    train/          the Trainer's run: log.jsonl, curves.png, tensorboard/, best/, last/
    evaluation/     report.json (BLEU/chrF/TER with sacreBLEU signatures, beam and greedy, decoding
                    times), dev.beam.txt and dev.greedy.txt (detokenized), attention_<k>.png
    samples.txt     the saved model's translations of the configured sample sentences
    model/[<model_folder>/]   the model folder (see nlp_rnn.tasks.translation)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import pydantic

from nlp_rnn.config import Schema
from nlp_rnn.models.seq2seq import Seq2SeqConfig
from nlp_rnn.pipeline import Metrics, Stage, StageConfig, StageContext
from nlp_rnn.stages.corpus import check_columns, load_split
from nlp_rnn.training.config import TrainerConfig

EVALUATION_DIR = "evaluation"
TRAIN_DIR = "train"
SAMPLES_FILE = "samples.txt"


class SubwordSettings(Schema):
    """The SentencePiece models trained on the training split."""

    vocab_size: int = pydantic.Field(8000, ge=8, description="pieces per model (a soft limit)")
    joint: bool = pydantic.Field(
        True, description="one model for both languages (needed to share embeddings)"
    )
    lowercase: bool = pydantic.Field(False, description="lowercase the text before splitting it")
    character_coverage: float = pydantic.Field(1.0, gt=0, le=1, description="share of characters kept")
    sampled_segmentations: int = pydantic.Field(
        0,
        ge=0,
        description="subword regularization: this many segmentations of each training pair sampled "
        "from the unigram model besides the best one; epoch e reads segmentation e mod (this + 1)",
    )
    sampling_alpha: float = pydantic.Field(
        0.3, gt=0, le=1, description="the sampling's sharpness (Kudo 2018's alpha; 1 = the model's own)"
    )


class SearchSettings(Schema):
    """Beam search's settings, shared by every stage that translates with a trained model."""

    beam_size: int = pydantic.Field(5, ge=1, description="beam width (1: greedy)")
    length_penalty: float = pydantic.Field(1.0, ge=0, description="GNMT's alpha")
    max_len_a: float = pydantic.Field(1.5, gt=0, description="output cap: a * source subwords + b")
    max_len_b: float = pydantic.Field(10, ge=0, description="output cap: a * source subwords + b")
    batch_size: int = pydantic.Field(64, ge=1, description="sentences per decoding batch")


class DecodingSettings(SearchSettings):
    """How dev (and the samples) are translated after training."""

    greedy: bool = pydantic.Field(True, description="also score greedy decoding")


class TranslatorTrainerSettings(TrainerConfig):
    """The Trainer's settings with a translator's defaults: token batches, select on dev perplexity."""

    batch_size: int | None = pydantic.Field(None, ge=1)
    max_tokens: int | None = pydantic.Field(4096, ge=1)
    metric: str = pydantic.Field("ppl", description="dev metric: ppl, nll or loss")
    mode: Literal["min", "max"] = pydantic.Field("min", description="lower perplexity is better")
    seed: int | None = pydantic.Field(None, description="training randomness (null: the pipeline's seed)")


class TrainTranslatorConfig(StageConfig):
    kind: Literal["train_translator"] = "train_translator"
    input: str = pydantic.Field(description="the parallel corpus stage (src and tgt text columns)")
    source: str = pydantic.Field("src", description="its column of source sentences")
    target: str = pydantic.Field("tgt", description="its column of target sentences")
    source_lang: str = pydantic.Field("src", description="the source language's code, recorded in the model")
    target_lang: str = pydantic.Field("tgt", description="the target language's code, recorded in the model")
    train_split: str = "train"
    dev_split: str = "dev"
    max_length: int = pydantic.Field(
        100, ge=1, description="training pairs longer than this (subwords) are dropped"
    )
    subwords: SubwordSettings = pydantic.Field(default_factory=SubwordSettings)
    model: Seq2SeqConfig = pydantic.Field(default_factory=Seq2SeqConfig)
    trainer: TranslatorTrainerSettings = pydantic.Field(default_factory=TranslatorTrainerSettings)
    decoding: DecodingSettings = pydantic.Field(default_factory=DecodingSettings)
    attention_plots: int = pydantic.Field(
        3, ge=0, description="attention heatmaps of the first dev sentences"
    )
    model_folder: str = pydantic.Field(
        "", description="subfolder of <run-dir>/model/ ('' = the folder itself)"
    )
    samples: list[str] = pydantic.Field(
        default_factory=list, description="source sentences to translate at the end"
    )

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> TrainTranslatorConfig:
        if Path(self.model_folder).is_absolute() or ".." in Path(self.model_folder).parts:
            raise ValueError("model_folder must be a relative folder name inside <run-dir>/model/")
        if self.model.share_source_target_embeddings and not self.subwords.joint:
            raise ValueError("model.share_source_target_embeddings needs subwords.joint: true")
        return self


class TrainTranslatorStage(Stage):
    """Trains :class:`~nlp_rnn.models.seq2seq.Seq2Seq`; metrics: dev BLEU (beam, greedy), chrF, TER, ppl."""

    kind = "train_translator"
    Config = TrainTranslatorConfig

    def upstream(self) -> list[str]:
        return [self.config.input]

    def run(self, ctx: StageContext) -> Metrics:
        from nlp_rnn.tasks import WEIGHTS_FILE, load_weights_file
        from nlp_rnn.tasks.translation import (
            TranslationPredictor,
            build_seq2seq,
            encode_pairs,
            encode_resampled_pairs,
            train_subwords,
        )
        from nlp_rnn.training.seeding import seed_everything
        from nlp_rnn.training.trainer import fit_metrics

        config = self.config
        seed = config.trainer.seed if config.trainer.seed is not None else ctx.seed
        source_dir = ctx.input_dir(config.input)
        train_src, train_tgt = self._texts(ctx, source_dir, config.train_split)
        dev_src, dev_tgt = self._texts(ctx, source_dir, config.dev_split)
        settings = config.subwords
        started = time.perf_counter()
        subwords = train_subwords(
            train_src,
            train_tgt,
            vocab_size=settings.vocab_size,
            joint=settings.joint,
            lowercase=settings.lowercase,
            character_coverage=settings.character_coverage,
            seed=seed,
        )
        if settings.sampled_segmentations:
            train = encode_resampled_pairs(
                train_src,
                train_tgt,
                subwords,
                max_length=config.max_length,
                samples=settings.sampled_segmentations,
                alpha=settings.sampling_alpha,
                seed=seed,
            )
        else:
            train = encode_pairs(train_src, train_tgt, subwords, max_length=config.max_length)
        dev = encode_pairs(dev_src, dev_tgt, subwords)
        ctx.log.info(
            "subwords: %d source / %d target pieces (%s) in %.1f s; %d training pairs (%d target "
            "subwords; dropped %d longer than %d, %d with an empty side; %d sampled segmentations "
            "each), %d dev pairs",
            subwords.source.vocab_size,
            subwords.target.vocab_size,
            "joint" if subwords.joint else "separate",
            time.perf_counter() - started,
            len(train),
            train.target_tokens,
            train.too_long,
            config.max_length,
            train.empty,
            settings.sampled_segmentations,
            len(dev),
        )

        seed_everything(seed)  # the same initial weights for the same seed
        model = build_seq2seq(config.model, subwords)
        predictor = TranslationPredictor(model, subwords, config.source_lang, config.target_lang)
        started = time.perf_counter()
        result = self._train(ctx, predictor, train, dev, seed)
        train_seconds = time.perf_counter() - started
        assert result.best_dir is not None  # there is always dev data
        load_weights_file(model, result.best_dir / WEIGHTS_FILE)
        predictor = TranslationPredictor(model.cpu(), subwords, config.source_lang, config.target_lang)
        scores = self._evaluate(ctx, predictor, dev_src, dev_tgt)
        best = result.best_metrics or {}
        metrics: Metrics = {**scores, "dev.ppl": round(float(best.get("ppl", float("nan"))), 4)}
        metrics.update(
            {
                "train_seconds": round(train_seconds, 3),
                "train.pairs": len(train),
                "train.target_tokens": train.target_tokens,
                "train.target_tokens_per_second": round(
                    train.target_tokens * result.epochs / train_seconds, 1
                ),
                **fit_metrics(model, result),
            }
        )
        folder = ctx.model_dir / config.model_folder if config.model_folder else ctx.model_dir
        predictor.save(
            folder, metrics={key: value for key, value in metrics.items() if key.startswith("dev.")}
        )
        if config.samples:
            self._translate_samples(ctx, folder)
        return metrics

    def _texts(self, ctx: StageContext, source_dir: Path, split: str) -> tuple[list[str], list[str]]:
        config = self.config
        dataset = load_split(source_dir, split)
        hint = "read parallel text with a corpus stage"
        check_columns(dataset, (config.source, config.target), ctx.name, config.input, split, hint)
        return list(dataset[self.config.source]), list(dataset[self.config.target])

    def _train(self, ctx: StageContext, predictor, train, dev, seed: int):  # -> FitResult
        """The shared Trainer; every checkpoint is also a model folder."""
        from nlp_rnn.tasks.translation import Collate, ScheduledSampling, evaluate_batches, write_model_files
        from nlp_rnn.training.trainer import Trainer

        config = self.config
        trainer_config = TrainerConfig(**{**config.trainer.model_dump(), "seed": seed})
        p = predictor

        def add_files(folder: Path) -> None:
            write_model_files(folder, p.model, p.subwords, p.source_lang, p.target_lang)

        return Trainer(trainer_config, ctx.out_dir / TRAIN_DIR).fit(
            p.model, train, dev, collate=Collate(), evaluate=evaluate_batches, add_files=add_files,
            callbacks=[ScheduledSampling(p.model)],
        )  # fmt: skip

    def _evaluate(self, ctx: StageContext, predictor, sources: list[str], references: list[str]) -> Metrics:
        """Translate dev with beam (and greedy) search; sacreBLEU scores, outputs, attention plots."""
        from nlp_rnn.evaluation.attention import plot_attention
        from nlp_rnn.evaluation.bleu import translation_scores
        from nlp_rnn.fileio import atomic_file
        from nlp_rnn.tasks import write_json

        decoding = self.config.decoding
        folder = ctx.out_dir / EVALUATION_DIR
        folder.mkdir(parents=True, exist_ok=True)
        searches = {"beam": decoding.beam_size, **({"greedy": 1} if decoding.greedy else {})}
        metrics: Metrics = {}
        report = {}
        for name, beam in searches.items():
            started = time.perf_counter()
            translations = predictor.translate(
                sources,
                beam_size=beam,
                batch_size=decoding.batch_size,
                length_penalty=decoding.length_penalty,
                max_len_a=decoding.max_len_a,
                max_len_b=decoding.max_len_b,
            )
            seconds = time.perf_counter() - started
            hypotheses = [t.text for t in translations]
            with atomic_file(folder / f"dev.{name}.txt", "w", encoding="utf-8", newline="\n") as handle:
                handle.write("".join(h + "\n" for h in hypotheses))
            scores = translation_scores(hypotheses, [references])
            report[name] = {**scores.to_dict(), "beam_size": beam, "decode_seconds": round(seconds, 3)}
            suffix = "" if name == "beam" else "_greedy"
            metrics.update(
                {
                    f"dev.bleu{suffix}": round(scores.bleu, 2),
                    f"dev.chrf{suffix}": round(scores.chrf, 2),
                    f"dev.ter{suffix}": round(scores.ter, 2),
                    f"dev.decode_seconds{suffix}": round(seconds, 3),
                }
            )
            ctx.log.info("dev, %s search (beam %d), %.1f s:\n%s", name, beam, seconds, scores.summary())
        write_json(folder / "report.json", report)
        if self.config.attention_plots:
            chosen = [s for s in sources if s.strip()][: self.config.attention_plots]
            for k, translation in enumerate(
                predictor.translate(chosen, beam_size=decoding.beam_size, return_attention=True), start=1
            ):
                best = translation.candidates[0]
                target_pieces = [piece or "?" for piece in predictor.output_pieces(best.ids)]
                plot_attention(
                    folder / f"attention_{k}.png",
                    translation.source_pieces,
                    target_pieces,
                    best.attention.numpy(),
                    title=translation.source,
                )
        return metrics

    def _translate_samples(self, ctx: StageContext, folder: Path) -> None:
        """Translate the sample sentences with the model loaded back from its folder, as a user would."""
        from nlp_rnn.api import load_model

        predictor = load_model(folder)
        beam = self.config.decoding.beam_size
        lines = [f"{t.source}\t{t.text}" for t in predictor.translate(self.config.samples, beam_size=beam)]
        (ctx.out_dir / SAMPLES_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
        ctx.log.info("the saved model translates the samples:\n  %s", "\n  ".join(lines))
