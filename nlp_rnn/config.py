"""Load YAML configs, apply ``--set a.b=value`` overrides, and validate against a schema.

Schemas are pydantic models that forbid unknown keys, so a misspelled key is an error that names
the key, the file and the line where it was written (or the ``--set`` that introduced it).
"""

from __future__ import annotations

import copy
import difflib
import os
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from nlp_rnn.errors import ConfigError

Key = tuple[str | int, ...]
ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)


class Schema(pydantic.BaseModel):
    """Base class of every config section: unknown keys are errors, values are validated."""

    model_config = pydantic.ConfigDict(extra="forbid", validate_assignment=True)


@dataclass
class RawConfig:
    """A parsed YAML document plus where each key came from, for error messages."""

    data: dict[str, Any]
    path: Path
    lines: dict[Key, int] = field(default_factory=dict)
    overridden: dict[Key, str] = field(default_factory=dict)

    def where(self, key: Key) -> tuple[str, int | None]:
        """Return (origin, line) for the deepest known prefix of ``key``."""
        for end in range(len(key), 0, -1):
            prefix = key[:end]
            if prefix in self.overridden:
                return f"--set {self.overridden[prefix]}", None
            if prefix in self.lines:
                return str(self.path), self.lines[prefix]
        return str(self.path), None


def load_yaml(path: str | os.PathLike[str]) -> RawConfig:
    """Read a YAML mapping, remembering the line of every key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file not found", path)
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        raise ConfigError(f"invalid YAML: {exc.problem}", path, line, column) from None
    if data is None:
        raise ConfigError("config file is empty", path)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of keys at the top level", path, 1)
    lines: dict[Key, int] = {}
    _collect_lines(node, (), lines)
    return RawConfig(data=data, path=path, lines=lines)


def _collect_lines(node: yaml.Node | None, prefix: Key, lines: dict[Key, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = prefix + (str(key_node.value),)
            lines[key] = key_node.start_mark.line + 1
            _collect_lines(value_node, key, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            key = prefix + (index,)
            lines[key] = item.start_mark.line + 1
            _collect_lines(item, key, lines)


def apply_overrides(raw: RawConfig, assignments: Iterable[str]) -> RawConfig:
    """Return a copy of ``raw`` with each ``a.b.c=value`` assignment applied.

    The value is parsed as YAML (``3`` is an int, ``[a, b]`` a list, ``null`` None). Missing
    intermediate mappings are created; whether the key is allowed is decided by validation.
    """
    data = copy.deepcopy(raw.data)
    overridden = dict(raw.overridden)
    for assignment in assignments:
        dotted, sep, value_text = assignment.partition("=")
        if not sep or not dotted.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {assignment!r}")
        parts = tuple(dotted.strip().split("."))
        if any(not part for part in parts):
            raise ConfigError(f"--set {assignment}: empty key segment in {dotted!r}")
        try:
            value = yaml.safe_load(value_text) if value_text.strip() else ""
        except yaml.YAMLError:
            raise ConfigError(f"--set {assignment}: value is not valid YAML") from None
        target = data
        for depth, part in enumerate(parts[:-1]):
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError(f"--set {assignment}: {where} is not a mapping")
            target = child
        target[parts[-1]] = value
        overridden[parts] = assignment
    return RawConfig(data=data, path=raw.path, lines=raw.lines, overridden=overridden)


def validate(schema: type[ModelT], data: Mapping[str, Any], raw: RawConfig, prefix: Key = ()) -> ModelT:
    """Validate ``data`` (found at ``prefix`` inside ``raw``) against ``schema``.

    Raises a :class:`ConfigError` that names the offending key, the file and line (or the
    ``--set`` option), and what was expected.
    """
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as exc:
        raise config_error_from(exc, raw, prefix, schema) from None


def config_error_from(
    exc: pydantic.ValidationError,
    raw: RawConfig,
    prefix: Key = (),
    schema: type[pydantic.BaseModel] | None = None,
) -> ConfigError:
    """Turn a pydantic error into messages that each name the key, the file and the line."""
    problems: list[tuple[str, int | None, str]] = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
        key = prefix + loc
        dotted = ".".join(str(part) for part in key)
        origin, line = raw.where(key)
        if error["type"] == "extra_forbidden":
            problem = f"unknown key {dotted!r}{_suggestion(schema, loc)}"
        elif error["type"] == "missing":
            problem = f"missing required key {dotted!r}"
        else:
            problem = f"{dotted}: {error['msg']} (got {error.get('input')!r})"
        problems.append((origin, line, problem))
    if len(problems) == 1:
        return ConfigError(problems[0][2], problems[0][0], problems[0][1])
    listed = [ConfigError(problem, origin, line).args[0] for origin, line, problem in problems]
    return ConfigError("invalid configuration:\n  " + "\n  ".join(listed))


def _is_union_tag(part: str | int) -> bool:
    # pydantic inserts the tag or model name of a union member into error locations; not a user key.
    return isinstance(part, str) and (part[:1].isupper() or part.startswith("function-"))


def _suggestion(schema: type[pydantic.BaseModel] | None, loc: Key) -> str:
    """Name the closest allowed key when a key looks misspelled, else list the allowed keys."""
    model = schema
    for part in loc[:-1]:
        field_info = model.model_fields.get(str(part)) if model is not None else None
        model = _model_in(field_info.annotation) if field_info is not None else None
    if model is None:
        return ""
    allowed = sorted(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; allowed keys: {', '.join(allowed)}"


def _model_in(annotation: Any) -> type[pydantic.BaseModel] | None:
    """The pydantic model inside an annotation such as ``Model | None``."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def substitute(value: Any, variables: Mapping[str, str]) -> Any:
    """Replace ``${name}`` in every string inside ``value`` (used for ``${data_dir}`` paths)."""
    if isinstance(value, str):
        for name, replacement in variables.items():
            value = value.replace("${" + name + "}", replacement)
        return value
    if isinstance(value, dict):
        return {key: substitute(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    return value
