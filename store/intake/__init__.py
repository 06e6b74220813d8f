"""Use cases that bring a repair in: reports, drafts, the booth, sweeps."""
