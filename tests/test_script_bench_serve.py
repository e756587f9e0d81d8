"""scripts/bench_serve.py, bench_torch_threads.py and bench_classifier_paths.py end to end on a tiny
classifier and the SST-2 dev sentences: they run, and report what they measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from script_module import load_script
from test_task_classification import make_model_folder


@pytest.fixture
def model(tmp_path: Path) -> str:
    return str(make_model_folder(tmp_path / "model", labels=("0", "1")))


def test_bench_serve_compares_http_with_direct_calls(model: str, corpora_dir: Path, tmp_path: Path) -> None:
    bench = load_script("bench_serve")
    output = tmp_path / "serve.json"
    args = ["--model", model, "--data-dir", str(corpora_dir), "--batch", "256", "--repeats", "1"]
    report = bench.main([*args, "--output", str(output)])
    assert report["sentences"] == 872 and report["labels_identical"]
    assert report["http_sentences_per_second"] > 0 and report["median_request_ms"] > 0
    assert json.loads(output.read_text(encoding="utf-8")) == report


def test_bench_torch_threads_measures_both_ways(model: str, corpora_dir: Path) -> None:
    bench = load_script("bench_torch_threads")
    medians = bench.main(
        ["--model", model, "--data-dir", str(corpora_dir), "--rounds", "1", "--repeats", "1"]
    )
    assert set(medians) == {"same_thread", "loaded_on_main_thread"} and all(v > 0 for v in medians.values())


def test_bench_classifier_paths_agree(model: str, corpora_dir: Path, tmp_path: Path) -> None:
    bench = load_script("bench_classifier_paths")
    args = ["--model", model, "--data-dir", str(corpora_dir), "--batches", "64", "--repeats", "1"]
    results = bench.main([*args, "--output", str(tmp_path / "paths.json")])
    assert results["max_probability_difference"] < 1e-5
    assert results["batch_64"]["per_token"] > 0 and results["batch_64"]["encoder"] > 0
