"""Time-driven work: jobs that call store services on a schedule (rows, not memory)."""
