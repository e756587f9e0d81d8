"""Tasks: what turns a model into something that trains on a dataset and predicts on text.

Each task module holds the task's data encoding, its batch collation, the evaluate function the
:class:`~nlp_rnn.training.trainer.Trainer` calls, and a predictor that loads a model folder.
A model folder records its task in ``config.json`` (``"task": "classification"``);
:func:`nlp_rnn.api.load_model` reads it to pick the predictor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.fileio import read_json

MODEL_CONFIG_FILE = "config.json"


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
