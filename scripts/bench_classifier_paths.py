"""The classifier's two inference paths by request size: the per-token path (first-layer products
once per distinct token, the recurrence in ``nlp_rnn.models.bilstm_inference``; in fp32 the
default until 2026-12-07) against the encoder's own kernels (``nn.LSTM``, now the fp32 default),
on the SST-2 dev sentences.

    python scripts/bench_classifier_paths.py --model runs/sentiment_sst2/model
    python scripts/bench_classifier_paths.py --model runs/sentiment_sst2/model --batches 1 8 32 256

For each ``--batches`` size N the dev sentences go to ``predict_proba`` N at a time, as requests
of N sentences would (each request sorted and batched by length inside); the two paths alternate
``--repeats`` times after a warm-up, and the medians of sentences per second are compared. The
probabilities of the two paths are checked to agree. Results go to ``--output``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from nlp_rnn.api import load_model
from nlp_rnn.data.catalog import load_corpus


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="runs/sentiment_sst2/model", help="a classifier's model folder")
    parser.add_argument("--data-dir", default=None, help="the corpora (default: $NLP_RNN_DATA or ../shared)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 128, 512])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default="runs/bench/classifier_paths.json")
    return parser.parse_args(argv)


def sentences_per_second(predictor, texts: list[str], size: int, per_token: bool) -> float:
    """Sentences/s of the dev set in requests of ``size``, on the chosen path."""
    requests = [texts[i : i + size] for i in range(0, len(texts), size)]
    predictor.model.per_token_inference = per_token
    started = time.perf_counter()
    for request in requests:
        predictor.predict_proba(request, batch_size=size)
    return len(texts) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        texts = list(load_corpus("sst2_phrases", "dev", data_dir=args.data_dir, cache_dir=cache)["text"])
    predictor = load_model(args.model)
    predictor.model.per_token_inference = False
    reference = predictor.predict_proba(texts)
    predictor.model.per_token_inference = True
    difference = float(np.abs(predictor.predict_proba(texts) - reference).max())
    results: dict[str, object] = {
        "model": args.model,
        "threads": torch.get_num_threads(),
        "max_probability_difference": difference,
    }
    for size in args.batches:
        speeds: dict[str, list[float]] = {"per_token": [], "encoder": []}
        for repeat in range(args.repeats + 1):
            for name in speeds:
                speed = sentences_per_second(predictor, texts, size, per_token=name == "per_token")
                if repeat:  # the first round warms up
                    speeds[name].append(speed)
        medians = {name: statistics.median(values) for name, values in speeds.items()}
        ratio = medians["per_token"] / medians["encoder"]
        results[f"batch_{size}"] = {
            **{k: round(v, 1) for k, v in medians.items()},
            "per_token_over_encoder": ratio,
        }
        print(
            f"requests of {size}: per-token {medians['per_token']:,.0f} sentences/s, encoder "
            f"{medians['encoder']:,.0f} ({ratio:.2f}x)",
            flush=True,
        )
    print(f"largest probability difference between the paths: {difference:.2e}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
