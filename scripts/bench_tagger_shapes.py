"""Tagging speed of taggers of several encoder shapes, side by side, on the same gold words.

    python scripts/bench_tagger_shapes.py --model runs/pos_ewt/model --shapes 2x200 2x128 1x256
    python scripts/bench_tagger_shapes.py --model runs/pos_ewt/model --shapes 2x200 --profile
    python scripts/bench_tagger_shapes.py --model runs/pos_ewt/model --shapes trained --max-tokens 4096 8192
    python scripts/bench_tagger_shapes.py --model runs/pos_ewt/model --device cuda --paths per-form encoder

The model folder gives the vocabularies, the character CNN and the other settings; each shape
``LxH`` (layers x units per direction) is a tagger of those settings with seeded random weights
(speed does not depend on the weights' values; ``trained`` times the folder's own model). Every
shape tags the whole file through ``TaggingPredictor.tag`` (encoding, batching by length, the
per-form first layer, the recurrence, both tag heads), alternating ``--repeats`` times in one
process so that machine load hits all alike; the medians are compared. ``--profile`` prints the
operators that took the most time for the first shape. ``--without-form-cache`` adds, for each
shape, the same tagger without its cache of the training forms' first-layer products
(``LxH-uncached``), to measure what the cache saves. ``--max-tokens`` with several sizes times
each tagger at each inference batch size (padded words per batch; ``LxH@N``). ``--paths`` times
each of the two inference paths of a BiLSTM tagger (``LxH/per-form``: the first layer's input
products per distinct form and a step loop, the CPU's default; ``LxH/encoder``: the encoder's
own kernels, cuDNN on a GPU and its default there). ``--request-sentences N`` tags the file in
calls of N sentences, as a server's requests of that size would, instead of in one call.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
from pathlib import Path

import torch
from revision_bench import alternating_seconds  # scripts/ is on the path

from nlp_rnn.data.catalog import default_data_dir
from nlp_rnn.data.conllu import iter_sentences
from nlp_rnn.tasks.tagging import DEFAULT_MAX_TOKENS, FormCache, TaggingPredictor, build_tagger

EWT_DEV = "ud_english_ewt/en_ewt-ud-dev.conllu"
PATHS = {"auto": None, "per-form": True, "encoder": False}  # -> RNNTagger.per_form_inference


def tagger_of_shape(base: TaggingPredictor, shape: str, seed: int = 0) -> TaggingPredictor:
    """``base``'s settings and vocabularies with a ``LxH`` encoder and random weights."""
    if shape == "trained":
        return base
    layers, hidden = (int(part) for part in shape.lower().split("x"))
    config = base.model.config.model_copy(update={"num_layers": layers, "hidden_size": hidden})
    pretrained = base.model.pretrained
    torch.manual_seed(seed)
    model = build_tagger(config, base.vocabs, pretrained.embedding_dim if pretrained is not None else 0)
    if pretrained is not None and model.pretrained is not None:
        model.pretrained.weight.data.copy_(pretrained.weight)
    return TaggingPredictor(model, base.vocabs, base.training_words, device=base.device)


def tag(run: tuple[TaggingPredictor, int, str], words: list[list[str]], request: int = 0) -> None:
    """Tags ``words`` with ``run``'s tagger, inference batch size and path: in one call, or in calls
    of ``request`` sentences (as a server's requests of that size would)."""
    tagger, max_tokens, path = run
    tagger.model.per_form_inference = PATHS[path]
    for start in range(0, len(words), request or len(words)):
        tagger.tag(words[start : start + (request or len(words))], max_tokens=max_tokens)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="a tagger's model folder")
    parser.add_argument("--shapes", nargs="+", default=["trained", "2x200", "2x128", "1x256"])
    parser.add_argument(
        "--gold", type=Path, default=None, help=f"CoNLL-U file (default: <data-dir>/{EWT_DEV})"
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--profile", action="store_true", help="profile the first shape once")
    parser.add_argument(
        "--without-form-cache", action="store_true", help="also time each shape without its form cache"
    )
    parser.add_argument(
        "--max-tokens", type=int, nargs="+", default=[DEFAULT_MAX_TOKENS], help="padded words per batch"
    )
    parser.add_argument(
        "--paths", nargs="+", default=["auto"], choices=sorted(PATHS), help="inference paths to time"
    )
    parser.add_argument(
        "--request-sentences",
        type=int,
        default=0,
        help="tag the file in calls of this many sentences, as requests to a server (0: one call)",
    )
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    gold_path = args.gold or (args.data_dir or default_data_dir()) / EWT_DEV
    words = [s["tokens"] for s in iter_sentences(gold_path)]
    count = sum(map(len, words))
    base = TaggingPredictor.load(args.model, device=args.device)
    taggers = {shape: tagger_of_shape(base, shape) for shape in args.shapes}
    if args.without_form_cache:
        for shape in args.shapes:
            uncached = TaggingPredictor(
                taggers[shape].model, base.vocabs, base.training_words, device=args.device
            )
            uncached.form_cache = FormCache([])
            taggers[f"{shape}-uncached"] = uncached
    runs = {}  # name -> (tagger, max_tokens, path)
    for name, tagger in taggers.items():
        for n in args.max_tokens:
            for path in args.paths:
                label = name + (f"@{n}" if len(args.max_tokens) > 1 else "")
                runs[label + (f"/{path}" if len(args.paths) > 1 else "")] = (tagger, n, path)
    for name in runs:
        tag(runs[name], words, args.request_sentences)  # warm-up
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            tag(next(iter(runs.values())), words)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
    seconds = alternating_seconds(
        {name: functools.partial(tag, run, words, args.request_sentences) for name, run in runs.items()},
        args.repeats,
    )

    device = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    threads = torch.get_num_threads()
    results = {"gold": gold_path.name, "words": count, "threads": threads, "device": device, "shapes": {}}
    results["request_sentences"] = args.request_sentences
    print(f"{gold_path.name}: {count:,} words; medians of {args.repeats}; {device}, {threads} CPU threads")
    for shape, times in seconds.items():
        speed = count / statistics.median(times)
        parameters = sum(p.numel() for p in runs[shape][0].model.encoder.parameters())
        results["shapes"][shape] = {"words_per_second": round(speed), "encoder_parameters": parameters}
        print(f"{shape:>14}: {speed:>10,.0f} words/s  ({parameters:,} encoder parameters)")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
