"""Beam-search decoding speed of a translator by precision, batch size and batching rule, in one process.

    python scripts/bench_decoding.py --model runs/cj300/ours_model
    python scripts/bench_decoding.py --model DIR --batch-sizes 64 128 --repeats 5 --beam 5
    python scripts/bench_decoding.py --model DIR --precisions fp32 int8 --batch-sizes 64 --rules filled
    python scripts/bench_decoding.py --model A --ensemble B --ensemble C --batch-sizes 64 --rules filled

Translates the Multi30k dev sources (``TranslationPredictor.translate``: raw text in,
detokenized text out) with every combination of ``--batch-sizes`` and the two ways of cutting
the length-sorted sentences into batches that :func:`nlp_rnn.data.batching.inference_batches`
offers: ``filled`` (every batch holds ``batch_size`` sentences, what decoding uses) and
``one_length`` (a batch is closed where the length changes once it holds a quarter of
``batch_size``, what the classifier and tagger use). The combinations alternate ``--repeats``
times so that load from other processes hits all alike; prints the median seconds of each, its
decoder rows (sentences x beams summed over the steps) and the number of batches, and whether all
combinations of a precision translated identically, and each precision's sacreBLEU on the dev
references (``--precisions``: fp32, bf16, int8; :mod:`nlp_rnn.models.low_precision`). With
``--profile``, one more pass of the first combination
runs under ``torch.profiler`` and the ten operators with the most CPU time are printed with their
shares (where decoding time goes). With ``--ensemble`` (repeatable), the model folders given there
decode together with ``--model`` as one ensemble (``TranslationPredictor.ensembled``), what
``nlp-rnn translate --ensemble`` runs; model loading is not timed.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import statistics
from pathlib import Path
from unittest import mock

import sacrebleu
from revision_bench import alternating_seconds, counting_decoder_rows
from torch.profiler import ProfilerActivity, profile

import nlp_rnn.tasks.translation as translation
from nlp_rnn.api import load_model
from nlp_rnn.data.batching import inference_batches
from nlp_rnn.data.catalog import load_corpus
from nlp_rnn.models.ensemble import Ensemble


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="a translator model folder")
    parser.add_argument(
        "--ensemble", type=Path, action="append", default=[], help="another member (repeatable)"
    )
    parser.add_argument("--data-dir", default=None, help="corpus folder (default: ../shared/corpora)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16", "int8"])
    parser.add_argument(
        "--rules", nargs="+", default=["filled", "one_length"], choices=["filled", "one_length"]
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile one more pass of the first combination"
    )
    args = parser.parse_args(argv)

    dev = load_corpus("multi30k", "dev", data_dir=args.data_dir)
    sources, references = list(dev["src"]), list(dev["tgt"])
    translator = load_model(args.model)
    if args.ensemble:
        translator = translator.ensembled([load_model(path) for path in args.ensemble])
    batches = [0]

    def cut_by(rule: str):  # -> an inference_batches that cuts by this rule, whatever the caller asks
        def cut(lengths: list[int], batch_size: int, max_tokens: int, **_: object) -> list[list[int]]:
            found = inference_batches(lengths, batch_size, max_tokens, one_length=rule == "one_length")
            batches[0] = len(found)
            return found

        return cut

    def translate(precision: str, rule: str, size: int) -> list[str]:
        with mock.patch.object(translation, "inference_batches", cut_by(rule)):
            found = translator.translate(sources, beam_size=args.beam, batch_size=size, precision=precision)
            return [t.text for t in found]

    combinations = list(itertools.product(args.precisions, args.rules, args.batch_sizes))
    counts: dict[tuple[str, str, int], tuple[int, int]] = {}
    outputs: dict[tuple[str, str, int], list[str]] = {}
    for combination in combinations:  # warms up, counts and keeps the outputs
        searcher = translator.search_model(combination[0])  # an ensemble's members share the rows
        counted = searcher.members[0] if isinstance(searcher, Ensemble) else searcher
        with counting_decoder_rows(counted) as rows:
            outputs[combination] = translate(*combination)
        counts[combination] = rows[0], batches[0]
    runs = {combination: functools.partial(translate, *combination) for combination in combinations}
    seconds = alternating_seconds(runs, args.repeats)
    results = {}
    for (precision, rule, size), values in seconds.items():
        median = statistics.median(values)
        decoder_rows, batch_count = counts[(precision, rule, size)]
        results[f"{precision} {rule} {size}"] = median
        print(f"{precision} {rule:>10} batch {size:>4}: {median:6.2f} s ", end="")
        print(f"({decoder_rows:,} decoder rows, {batch_count} batches)")
    same, bleu = {}, {}
    for precision in args.precisions:
        mine = [lines for (p, *_), lines in outputs.items() if p == precision]
        same[precision] = len({tuple(lines) for lines in mine}) == 1
        bleu[precision] = round(sacrebleu.corpus_bleu(mine[0], [references]).score, 2)
        agreement = "identical" if same[precision] else "differ between the batchings"
        print(f"{precision}: dev BLEU {bleu[precision]:.2f}, outputs {agreement}")
    if args.profile:
        with profile(activities=[ProfilerActivity.CPU]) as profiled:
            translate(*combinations[0])
        events = profiled.key_averages()
        total = sum(event.self_cpu_time_total for event in events)
        print(f"profile of one pass, {combinations[0][0]} batch {combinations[0][1]}:")
        for event in sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:10]:
            print(f"{event.key:>24}: {100 * event.self_cpu_time_total / total:5.1f}% of the CPU time")
    return {"seconds": results, "same_outputs": same, "bleu": bleu}


if __name__ == "__main__":
    main()
