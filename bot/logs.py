"""No secret reaches any output: log lines, tracebacks, the last words of a crash.

The secrets are the bot token (and its secret half, which is all an attacker needs with
the public bot id), the webhook secret, the invite key and the database password. They are
registered once, when settings are read (`protect`), and from then on every log record and
every uncaught exception's traceback is rewritten before it is printed. Telegram's own
InvalidToken message quotes the whole token, and SQLAlchemy may print a URL: neither can
be trusted to keep quiet, so redaction happens where text leaves the process.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

REDACTED = "<secret>"
# A secret shorter than this would blank out ordinary words ("a", "db"); such a password
# protects nothing anyway.
MIN_SECRET = 4
_secrets: set[str] = set()


def register(*secrets: str | None) -> None:
    """Add values to hide from every output (and their URL-encoded forms)."""
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET:
            _secrets.add(secret)
            _secrets.add(quote(secret, safe=""))
            # A token is "<bot id>:<secret>": the secret half alone must go too.
            _, colon, half = secret.partition(":")
            if colon and len(half) >= MIN_SECRET:
                _secrets.add(half)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every registered (and every given) secret replaced by REDACTED."""
    # Longest first, so the whole token goes before its secret half would leave "123:".
    for secret in sorted({*_secrets, *secrets}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactToken(logging.Filter):
    """Replace the registered secrets (and `token`) in each record's message and
    traceback; never drops a record."""

    def __init__(self, token: str = "") -> None:
        super().__init__()
        register(token)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place."""
        if not _secrets:
            return True
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class BriefStartupFailure(logging.Filter):
    """PTB logs a failed start-up (a refused token, no network) with a long traceback just
    before `repairbot run` says in one line what to do: keep PTB's line, drop the trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Strip the traceback of PTB's bootstrap retry-loop records."""
        if record.getMessage().startswith("Network Retry Loop (Bootstrap"):
            record.exc_info, record.exc_text = None, None
        return True


def _print_redacted(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(exc_type, exc, tb))))


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _print_redacted(args.exc_type, args.exc_value, args.exc_traceback)


def protect(*secrets: str | None) -> None:
    """Register secrets and make every way text leaves the process redact them: the
    handlers of the root logger, and the last-resort hooks for uncaught exceptions."""
    register(*secrets)
    sys.excepthook = _print_redacted
    threading.excepthook = _thread_hook
    _filter_root_handlers()


def _filter_root_handlers() -> None:
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactToken) for f in handler.filters):
            handler.addFilter(RedactToken())


# The attributes every LogRecord has; anything else on a record came in `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the record's
    `extra` fields, and `exc` (the traceback) when there is one. Every string in it is
    redacted, the extra fields too (RedactToken rewrites the message only)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        when = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            entry["exc"] = record.exc_text or self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = record.stack_info
        return redact(json.dumps(_redacted(entry), ensure_ascii=False, default=str))


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


def configure_logging(token: str, level: int | str = logging.INFO, fmt: str = "text") -> None:
    """Root logging (text lines, or JSON lines with fmt="json") with redaction on every
    handler; httpx's per-request lines are muted because they carry the token in the URL."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Python's warnings (PTB's, say) as log records too, so a JSON log stays all JSON.
    logging.captureWarnings(True)
    protect(token)
    logging.getLogger("telegram.ext").addFilter(BriefStartupFailure())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
