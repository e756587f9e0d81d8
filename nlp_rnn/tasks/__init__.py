"""Tasks: what turns a model into something that trains on a dataset and predicts on text.

Each task module holds the task's data encoding, its batch collation, the evaluate function the
:class:`~nlp_rnn.training.trainer.Trainer` calls, and a predictor that loads a model folder.
A model folder records its task in ``config.json`` (``"task": "classification"``);
:func:`nlp_rnn.api.load_model` reads it to pick the predictor.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.fileio import atomic_file, read_json

MODEL_CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
METRICS_FILE = "metrics.json"


def read_model_config(folder: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a model folder, checked to be a JSON object with a ``task`` string."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NlpRnnError(f"{folder}: model folder not found")
    path = folder / MODEL_CONFIG_FILE
    if not path.is_file():
        inner = sorted(p.name for p in folder.iterdir() if (p / MODEL_CONFIG_FILE).is_file())
        hint = f"; it holds model folders: {', '.join(inner)}" if inner else " (is this a model folder?)"
        raise NlpRnnError(f"{folder}: no {MODEL_CONFIG_FILE}{hint}")
    config = read_json(path)
    if not isinstance(config, dict) or not isinstance(config.get("task"), str):
        raise InputError('expected a JSON object with a "task" string', path)
    return config


def read_task_config(folder: str | Path, task: str, version: int) -> dict[str, Any]:
    """``config.json`` of a model folder of ``task`` in format ``version``; anything else is an error."""
    config = read_model_config(folder)
    if config["task"] != task:
        raise NlpRnnError(
            f"{folder}: config.json says task: {config['task']!r}; this loader reads {task} models"
        )
    if config.get("format_version") != version:
        raise NlpRnnError(
            f"{Path(folder) / MODEL_CONFIG_FILE}: model folder version {config.get('format_version')!r}; "
            f"this nlp-rnn reads version {version}"
        )
    return config


@contextmanager
def config_fields(folder: str | Path, what: str) -> Iterator[None]:
    """Read fields of a model folder's ``config.json`` inside this block: any exception but an
    :class:`NlpRnnError` (pydantic's, KeyError, TypeError, ValueError: all mean a broken config)
    becomes ``InputError("invalid {what} config: ...")`` naming ``config.json``, with the first
    line of the exception's message."""
    try:
        yield
    except NlpRnnError:
        raise
    except Exception as exc:
        raise InputError(
            f"invalid {what} config: {exc}".splitlines()[0], Path(folder) / MODEL_CONFIG_FILE
        ) from None


def require_files(folder: str | Path, *names: str, dirs: Iterable[str] = ()) -> None:
    """Check that a model folder holds the files ``names`` and the folders ``dirs`` (say a saved
    tokenizer); the first one missing, in that order, is an :class:`NlpRnnError` naming it."""
    folder = Path(folder)
    missing = [name for name in names if not (folder / name).is_file()]
    missing += [name for name in dirs if not (folder / name).is_dir()]
    if missing:
        raise NlpRnnError(f"{folder}: the model folder lacks {missing[0]}")


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """A JSON file of a model folder, written atomically."""
    with atomic_file(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.write("\n")


def save_weights(model, folder: Path, metrics: Mapping[str, float] | None = None) -> None:  # model: nn.Module
    """``model.safetensors`` (atomically: a crash leaves no truncated weights) and ``metrics.json``."""
    from safetensors.torch import save_model

    partial = folder / f".{WEIGHTS_FILE}.tmp"
    save_model(model, str(partial))
    os.replace(partial, folder / WEIGHTS_FILE)
    if metrics is not None:
        write_json(folder / METRICS_FILE, dict(metrics))


def load_weights_file(model, path: Path) -> None:  # model: nn.Module
    """Load safetensors weights into ``model``; a truncated or foreign file is a clear error."""
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    try:
        missing, unexpected = load_model(model, str(path), strict=False)
    except (SafetensorError, OSError) as exc:
        raise NlpRnnError(f"{path}: cannot read the weights ({exc}); the file may be truncated") from None
    except RuntimeError as exc:  # shapes differ from config.json's
        raise NlpRnnError(f"{path}: the weights do not fit config.json: {str(exc).splitlines()[0]}") from None
    if missing or unexpected:
        raise NlpRnnError(
            f"{path}: the weights do not fit config.json; "
            f"missing {sorted(missing)}, unexpected {sorted(unexpected)}"
        )
