"""The ``vocab`` stage: build a vocabulary from a token (or label) column and report dev coverage."""

from __future__ import annotations

from collections import Counter
from typing import Literal

import pydantic

from nlp_rnn.pipeline import Metrics, Stage, StageConfig, StageContext
from nlp_rnn.stages.corpus import load_split, stage_splits

VOCAB_FILE = "vocab.json"


class VocabConfig(StageConfig):
    kind: Literal["vocab"] = "vocab"
    input: str = pydantic.Field(description="a tokenize (or corpus) stage")
    column: str = pydantic.Field("tokens", description="a column of token lists, or of labels")
    labels: bool = pydantic.Field(False, description="a label vocabulary: no <pad>/<unk>/<bos>/<eos>")
    min_freq: int = pydantic.Field(1, ge=1)
    max_size: int | None = pydantic.Field(None, ge=5, description="cap, specials included")
    train_split: str = "train"


class VocabStage(Stage):
    """Writes ``vocab.json``; metrics: size and, for every other split, token and type OOV rates."""

    kind = "vocab"
    Config = VocabConfig

    def upstream(self) -> list[str]:
        return [self.config.input]

    def run(self, ctx: StageContext) -> Metrics:
        from nlp_rnn.text.vocab import SPECIALS, Vocab

        config = self.config
        source_dir = ctx.input_dir(config.input)
        counts = self._count(load_split(source_dir, config.train_split), ctx.name)
        specials = () if config.labels else SPECIALS
        vocab = Vocab.build(counts, min_freq=config.min_freq, max_size=config.max_size, specials=specials)
        vocab.save(ctx.out_dir / VOCAB_FILE)
        metrics: Metrics = {"size": len(vocab), "train.types": len(counts)}
        for split in stage_splits(source_dir):
            if split == config.train_split:
                continue
            coverage = vocab.coverage(self._count(load_split(source_dir, split), ctx.name))
            metrics[f"{split}.token_oov_rate"] = round(coverage["token_oov_rate"], 6)
            metrics[f"{split}.type_oov_rate"] = round(coverage["type_oov_rate"], 6)
        return metrics

    def _count(self, dataset, stage_name: str) -> Counter[str]:
        """Stream the column in batches: memory holds the counts, not the corpus."""
        from nlp_rnn.errors import NlpRnnError

        column = self.config.column
        if column not in dataset.column_names:
            raise NlpRnnError(
                f"stage {stage_name!r}: no column {column!r} in {self.config.input!r}; "
                f"it has {', '.join(dataset.column_names)}"
            )
        counts: Counter[str] = Counter()
        for batch in dataset.iter(batch_size=10_000):
            values = batch[column]
            if values and isinstance(values[0], list):
                for tokens in values:
                    counts.update(tokens)
            else:
                counts.update(str(value) for value in values)
        return counts
