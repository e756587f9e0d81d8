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
combinations translated identically. With ``--profile``, one more pass of the first combination
runs under ``torch.profiler`` and the ten operators with the most CPU time are printed with their
shares (where decoding time goes).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from unittest import mock

from revision_bench import counting_decoder_rows
from torch.profiler import ProfilerActivity, profile

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
    parser.add_argument(
        "--profile", action="store_true", help="profile one more pass of the first combination"
    )
    args = parser.parse_args(argv)

    sources = list(load_corpus("multi30k", "dev", data_dir=args.data_dir)["src"])
    translator = load_model(args.model)
    batches = [0]

    def cut_by(rule: str):  # -> an inference_batches that cuts by this rule, whatever the caller asks
        def cut(lengths: list[int], batch_size: int, max_tokens: int, **_: object) -> list[list[int]]:
            found = inference_batches(lengths, batch_size, max_tokens, one_length=rule == "one_length")
            batches[0] = len(found)
            return found

        return cut

    def translate(rule: str, size: int) -> list[str]:
        with mock.patch.object(translation, "inference_batches", cut_by(rule)):
            return [t.text for t in translator.translate(sources, beam_size=args.beam, batch_size=size)]

    combinations = [(rule, size) for rule in ("filled", "one_length") for size in args.batch_sizes]
    counts: dict[tuple[str, int], tuple[int, int]] = {}
    outputs: dict[tuple[str, int], list[str]] = {}
    for combination in combinations:  # warms up, counts and keeps the outputs
        with counting_decoder_rows(translator.model) as rows:
            outputs[combination] = translate(*combination)
        counts[combination] = rows[0], batches[0]
    seconds: dict[tuple[str, int], list[float]] = {c: [] for c in combinations}
    for _ in range(args.repeats):
        for combination in combinations:
            started = time.perf_counter()
            translate(*combination)
            seconds[combination].append(time.perf_counter() - started)
    results = {}
    for (rule, size), values in seconds.items():
        median = statistics.median(values)
        decoder_rows, batch_count = counts[(rule, size)]
        results[f"{rule} {size}"] = median
        print(f"{rule:>10} batch {size:>4}: {median:6.2f} s ", end="")
        print(f"({decoder_rows:,} decoder rows, {batch_count} batches)")
    same = len({tuple(lines) for lines in outputs.values()}) == 1
    print("outputs identical" if same else "outputs differ between the combinations")
    if args.profile:
        with profile(activities=[ProfilerActivity.CPU]) as profiled:
            translate(*combinations[0])
        events = profiled.key_averages()
        total = sum(event.self_cpu_time_total for event in events)
        print(f"profile of one pass, {combinations[0][0]} batch {combinations[0][1]}:")
        for event in sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:10]:
            print(f"{event.key:>24}: {100 * event.self_cpu_time_total / total:5.1f}% of the CPU time")
    return {"seconds": results, "same_outputs": same}


if __name__ == "__main__":
    main()
