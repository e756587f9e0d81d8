"""The ``word2vec`` stage: tokenize a mix of corpora into one line corpus, train, evaluate, export.

Outputs (in the stage folder): ``corpus.txt``, the tokenized line corpus, written once and
trained on in gensim's ``corpus_file`` mode; ``evaluation.json`` with the full results. Into the
run's model folder: ``word2vec.txt`` (word2vec text format), ``word2vec.kv`` (gensim's format)
and ``word2vec.json`` (settings, tokenizer, metrics).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pydantic

from nlp_rnn.config import Schema
from nlp_rnn.embeddings.evaluate import ANALOGY_RESTRICT_VOCAB, CoverageSet
from nlp_rnn.embeddings.word2vec import Word2VecSettings
from nlp_rnn.errors import ConfigError
from nlp_rnn.pipeline import Metrics, Stage, StageConfig, StageContext
from nlp_rnn.stages.tokenize import TokenizerSettings

if TYPE_CHECKING:
    from nlp_rnn.text.tokenizers import Tokenizer

CORPUS_FILE = "corpus.txt"
EVALUATION_FILE = "evaluation.json"


class CorpusPart(Schema):
    """One corpus of the training mix: an outside corpus (``source``) or an earlier stage's split."""

    source: str | None = pydantic.Field(None, description="catalog name, local path, or hf:owner/name")
    stage: str | None = pydantic.Field(None, description="an earlier corpus/tokenize stage to read instead")
    split: str = "train"
    column: str = pydantic.Field("text", description="a text column (tokenized here) or a token-list column")
    max_rows: int | None = pydantic.Field(None, ge=1, description="use only the first N rows")
    options: dict[str, Any] = pydantic.Field(default_factory=dict, description="load_corpus options")

    @pydantic.model_validator(mode="after")
    def _one_origin(self) -> CorpusPart:
        if (self.source is None) == (self.stage is None):
            raise ValueError("give exactly one of source and stage")
        return self


class Word2VecConfig(StageConfig, Word2VecSettings):
    """The word2vec hyperparameters (see Word2VecSettings) plus what to train on and report."""

    kind: Literal["word2vec"] = "word2vec"
    corpora: list[CorpusPart] = pydantic.Field(min_length=1, description="concatenated into one line corpus")
    tokenizer: TokenizerSettings = pydantic.Field(default_factory=lambda: TokenizerSettings(lowercase=True))
    seed: int | None = pydantic.Field(None, ge=0, description="default: the pipeline's seed")
    analogy_restrict: int = pydantic.Field(
        ANALOGY_RESTRICT_VOCAB, ge=1, description="top-N words for analogies"
    )
    coverage: list[CoverageSet] = pydantic.Field(
        default_factory=list, description="dev sets to report coverage of"
    )

    @pydantic.field_validator("tokenizer")
    @classmethod
    def _trainable_tokenizer(cls, value: TokenizerSettings) -> TokenizerSettings:
        if value.kind not in ("whitespace", "regex", "spacy"):
            raise ValueError("word2vec tokenizes with whitespace, regex or spacy (word-level tokenizers)")
        return value

    def settings(self) -> Word2VecSettings:
        return Word2VecSettings(**{name: getattr(self, name) for name in Word2VecSettings.model_fields})


class Word2VecStage(Stage):
    """Trains word vectors on the configured corpora and evaluates them."""

    kind = "word2vec"
    Config = Word2VecConfig

    def upstream(self) -> list[str]:
        return [part.stage for part in self.config.corpora if part.stage is not None]

    def input_files(self, data_dir: Path) -> list[Path]:
        from nlp_rnn.data.catalog import CATALOG

        files: list[Path] = []
        sources = [(p.source, p.split, p.options) for p in self.config.corpora if p.source is not None]
        sources += [(c.source, c.split, c.options) for c in self.config.coverage]
        for source, split, options in sources:
            if source in CATALOG:
                from nlp_rnn.data.catalog import catalog_files

                params = {key: value for key, value in options.items() if key in CATALOG[source].params}
                files += catalog_files(source, split, data_dir=data_dir, **params)
            elif Path(source).is_file():
                files.append(Path(source))
            elif Path(source).is_dir():
                files += sorted(
                    p for p in Path(source).iterdir() if p.is_file() and not p.name.startswith(".")
                )
        return files

    def run(self, ctx: StageContext) -> Metrics:
        from nlp_rnn.embeddings.evaluate import evaluate_vectors, result_dict, set_coverage
        from nlp_rnn.embeddings.vectors_io import save_model_vectors
        from nlp_rnn.embeddings.word2vec import train_word2vec
        from nlp_rnn.text.tokenizers import build_tokenizer

        config = self.config
        tokenizer = build_tokenizer(config.tokenizer.kind, **config.tokenizer.options())
        # Parsed corpora are cached inside the stage folder (and removed), never in ~/.cache.
        cache_dir = ctx.out_dir / ".cache"
        started = time.perf_counter()
        corpus_file = self._write_corpus(ctx, tokenizer, cache_dir)
        corpus_seconds = time.perf_counter() - started

        seed = config.seed if config.seed is not None else ctx.seed
        result = train_word2vec(corpus_file, config.settings(), seed=seed)
        kv = result.vectors
        metrics: Metrics = {**result.metrics(), "corpus_seconds": round(corpus_seconds, 3)}
        metrics.update(evaluate_vectors(kv, config.analogy_restrict))
        coverage = {}
        for spec in config.coverage:
            found = set_coverage(kv, spec, tokenizer, ctx.data_dir, cache_dir=cache_dir)
            coverage[spec.name] = result_dict(found)
            metrics.update(found.metrics(prefix=f"{spec.name}."))
        ctx.log.info(
            "word2vec: analogies %.1f%%, WS353 %.3f, SimLex %.3f, %d words",
            100 * metrics["analogy_accuracy"],
            metrics["ws353_spearman"],
            metrics["simlex_spearman"],
            metrics["vocab_size"],
        )
        with open(ctx.out_dir / EVALUATION_FILE, "w", encoding="utf-8") as handle:
            json.dump({"metrics": metrics, "coverage": coverage}, handle, indent=2)
        info = {
            "settings": config.settings().model_dump(mode="json"),
            "seed": seed,
            "tokenizer": {"kind": tokenizer.kind, "options": tokenizer.options()},
            "corpora": [part.model_dump(mode="json") for part in config.corpora],
            "metrics": metrics,
        }
        save_model_vectors(kv, ctx.model_dir, info)
        shutil.rmtree(cache_dir, ignore_errors=True)
        return metrics

    def _write_corpus(self, ctx: StageContext, tokenizer: Tokenizer, cache_dir: Path) -> Path:
        """Tokenize every part into its own file, then concatenate them into ``corpus.txt``."""
        from nlp_rnn.text.corpus_ops import write_line_corpus

        target = ctx.out_dir / CORPUS_FILE
        parts: list[Path] = []
        for index, part in enumerate(self.config.corpora):
            dataset = self._load(ctx, part, cache_dir)
            if part.column not in dataset.column_names:
                origin = part.source or f"stage {part.stage}"
                columns = ", ".join(dataset.column_names)
                raise ConfigError(f"word2vec corpus {origin}: no column {part.column!r}; columns: {columns}")
            pretokenized = _is_token_list(dataset.features[part.column])
            path = ctx.out_dir / f".part{index}.txt"
            lines = write_line_corpus(dataset, None if pretokenized else tokenizer, path, column=part.column)
            ctx.log.info("word2vec corpus: %s (%s): %d lines", part.source or part.stage, part.split, lines)
            parts.append(path)
        with open(target, "wb") as out:
            for path in parts:
                with open(path, "rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 22)
                path.unlink()
        return target

    def _load(self, ctx: StageContext, part: CorpusPart, cache_dir: Path):  # -> datasets.Dataset
        if part.stage is not None:
            from nlp_rnn.stages.corpus import load_split

            dataset = load_split(ctx.input_dir(part.stage), part.split)
        else:
            from nlp_rnn.data.catalog import load_corpus

            dataset = load_corpus(
                part.source, part.split, data_dir=ctx.data_dir, cache_dir=cache_dir, **part.options
            )
        if part.max_rows is not None and len(dataset) > part.max_rows:
            dataset = dataset.select(range(part.max_rows))
        return dataset


def _is_token_list(feature: Any) -> bool:
    """True for a list-of-strings column (already tokenized), false for a string column."""
    import datasets

    sequence_types = tuple(
        getattr(datasets, name) for name in ("Sequence", "List", "LargeList") if hasattr(datasets, name)
    )
    return isinstance(feature, (list, *sequence_types))
