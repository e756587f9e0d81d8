"""One seed for every random number generator, deterministic kernels, and RNG states as tensors.

The states are converted to tensors and plain numbers so that a checkpoint holding them loads with
``torch.load(..., weights_only=True)``: no pickled NumPy arrays or tuples of unknown classes.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

# cuBLAS needs a fixed workspace to be deterministic; this is the setting PyTorch's docs recommend.
CUBLAS_WORKSPACE = ":4096:8"


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator, and torch on the CPU and every GPU."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


@dataclass(frozen=True)
class DeterminismSettings:
    """The process-wide switches :func:`set_deterministic` changes, to put them back afterwards."""

    algorithms: bool
    warn_only: bool
    cudnn_deterministic: bool
    cudnn_benchmark: bool


def set_deterministic(enabled: bool) -> DeterminismSettings:
    """Turn deterministic kernels on or off; return the previous settings for :func:`restore_determinism`.

    On: ``torch.use_deterministic_algorithms(True)`` (an operation without a deterministic
    implementation raises), cuDNN deterministic without autotuning, and ``CUBLAS_WORKSPACE_CONFIG``
    (only effective if no cuBLAS handle exists yet, hence set before the model's first matmul).
    CPU training is deterministic without this for a fixed number of threads.
    """
    previous = DeterminismSettings(
        algorithms=torch.are_deterministic_algorithms_enabled(),
        warn_only=torch.is_deterministic_algorithms_warn_only_enabled(),
        cudnn_deterministic=torch.backends.cudnn.deterministic,
        cudnn_benchmark=torch.backends.cudnn.benchmark,
    )
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return previous


def restore_determinism(settings: DeterminismSettings) -> None:
    """Put back what :func:`set_deterministic` returned."""
    torch.use_deterministic_algorithms(settings.algorithms, warn_only=settings.warn_only)
    torch.backends.cudnn.deterministic = settings.cudnn_deterministic
    torch.backends.cudnn.benchmark = settings.cudnn_benchmark


def get_rng_state() -> dict[str, Any]:
    """Every generator's state as tensors and plain numbers (``weights_only``-loadable)."""
    version, mt_words, gauss_next = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {
            "version": version,
            "state": torch.tensor(mt_words, dtype=torch.int64),  # 625 words < 2**32
            "gauss_next": gauss_next,
        },
        "numpy": {
            "name": np_name,
            "keys": torch.from_numpy(np_keys.astype(np.int64)),  # 624 uint32 words
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached_gaussian": float(np_gauss),
        },
        "torch": torch.get_rng_state(),  # uint8 bytes
        # Only when CUDA is in use: querying it would otherwise create a CUDA context for nothing.
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
    }
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` returned.

    CUDA states are restored only when the number of visible GPUs matches the saved one.
    """
    python = state["python"]
    words = tuple(int(word) for word in python["state"].tolist())
    random.setstate((python["version"], words, python["gauss_next"]))
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["name"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    cuda_states = state.get("cuda") or []
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)
