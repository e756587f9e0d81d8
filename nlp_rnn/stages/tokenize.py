"""The ``tokenize`` stage: add token columns to every split of a corpus stage.

A SentencePiece tokenizer is trained here, on the train split of the named columns (one joint
model when several columns are given; use one stage per column for separate models).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pydantic

from nlp_rnn.config import Schema
from nlp_rnn.pipeline import Metrics, Stage, StageConfig, StageContext
from nlp_rnn.stages.corpus import SPLITS_DIR, check_columns, load_split, stage_splits

TOKENIZER_DIR = "tokenizer"


class TokenizerSettings(Schema):
    """Which tokenizer, and its options (each applies to the kinds named in its description)."""

    kind: Literal["whitespace", "regex", "char", "spacy", "sentencepiece"] = "regex"
    lowercase: bool = False
    pattern: str | None = pydantic.Field(None, description="regex: token pattern (default: the built-in one)")
    lang: str = pydantic.Field("en", description="spacy: language code for spacy.blank")
    vocab_size: int = pydantic.Field(8000, ge=16, description="sentencepiece: pieces in the model")
    model_type: Literal["unigram", "bpe"] = "unigram"
    character_coverage: float = pydantic.Field(1.0, gt=0, le=1, description="sentencepiece")
    byte_fallback: bool = pydantic.Field(False, description="sentencepiece: unknown characters as bytes")

    def options(self) -> dict[str, object]:
        """The keyword arguments ``build_tokenizer`` takes for this kind."""
        if self.kind == "regex":
            return {"lowercase": self.lowercase, **({"pattern": self.pattern} if self.pattern else {})}
        if self.kind == "spacy":
            return {"lowercase": self.lowercase, "lang": self.lang}
        return {"lowercase": self.lowercase}


class TokenizeConfig(StageConfig):
    kind: Literal["tokenize"] = "tokenize"
    input: str = pydantic.Field(description="the corpus stage to read")
    columns: dict[str, str] = pydantic.Field(
        default_factory=lambda: {"text": "tokens"},
        min_length=1,
        description="text column -> new token column",
    )
    tokenizer: TokenizerSettings = pydantic.Field(default_factory=TokenizerSettings)
    train_split: str = pydantic.Field("train", description="sentencepiece: the split it is trained on")
    num_proc: int | None = pydantic.Field(None, ge=1, description="worker processes (default: all cores)")


class TokenizeStage(Stage):
    """Writes ``splits/<split>/`` with the added token columns, and ``tokenizer/``."""

    kind = "tokenize"
    Config = TokenizeConfig

    def upstream(self) -> list[str]:
        return [self.config.input]

    def run(self, ctx: StageContext) -> Metrics:
        import pyarrow.compute as pc

        from nlp_rnn.text.corpus_ops import tokenize_dataset

        config = self.config
        source_dir = ctx.input_dir(config.input)
        tokenizer = self._tokenizer(source_dir)
        tokenizer.save(ctx.out_dir / TOKENIZER_DIR)
        metrics: Metrics = {}
        for split in stage_splits(source_dir):
            dataset = load_split(source_dir, split)
            for column, output in config.columns.items():
                check_columns(dataset, [column], ctx.name, config.input, split)
                dataset = tokenize_dataset(dataset, tokenizer, column, output, num_proc=config.num_proc)
                lengths = pc.list_value_length(dataset.data.column(output))
                metrics[f"{split}.{output}"] = int(pc.sum(lengths).as_py() or 0)
            dataset.save_to_disk(str(ctx.out_dir / SPLITS_DIR / split))
        return metrics

    def _tokenizer(self, source_dir: Path):
        from nlp_rnn.text.tokenizers import SentencePieceTokenizer, build_tokenizer

        settings = self.config.tokenizer
        if settings.kind != "sentencepiece":
            return build_tokenizer(settings.kind, **settings.options())
        train = load_split(source_dir, self.config.train_split)

        def texts():
            for batch in train.iter(batch_size=1000):
                for column in self.config.columns:
                    yield from batch[column]

        return SentencePieceTokenizer.train(
            texts(),
            vocab_size=settings.vocab_size,
            model_type=settings.model_type,
            character_coverage=settings.character_coverage,
            byte_fallback=settings.byte_fallback,
            lowercase=settings.lowercase,
        )
