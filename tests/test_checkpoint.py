"""Checkpoint folders: safe loading, atomic replacement, recovery, and RNG states as tensors."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from training_helpers import TinyClassifier, state_dicts_equal

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.training.checkpoint import (
    TRAINER_STATE_FILE,
    TRAINING_STATE_FILE,
    WEIGHTS_FILE,
    find_checkpoint,
    load_training_state,
    load_weights,
    read_json,
    remove_stale_temporaries,
    save_checkpoint,
)
from nlp_rnn.training.seeding import get_rng_state, seed_everything, set_rng_state


def _draws() -> tuple[float, float, torch.Tensor]:
    return random.random(), float(np.random.rand()), torch.rand(3)


def _save(path: Path, model: torch.nn.Module, step: int, **kwargs) -> Path:
    optimizer = torch.optim.AdamW(model.parameters())
    model(_batch())["loss"].backward()
    optimizer.step()
    training_state = {"optimizer": optimizer.state_dict(), "rng": [get_rng_state()], "step": step}
    return save_checkpoint(
        path, model, {"step": step}, {"lr": 0.1}, training_state, {"accuracy": 0.5}, **kwargs
    )


def _batch() -> dict[str, torch.Tensor]:
    return {
        "ids": torch.tensor([[2, 3, 4], [5, 6, 0]]),
        "lengths": torch.tensor([3, 2]),
        "labels": torch.tensor([1, 0]),
    }


def test_rng_state_round_trip_repeats_every_generator() -> None:
    seed_everything(7)
    random.gauss(0, 1)  # leaves a cached Gaussian in Python's generator state
    state = get_rng_state()
    first = _draws()
    set_rng_state(state)
    second = _draws()
    assert first[:2] == second[:2] and torch.equal(first[2], second[2])


def test_training_state_loads_with_weights_only(tmp_path: Path) -> None:
    model = TinyClassifier()
    folder = _save(tmp_path / "last", model, step=3)
    assert {p.name for p in folder.iterdir()} >= {WEIGHTS_FILE, TRAINING_STATE_FILE, TRAINER_STATE_FILE}
    # The strict loader: it refuses anything but tensors and plain Python values.
    raw = torch.load(folder / TRAINING_STATE_FILE, weights_only=True)
    assert raw["step"] == 3 and "state" in raw["optimizer"]
    assert load_training_state(folder)["rng"][0]["torch"].dtype == torch.uint8
    restored = load_weights(TinyClassifier(seed=1), folder)
    assert state_dicts_equal(restored.state_dict(), model.state_dict())
    assert read_json(folder / TRAINER_STATE_FILE) == {"step": 3}


def test_failure_while_writing_keeps_previous_checkpoint(tmp_path: Path) -> None:
    model = TinyClassifier()
    _save(tmp_path / "last", model, step=1)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}

    def crash(folder: Path) -> None:
        assert (folder / WEIGHTS_FILE).is_file()  # the new weights were already half-way there
        raise OSError("disk full")

    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)
    with pytest.raises(OSError, match="disk full"):
        _save(tmp_path / "last", model, step=2, add_files=crash)
    assert read_json(tmp_path / "last" / TRAINER_STATE_FILE) == {"step": 1}
    assert state_dicts_equal(load_weights(TinyClassifier(seed=3), tmp_path / "last").state_dict(), before)
    assert [p.name for p in tmp_path.iterdir()] == ["last"]  # no temporary folder left behind


def test_add_files_lands_in_the_checkpoint(tmp_path: Path) -> None:
    folder = _save(
        tmp_path / "best", TinyClassifier(), 1, add_files=lambda f: (f / "vocab.txt").write_text("a\n")
    )
    assert (folder / "vocab.txt").read_text() == "a\n"


def test_find_checkpoint_falls_back_to_the_swapped_out_folder(tmp_path: Path) -> None:
    assert find_checkpoint(tmp_path / "last") is None
    _save(tmp_path / "last", TinyClassifier(), step=1)
    # A crash between atomic_dir's two renames leaves only the old folder, under .last.old.
    (tmp_path / "last").rename(tmp_path / ".last.old")
    assert find_checkpoint(tmp_path / "last") == tmp_path / ".last.old"


def test_stale_temporaries_are_removed(tmp_path: Path) -> None:
    (tmp_path / ".last.abc123.tmp").mkdir()
    (tmp_path / "last").mkdir()
    remove_stale_temporaries(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["last"]


def test_weights_that_do_not_fit_are_an_error(tmp_path: Path) -> None:
    _save(tmp_path / "last", TinyClassifier(), step=1)
    with pytest.raises(NlpRnnError, match="do not fit"):
        load_weights(TinyClassifier(hidden=4), tmp_path / "last")
    with pytest.raises(NlpRnnError, match="no model weights"):
        load_weights(TinyClassifier(), tmp_path)
    with pytest.raises(NlpRnnError, match="no training state"):
        load_training_state(tmp_path)


def test_tied_weights_are_saved_once_and_restored(tmp_path: Path) -> None:
    class Tied(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(5, 3)
            self.output = torch.nn.Linear(3, 5, bias=False)
            self.output.weight = self.embedding.weight

    model = Tied()
    save_checkpoint(tmp_path / "best", model, {}, {})
    restored = load_weights(Tied(), tmp_path / "best")
    assert torch.equal(restored.embedding.weight, model.embedding.weight)
    assert restored.output.weight is restored.embedding.weight
