"""``nlp-rnn serve --device cuda`` answers as the CPU does (a GPU check: skips without CUDA, and
without fastapi on a GPU image that lacks it; scripts/gpu_checks.sh runs it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("fastapi", reason="serving needs fastapi (installed with the package)")
from fastapi.testclient import TestClient  # noqa: E402
from test_task_classification import make_model_folder  # noqa: E402
from test_task_translation import SOURCES, TARGETS, TINY  # noqa: E402

from nlp_rnn.serve.app import build_app  # noqa: E402
from nlp_rnn.tasks.translation import TranslationPredictor, build_seq2seq, train_subwords  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")


def answers(client: TestClient) -> dict:
    def post(endpoint: str, **body) -> dict:
        response = client.post(endpoint, json=body)
        assert response.status_code == 200, response.text
        return response.json()

    return {
        "classify": post("/classify", texts=["the movie is good", "not good . bad", "bad"]),
        "tag": post("/tag", sentences=[["I", "book", "a", "table"], ["It", "was", "good", "."]]),
        "translate": post("/translate", texts=["ein hund läuft .", ""], beam=3, n_best=2, attention=True),
    }


def test_cuda_serving_agrees_with_the_cpu(tmp_path: Path, tiny_tagger_without_samples: Path) -> None:
    torch.manual_seed(0)
    subwords = train_subwords(SOURCES, TARGETS, vocab_size=120)
    translator = TranslationPredictor(build_seq2seq(TINY, subwords), subwords, "xx", "en")
    specs = [
        f"sentiment={make_model_folder(tmp_path / 'sentiment')}",
        f"tagger={tiny_tagger_without_samples}",
        f"translator={translator.save(tmp_path / 'translator')}",
    ]
    on_gpu, on_cpu = (
        answers(TestClient(build_app(specs, device="cuda"))),
        answers(TestClient(build_app(specs))),
    )
    gpu_classes, cpu_classes = on_gpu["classify"]["results"], on_cpu["classify"]["results"]
    assert [r["label"] for r in gpu_classes] == [r["label"] for r in cpu_classes]
    for mine, theirs in zip(gpu_classes, cpu_classes, strict=True):
        assert mine["probabilities"] == pytest.approx(theirs["probabilities"], abs=1e-4)
    assert on_gpu["tag"] == on_cpu["tag"]
    results = on_gpu["translate"]["results"]
    assert len(results) == 2 and len(results[0]["candidates"]) == 2 and results[1]["translation"] == ""
    weights = results[0]["attention"]["weights"]
    assert len(weights) == len(results[0]["attention"]["output"])
