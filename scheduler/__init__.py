"""Time-driven work free of Telegram: the ticks that call store use cases (rows, not memory)
and which instance leads; bot/scheduling.py puts them on the job queue."""
