"""One module per flow; each exposes `handlers()` for bot.app to register."""
