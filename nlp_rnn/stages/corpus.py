"""The ``corpus`` stage: read a corpus (catalog name, local files or Hub dataset) into Arrow splits."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Literal

import pydantic

from nlp_rnn.pipeline import Metrics, Stage, StageConfig, StageContext

SPLITS_DIR = "splits"


class CorpusConfig(StageConfig):
    kind: Literal["corpus"] = "corpus"
    source: str | None = pydantic.Field(
        None, description="catalog name or hf:owner/name; empty when `splits` names files"
    )
    splits: dict[str, str] = pydantic.Field(
        default_factory=lambda: {"train": "train", "dev": "dev"},
        min_length=1,
        description="our split name -> the source's split name, or a file path when `source` is empty",
    )
    targets: dict[str, str] = pydantic.Field(
        default_factory=dict, description="parallel text from files: split -> target-side file"
    )
    format: str | None = None
    encoding: str | None = None
    skip_invalid: bool = False
    options: dict[str, Any] = pydantic.Field(
        default_factory=dict, description="reader and catalog options (src_lang, columns, strip_html, ...)"
    )
    max_rows: int | None = pydantic.Field(None, ge=1, description="keep only the first N rows of each split")

    @pydantic.model_validator(mode="after")
    def _targets_match_splits(self) -> CorpusConfig:
        unknown = sorted(set(self.targets) - set(self.splits))
        if unknown:
            raise ValueError(f"targets name splits that `splits` does not: {', '.join(unknown)}")
        if self.targets and self.source is not None:
            raise ValueError("targets apply only to files given in `splits` (leave `source` empty)")
        return self


class CorpusStage(Stage):
    """Writes ``splits/<split>/`` (a dataset saved with ``save_to_disk``) for each configured split."""

    kind = "corpus"
    Config = CorpusConfig

    def input_files(self, data_dir: Path) -> list[Path]:
        config = self.config
        if config.source is None:
            return [Path(path) for path in [*config.splits.values(), *config.targets.values()]]
        from nlp_rnn.data.catalog import CATALOG, catalog_files

        if config.source in CATALOG:
            params = {
                key: value for key, value in config.options.items() if key in CATALOG[config.source].params
            }
            return [
                path
                for split in config.splits.values()
                for path in catalog_files(config.source, split, data_dir=data_dir, **params)
            ]
        return []  # a Hub dataset: its name and settings are the fingerprint

    def run(self, ctx: StageContext) -> Metrics:
        from nlp_rnn.data.catalog import load_corpus
        from nlp_rnn.data.readers import read_stats

        config = self.config
        cache_dir = ctx.out_dir / ".cache"
        metrics: Metrics = {}
        for split, value in config.splits.items():
            options = dict(config.options)
            if split in config.targets:
                options["target"] = config.targets[split]
            dataset = load_corpus(
                config.source if config.source is not None else value,
                value if config.source is not None else "train",
                data_dir=ctx.data_dir,
                format=config.format,
                encoding=config.encoding,
                skip_invalid=config.skip_invalid,
                cache_dir=cache_dir,
                **options,
            )
            stats = read_stats(dataset)
            if config.max_rows is not None and len(dataset) > config.max_rows:
                dataset = dataset.select(range(config.max_rows))
            dataset.save_to_disk(str(ctx.out_dir / SPLITS_DIR / split))
            metrics[f"{split}.rows"] = len(dataset)
            if stats is not None and stats.skipped:
                metrics[f"{split}.skipped"] = stats.skipped
            ctx.log.info("%s: %d rows", split, len(dataset))
        shutil.rmtree(cache_dir, ignore_errors=True)
        return metrics


def check_columns(dataset, columns, stage: str, source: str, split: str, hint: str = "") -> None:
    """A clear error when the split ``split`` of stage ``source`` (read by stage ``stage``) lacks
    one of ``columns``; ``hint`` says how to get a split that has them."""
    from nlp_rnn.errors import NlpRnnError

    for column in columns:
        if column not in dataset.column_names:
            raise NlpRnnError(
                f"stage {stage!r}: split {split!r} of {source!r} has no column {column!r}; "
                f"it has {', '.join(dataset.column_names)}" + (f" ({hint})" if hint else "")
            )


def load_split(stage_dir: Path, split: str):  # -> datasets.Dataset
    """Load one split written by a ``corpus`` or ``tokenize`` stage."""
    import datasets

    from nlp_rnn.errors import NlpRnnError

    path = stage_dir / SPLITS_DIR / split
    if not path.is_dir():
        available = ", ".join(stage_splits(stage_dir)) or "none"
        raise NlpRnnError(f"stage {stage_dir.name!r} has no split {split!r}; it has: {available}")
    return datasets.load_from_disk(str(path))


def stage_splits(stage_dir: Path) -> list[str]:
    """The split names a ``corpus`` or ``tokenize`` stage wrote: train, dev, test first."""
    folder = stage_dir / SPLITS_DIR
    names = [p.name for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    order = {"train": 0, "dev": 1, "test": 2}
    return sorted(names, key=lambda name: (order.get(name, 3), name))
