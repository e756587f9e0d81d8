"""User-facing errors.

Every mistake a user can make (bad input file, bad config, missing model file) raises a
subclass of :class:`NlpRnnError`. The CLI prints its message on one line and exits with a
non-zero status, without a traceback. Programming errors stay ordinary exceptions.
"""

from __future__ import annotations

from os import PathLike


class NlpRnnError(Exception):
    """An error caused by user input; its message is meant to be shown as is."""

    exit_code = 1


class InputError(NlpRnnError):
    """A problem in an input file, located by file, line and (optionally) column.

    The message reads ``path:line:column: problem`` like a compiler's, so editors can jump to it.
    """

    def __init__(
        self,
        problem: str,
        path: str | PathLike[str] | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.problem = problem
        self.path = None if path is None else str(path)
        self.line = line
        self.column = column
        super().__init__(self._format())

    def _format(self) -> str:
        where = [part for part in (self.path, self.line, self.column) if part is not None]
        location = ":".join(str(part) for part in where)
        return f"{location}: {self.problem}" if location else self.problem


class ConfigError(InputError):
    """A problem in a pipeline or model configuration (unknown key, wrong type, bad value)."""

    exit_code = 2
