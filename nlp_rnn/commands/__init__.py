"""Click command groups of the ``nlp-rnn`` CLI, one module per group, and options they share."""

from collections.abc import Callable
from pathlib import Path
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


def model_dir_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The required ``--model`` of commands that load a model folder, passed as ``model_dir``
    (a :class:`~pathlib.Path`); ``help`` names the kind of folder the command wants."""
    return click.option(
        "--model",
        "model_dir",
        required=True,
        type=click.Path(file_okay=False, path_type=Path),
        help=help,
    )


def device_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--device`` for commands that run a model: a torch device name, cpu by default."""
    return click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
