"""bf16 against fp32 matrix products at the shapes this toolkit's models run.

    python scripts/bench_bf16_gemm.py                 # torch's default threads
    python scripts/bench_bf16_gemm.py --threads 1

Times ``nn.Linear`` in fp32 and :class:`~nlp_rnn.models.low_precision.Bf16Linear` (bf16 weights
made once, the input cast to bf16 and the output back to fp32 at every call, as inference uses
it) on random data, alternating in one process, and reports GFLOP/s, the speed ratio and the
relative error of the bf16 output. Shapes: a beam-5 decoding step of 64 sentences (the output
layer 512 -> 8,000 subwords, and the decoder GRU's input and recurrent products) and the
tagger's (all words of an 8,192-word batch, one recurrence step of ~650 sentences). Medians of
``--repeats``. On CPUs without AMX or AVX512-BF16 bf16 is emulated and slower; the script says
which this machine has.
"""

from __future__ import annotations

import torch
from bench_int8_gemm import median_seconds, micro_benchmark_args  # scripts/ is on the path
from torch import nn

from nlp_rnn.models.low_precision import Bf16Linear, fast_bf16_available

# (name, rows, inputs, outputs)
SHAPES = [
    ("translation output layer, beam 5 x 64", 320, 512, 8000),
    ("decoder GRU input product, beam 5 x 64", 320, 1280, 1536),
    ("decoder GRU recurrent product", 320, 512, 1536),
    ("tagger 2x200 first-layer inputs", 8192, 400, 1600),
    ("tagger 2x200 recurrence step", 650, 200, 800),
]


def main(argv: list[str] | None = None) -> list[dict]:
    args = micro_benchmark_args(__doc__, argv)
    torch.manual_seed(0)
    print(
        f"{torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"native bf16: {fast_bf16_available('cpu')}"
    )
    results = []
    with torch.inference_mode():
        for name, rows, inputs, outputs in SHAPES:
            x = torch.randn(rows, inputs)
            linear = nn.Linear(inputs, outputs)
            low = Bf16Linear(linear.weight, linear.bias)
            fp32 = median_seconds(lambda: linear(x), args.repeats)  # noqa: B023 - used at once
            bf16 = median_seconds(lambda: low(x), args.repeats)  # noqa: B023
            reference = linear(x)
            error = float((low(x) - reference).norm() / reference.norm())
            flops = 2 * rows * inputs * outputs
            result = {
                "shape": name,
                "rows_inputs_outputs": [rows, inputs, outputs],
                "fp32_gflops": round(flops / fp32 / 1e9, 1),
                "bf16_gflops": round(flops / bf16 / 1e9, 1),
                "speedup": round(fp32 / bf16, 2),
                "relative_error": round(error, 5),
            }
            results.append(result)
            print(
                f"{name:<40} {rows:>5} x {inputs:>4} -> {outputs:>5}: fp32 {result['fp32_gflops']:7.1f}"
                f" GFLOP/s, bf16 {result['bf16_gflops']:7.1f} GFLOP/s, {result['speedup']:.2f}x,"
                f" relative error {error:.4f}"
            )
    return results


if __name__ == "__main__":
    main()
