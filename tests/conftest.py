"""Shared pytest fixtures: tiny fixture files, the real corpora folder, an isolated HF cache."""

from __future__ import annotations

from pathlib import Path

import pytest

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
