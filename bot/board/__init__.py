"""The office board: a read-only web view served by the bot process (aiohttp + Jinja2)."""
