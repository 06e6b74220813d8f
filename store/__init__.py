"""The repair-ticket domain and its persistence. Nothing here imports Telegram."""
