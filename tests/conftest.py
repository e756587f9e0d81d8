"""Shared pytest fixtures: tiny fixture files, the real corpora folder, an isolated HF cache."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from nlp_rnn.data.catalog import default_data_dir

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The folder of tiny hand-written input files."""
    return FIXTURES


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    """The shared real corpora ($NLP_RNN_DATA, else ../shared/corpora); skips when absent."""
    path = default_data_dir()
    if not path.is_dir():
        pytest.skip(f"real corpora not found at {path} (set NLP_RNN_DATA to run these tests)")
    return path


@pytest.fixture(scope="session")
def hf_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A datasets cache shared by the session, so tests never touch ~/.cache."""
    return tmp_path_factory.mktemp("hf_cache")


DEMO_CORPORA = Path(__file__).resolve().parent.parent / "corpora" / "demo"


def train_tiny_tagger(run_dir: Path, samples: list[str]) -> Path:
    """Train a small POS tagger for a few epochs on the demo treebank; returns its model folder."""
    from nlp_rnn.pipeline import load_pipeline, run_pipeline

    pipeline = run_dir / "pipeline.yaml"
    pipeline.write_text(
        f"""
name: tiny_tagger
seed: 5
stages:
  data:
    kind: corpus
    format: conllu
    splits:
      train: {DEMO_CORPORA / "tagged.train.conllu"}
      dev: {DEMO_CORPORA / "tagged.dev.conllu"}
  tagger:
    kind: train_tagger
    input: data
    model: {{word_dim: 16, char_dim: 8, char_filters: 16, hidden_size: 16, num_layers: 2}}
    trainer: {{lr: 0.01, batch_size: 8, max_epochs: 4, tensorboard: false, plot: false}}
    samples: {json.dumps(samples)}
""",
        encoding="utf-8",
    )
    run_pipeline(load_pipeline(pipeline), run_dir / "run")
    return run_dir / "run" / "model"


@pytest.fixture(scope="session")
def tiny_tagger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small POS tagger trained for a few epochs on the demo treebank: its model folder."""
    return train_tiny_tagger(tmp_path_factory.mktemp("tiny_tagger"), ["I book a table."])


@pytest.fixture(scope="session")
def tiny_tagger_without_samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tagger with no raw-text samples to tag, so that training it needs no spaCy
    (the GPU machines' image has none, and only the CUDA tests use this one)."""
    return train_tiny_tagger(tmp_path_factory.mktemp("tiny_tagger_without_samples"), [])


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One intra-op thread for tests of tiny models: they gain nothing from more, and on a busy
    machine spinning OpenMP threads make them several times slower (``usefixtures("one_thread")``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
