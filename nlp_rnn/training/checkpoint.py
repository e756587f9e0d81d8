"""Checkpoint folders: safetensors weights, a tensors-only training state, and JSON beside them.

A checkpoint folder holds::

    model.safetensors     the model's weights (shared tensors stored once)
    training_state.pt     optimizer, schedule, RNG and data-order state; only tensors and plain
                          Python values, so it loads with torch.load(..., weights_only=True)
                          (absent from best/, which is for using the model, not for resuming)
    trainer_state.json    step, epoch, position in the epoch, best metric, ... for humans and tools
    trainer_config.json   the TrainerConfig the run used
    metrics.json          the dev metrics at this step (when the step was validated)

plus whatever files the task adds (vocabulary, model config). Folders are written under a
temporary name and renamed into place, so a crash never leaves a half-written checkpoint.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.fileio import atomic_dir

WEIGHTS_FILE = "model.safetensors"
TRAINING_STATE_FILE = "training_state.pt"
TRAINER_STATE_FILE = "trainer_state.json"
CONFIG_FILE = "trainer_config.json"
METRICS_FILE = "metrics.json"


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    trainer_state: Mapping[str, Any],
    config: Mapping[str, Any],
    training_state: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    add_files: Callable[[Path], None] | None = None,
) -> Path:
    """Write a checkpoint folder at ``path`` atomically, replacing any previous one.

    ``add_files(folder)`` may write task files (vocabulary, model config) into the folder before
    it is renamed into place. If anything fails, the previous checkpoint at ``path`` is kept.
    """
    path = Path(path)
    with atomic_dir(path) as folder:
        # save_model, unlike save_file, copes with tied weights (an embedding shared with the output).
        save_model(model, str(folder / WEIGHTS_FILE))
        if training_state is not None:
            torch.save(dict(training_state), folder / TRAINING_STATE_FILE)
        _write_json(folder / TRAINER_STATE_FILE, trainer_state)
        _write_json(folder / CONFIG_FILE, config)
        if metrics is not None:
            _write_json(folder / METRICS_FILE, metrics)
        if add_files is not None:
            add_files(folder)
    return path


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(dict(data), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def find_checkpoint(path: str | Path) -> Path | None:
    """The complete checkpoint folder at ``path``, or None.

    :func:`nlp_rnn.fileio.atomic_dir` swaps folders in two renames (``last`` -> ``.last.old``, then
    the new one -> ``last``); a crash between them leaves only ``.last.old``, which is still whole.
    """
    path = Path(path)
    for candidate in (path, path.with_name(f".{path.name}.old")):
        if (candidate / TRAINER_STATE_FILE).is_file() and (candidate / WEIGHTS_FILE).is_file():
            return candidate
    return None


def remove_stale_temporaries(folder: str | Path) -> None:
    """Delete half-written checkpoint folders (``.<name>.*.tmp``) left by a killed run."""
    for stale in Path(folder).glob(".*.tmp"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def load_weights(model: nn.Module, path: str | Path, strict: bool = True) -> nn.Module:
    """Load ``model.safetensors`` from checkpoint folder ``path`` into ``model`` (in place)."""
    weights = Path(path) / WEIGHTS_FILE
    if not weights.is_file():
        raise NlpRnnError(f"{weights}: no model weights found (is this a checkpoint folder?)")
    try:
        missing, unexpected = load_model(model, str(weights), strict=False)
    except RuntimeError as exc:  # shapes differ: the model was built with other settings
        raise NlpRnnError(f"{weights}: weights do not fit the model: {exc}") from None
    if strict and (missing or unexpected):
        raise NlpRnnError(
            f"{weights}: weights do not fit the model; "
            f"missing {sorted(missing)}, unexpected {sorted(unexpected)}"
        )
    return model


def load_training_state(path: str | Path) -> dict[str, Any]:
    """The optimizer/schedule/RNG/progress state of checkpoint folder ``path``, loaded safely."""
    state_file = Path(path) / TRAINING_STATE_FILE
    if not state_file.is_file():
        raise NlpRnnError(f"{state_file}: no training state (best/ checkpoints cannot be resumed; use last/)")
    return torch.load(state_file, map_location="cpu", weights_only=True)


def read_json(path: str | Path) -> dict[str, Any]:
    """A JSON file of a checkpoint folder, e.g. ``read_json(folder / TRAINER_STATE_FILE)``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
