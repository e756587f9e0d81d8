#!/usr/bin/env bash
# The checks that need a GPU, as one prepared script for a lent GPU machine (PyTorch with CUDA,
# no network, Python 3.12): the CUDA tests, and the GPU speed and quality numbers of the encoder,
# tagger and translation issues. First, where the corpora are:
#
#   bash scripts/prepare_gpu_checks.sh                  # -> .gpu_bundle (wheels + corpora)
#   bash scripts/gpu_checks.sh env tests packing seq2seq tagger   # about 5 minutes on an H100
#   bash scripts/gpu_checks.sh translate                      # the GPU recipe, at most 6 minutes
#
# Steps (default: all, in this order): env, tests, packing, seq2seq, tagger, translate. Results go
# to $OUT (default runs/gpu_checks): summary.txt (each step's exit status and seconds), checks.log
# (every step's output) and one JSON file per measuring step. QUICK=1 shrinks every step to a dry
# run that also works on the CPU (DEVICE=cpu), to check the script itself.
set -uo pipefail

bundle=${BUNDLE:-.gpu_bundle}
out=${OUT:-runs/gpu_checks}
device=${DEVICE:-cuda}
python=${PYTHON:-python3}
quick=${QUICK:-0}
# Seconds per step: the first five together fit one 10-minute device call, translate another.
declare -A limits=([env]=30 [tests]=180 [packing]=90 [seq2seq]=120 [tagger]=140 [translate]=360)
steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(env tests packing seq2seq tagger translate)
for name in "${steps[@]}"; do
    [[ $name == _step ]] && break  # this script calling itself for one step
    [[ -n ${limits[$name]:-} ]] || { echo "unknown step: $name (${!limits[*]})" >&2; exit 2; }
done
mkdir -p "$out"
export NLP_RNN_DATA="$PWD/$bundle/corpora" PYTHONUNBUFFERED=1
if ! "$python" -c "import pydantic, gensim, datasets" 2>/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/nlp_rnn_site \
        "$bundle"/wheels/*.whl || exit 1
    export PYTHONPATH="/tmp/nlp_rnn_site:$PWD"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi

if [[ $quick == 1 ]]; then
    seq2seq_size=(--batches 2 --repeats 1 --max-tokens 1024)
    packing_size=(--repeats 1 --layers 1 --cells gru)
    tagger_train=(--set stages.train.trainer.max_steps=5 --set stages.train.trainer.max_epochs=1)
    tagger_bench=(--max-tokens 4096 --repeats 1)
    translate_size=(--set stages.translate.trainer.max_steps=20 --set stages.translate.decoding.max_len_a=0.1
        --set stages.translate.decoding.max_len_b=5)
else
    seq2seq_size=(--batches 15 --repeats 3)
    packing_size=(--repeats 9)
    tagger_train=(--set stages.train.trainer.max_epochs=2)
    tagger_bench=(--max-tokens 4096 65536 --repeats 5)
    translate_size=()
fi

run_env() {
    nvidia-smi -L 2>/dev/null
    "$python" - <<'PY'
import importlib, sys
import torch
print("python", sys.version.split()[0], "| torch", torch.__version__, "| cuda", torch.cuda.is_available() and torch.cuda.get_device_name())
for name in ("datasets", "pyarrow", "fsspec", "huggingface_hub", "gensim", "pydantic", "sentencepiece", "sacrebleu"):
    module = importlib.import_module(name)
    print(name, getattr(module, "__version__", "?"))
PY
}

run_tagger() {
    # A tagger of the pos_ewt recipe's shape (2x200 BiLSTM, char CNN) trained briefly on the GPU,
    # without the word2vec table (speed does not depend on the weights), then timed on EWT dev.
    "$python" -m nlp_rnn run pipelines/pos_ewt.yaml --run-dir /tmp/nlp_rnn_pos --set stages.train.vectors=null \
        --set "stages.train.samples=[]" --set stages.train.trainer.tensorboard=false \
        --set "stages.train.trainer.device=$device" "${tagger_train[@]}" || return
    "$python" scripts/bench_tagger_shapes.py --model /tmp/nlp_rnn_pos/model --device "$device" \
        --shapes trained 2x100 --paths per-form encoder "${tagger_bench[@]}" \
        --output "$out/tagger.json"
}

run_translate() {
    "$python" -m nlp_rnn run pipelines/translate_multi30k_deen.yaml --run-dir /tmp/nlp_rnn_translate \
        --set "stages.translate.trainer.device=$device" "${translate_size[@]}" || return
    cp /tmp/nlp_rnn_translate/metrics.json "$out/translate_metrics.json"
}

# One step's commands; the loop below runs each in a child process under its time limit.
run_step() {
    case $1 in
    env) run_env ;;
    tests) "$python" -m pytest -q -p no:cacheprovider -rs -k "cuda or per_form_inference" tests/test_encoder.py \
        tests/test_trainer.py tests/test_tagger.py tests/test_task_tagging.py tests/test_task_translation.py \
        tests/test_task_classification.py tests/test_serve_cuda.py ;;
    packing) "$python" scripts/bench_packing.py --devices "$device" "${packing_size[@]}" \
        --output "$out/packing.json" ;;
    seq2seq) "$python" scripts/bench_seq2seq.py --device "$device" "${seq2seq_size[@]}" \
        $([[ $device == cuda* ]] && echo --precisions fp32 bf16) --output "$out/seq2seq.json" ;;
    tagger) run_tagger ;;
    translate) run_translate ;;
    esac
}
if [[ ${1:-} == _step ]]; then
    run_step "$2"
    exit
fi

for name in "${steps[@]}"; do
    started=$(date +%s)
    echo "=== $name" >>"$out/checks.log"
    timeout "${limits[$name]}" bash "$0" _step "$name" >>"$out/checks.log" 2>&1
    echo "$name rc=$? $(($(date +%s) - started))s" | tee -a "$out/summary.txt"
done
