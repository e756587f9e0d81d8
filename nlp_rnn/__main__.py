"""``python -m nlp_rnn ...``: the ``nlp-rnn`` command line where the console script is not installed."""

from nlp_rnn.cli import main

main(prog_name="nlp-rnn")
