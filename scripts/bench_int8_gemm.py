"""Dynamic int8 (fbgemm) against fp32 matrix products at the tagger's inference shapes.

    python scripts/bench_int8_gemm.py                 # torch's default threads
    python scripts/bench_int8_gemm.py --threads 1

The tagger's inference time is almost all matrix products (``addmm`` for the input products of
a layer, ``baddbmm`` for the recurrence). Dynamic quantization would replace each with
``quantized::linear_dynamic``: activations quantized to uint8 per call, weights int8 per output
row. This script times both forms on random data of the shapes the 2x200 and 2x128 taggers
run (all words of an 8,192-word batch at once, and one recurrence step of ~650 sentences),
alternating in one process, and reports GFLOP/s, the speed ratio and the largest absolute
difference of the outputs. Medians of ``--repeats``.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
import warnings
from collections.abc import Callable

import torch

# (rows, inputs, outputs): input products of a whole batch, and one recurrence step.
SHAPES = [(8192, 400, 1600), (650, 200, 800), (8192, 256, 1024), (650, 128, 512)]


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def micro_benchmark_args(description: str, argv: list[str] | None) -> argparse.Namespace:
    """``--repeats`` and ``--threads`` of the operator benchmarks (this one, bf16 and the CRF's);
    sets torch's threads when ``--threads`` is given."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


def main(argv: list[str] | None = None) -> list[dict]:
    args = micro_benchmark_args(__doc__, argv)
    generator = torch.Generator().manual_seed(0)
    results = []
    print(f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    for rows, inputs, outputs in SHAPES:
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
        float_product = functools.partial(torch.addmm, bias, x, weight.t())
        int8_product = functools.partial(torch.ops.quantized.linear_dynamic, x, packed, True)
        fp32 = median_seconds(float_product, args.repeats)
        int8 = median_seconds(int8_product, args.repeats)
        difference = float((int8_product() - float_product()).abs().max())
        flops = 2 * rows * inputs * outputs
        result = {
            "shape": [rows, inputs, outputs],
            "fp32_gflops": round(flops / fp32 / 1e9, 1),
            "int8_gflops": round(flops / int8 / 1e9, 1),
            "speedup": round(fp32 / int8, 2),
            "max_abs_difference": round(difference, 4),
        }
        results.append(result)
        print(
            f"{rows:>5} x {inputs:>4} -> {outputs:>5}: fp32 {result['fp32_gflops']:6.1f} GFLOP/s, "
            f"int8 {result['int8_gflops']:6.1f} GFLOP/s, int8 speedup {result['speedup']:.2f}x, "
            f"max |difference| {difference:.4f}"
        )
    return results


if __name__ == "__main__":
    main()
