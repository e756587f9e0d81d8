"""Dev accuracy of taggers alone and as an ensemble (averaged probabilities), as the
``silver_tags`` stage combines its teachers.

    python scripts/ensemble_taggers.py runs/pos_ewt/model runs/pos_ewt_noema/model runs/pos_ewt_2x150/model

Each model tags the gold words of ``--gold`` (default: EWT dev); the ensemble takes, for every
word, the tag of the models' averaged UPOS (and XPOS) distributions. Prints UPOS and XPOS
accuracy of each model and of the ensemble, and the share of words on which all models agree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from nlp_rnn.data.catalog import default_data_dir
from nlp_rnn.data.conllu import iter_sentences
from nlp_rnn.stages.silver_tags import ensemble, load_teachers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_spacy_pos import EWT_DEV  # noqa: E402


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models", nargs="+", help="tagger model folders (same tag sets)")
    parser.add_argument(
        "--gold", type=Path, default=None, help=f"CoNLL-U file (default: <data-dir>/{EWT_DEV})"
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    sentences = list(iter_sentences(args.gold or (args.data_dir or default_data_dir()) / EWT_DEV))
    teachers = load_teachers(args.models)  # the silver_tags stage's checks: taggers, same tag sets
    has_xpos = all(t.vocabs.xpos is not None for t in teachers)
    votes = ensemble(teachers, [s["tokens"] for s in sentences], has_xpos)
    results: dict[str, dict[str, float]] = {folder: {} for folder in args.models}
    results["ensemble"] = {}
    for name, averaged in votes.averaged.items():
        tags = np.asarray(getattr(teachers[0].vocabs, name).itos, dtype=object)
        gold = np.array([t for s in sentences for t in s[name]], dtype=object)
        for folder, choice in zip(args.models, votes.choices[name], strict=True):
            results[folder][name] = float(np.mean(tags[choice] == gold))
        results["ensemble"][name] = float(np.mean(tags[averaged.argmax(1)] == gold))
    agreement = float((votes.choices["upos"] == votes.choices["upos"][0]).all(axis=0).mean())

    print(f"{len(sentences):,} sentences, {sum(len(s['tokens']) for s in sentences):,} words")
    for name, scores in results.items():
        cells = "  ".join(f"{tag.upper()} {100 * value:.2f}" for tag, value in scores.items())
        print(f"{name}: {cells}")
    print(f"all {len(args.models)} models agree on {100 * agreement:.2f}% of the words' UPOS")
    return results


if __name__ == "__main__":
    main()
