"""Click command groups of the ``nlp-rnn`` CLI, one module per group, and options they share."""

from collections.abc import Callable
from typing import Any

import click

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of the shared corpora (default: $NLP_RNN_DATA, else ../shared/corpora).",
)
"""``--data-dir`` for commands that read catalog corpora (the string is resolved by the catalog)."""


def precision_option(int8: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--precision`` for commands that run a model (:mod:`nlp_rnn.models.low_precision`):
    fp32 or bf16, and int8 where the command's model has an int8 form."""
    choices = ["fp32", "bf16"] + (["int8"] if int8 else [])
    extra = "; int8: dynamic int8 products on the CPU (fast on x86 CPUs without AMX)" if int8 else ""
    return click.option(
        "--precision",
        default="fp32",
        show_default=True,
        type=click.Choice(choices),
        help=f"bf16: matrix products in bf16 (fast on CPUs with AMX and on GPUs; slow on other CPUs){extra}.",
    )
