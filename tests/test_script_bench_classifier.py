"""scripts/bench_classifier.py: the model it builds and its reference loop, on tiny shapes."""

from __future__ import annotations

import pytest
import torch
from script_module import load_script

bench = load_script("bench_classifier")


@pytest.mark.parametrize("epsilon", [0.0, 0.25])
def test_both_loops_take_the_adversarial_setting(epsilon: float) -> None:
    args = bench.parse_args(["--embedding-dim", "6", "--hidden", "4", "--adversarial-epsilon", str(epsilon)])
    model = bench.build_model(args, vocab_size=10)
    assert model.config.adversarial_epsilon == epsilon and model.config.hidden_size == 4
    tokens_per_second = bench.bare_loop(args, shapes=[(3, 5), (2, 7)], tokens=29)
    assert tokens_per_second > 0


def test_the_adversarial_reference_step_adds_the_moved_inputs_outputs() -> None:
    torch.manual_seed(0)
    rnn = torch.nn.LSTM(3, 2, batch_first=True, bidirectional=True)
    x = torch.randn(2, 4, 3)  # B x T x D
    plain = bench.bare_step(rnn, x.clone())
    assert torch.allclose(plain, rnn(x)[0].sum())
    inputs = x.clone().requires_grad_()
    (gradient,) = torch.autograd.grad(rnn(inputs)[0].sum(), inputs)
    expected = plain + rnn(x + 0.1 * gradient)[0].sum()
    assert torch.allclose(bench.bare_step(rnn, x.clone(), adversarial_epsilon=0.1), expected, atol=1e-5)
