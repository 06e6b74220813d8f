"""Use cases that read the figures: stats, digest, day summaries, the board."""
