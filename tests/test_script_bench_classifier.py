"""scripts/bench_classifier.py: the model it builds and its reference loop, on tiny shapes."""

from __future__ import annotations

import pytest
from script_module import load_script

bench = load_script("bench_classifier")


@pytest.mark.parametrize("epsilon", [0.0, 0.25])
def test_both_loops_take_the_adversarial_setting(epsilon: float) -> None:
    args = bench.parse_args(["--embedding-dim", "6", "--hidden", "4", "--adversarial-epsilon", str(epsilon)])
    model = bench.build_model(args, vocab_size=10)
    assert model.config.adversarial_epsilon == epsilon and model.config.hidden_size == 4
    tokens_per_second = bench.bare_loop(args, shapes=[(3, 5), (2, 7)], tokens=29)
    assert tokens_per_second > 0
