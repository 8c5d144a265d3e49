"""Reading a ``%schedule`` line: options, the *when* (``every 10m`` …) and the call.

A magic line is not shell syntax: ``refresh(df, limit=5)`` must reach Python intact, quotes
and all, while ``cron "*/5 9-17 * * mon-fri"`` needs shell-like quoting. So the line is cut
into words only up to the start of the call; everything after is handed to :mod:`ast`. The
called function and every argument are *evaluated once, here*, in the user's namespace: the
job stores those values (the function by reference when importable, otherwise by value), so
it survives a kernel restart without re-running the cell that defined them.

Every problem raises :class:`SpecError` with one line saying what to fix; the magic turns it
into an IPython ``UsageError``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

__all__ = [
    "FLAG_OPTIONS",
    "SUBCOMMANDS",
    "VALUE_OPTIONS",
    "WHEN_KEYWORDS",
    "CallSpec",
    "ParsedLine",
    "SpecError",
    "Token",
    "WhenSpec",
    "build_trigger",
    "check_storable",
    "evaluate_call",
    "parse_duration",
    "parse_line",
    "tokenize",
]

WHEN_KEYWORDS = ("every", "cron", "at", "in")
SUBCOMMANDS = ("list", "pause", "resume", "remove", "run", "history", "log", "panel")
#: Options that take a value (``--name x`` or ``--name=x``).
VALUE_OPTIONS = frozenset(
    {"--name", "--id", "--executor", "--timezone", "--max-instances", "--misfire-grace",
     "--jitter", "--start", "--end", "--store", "--limit"}
)
FLAG_OPTIONS = frozenset({"--coalesce", "--no-coalesce", "-h", "--help"})

_UNITS = {
    "ms": 0.001, "msec": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "wk": 604800, "week": 604800, "weeks": 604800,
}
#: Unit words that may stand alone, meaning one of them (``every hour``).
_LONE_UNITS = {"second", "minute", "hour", "day", "week"}
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_PIECE = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)")
# Units between numbers are required (``1h30m``, ``1h30``): with optional letters inside a
# repeated group, a run of digits could be split in exponentially many ways on a mismatch.
_DURATION_WORD = re.compile(r"^(?:\d+(?:\.\d+)?[A-Za-z]+)*\d+(?:\.\d+)?[A-Za-z]*$")
_TIME_OF_DAY = re.compile(r"^\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNIT_HINT = "use ms, s, m, h, d or w, e.g. 'every 10m' or 'in 30s'"


class SpecError(ValueError):
    """A ``%schedule`` line that cannot be understood; the message says what to fix."""


@dataclass(frozen=True)
class Token:
    """One word of the line, with where it sits (so the call can be cut out verbatim)."""

    text: str
    start: int
    end: int
    quoted: bool = False


@dataclass(frozen=True)
class WhenSpec:
    """The *when* part: ``kind`` is one of :data:`WHEN_KEYWORDS`; ``value`` is parsed."""

    kind: str
    text: str
    value: Any  # timedelta (every/in), str (cron expression), datetime or time (at)


@dataclass
class ParsedLine:
    """A magic line cut into its parts (nothing evaluated yet)."""

    options: list[str] = field(default_factory=list)
    subcommand: str | None = None
    targets: list[str] = field(default_factory=list)
    when: WhenSpec | None = None
    call: str = ""


@dataclass(frozen=True)
class CallSpec:
    """The evaluated call: what to run and with which (already computed) arguments."""

    text: str
    func: Any
    args: tuple
    kwargs: dict[str, Any]


# --- cutting the line ---------------------------------------------------------------------


def tokenize(line: str) -> list[Token]:
    """Split ``line`` at whitespace; single or double quotes group a word (and are removed)."""
    tokens: list[Token] = []
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        start = i
        if line[i] in "\"'":
            quote = line[i]
            close = line.find(quote, i + 1)
            if close < 0:
                raise SpecError(f"unclosed quote {quote} in: {line[start:].strip()}")
            tokens.append(Token(line[i + 1 : close], start, close + 1, quoted=True))
            i = close + 1
            continue
        while i < n and not line[i].isspace():
            i += 1
        tokens.append(Token(line[start:i], start, i))
    return tokens


def _take_options(tokens: list[Token], i: int, out: list[str]) -> int:
    """Move option words (and their values) from ``tokens[i:]`` to ``out``; return next index."""
    while i < len(tokens) and tokens[i].text.startswith("-") and not tokens[i].quoted:
        word = tokens[i].text
        name = word.split("=", 1)[0]
        if not _looks_like_option(word):
            break
        out.append(word)
        i += 1
        if name in VALUE_OPTIONS and "=" not in word:
            if i >= len(tokens):
                raise SpecError(f"{name} needs a value, e.g. {name} {_example(name)}")
            out.append(tokens[i].text)
            i += 1
    return i


def _looks_like_option(word: str) -> bool:
    return bool(re.match(r"^--?[A-Za-z][\w-]*(=.*)?$", word))


def _example(option: str) -> str:
    return {
        "--name": "report", "--id": "report", "--executor": "thread",
        "--timezone": "Europe/Berlin", "--max-instances": "2", "--misfire-grace": "30",
        "--jitter": "5", "--start": "2026-12-01T09:00", "--end": "2026-12-31",
        "--store": "default", "--limit": "20",
    }.get(option, "VALUE")


def parse_line(line: str, *, cell: bool = False) -> ParsedLine:
    """Cut a magic line into options, a subcommand or a *when*, and the call text.

    ``cell=True`` (``%%schedule``): the line holds options and the *when* only.
    """
    tokens = tokenize(line)
    parsed = ParsedLine()
    i = _take_options(tokens, 0, parsed.options)
    if i >= len(tokens):
        if cell:
            raise SpecError("%%schedule needs a schedule, e.g. %%schedule every 1h --name report")
        parsed.subcommand = "list"
        return parsed
    word = tokens[i].text.lower()
    if not cell and word in SUBCOMMANDS and not tokens[i].quoted:
        parsed.subcommand = word
        i += 1
        while i < len(tokens):
            j = _take_options(tokens, i, parsed.options)
            if j == i:
                parsed.targets.append(tokens[i].text)
                j = i + 1
            i = j
        return parsed
    if word not in WHEN_KEYWORDS or tokens[i].quoted:
        hint = "" if cell else f" (or a subcommand: {', '.join(SUBCOMMANDS)})"
        raise SpecError(
            f"unknown schedule {tokens[i].text!r}: start with every, cron, at or in{hint}, "
            "e.g. every 10m f()"
        )
    parsed.when, i = _parse_when(tokens, i)
    i = _take_options(tokens, i, parsed.options)
    if cell:
        if i < len(tokens):
            raise SpecError(
                f"unexpected {line[tokens[i].start:].strip()!r}: %%schedule takes options and "
                "a schedule on its line; the cell body is what runs"
            )
        return parsed
    if i >= len(tokens):
        raise SpecError(
            f"missing the call after {parsed.when.text!r}: say what to run, "
            f"e.g. %schedule {parsed.when.text} refresh(df, limit=5)"
        )
    parsed.call, trailing = _split_trailing_options(line[tokens[i].start :].strip())
    if trailing:
        rest = tokenize(trailing)
        end = _take_options(rest, 0, parsed.options)
        if end < len(rest):
            raise SpecError(f"unexpected {trailing[rest[end].start:]!r} after the call")
    return parsed


def _split_trailing_options(text: str) -> tuple[str, str]:
    """``"f(x) --name a"`` → ``("f(x)", "--name a")``; text that parses as is stays whole."""
    if _parses(text):
        return text, ""
    for match in re.finditer(r"\s(--?[A-Za-z])", text):
        head = text[: match.start()].rstrip()
        if _parses(head):
            return head, text[match.start() :].strip()
    return text, ""


def _parses(text: str) -> bool:
    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    return True


def _parse_when(tokens: list[Token], i: int) -> tuple[WhenSpec, int]:
    kind = tokens[i].text.lower()
    i += 1
    if i >= len(tokens):
        raise SpecError(f"'{kind}' needs a value, e.g. {_when_example(kind)}")
    if kind in ("every", "in"):
        words: list[str] = []
        while i < len(tokens) and not tokens[i].quoted:
            word = tokens[i].text
            lower = word.lower()
            unit_after_number = lower in _UNITS and words and _NUMBER.match(words[-1])
            if _NUMBER.match(word):
                # a bare number belongs to the duration only when a unit follows it
                # ("every 10 minutes"), or when nothing came before (reported as unitless)
                following = tokens[i + 1].text.lower() if i + 1 < len(tokens) else ""
                if words and following not in _UNITS:
                    break
                words.append(word)
            elif _DURATION_WORD.match(word) or unit_after_number:
                words.append(word)
            elif lower in _LONE_UNITS and not words and kind == "every":
                words.append(f"1{lower}")
            else:
                break
            i += 1
        if not words:
            raise SpecError(
                f"'{kind} {tokens[i].text}': expected a duration, {_UNIT_HINT}"
                if i < len(tokens) else f"'{kind}' needs a duration, {_UNIT_HINT}"
            )
        text = " ".join(words)
        return WhenSpec(kind, f"{kind} {text}", parse_duration(text)), i
    if kind == "cron":
        token = tokens[i]
        if token.quoted or token.text.startswith("@"):
            expr, i = token.text, i + 1
        else:
            fields = [t.text for t in tokens[i : i + 5]]
            if len(fields) < 5:
                raise SpecError(
                    "cron needs five fields (minute hour day month weekday), best quoted: "
                    'cron "*/5 9-17 * * mon-fri" f()'
                )
            expr, i = " ".join(fields), i + 5
        return WhenSpec("cron", f'cron "{expr}"', expr), i
    # at
    text = tokens[i].text
    i += 1
    if (
        _DATE.match(text)
        and i < len(tokens)
        and _TIME_OF_DAY.match(tokens[i].text)
        and not tokens[i].quoted
    ):
        text, i = f"{text} {tokens[i].text}", i + 1
    return WhenSpec("at", f"at {text}", _parse_at(text)), i


def _when_example(kind: str) -> str:
    return {
        "every": "every 10m f()", "in": "in 30s f()",
        "cron": 'cron "*/5 9-17 * * mon-fri" f()', "at": "at 2026-12-01T09:00 f()",
    }[kind]


def parse_duration(text: str) -> timedelta:
    """``"10m"``, ``"1h30m"``, ``"90 s"``, ``"1.5 hours"``, ``"500ms"`` → a timedelta."""
    compact = text.strip()
    pieces = _PIECE.findall(compact)
    if not pieces or _PIECE.sub("", compact).strip():
        raise SpecError(f"{text!r}: not a duration; {_UNIT_HINT}")
    seconds = 0.0
    for number, unit in pieces:
        if not unit:
            raise SpecError(f"{text!r}: missing a unit after {number}; {_UNIT_HINT}")
        factor = _UNITS.get(unit.lower())
        if factor is None:
            raise SpecError(f"unknown unit {unit!r} in {text!r}; {_UNIT_HINT}")
        seconds += float(number) * factor
    if seconds <= 0:
        raise SpecError(f"{text!r}: the duration must be longer than zero")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise SpecError(f"{text!r}: the duration is too long (at most 999999999 days)") from None


def _parse_at(text: str) -> datetime | time:
    if _TIME_OF_DAY.match(text):
        parts = [float(p) for p in text.split(":")]
        try:
            whole = int(parts[2]) if len(parts) > 2 else 0
            micro = round((parts[2] - whole) * 1e6) if len(parts) > 2 else 0
            return time(int(parts[0]), int(parts[1]), whole, micro)
        except ValueError as exc:
            raise SpecError(f"at {text}: {exc}") from None
    value = text.replace("T", " ", 1) if "T" in text else text
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SpecError(
            f"at {text}: not a date-time; write YYYY-MM-DDTHH:MM (e.g. at 2026-12-01T09:00) "
            "or a time of day (at 09:30)"
        ) from None


# --- triggers -------------------------------------------------------------------------------


def build_trigger(
    when: WhenSpec,
    timezone: tzinfo,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    jitter: float | None = None,
    now: datetime | None = None,
) -> Any:
    """Turn the *when* into a trigger (errors from the trigger classes become SpecError)."""
    from nbsched.triggers.date import DateTrigger
    from nbsched.triggers.interval import IntervalTrigger

    now = now or datetime.now(timezone)
    if when.kind in ("at", "in") and (start is not None or end is not None):
        raise SpecError(f"--start/--end apply to repeating schedules, not to '{when.kind}'")
    if when.kind in ("at", "in") and jitter:
        raise SpecError(f"--jitter applies to repeating schedules, not to '{when.kind}'")
    try:
        if when.kind == "every":
            return IntervalTrigger(
                seconds=when.value.total_seconds(), start_date=start, end_date=end,
                timezone=timezone, jitter=jitter,
            )
        if when.kind == "in":
            return DateTrigger(now + when.value, timezone=timezone)
        if when.kind == "at":
            return DateTrigger(_at_datetime(when, timezone, now), timezone=timezone)
        return _cron_trigger(when.value, timezone, start, end, jitter)
    except SpecError:
        raise
    except (ValueError, TypeError, LookupError) as exc:
        raise SpecError(f"{when.text}: {exc}") from None


def _at_datetime(when: WhenSpec, timezone: tzinfo, now: datetime) -> datetime:
    value = when.value
    if isinstance(value, time):
        local_now = now.astimezone(timezone)
        moment = datetime.combine(local_now.date(), value).replace(tzinfo=timezone)
        if moment <= local_now:
            moment = datetime.combine(local_now.date() + timedelta(days=1), value)
            moment = moment.replace(tzinfo=timezone)
        return moment
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone)
    if value <= now:
        raise SpecError(f"{when.text}: that time has passed (now is {now:%Y-%m-%d %H:%M:%S})")
    return value


def _cron_trigger(
    expr: str, timezone: tzinfo, start: Any, end: Any, jitter: float | None
) -> Any:
    from nbsched.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(
        expr, timezone=timezone, start_date=start, end_date=end, jitter=jitter
    )


# --- the call -------------------------------------------------------------------------------


def evaluate_call(text: str, namespace: Mapping[str, Any]) -> CallSpec:
    """Evaluate the function and argument expressions of ``text`` in ``namespace``, once.

    ``f(x, limit=5)``, ``module.f(*xs, **opts)`` and a bare ``f`` (no arguments) are accepted.
    """
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise SpecError(
            f"cannot read the call {source!r} ({exc.msg}); write a Python call such as "
            "refresh(df, limit=5)"
        ) from None
    node = tree.body
    if isinstance(node, ast.Call):
        func_node, arg_nodes, keyword_nodes = node.func, node.args, node.keywords
    elif isinstance(node, (ast.Name, ast.Attribute)):
        func_node, arg_nodes, keyword_nodes = node, [], []
    else:
        raise SpecError(
            f"{source!r} is not a function call; write the call to schedule, "
            "e.g. refresh(df, limit=5)"
        )
    ns = dict(namespace) if not isinstance(namespace, dict) else namespace
    func = _evaluate(func_node, ns, "the function")
    if not callable(func):
        raise SpecError(
            f"{ast.unparse(func_node)} is a {type(func).__name__}, not a function: "
            "schedule a callable"
        )
    args: list[Any] = []
    for index, arg in enumerate(arg_nodes, 1):
        if isinstance(arg, ast.Starred):
            value = _evaluate(arg.value, ns, f"argument {index}")
            try:
                args.extend(value)
            except TypeError:
                raise SpecError(f"*{ast.unparse(arg.value)} is not iterable") from None
        else:
            args.append(_evaluate(arg, ns, f"argument {index}"))
    kwargs: dict[str, Any] = {}
    for keyword in keyword_nodes:
        if keyword.arg is None:
            value = _evaluate(keyword.value, ns, "the ** argument")
            if not isinstance(value, Mapping):
                raise SpecError(f"**{ast.unparse(keyword.value)} is not a mapping")
            kwargs.update(value)
        else:
            kwargs[keyword.arg] = _evaluate(keyword.value, ns, f"argument {keyword.arg}=")
    return CallSpec(ast.unparse(node), func, tuple(args), kwargs)


def _evaluate(node: ast.expr, namespace: dict[str, Any], what: str) -> Any:
    expr = ast.unparse(node)
    try:
        code = compile(ast.Expression(body=node), "<%schedule>", "eval")
        return eval(code, namespace)
    except NameError as exc:
        name = getattr(exc, "name", None) or expr
        if what == "the function":
            raise SpecError(
                f"unknown function {name!r}: define or import it before scheduling"
            ) from None
        raise SpecError(f"unknown name {name!r} in {what} ({expr}): define it first") from None
    except AttributeError as exc:
        raise SpecError(f"{expr}: {exc}") from None
    except Exception as exc:
        raise SpecError(
            f"evaluating {what} ({expr}) failed: {type(exc).__name__}: {exc}"
        ) from None


def check_storable(call: CallSpec) -> None:
    """Fail early, with the argument's name, if a persistent store could not keep the call.

    The store pickles the arguments (and notebook-defined functions, by value) when the job
    is added; checking here turns a deep pickling traceback into one line.
    """
    import cloudpickle

    from nbsched.serialization import is_by_reference

    if not is_by_reference(call.func):
        try:
            cloudpickle.dumps(call.func)
        except Exception as exc:
            raise SpecError(
                f"the function {_short(call.text)} cannot be stored ({_reason(exc)}); "
                "move it into a module, or use --store memory (lost on restart)"
            ) from None
    labelled = [(f"argument {i}", v) for i, v in enumerate(call.args, 1)]
    labelled += [(f"argument {k}=", v) for k, v in call.kwargs.items()]
    for label, value in labelled:
        try:
            cloudpickle.dumps(value)
        except Exception as exc:
            raise SpecError(
                f"{label} ({type(value).__name__}) cannot be stored ({_reason(exc)}); pass "
                "something picklable (e.g. a path or parameters to rebuild it), or use "
                "--store memory (lost on restart)"
            ) from None


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
