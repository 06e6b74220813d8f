"""Use cases. Each takes a fresh unit of work and plain values, and returns plain data."""
