"""Click command groups of the ``nlp-rnn`` CLI, one module per group, and options they share."""

import click

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of the shared corpora (default: $NLP_RNN_DATA, else ../shared/corpora).",
)
"""``--data-dir`` for commands that read catalog corpora (the string is resolved by the catalog)."""

precision_option = click.option(
    "--precision",
    default="fp32",
    show_default=True,
    type=click.Choice(["fp32", "bf16"]),
    help="bf16: matrix products in bf16 (fast on CPUs with AMX and on GPUs; slow on other CPUs).",
)
"""``--precision`` for commands that run a model (:mod:`nlp_rnn.models.low_precision`)."""
