"""The bot token never reaches a log line, in messages, arguments or tracebacks."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
import warnings
from collections.abc import Iterator

import pytest

from bot.logs import REDACTED, RedactToken, configure_logging

TOKEN = "123456789:" + "FAKE-test-secret-" + "0123456789" * 2  # built, not a credential


def _logger() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactToken(TOKEN))
    logger = logging.getLogger("test.redaction")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_token_in_message_and_arguments_is_redacted() -> None:
    logger, stream = _logger()
    logger.info("POST https://api.telegram.org/bot%s/getUpdates", TOKEN)
    logger.warning(f"failed for bot{TOKEN}")
    out = stream.getvalue()
    assert TOKEN not in out
    assert out.count(REDACTED) == 2 and "getUpdates" in out


def test_token_in_a_traceback_is_redacted() -> None:
    logger, stream = _logger()
    try:
        raise RuntimeError(f"connection to /bot{TOKEN}/sendMessage refused")
    except RuntimeError:
        logger.exception("send failed")
    out = stream.getvalue()
    assert TOKEN not in out
    assert "RuntimeError" in out and REDACTED in out


@pytest.fixture
def root_logging() -> Iterator[None]:
    """configure_logging rewires the root logger and the exception hooks: put them back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    hooks = sys.excepthook, threading.excepthook
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.captureWarnings(False)
        sys.excepthook, threading.excepthook = hooks


def test_json_logs_are_one_object_per_line_and_never_show_the_token(
    root_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(TOKEN, "INFO", "json")
    log = logging.getLogger("bot.updates")
    log.info("update %d %s", 7, "command", extra={"update_id": 7, "kind": "command", "ms": 1.5})
    log.info("calling /bot%s/getMe", TOKEN, extra={"url": f"https://x/bot{TOKEN}/getMe"})
    log.debug("not at INFO")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"deprecated for {TOKEN}", DeprecationWarning, stacklevel=1)
    try:
        raise RuntimeError(f"refused: {TOKEN}")
    except RuntimeError:
        log.exception("send failed for %s", TOKEN.partition(":")[2])
    out = capsys.readouterr().err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 4
    assert lines[2]["logger"] == "py.warnings" and "DeprecationWarning" in lines[2]["message"]
    del lines[2]
    first = lines[0]
    assert {k: first[k] for k in ("level", "logger", "message")} == {
        "level": "INFO",
        "logger": "bot.updates",
        "message": "update 7 command",
    }
    assert (first["update_id"], first["kind"], first["ms"]) == (7, "command", 1.5)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert lines[1]["url"] == f"https://x/bot{REDACTED}/getMe"
    assert "RuntimeError" in lines[2]["exc"] and lines[2]["level"] == "ERROR"
    assert TOKEN not in out and TOKEN.partition(":")[2] not in out
    assert out.count(REDACTED) == 5


def test_text_logs_at_warning_level_drop_info(
    root_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(TOKEN, "WARNING", "text")
    logging.getLogger("bot.updates").info("update 1 command")
    logging.getLogger("bot.app").warning("careful with %s", TOKEN)
    out = capsys.readouterr().err
    assert "update 1" not in out
    assert re.search(r"WARNING bot\.app: careful with <secret>$", out.strip())
