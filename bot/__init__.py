"""Telegram transport: thin handlers, one module per flow, texts in catalogs."""
