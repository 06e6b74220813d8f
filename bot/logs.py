"""No secret reaches any output: log lines, tracebacks, the last words of a crash.

The secrets are the bot token (and its secret half, which is all an attacker needs with
the public bot id), the webhook secret, the invite key and the database password. They are
registered once, when settings are read (`protect`), and from then on every log record and
every uncaught exception's traceback is rewritten before it is printed. Telegram's own
InvalidToken message quotes the whole token, and SQLAlchemy may print a URL: neither can
be trusted to keep quiet, so redaction happens where text leaves the process.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Iterable
from types import TracebackType
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


def configure_logging(token: str, level: int = logging.INFO) -> None:
    """Root logging with redaction on every handler; httpx's per-request lines are muted
    because they carry the token in the URL."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    protect(token)
    logging.getLogger("telegram.ext").addFilter(BriefStartupFailure())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
