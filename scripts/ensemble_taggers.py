"""Dev accuracy of taggers alone and as an ensemble (averaged probabilities), as the
``silver_tags`` stage combines its teachers.

    python scripts/ensemble_taggers.py runs/pos_ewt/model runs/pos_ewt_noema/model runs/pos_ewt_2x150/model

Each model tags the gold words of ``--gold`` (default: EWT dev); the ensemble takes, for every
word, the tag of the models' averaged UPOS (and XPOS) distributions. Prints UPOS and XPOS
accuracy of each model and of the ensemble, and the share of words on which all models agree.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from nlp_rnn.api import load_model
from nlp_rnn.data.catalog import default_data_dir
from nlp_rnn.data.conllu import iter_sentences

EWT_DEV = "ud_english_ewt/en_ewt-ud-dev.conllu"


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models", nargs="+", type=Path, help="tagger model folders (same tag sets)")
    parser.add_argument(
        "--gold", type=Path, default=None, help=f"CoNLL-U file (default: <data-dir>/{EWT_DEV})"
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    sentences = list(iter_sentences(args.gold or (args.data_dir or default_data_dir()) / EWT_DEV))
    words = [s["tokens"] for s in sentences]
    gold = {
        name: np.array([t for s in sentences for t in s[name]], dtype=object) for name in ("upos", "xpos")
    }
    sums: dict[str, np.ndarray] = {}
    choices = []
    results: dict[str, dict[str, float]] = {}
    tag_names: dict[str, np.ndarray] = {}
    for folder in args.models:
        tagger = load_model(folder)
        upos, xpos = tagger.probabilities(words)  # N x K each
        scores = {}
        for name, probabilities in (("upos", upos), ("xpos", xpos)):
            if probabilities is None:
                continue
            names = np.asarray(getattr(tagger.vocabs, name).itos, dtype=object)
            if name in tag_names and not np.array_equal(tag_names[name], names):
                parser.error(f"{folder} has other {name.upper()} tags than {args.models[0]}")
            tag_names[name] = names
            sums[name] = sums.get(name, 0) + probabilities
            scores[name] = float(np.mean(names[probabilities.argmax(1)] == gold[name]))
        choices.append(upos.argmax(1))
        results[str(folder)] = scores
    ensemble = {
        name: float(np.mean(tag_names[name][total.argmax(1)] == gold[name])) for name, total in sums.items()
    }
    results["ensemble"] = ensemble
    agreement = float((np.stack(choices) == choices[0]).all(axis=0).mean())

    print(f"{len(sentences):,} sentences, {len(gold['upos']):,} words")
    for name, scores in results.items():
        cells = "  ".join(f"{tag.upper()} {100 * value:.2f}" for tag, value in scores.items())
        print(f"{name}: {cells}")
    print(f"all {len(args.models)} models agree on {100 * agreement:.2f}% of the words' UPOS")
    return results


if __name__ == "__main__":
    main()
