"""The headers every board response carries (the middleware in bot.board.server sets
them; a streamed export, whose headers go before its body, sets them itself)."""

from __future__ import annotations

# Pages are read by phones inside Telegram and by browsers: nothing loads from elsewhere.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors *"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
