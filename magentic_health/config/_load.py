"""Loading and validating team configurations (DESIGN section 3).

Every problem becomes one ``ConfigError`` line, ``<file>:<line>: <field path>: <problem>``.
Lines come from YAML's composed node tree, which keeps the position of every key and item,
so a field path such as ``agents[2].tools[0]`` maps back to the line the user has to edit.
"""

from __future__ import annotations

import importlib
import itertools
import os
import typing
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from magentic_health.config._models import AgentConfig, Complexity, ComplexityCaps, TeamConfig
from magentic_health.errors import ConfigError
from magentic_health.tools import TOOL_NAMES

KNOWN_TOOLS: tuple[str, ...] = TOOL_NAMES
"""Tool names an agent may list: the tools registry."""

KNOWN_CHECKPOINTS: tuple[str, ...] = ("contract", "grounding", "consistency", "scope", "judge")
"""Checkpoint names an agent may list (``checkpoints.CHECKPOINTS`` registers exactly these);
a custom checkpoint is listed by import path instead, ``package.module:ClassName``."""

Loc = tuple[str | int, ...]
"""A field path as parts: ``("agents", 2, "tools", 0)`` is ``agents[2].tools[0]``."""
LineOf = Callable[[Loc], int | None]
"""Maps a field path to the 1-based line that holds it (or its nearest parent)."""
Problem = tuple[Loc, str]
_MISSING = "missing required field"

_CHECKOUT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tumor_board.yaml"


def default_config_path() -> Path:
    """The checkout's ``configs/tumor_board.yaml``; a ``ConfigError`` when it is not there
    (an installed package carries no configs: pass ``--config``)."""
    if not _CHECKOUT_CONFIG.is_file():
        raise ConfigError(
            "no default team configuration beside the package "
            f"({str(_CHECKOUT_CONFIG)!r} is missing); pass --config FILE"
        )
    return _CHECKOUT_CONFIG


def load_team_config(path: str | os.PathLike[str] | None = None) -> TeamConfig:
    """Read and validate a team configuration file (the default one when ``path`` is None)."""
    path = default_config_path() if path is None else Path(path)
    source = str(path)
    data, line_of, duplicate = read_yaml(path, missing="pass --config FILE")
    if duplicate is not None:
        raise _error(source, line_of, [duplicate])
    return validate_team_config(data, source=source, line_of=line_of)


def read_yaml(path: Path, *, missing: str) -> tuple[Any, LineOf, Problem | None]:
    """A YAML file's data, the line of each of its paths and its first duplicate key (for
    located messages); a file that cannot be read or parsed is a one-line ``ConfigError``
    naming the file (``missing`` says how to fix one that is not there)."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such file; {missing}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read the file: {exc}") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(f"{source}:{_yaml_problem(exc)}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None
    duplicate = next(_duplicate_keys(root, ()), None) if root is not None else None
    return data, _line_finder(root), duplicate


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    """``<line>: invalid YAML: <problem> (<context> on line n)`` from a PyYAML error."""
    line = exc.problem_mark.line + 1 if exc.problem_mark else 1
    detail = exc.problem or "cannot parse"
    if exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
        detail += f" ({exc.context} that starts on line {exc.context_mark.line + 1})"
    return f"{line}: invalid YAML: {detail}"


def validate_team_config(data: object, *, source: str, line_of: LineOf | None = None) -> TeamConfig:
    """Validate already-parsed configuration data; ``source`` names it in errors and
    ``line_of`` (if known) adds line numbers."""
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise _error(
            source, line_of, [((), f"must be a mapping with 'team' and 'agents'; got {got}")]
        )
    try:
        config = TeamConfig.model_validate(data)
    except ValidationError as exc:
        problems = [_translate(error) for error in exc.errors(include_url=False)]
        if line_of is not None:
            # by line; on one line an unknown field ("teams") explains a missing one ("team")
            problems.sort(key=lambda p: (line_of(p[0]) or 0, p[1] == _MISSING))
        raise _error(source, line_of, problems) from None
    problems = _team_problems(config)
    if problems:
        raise _error(source, line_of, problems)
    return config


def _team_problems(config: TeamConfig) -> list[Problem]:
    """The cross-field rules pydantic cannot express, in the order they are reported."""
    agents = config.agents
    problems = [
        *_facilitator_problems(agents),
        *_name_problems(agents),
        *_listed_name_problems(agents),
        *_dependency_problems(agents),
    ]
    if not problems:
        problems.extend(_cycle_problems(agents))
    problems.extend(_cap_problems(config.team.complexity))
    return problems


def _cap_problems(caps: ComplexityCaps) -> Iterator[Problem]:
    for lower, upper in itertools.pairwise(typing.get_args(Complexity)):
        if caps.cap(lower) > caps.cap(upper):
            yield (
                ("team", "complexity", upper),
                f"caps must not shrink as complexity grows: {lower}={caps.cap(lower)} > "
                f"{upper}={caps.cap(upper)}",
            )


def _facilitator_problems(agents: Sequence[AgentConfig]) -> Iterator[Problem]:
    chairs = [i for i, agent in enumerate(agents) if agent.facilitator]
    if not chairs:
        names = ", ".join(repr(a.name) for a in agents)
        yield ("agents",), f"no facilitator among {names}; mark exactly one 'facilitator: true'"
        return
    if len(chairs) > 1:
        names = ", ".join(repr(agents[i].name) for i in chairs)
        yield ("agents", chairs[1], "facilitator"), f"more than one facilitator ({names}); keep one"
    chair = agents[chairs[0]]
    if chair.tools:
        yield (
            ("agents", chairs[0], "tools"),
            f"the facilitator {chair.name!r} takes no tools; give them to a specialist",
        )
    if chair.depends_on:
        yield (
            ("agents", chairs[0], "depends_on"),
            f"the facilitator {chair.name!r} runs the plan and depends on no one; remove it",
        )


def _name_problems(agents: Sequence[AgentConfig]) -> Iterator[Problem]:
    first: dict[str, int] = {}
    for i, agent in enumerate(agents):
        if agent.name in first:
            yield (
                ("agents", i, "name"),
                f"duplicate agent name {agent.name!r} (also agents[{first[agent.name]}])",
            )
        first.setdefault(agent.name, i)


def import_checkpoint(path: str) -> type[Any]:
    """The custom checkpoint class at ``package.module:ClassName``.

    Importing runs the module's code: list import paths in trusted configurations only.
    A ``ConfigError`` says what is wrong with the path."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr.isidentifier():
        raise ConfigError(f"custom checkpoint {path!r}: write it as 'package.module:ClassName'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import failure is the configuration's to fix
        raise ConfigError(
            f"custom checkpoint {path!r}: cannot import {module_name!r} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    found = getattr(module, attr, None)
    if found is None:
        raise ConfigError(f"custom checkpoint {path!r}: {module_name!r} has no {attr!r}")
    if not (
        isinstance(found, type)
        and isinstance(getattr(found, "name", None), str)
        and callable(getattr(found, "verify", None))
    ):
        raise ConfigError(
            f"custom checkpoint {path!r}: not a checkpoint class (a class with a str 'name' "
            "and a 'verify(reply, ctx)' method)"
        )
    return found


def _checkpoint_problem(name: str) -> str | None:
    if ":" in name:
        try:
            import_checkpoint(name)
        except ConfigError as exc:
            return str(exc)
        return None
    if name in KNOWN_CHECKPOINTS:
        return None
    return (
        f"unknown checkpoint {name!r}; known checkpoints: {', '.join(KNOWN_CHECKPOINTS)}; "
        "or a custom one as 'package.module:ClassName'"
    )


def _listed_name_problems(agents: Sequence[AgentConfig]) -> Iterator[Problem]:
    """Unknown tools, unknown checkpoints and custom checkpoints that do not import."""
    for i, agent in enumerate(agents):
        for j, name in enumerate(agent.tools):
            if name not in KNOWN_TOOLS:
                yield (
                    ("agents", i, "tools", j),
                    f"unknown tool {name!r}; known tools: {', '.join(KNOWN_TOOLS)}",
                )
        for j, name in enumerate(agent.checkpoints):
            problem = _checkpoint_problem(name)
            if problem is not None:
                yield ("agents", i, "checkpoints", j), problem


def _dependency_problems(agents: Sequence[AgentConfig]) -> Iterator[Problem]:
    specialists = [a.name for a in agents if not a.facilitator]
    chairs = {a.name for a in agents if a.facilitator}
    for i, agent in enumerate(agents):
        for j, name in enumerate(agent.depends_on):
            loc: Loc = ("agents", i, "depends_on", j)
            if name == agent.name:
                yield loc, f"{agent.name!r} cannot depend on itself"
            elif name in chairs:
                yield loc, f"{name!r} is the facilitator; depend on specialists only"
            elif name not in specialists:
                yield loc, f"unknown agent {name!r}; specialists: {', '.join(specialists)}"


def _cycle_problems(agents: Sequence[AgentConfig]) -> Iterator[Problem]:
    """The first dependency cycle found walking agents in file order, named in full."""
    index = {agent.name: i for i, agent in enumerate(agents)}
    done: set[str] = set()

    def walk(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        for dep in agents[index[name]].depends_on:
            cycle = walk(dep, [*path, name])
            if cycle is not None:
                return cycle
        done.add(name)
        return None

    for agent in agents:
        cycle = walk(agent.name, [])
        if cycle is not None:
            start = index[cycle[0]]
            edge = agents[start].depends_on.index(cycle[1])
            yield ("agents", start, "depends_on", edge), f"dependency cycle {' -> '.join(cycle)}"
            return


def _translate(error: ErrorDetails) -> Problem:
    """A pydantic error as a field path and a problem that says what to write instead."""
    loc: Loc = tuple(error["loc"])
    kind, given = error["type"], _short_repr(error.get("input"))
    if kind == "missing":
        return loc, _MISSING
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        return loc, f"unknown field {loc[-1]!r}; allowed fields: {', '.join(allowed)}"
    if kind == "string_pattern_mismatch":
        return loc, f"must start with a letter and use only letters, digits and _; got {given}"
    if kind in ("tuple_type", "list_type"):
        return loc, f"should be a list; got {given}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return loc, f"should be a mapping; got {given}"
    return loc, f"{error['msg'].removeprefix('Input ')}; got {given}"


def _short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fields_at(loc: Loc) -> list[str]:
    """The field names of the model at a field path (list indexes skipped)."""
    model: type[BaseModel] = TeamConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        nested = None if field is None else _nested_model(field.annotation)
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _nested_model(annotation: object) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _format_loc(loc: Loc) -> str:
    """``("agents", 2, "tools", 0)`` as ``agents[2].tools[0]``; the empty path is ``top level``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "top level"


def _error(source: str, line_of: LineOf | None, problems: list[Problem]) -> ConfigError:
    """One line for the first problem, with a count of the rest."""
    loc, problem = problems[0]
    line = line_of(loc) if line_of is not None else None
    where = f"{source}:{line}" if line is not None else source
    more = len(problems) - 1
    suffix = f" (and {more} more problem{'s' * (more > 1)})" if more else ""
    return ConfigError(f"{where}: {_format_loc(loc)}: {problem}{suffix}")


def _line_finder(root: yaml.Node | None) -> LineOf:
    """A ``LineOf`` over a composed YAML document: the line of the deepest node on the path
    (for a mapping entry, the line of its key)."""

    def line_of(loc: Loc) -> int | None:
        if root is None:
            return 1
        node, line = root, root.start_mark.line + 1
        for part in loc:
            found = _child(node, part)
            if found is None:
                break
            anchor, node = found
            line = anchor.start_mark.line + 1
        return line

    return line_of


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """(node whose line to report, child node) for one step of a field path."""
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        matches = [
            (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part
        ]
        return matches[-1] if matches else None  # like safe_load, the last duplicate wins
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        item = node.value[part]
        return item, item
    return None


def _duplicate_keys(node: yaml.Node, loc: Loc) -> Iterator[Problem]:
    """Keys given twice in one mapping (``safe_load`` would silently keep the last)."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                yield (*loc, name), f"key {name!r} given twice (first on line {seen[name]})"
            seen.setdefault(name, key.start_mark.line + 1)
            yield from _duplicate_keys(value, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, i))
