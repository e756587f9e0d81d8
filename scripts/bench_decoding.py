"""Beam-search decoding speed of a translator by batch size and batching rule, in one process.

    python scripts/bench_decoding.py --model runs/cj300/ours_model
    python scripts/bench_decoding.py --model DIR --batch-sizes 64 128 --repeats 5 --beam 5

Translates the Multi30k dev sources (``TranslationPredictor.translate``: raw text in,
detokenized text out) with every combination of ``--batch-sizes`` and the two ways of cutting
the length-sorted sentences into batches that :func:`nlp_rnn.data.batching.inference_batches`
offers: ``filled`` (every batch holds ``batch_size`` sentences, what decoding uses) and
``one_length`` (a batch is closed where the length changes once it holds a quarter of
``batch_size``, what the classifier and tagger use). The combinations alternate ``--repeats``
times so that load from other processes hits all alike; prints the median seconds of each, its
decoder rows (sentences x beams summed over the steps) and the number of batches, and whether all
combinations translated identically.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

import nlp_rnn.tasks.translation as translation
from nlp_rnn.api import load_model
from nlp_rnn.data.batching import inference_batches
from nlp_rnn.data.catalog import load_corpus


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="a translator model folder")
    parser.add_argument("--data-dir", default=None, help="corpus folder (default: ../shared/corpora)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    sources = list(load_corpus("multi30k", "dev", data_dir=args.data_dir)["src"])
    translator = load_model(args.model)
    decode_step = translator.model.decode_step
    rows = [0]

    def counting_step(prev_tokens: torch.Tensor, state: object) -> object:
        rows[0] += prev_tokens.numel()
        return decode_step(prev_tokens, state)

    batches = [0]

    def batching(one_length: bool):  # -> an inference_batches that cuts by this rule
        def cut(lengths: list[int], batch_size: int, max_tokens: int, **_: object) -> list[list[int]]:
            # this rule, whatever the caller asked for
            found = inference_batches(lengths, batch_size, max_tokens, one_length=one_length)
            batches[0] = len(found)
            return found

        return cut

    combinations = [(rule, size) for rule in ("filled", "one_length") for size in args.batch_sizes]
    seconds: dict[tuple[str, int], list[float]] = {c: [] for c in combinations}
    counts: dict[tuple[str, int], tuple[int, int]] = {}
    outputs: dict[tuple[str, int], list[str]] = {}
    original = translation.inference_batches
    try:
        for repeat in range(args.repeats + 1):  # the first round warms up and counts
            for rule, size in combinations:
                translation.inference_batches = batching(rule == "one_length")
                rows[0] = 0
                translator.model.decode_step = counting_step if repeat == 0 else decode_step
                started = time.perf_counter()
                found = translator.translate(sources, beam_size=args.beam, batch_size=size)
                elapsed = time.perf_counter() - started
                if repeat == 0:
                    counts[(rule, size)] = rows[0], batches[0]
                    outputs[(rule, size)] = [t.text for t in found]
                else:
                    seconds[(rule, size)].append(elapsed)
    finally:
        translation.inference_batches = original
        translator.model.decode_step = decode_step
    results = {}
    for combination in combinations:
        median = statistics.median(seconds[combination])
        decoder_rows, batch_count = counts[combination]
        results[f"{combination[0]} {combination[1]}"] = median
        print(
            f"{combination[0]:>10} batch {combination[1]:>4}: {median:6.2f} s "
            f"({decoder_rows:,} decoder rows, {batch_count} batches)"
        )
    same = len({tuple(lines) for lines in outputs.values()}) == 1
    print("outputs identical" if same else "outputs differ between the combinations")
    return {"seconds": results, "same_outputs": same}


if __name__ == "__main__":
    main()
