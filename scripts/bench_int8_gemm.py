"""Dynamic int8 (fbgemm) against fp32 matrix products at the tagger's, the translation decoder's or
the SST-2 classifier's shapes.

    python scripts/bench_int8_gemm.py                 # the tagger's shapes, torch's default threads
    python scripts/bench_int8_gemm.py --threads 1
    python scripts/bench_int8_gemm.py --shapes decoding
    python scripts/bench_int8_gemm.py --shapes classifier

The tagger's and a decoder's inference time is mostly matrix products. Dynamic quantization
replaces each with ``quantized::linear_dynamic``: activations quantized to 7-bit unsigned
integers per call over the whole input's range, weights int8 per output row. This script times
fp32 ``addmm``, that product, and :class:`~nlp_rnn.models.low_precision.Int8Linear` (the same
product with each row quantized over its own range, which ``--precision int8`` decodes with) on
random data, alternating in one process, and reports GFLOP/s, the speed ratios to fp32 and the
largest relative difference from fp32. Medians of ``--repeats``. The shapes:

* ``tagger``: what the 2x200 and 2x128 taggers run (all words of an 8,192-word batch at once,
  and one recurrence step of ~650 sentences);
* ``decoding``: one beam-5 step of 64 sentences (320 rows) through the tutorial-size decoder
  (GRU input and recurrent products, the attentional layer, an 8k output layer) and the CPU
  recipe's 6k output layer, and the 64 rows of a greedy step;
* ``classifier``: one recurrence step of one direction of the SST-2 classifier, 256 sentences,
  1x150 and 1x300 (the recurrence is most of its inference time).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
import warnings
from collections.abc import Callable

import torch

from nlp_rnn.models.low_precision import Int8Linear

# (rows, inputs, outputs) of each shape set (see the module's docstring).
SHAPES = {
    "tagger": [(8192, 400, 1600), (650, 200, 800), (8192, 256, 1024), (650, 128, 512)],
    "decoding": [
        (320, 768, 1536),
        (320, 512, 1536),
        (320, 1024, 512),
        (320, 512, 8000),
        (320, 256, 6000),
        (64, 512, 8000),
    ],
    "classifier": [(256, 150, 600), (256, 300, 1200)],
}


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def micro_benchmark_args(
    description: str, argv: list[str] | None, shape_sets: tuple[str, ...] = ()
) -> argparse.Namespace:
    """``--repeats`` and ``--threads`` of the operator benchmarks (this one, bf16 and the CRF's),
    and ``--shapes`` (the first of ``shape_sets`` by default) where there are several; sets
    torch's threads when ``--threads`` is given."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--threads", type=int, default=None)
    if shape_sets:
        parser.add_argument("--shapes", choices=shape_sets, default=shape_sets[0])
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


def main(argv: list[str] | None = None) -> list[dict]:
    args = micro_benchmark_args(__doc__, argv, tuple(SHAPES))
    generator = torch.Generator().manual_seed(0)
    results = []
    print(f"{torch.get_num_threads()} threads, torch {torch.__version__}, {args.shapes} shapes")
    for rows, inputs, outputs in SHAPES[args.shapes]:
        x = torch.randn(rows, inputs, generator=generator)
        weight = torch.randn(outputs, inputs, generator=generator) * 0.05
        bias = torch.randn(outputs, generator=generator)
        scales = (weight.abs().amax(dim=1) / 127).double()
        with warnings.catch_warnings():  # quantized tensor creation is deprecated but still works
            warnings.simplefilter("ignore")
            qweight = torch.quantize_per_channel(
                weight, scales, torch.zeros(outputs, dtype=torch.long), 0, torch.qint8
            )
        packed = torch.ops.quantized.linear_prepack(qweight, bias)
        per_row = Int8Linear(weight, bias)
        products = {
            "fp32": functools.partial(torch.addmm, bias, x, weight.t()),
            "int8": functools.partial(torch.ops.quantized.linear_dynamic, x, packed, True),
            "int8_per_row": functools.partial(per_row, x),
        }
        seconds = {name: median_seconds(product, args.repeats) for name, product in products.items()}
        reference = products["fp32"]()
        flops = 2 * rows * inputs * outputs
        result: dict = {"shape": [rows, inputs, outputs]}
        for name, product in products.items():
            result[f"{name}_gflops"] = round(flops / seconds[name] / 1e9, 1)
            if name != "fp32":
                result[f"{name}_speedup"] = round(seconds["fp32"] / seconds[name], 2)
                error = (product() - reference).norm() / reference.norm()
                result[f"{name}_relative_error"] = round(float(error), 4)
        results.append(result)
        print(
            f"{rows:>5} x {inputs:>4} -> {outputs:>5}: fp32 {result['fp32_gflops']:6.1f} GFLOP/s, "
            f"int8 {result['int8_gflops']:6.1f} ({result['int8_speedup']:.2f}x, error "
            f"{result['int8_relative_error']:.4f}), int8 per row {result['int8_per_row_gflops']:6.1f} "
            f"({result['int8_per_row_speedup']:.2f}x, error {result['int8_per_row_relative_error']:.4f})"
        )
    return results


if __name__ == "__main__":
    main()
