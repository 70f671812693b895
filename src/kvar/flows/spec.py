"""A flows file: channels, policies and retention flows, read from YAML and checked before anything runs.

The shape is published as a JSON Schema (``kvar/flows/flows.schema.json``, docs/flows.md). Reading a file
checks, and collects every problem with its line before raising:

1. the YAML itself (a syntax error names its line);
2. the schema: unknown keys, missing keys, durations (``60d``, ``12h``, ``2w``), clock times, shares;
3. what the schema cannot say: unique flow names, steps that name a channel of the right kind, caps on known
   channels, a known time zone, templates that exist beside the file and parse as Jinja2, no flow ending
   in a wait.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from kvar.errors import InputError
from kvar.i18n import marked, tr
from kvar.metrics.segments import SEGMENT_RULES

TRIGGERS = (
    "acquired",
    "inactive_for",
    "anniversary_of",
    "before_renewal",
    "risk_above",
    "segment_entered",
    "nps_detractor",
    "payment_failed",
    "card_expiring",
)
_DURATION = re.compile(r"^([1-9][0-9]{0,3})([dhw])$")
#: kvar's RFM segments (:data:`kvar.metrics.segments.SEGMENT_RULES`) by their case-folded name.
SEGMENTS = {rule[0].casefold(): rule[0] for rule in SEGMENT_RULES}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flows file, at a line (1-based; 0 when it concerns the whole file)."""

    line: int
    path: str
    message: str

    def shown(self, file: Path) -> str:
        where = f"{file}:{self.line}" if self.line else str(file)
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class FlowFileError(InputError):
    """A flows file that cannot run; ``problems`` lists everything wrong with it, in line order."""

    def __init__(self, file: Path, problems: list[Problem]) -> None:
        self.file = file
        self.problems = sorted(problems, key=lambda problem: (problem.line, problem.path))
        first = self.problems[0].shown(file)
        more = len(self.problems) - 1
        super().__init__(
            first + (tr(" (and {more} more: kvar flows validate {file})").format(more=more, file=file) if more else "")
        )


@dataclass(frozen=True)
class Channel:
    """A named way to reach a customer: ``email`` (SMTP) or ``webhook`` (HTTP POST)."""

    name: str
    kind: str
    settings: Mapping[str, str]


@dataclass(frozen=True)
class Step:
    """One step of a flow: send through a channel (``email`` or ``webhook``), or ``wait``."""

    kind: str
    line: int
    channel: str | None = None
    template: str | None = None
    subject: str | None = None
    unless: str | None = None
    wait: dt.timedelta | None = None


@dataclass(frozen=True)
class Flow:
    """A flow: who enters it (trigger and audience), who is held out, what success means, and its steps."""

    name: str
    line: int
    trigger: str
    trigger_value: Any
    steps: tuple[Step, ...]
    kind: str = "marketing"
    audience: tuple[str, ...] = ()
    holdout: float = 0.0
    goal: tuple[str, dt.timedelta] | None = None


@dataclass(frozen=True)
class Policies:
    """Caps per channel (``{"email": {"per_day": 1}}``), quiet hours and the global holdout share."""

    caps: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    quiet_start: dt.time | None = None
    quiet_end: dt.time | None = None
    timezone: str = "UTC"
    global_holdout: float = 0.0


@dataclass(frozen=True)
class FlowFile:
    """A checked flows file."""

    path: Path
    channels: Mapping[str, Channel]
    policies: Policies
    flows: tuple[Flow, ...]


def schema() -> dict[str, Any]:
    """The published JSON Schema of a flows file."""
    return json.loads(resources.files("kvar.flows").joinpath("flows.schema.json").read_text(encoding="utf-8"))


def duration(text: str) -> dt.timedelta:
    """``60d``, ``12h`` or ``2w`` as a timedelta (checked by the schema before)."""
    match = _DURATION.match(text)
    if not match:
        raise InputError(tr("expected a duration such as 60d, 12h or 2w, got {text!r}").format(text=text))
    amount, unit = int(match.group(1)), match.group(2)
    return {"d": dt.timedelta(days=amount), "h": dt.timedelta(hours=amount), "w": dt.timedelta(weeks=amount)}[unit]


def read_flows(path: Path | str) -> FlowFile:
    """Read and check a flows file; :class:`FlowFileError` lists every problem with its line."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FlowFileError(file, [Problem(0, "", tr("cannot read the file: {error}").format(error=error))]) from None
    try:
        document = yaml.safe_load(text)
        lines = _lines(yaml.compose(text))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(error, "problem", None) or str(error)
        raise FlowFileError(file, [Problem(line, "", tr("not valid YAML: {reason}").format(reason=reason))]) from None
    if not isinstance(document, dict):
        raise FlowFileError(file, [Problem(1, "", tr("expected keys channels, policies and flows at the top"))])
    problems = [_problem(error, lines) for error in Draft202012Validator(schema()).iter_errors(document)]
    if problems:
        raise FlowFileError(file, problems)
    flows_file = _build(file, document, lines)
    problems = list(_meaning(flows_file, lines))
    if problems:
        raise FlowFileError(file, problems)
    return flows_file


def write_flows(document: Mapping[str, Any], path: Path | str) -> FlowFile:
    """Build a flows file from Python: ``document`` is what the YAML would hold (``channels``, ``policies``,
    ``flows``), checked as :func:`read_flows` checks a file before it is written to ``path`` (templates are found
    beside it). The file is what a worker reads, and re-reads after a restart."""
    file = Path(path)
    problems = [_problem(error, {}) for error in Draft202012Validator(schema()).iter_errors(dict(document))]
    if problems:
        raise FlowFileError(file, problems)
    file.write_text(yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return read_flows(file)


def _lines(node: yaml.Node | None, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """The 1-based line of every mapping key and sequence item, by its path in the document."""
    out: dict[tuple[Any, ...], int] = {}
    if node is None:
        return out
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            out.update(_lines(value, child))
            out[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out.update(_lines(item, (*path, index)))
    return out


def _shown_path(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _line_of(path: tuple[Any, ...], lines: Mapping[tuple[Any, ...], int]) -> int:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


def _problem(error: SchemaError, lines: Mapping[tuple[Any, ...], int]) -> Problem:
    """A schema error in words, at its line; for "one of" errors the closest alternative's complaint."""
    error = _closest(error)
    path = tuple(error.absolute_path)
    at = path
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        at = (*path, unknown[0]) if unknown else path  # the line of the unknown key itself
    return Problem(_line_of(at, lines), _shown_path(path), _message(error))


def _closest(error: SchemaError) -> SchemaError:
    """For a ``oneOf`` (a step, a channel), the alternative whose complaint goes deepest, as the user meant it."""
    if error.validator == "oneOf" and error.context:
        kind = _step_or_channel_kind(error.instance)
        if kind is None and isinstance(error.instance, dict):
            return error  # not recognisably any alternative: say what the alternatives are
        candidates = [sub for sub in error.context if kind is None or kind in json.dumps(sub.schema)]
        best = max(candidates or error.context, key=lambda sub: (len(sub.absolute_path), -len(sub.schema_path)))
        return _closest(best)
    return error


def _step_or_channel_kind(instance: Any) -> str | None:
    if isinstance(instance, dict):
        for key in ("email", "webhook", "wait", "smtp_url", "webhook_url"):
            if key in instance:
                return f'"{key}"'
    return None


_PATTERNS = {
    "^[1-9][0-9]{0,3}[dhw]$": marked("a duration such as 60d, 12h or 2w"),
    "^([01][0-9]|2[0-3]):[0-5][0-9]$": marked("a time of day HH:MM"),
    "^[a-z][a-z0-9_]{0,62}$": marked("a name of lower-case letters, digits and _ (starting with a letter)"),
    "\\.j2$": marked("a Jinja2 template file ending in .j2"),
    "^smtps?://": marked("an smtp:// or smtps:// URL"),
    "^https?://": marked("an http:// or https:// URL"),
}


def _message(error: SchemaError) -> str:
    validator, value = error.validator, error.instance
    if validator == "required":
        missing = [name for name in error.validator_value if name not in (value or {})]
        return tr("missing {keys}").format(keys=", ".join(missing))
    if validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(value) - set(allowed))
        return tr("unknown key {keys}; expected {allowed}").format(
            keys=", ".join(map(repr, unknown)), allowed=", ".join(allowed) or "none"
        )
    if validator in ("minProperties", "maxProperties") and "trigger" in error.schema_path:
        return tr("expected exactly one trigger among {triggers}").format(triggers=", ".join(TRIGGERS))
    if validator in ("minProperties", "maxProperties") and "goal" in list(error.schema_path):
        return tr("expected exactly one goal among {goals}").format(goals=", ".join(sorted(error.schema["properties"])))
    if validator == "pattern":
        expected = _PATTERNS.get(error.validator_value, error.validator_value)
        return tr("expected {expected}, got {value!r}").format(expected=tr(expected), value=value)
    if validator in ("enum", "const"):
        allowed = error.validator_value if validator == "enum" else [error.validator_value]
        return tr("expected {allowed}, got {value!r}").format(
            allowed=" or ".join(json.dumps(item) for item in allowed), value=value
        )
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        low = error.schema.get("minimum", error.schema.get("exclusiveMinimum"))
        high = error.schema.get("maximum", error.schema.get("exclusiveMaximum"))
        return tr("expected a number from {low} to {high}, got {value!r}").format(low=low, high=high, value=value)
    if validator == "minItems":
        return tr("expected at least one item")
    if validator == "type":
        kind = _KINDS.get(str(error.validator_value), marked("a value"))
        return tr("expected {kind}, got {value!r}").format(kind=tr(kind), value=value)
    if validator == "oneOf" and "steps" in list(error.absolute_path):
        return tr("expected a step: email, webhook or wait; got {keys}").format(keys=", ".join(map(repr, value)))
    if validator == "oneOf":
        return tr("expected a channel with smtp_url (e-mail) or webhook_url (webhook); got {keys}").format(
            keys=", ".join(map(repr, value))
        )
    return error.message  # pragma: no cover - every validator the schema uses is worded above


_KINDS = {
    "object": marked("keys and values"),
    "array": marked("a list"),
    "string": marked("text"),
    "integer": marked("a whole number"),
    "number": marked("a number"),
    "boolean": marked("true or false"),
}


def _build(file: Path, document: dict[str, Any], lines: Mapping[tuple[Any, ...], int]) -> FlowFile:
    channels = {
        name: Channel(name, "email" if "smtp_url" in settings else "webhook", dict(settings))
        for name, settings in (document.get("channels") or {}).items()
    }
    raw = document.get("policies") or {}
    quiet = raw.get("quiet_hours") or {}
    policies = Policies(
        caps=raw.get("caps") or {},
        quiet_start=dt.time.fromisoformat(quiet["start"]) if quiet else None,
        quiet_end=dt.time.fromisoformat(quiet["end"]) if quiet else None,
        timezone=quiet.get("timezone", "UTC"),
        global_holdout=float((raw.get("holdout") or {}).get("global", 0.0)),
    )
    flows = []
    for index, item in enumerate(document["flows"]):
        ((trigger, trigger_value),) = item["trigger"].items()
        audience = (item.get("audience") or {}).get("segment", ())
        goal = next(iter(item["goal"].items())) if item.get("goal") else None
        steps = tuple(
            _step(step, lines.get(("flows", index, "steps", number), 0)) for number, step in enumerate(item["steps"])
        )
        flows.append(
            Flow(
                name=item["name"],
                line=lines.get(("flows", index), 0),
                trigger=trigger,
                trigger_value=trigger_value,
                steps=steps,
                kind=item.get("kind", "marketing"),
                audience=tuple(SEGMENTS.get(name.casefold(), name) for name in _as_list(audience)),
                holdout=float(item.get("holdout", 0.0)),
                goal=(goal[0], duration(goal[1])) if goal else None,
            )
        )
    return FlowFile(file, channels, policies, tuple(flows))


def _step(step: dict[str, Any], line: int) -> Step:
    ((kind, settings),) = step.items()
    if kind == "wait":
        return Step("wait", line, wait=duration(settings))
    return Step(
        kind,
        line,
        channel=settings.get("channel"),
        template=settings.get("template"),
        subject=settings.get("subject"),
        unless=settings.get("unless"),
    )


def _meaning(flows_file: FlowFile, lines: Mapping[tuple[Any, ...], int]) -> Iterator[Problem]:
    """What the schema cannot check."""
    seen: dict[str, int] = {}
    by_kind = {
        kind: sorted(name for name, channel in flows_file.channels.items() if channel.kind == kind)
        for kind in ("email", "webhook")
    }
    for name in flows_file.policies.caps:
        if name not in flows_file.channels:
            line = lines.get(("policies", "caps", name), 0)
            yield Problem(line, f"policies.caps.{name}", tr("no channel named {name}").format(name=name))
    try:
        zoneinfo.ZoneInfo(flows_file.policies.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        line = lines.get(("policies", "quiet_hours", "timezone"), 0)
        zone = flows_file.policies.timezone
        yield Problem(line, "policies.quiet_hours.timezone", tr("unknown time zone {zone!r}").format(zone=zone))
    templates = jinja2.Environment(loader=jinja2.FileSystemLoader(flows_file.path.parent), autoescape=True)
    for flow in flows_file.flows:
        named = [*flow.audience, *(_as_list(flow.trigger_value) if flow.trigger == "segment_entered" else [])]
        for segment in named:
            if segment.casefold() not in SEGMENTS:
                yield Problem(
                    flow.line,
                    f"{flow.name}",
                    tr("unknown segment {name!r}; kvar's segments are {names}").format(
                        name=segment, names=", ".join(SEGMENTS.values())
                    ),
                )
        if flow.name in seen:
            yield Problem(
                flow.line,
                flow.name,
                tr("a second flow named {name} (the first is on line {line})").format(
                    name=flow.name, line=seen[flow.name]
                ),
            )
        seen.setdefault(flow.name, flow.line)
        if flow.steps[-1].kind == "wait":
            yield Problem(flow.steps[-1].line, f"{flow.name}.steps", tr("a flow cannot end with a wait"))
        for step in flow.steps:
            if step.kind == "wait":
                continue
            where = f"{flow.name}.steps"
            candidates = by_kind[step.kind]
            if step.channel is not None and step.channel not in candidates:
                yield Problem(
                    step.line,
                    where,
                    tr("no {kind} channel named {name}; the {kind} channels are {names}").format(
                        kind=step.kind, name=step.channel, names=", ".join(candidates) or tr("none")
                    ),
                )
            elif step.channel is None and len(candidates) != 1:
                yield Problem(
                    step.line,
                    where,
                    tr("name the {kind} channel (channel: …) among {names}").format(
                        kind=step.kind, names=", ".join(candidates) or tr("none: add one under channels")
                    ),
                )
            if step.template is not None:
                yield from _template_problems(templates, step.template, step.line, where)


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _template_problems(templates: jinja2.Environment, name: str, line: int, where: str) -> Iterator[Problem]:
    try:
        templates.get_template(name)
    except jinja2.TemplateNotFound:
        yield Problem(line, where, tr("template {name} not found beside the flows file").format(name=name))
    except jinja2.TemplateSyntaxError as error:
        yield Problem(
            line,
            where,
            tr("template {name} line {at}: {reason}").format(name=name, at=error.lineno, reason=error.message),
        )
