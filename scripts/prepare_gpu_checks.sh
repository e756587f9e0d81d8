#!/usr/bin/env bash
# Builds the folder that scripts/gpu_checks.sh needs on a GPU machine that has PyTorch but no
# network: the Python packages its image lacks, as wheels for its Python (3.12), and the corpora
# the checks read, copied from the data folder ($NLP_RNN_DATA, else ../shared/corpora). The
# folder is git-ignored: corpora are never committed.
#
#   bash scripts/prepare_gpu_checks.sh [FOLDER]        # default .gpu_bundle (about 50 MB)
set -euo pipefail

bundle=${1:-.gpu_bundle}
data=${NLP_RNN_DATA:-../shared/corpora}
python=${PYTHON:-python3}
for file in multi30k/train.de.gz multi30k/train.en.gz multi30k/val.de.gz multi30k/val.en.gz \
    ud_english_ewt/en_ewt-ud-train.conllu ud_english_ewt/en_ewt-ud-dev.conllu; do
    [[ -f "$data/$file" ]] || { echo "error: $data/$file not found (set NLP_RNN_DATA)" >&2; exit 1; }
done

rm -rf "$bundle"
mkdir -p "$bundle/wheels" "$bundle/corpora/multi30k" "$bundle/corpora/ud_english_ewt"
cp "$data"/multi30k/{train,val}.{de,en}.gz "$bundle/corpora/multi30k/"
cp "$data"/ud_english_ewt/en_ewt-ud-{train,dev}.conllu "$bundle/corpora/ud_english_ewt/"

# The GPU image's Python is 3.12 on x86-64 and already has torch, numpy, scipy, sentencepiece,
# sacrebleu, click, pyyaml, safetensors, matplotlib, tensorboard, tqdm, pytest, hypothesis, and
# datasets' own needs but dill and multiprocess (pyarrow, fsspec, xxhash, huggingface-hub, pandas).
download=("$python" -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp
    --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64
    --platform manylinux2014_x86_64 -d "$bundle/wheels")
"${download[@]}" "pydantic>=2.5,<3"  # with its exact pydantic-core and small helpers
"${download[@]}" --no-deps "gensim>=4.3,<5" smart-open "datasets>=2.18" dill multiprocess
du -sh "$bundle"
