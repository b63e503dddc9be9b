"""Automation rules as data: a trigger, optional conditions, one or more actions.

A rule is validated whole (pydantic, strict, unknown keys refused); a bad one is refused with
:class:`InvalidInput` naming each bad field by its dotted path (``trigger.cron``,
``actions.0.notify.body``). Conditions are declarative, never evaluated code; message texts are
Jinja2 templates rendered in a sandbox (:mod:`rescore.automations.templates`) and checked for
syntax here.

A rule file (YAML or JSON) holds one rule or a list::

    - name: credit.default_alert
      pack: credit
      trigger: {kind: score, scorer: hybrid, crosses: {below: 500, band: 20}}
      actions:
        - notify: {channel: slack, title: "Score fell",
                   body: "{{ entity }}: {{ before | round }} -> {{ after | round }}"}
      throttle: {count: 1, per: 1d}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from rescore.exceptions import InvalidInput, Problem
from rescore.schedule import check_cron, check_zone

__all__ = [
    "Action",
    "Condition",
    "Conditions",
    "EventTrigger",
    "Rule",
    "ScheduleTrigger",
    "ScoreTrigger",
    "parse_duration",
    "parse_rules",
    "rule_of",
]

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
TEMPLATE_AT = re.compile(r"^(actions\.\d+\.\w+\.\w+|digest\.\w+): ")
Scalar = StrictStr | StrictInt | StrictFloat | StrictBool | None


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``7d``, ``2w`` as a timedelta."""
    found = DURATION.match(text.strip())
    if not found or int(found.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration: write a positive number and s, m, h, d or w")
    return timedelta(seconds=int(found.group(1)) * UNITS[found.group(2)])


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _duration(value: str) -> str:
    parse_duration(value)
    return value


class Condition(_Model):
    """``field`` (a dotted path into the firing's context) ``op`` ``value``."""

    field: StrictStr
    op: Literal[
        "eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "contains",
        "exists", "missing", "empty", "not_empty",
    ]  # fmt: skip
    value: Scalar | list[Scalar] = None


class Conditions(_Model):
    """Every one of ``all`` and at least one of ``any`` (when given) must hold."""

    all: list[Condition] = []
    any: list[Condition] = []


class EventTrigger(_Model):
    """Fires when an event of ``type`` is ingested (conditions see its ``payload``)."""

    kind: Literal["event"]
    type: StrictStr


class Crossing(_Model):
    """A threshold crossed downward (``below``) or upward (``above``); ``band`` is the
    hysteresis: after firing, the score must come back past the threshold by ``band`` before
    the rule can fire again for that entity."""

    below: StrictFloat | StrictInt | None = None
    above: StrictFloat | StrictInt | None = None
    band: StrictFloat | StrictInt = 0

    @model_validator(mode="after")
    def _one_side(self) -> Crossing:
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of below or above")
        if self.band < 0:
            raise ValueError("band must not be negative")
        return self


class Tiers(_Model):
    """Named bands by lower bound (``{bronze: 0, silver: 40, ...}``); fires when the tier
    changes in ``direction``."""

    bands: dict[StrictStr, StrictFloat | StrictInt]
    direction: Literal["up", "down", "any"] = "any"

    @field_validator("bands")
    @classmethod
    def _some(cls, value: dict[str, float]) -> dict[str, float]:
        if len(value) < 2:
            raise ValueError("give at least two tiers")
        return value


class Drop(_Model):
    """The score fell by at least ``points`` from its highest value within ``within``."""

    points: StrictFloat | StrictInt = Field(gt=0)
    within: StrictStr

    _check = field_validator("within")(lambda cls, v: _duration(v))


class NewComponent(_Model):
    """Each component of the score's breakdown that rises above ``above`` (from absent or at
    most ``above``) fires the rule once, for that component, ever: the firing's context names
    it as ``component`` (with ``component_value``). For scores whose breakdown lists who is
    concerned, such as the subscribers a tender matches (one component each): each hears of
    it once, including on the entity's first score."""

    above: StrictFloat | StrictInt = 0


class ScoreTrigger(_Model):
    """Fires on a change of ``scorer``'s value: a crossing, a tier change or a drop; or for
    each new component of its breakdown (``new_component``)."""

    kind: Literal["score"]
    scorer: StrictStr
    crosses: Crossing | None = None
    tier: Tiers | None = None
    drop: Drop | None = None
    new_component: NewComponent | None = None

    @model_validator(mode="after")
    def _one_test(self) -> ScoreTrigger:
        tests = ("crosses", "tier", "drop", "new_component")
        given = [n for n in tests if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of crosses, tier, drop or new_component")
        return self


class ScheduleTrigger(_Model):
    """Fires on a cron schedule in an IANA time zone, for each member of a pack's
    ``audience`` (or once, for the tenant, without one). ``timezone: audience`` runs the cron
    in each audience group's own zone (each business's, for birthdays at 09:00 local)."""

    kind: Literal["schedule"]
    cron: StrictStr
    timezone: StrictStr = "UTC"
    audience: StrictStr | None = None

    _check = field_validator("cron")(lambda cls, v: check_cron(v))

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return value if value == "audience" else check_zone(value)

    @model_validator(mode="after")
    def _audience_zone(self) -> ScheduleTrigger:
        if self.timezone == "audience" and self.audience is None:
            raise ValueError("timezone: audience needs an audience")
        return self


class Notify(_Model):
    """A message through a channel: ``channel`` names ``RESCORE_CHANNEL_<NAME>`` (an Apprise
    URL from the environment) unless ``url`` gives one; ``{to}`` in the URL is replaced by
    the rendered ``to``."""

    channel: StrictStr | None = None
    url: StrictStr | None = None
    to: StrictStr | None = None
    title: StrictStr = "{{ rule }}"
    body: StrictStr

    @model_validator(mode="after")
    def _where(self) -> Notify:
        if (self.channel is None) == (self.url is None):
            raise ValueError("give exactly one of channel or url")
        return self


class Webhook(_Model):
    """POST the firing as JSON, signed with HMAC-SHA256 of ``<timestamp>.<body>`` under the
    secret in the environment variable ``secret_env``."""

    url: StrictStr
    secret_env: StrictStr | None = None

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class Ingest(_Model):
    """Ingest a new event (its ``event_id`` derives from the firing, so once only)."""

    type: StrictStr
    entity: StrictStr = "{{ entity }}"
    payload: dict[str, Any] = {}


class Action(_Model):
    """Exactly one of ``notify``, ``webhook`` or ``ingest``."""

    notify: Notify | None = None
    webhook: Webhook | None = None
    ingest: Ingest | None = None

    @model_validator(mode="after")
    def _one(self) -> Action:
        if sum(x is not None for x in (self.notify, self.webhook, self.ingest)) != 1:
            raise ValueError("give exactly one of notify, webhook or ingest")
        return self

    @property
    def kind(self) -> str:
        return "notify" if self.notify else "webhook" if self.webhook else "ingest"


class Throttle(_Model):
    """At most ``count`` firings of the rule per entity per ``per``."""

    count: StrictInt = Field(ge=1)
    per: StrictStr

    _check = field_validator("per")(lambda cls, v: _duration(v))


class Digest(_Model):
    """Collect a window's notifications into one message per recipient."""

    window: StrictStr
    title: StrictStr = "{{ count }} × {{ rule }}"
    body: StrictStr = "{% for m in messages %}- {{ m.body }}\n{% endfor %}"

    _check = field_validator("window")(lambda cls, v: _duration(v))


class QuietHours(_Model):
    """No notification between ``start`` and ``end`` (HH:MM, may wrap midnight) in
    ``timezone``; they wait until ``end``."""

    start: StrictStr = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: StrictStr = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: StrictStr = "UTC"

    _check = field_validator("timezone")(lambda cls, v: check_zone(v))


class Rule(_Model):
    """An automation rule. ``name`` is unique per tenant; ``pack`` scopes event and score
    triggers to one pack's events and scorers (and names the pack whose audience a schedule
    uses)."""

    name: StrictStr
    pack: StrictStr | None = None
    description: StrictStr = ""
    enabled: StrictBool = True
    trigger: EventTrigger | ScoreTrigger | ScheduleTrigger = Field(discriminator="kind")
    conditions: Conditions = Conditions()
    actions: list[Action] = Field(min_length=1)
    throttle: Throttle | None = None
    digest: Digest | None = None
    quiet_hours: QuietHours | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(
                "letters, digits, '_', '.', '-' only, up to 128, not starting with a sign"
            )
        return value

    @model_validator(mode="after")
    def _templates(self) -> Rule:
        from rescore.automations.templates import check

        for where, text in self.templates():
            check(text, where)
        return self

    def templates(self) -> list[tuple[str, str]]:
        """Every template text of the rule with its dotted path (checked on load)."""
        found: list[tuple[str, str]] = []
        for i, action in enumerate(self.actions):
            if action.notify:
                for part in ("to", "title", "body"):
                    text = getattr(action.notify, part)
                    if text is not None:
                        found.append((f"actions.{i}.notify.{part}", text))
            if action.ingest:
                found.append((f"actions.{i}.ingest.entity", action.ingest.entity))
        if self.digest:
            found += [("digest.title", self.digest.title), ("digest.body", self.digest.body)]
        return found

    def as_data(self) -> dict[str, Any]:
        """The rule as plain data (what is stored, listed and written back to files)."""
        return self.model_dump(mode="json", exclude_defaults=True) | {"name": self.name}


def rule_of(data: Any, *, index: int | None = None) -> Rule:
    """Validate one rule; :class:`InvalidInput` names every bad field."""
    if not isinstance(data, Mapping):
        raise InvalidInput("a rule must be a mapping of name, trigger, actions, ...", field="rule")
    try:
        return Rule.model_validate(dict(data))
    except ValidationError as exc:
        problems = [_problem(e, index) for e in exc.errors()]
        first = problems[0]
        raise InvalidInput(first.message, field=first.field, problems=problems) from None


def _problem(error: Any, index: int | None) -> Problem:
    path = ".".join(str(p) for p in error["loc"] if not _is_union_tag(p))
    message = str(error["msg"]).removeprefix("Value error, ")
    if not path and TEMPLATE_AT.match(message):  # a template's own path, said by check()
        path, message = message.split(": ", 1)
    return Problem(field=path, message=message, index=index, label="rule")


def _is_union_tag(part: object) -> bool:
    """pydantic names the union member it tried (``score``, ``function-after[...]``)."""
    return isinstance(part, str) and (part in ("event", "score", "schedule") or "[" in part)


def parse_rules(text: str, *, where: str = "rules") -> list[Rule]:
    """Rules from YAML or JSON text (one rule or a list), all or nothing."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{where} is not YAML or JSON: {exc}", field=where) from None
    items: Sequence[Any] = data if isinstance(data, list) else [data]
    rules: list[Rule] = []
    problems: list[Problem] = []
    for i, item in enumerate(items, start=1):
        try:
            rules.append(rule_of(item, index=i if len(items) > 1 else None))
        except InvalidInput as exc:
            problems.extend(exc.problems or [Problem(field=exc.field or "", message=exc.message)])
    names = [r.name for r in rules]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(Problem(field="name", message=f"{name!r} is given twice", label="rule"))
    if problems:
        raise InvalidInput(str(problems[0]), field=problems[0].field, problems=problems)
    return rules
