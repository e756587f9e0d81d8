"""Click command groups of the ``nlp-rnn`` CLI, one module per group, and options they share."""

import click

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of the shared corpora (default: $NLP_RNN_DATA, else ../shared/corpora).",
)
"""``--data-dir`` for commands that read catalog corpora (the string is resolved by the catalog)."""
