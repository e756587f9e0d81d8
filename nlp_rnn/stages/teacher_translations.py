"""The ``teacher_translations`` stage: parallel text whose targets are trained translators' outputs.

Sequence-level knowledge distillation (Kim & Rush, 2016): one or more *teacher* translators
(model folders; several decode as one ensemble, averaging their next-token distributions)
translate the source side of a split of a ``corpus`` stage with beam search, and a later
``train_translator`` stage trains a *student* on these pairs, in the hope that one model learns
what the ensemble knows and decodes at one model's cost. (On Multi30k with the CPU recipe as
student it did not pay: README, Distillation.)

Output, in the stage folder: ``splits/<split>/`` with the ``src`` and ``tgt`` columns (the
teachers' translations; with ``keep_original`` the original pairs follow them, so the split has
twice the rows), and every other split of the input copied unchanged, so that the student's dev
set keeps its human references. Sources are translated in blocks, so memory stays bounded by a
block whatever the size of the corpus.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pydantic

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.pipeline import Metrics, Stage, StageConfig, StageContext
from nlp_rnn.stages.corpus import SPLITS_DIR, check_columns, load_split, stage_splits
from nlp_rnn.stages.train_classifier import vectors_files
from nlp_rnn.stages.train_translator import SearchSettings

BLOCK = 2000  # sources translated at a time
SCORED = 50_000  # the teachers are scored against the original targets on at most this many pairs


class TeacherTranslationsConfig(StageConfig, SearchSettings):
    """The search fields (beam_size, length_penalty, max_len_a/b, batch_size) come from SearchSettings."""

    kind: Literal["teacher_translations"] = "teacher_translations"
    input: str = pydantic.Field(description="a corpus stage with parallel text")
    source: str = pydantic.Field("src", description="its source column")
    target: str = pydantic.Field("tgt", description="its target column (replaced by the teachers' outputs)")
    split: str = pydantic.Field("train", description="the split whose sources the teachers translate")
    teachers: list[str] = pydantic.Field(
        min_length=1, description="translator model folders; several decode as one ensemble"
    )
    keep_original: bool = pydantic.Field(
        False, description="the split also keeps the original pairs (after the teachers' ones)"
    )
    batch_size: int = pydantic.Field(128, ge=1, description="sentences per decoding batch")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16", "int8"] = "fp32"


class TeacherTranslationsStage(Stage):
    """Translates a split with teacher translators; metrics: rows, the teachers' BLEU against the
    original targets of that split, lengths, seconds."""

    kind = "teacher_translations"
    Config = TeacherTranslationsConfig

    def upstream(self) -> list[str]:
        return [self.config.input]

    def input_files(self, data_dir: Path) -> list[Path]:
        missing = "train the teacher translators first (see pipelines/translate_multi30k_deen_distilled.yaml)"
        return [f for folder in self.config.teachers for f in vectors_files(folder, "teachers", missing)]

    def run(self, ctx: StageContext) -> Metrics:
        import datasets

        from nlp_rnn.evaluation.bleu import translation_scores
        from nlp_rnn.tasks.translation import TranslationPredictor
        from nlp_rnn.training.trainer import resolve_device

        config = self.config
        source_dir = ctx.input_dir(config.input)
        rows = load_split(source_dir, config.split)
        check_columns(rows, (config.source, config.target), ctx.name, config.input, config.split)
        if not len(rows):
            raise NlpRnnError(f"stage {ctx.name!r}: split {config.split!r} of {config.input!r} has no rows")
        rows = rows.select_columns([config.source, config.target])
        teacher = TranslationPredictor.load_ensemble(
            config.teachers, device=str(resolve_device(config.device))
        )
        outputs: list[str] = []  # the first SCORED translations, for the scores (bounded memory)
        counts = {"rows": 0, "words": 0}
        started = time.perf_counter()

        def pairs() -> Iterator[dict[str, str]]:
            for start in range(0, len(rows), BLOCK):
                sources = [text or "" for text in rows[start : start + BLOCK][config.source]]
                translations = teacher.translate(
                    sources,
                    beam_size=config.beam_size,
                    batch_size=config.batch_size,
                    length_penalty=config.length_penalty,
                    max_len_a=config.max_len_a,
                    max_len_b=config.max_len_b,
                    precision=config.precision,
                )
                for source, translation in zip(sources, translations, strict=True):
                    if len(outputs) < SCORED:
                        outputs.append(translation.text)
                    counts["rows"] += 1
                    counts["words"] += len(translation.text.split())
                    yield {config.source: source, config.target: translation.text}
                ctx.log.info("translated %d of %d sources", min(start + BLOCK, len(rows)), len(rows))
            if config.keep_original:
                for start in range(0, len(rows), BLOCK):
                    block = rows[start : start + BLOCK]
                    for source, target in zip(block[config.source], block[config.target], strict=True):
                        yield {config.source: source or "", config.target: target or ""}

        features = datasets.Features(
            {name: datasets.Value("string") for name in (config.source, config.target)}
        )
        translated = datasets.Dataset.from_generator(
            pairs, features=features, cache_dir=str(ctx.out_dir / ".cache")
        )
        translated.save_to_disk(str(ctx.out_dir / SPLITS_DIR / config.split))
        seconds = time.perf_counter() - started
        del translated
        shutil.rmtree(ctx.out_dir / ".cache", ignore_errors=True)
        for split in stage_splits(source_dir):
            if split != config.split:
                shutil.copytree(source_dir / SPLITS_DIR / split, ctx.out_dir / SPLITS_DIR / split)
        references = [text or "" for text in rows[: len(outputs)][config.target]]
        scores = translation_scores(outputs, [references])
        ctx.log.info(
            "%d sources translated by %d teacher(s) in %.0f s; their BLEU against the original "
            "targets of the first %d: %.2f (%s)",
            counts["rows"], len(config.teachers), seconds, len(outputs), scores.bleu, scores.bleu_signature,
        )  # fmt: skip
        return {
            f"{config.split}.rows": counts["rows"] * (2 if config.keep_original else 1),
            "teachers": len(config.teachers),
            "teacher.bleu": round(scores.bleu, 2),
            "teacher.chrf": round(scores.chrf, 2),
            "teacher.scored_rows": len(outputs),
            "teacher.words": counts["words"],
            "seconds": round(seconds, 3),
        }
