"""Use cases of the work on a ticket once filed."""
