"""The bot token never reaches a log line, in messages, arguments or tracebacks."""

from __future__ import annotations

import io
import logging

from bot.logs import REDACTED, RedactToken

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
