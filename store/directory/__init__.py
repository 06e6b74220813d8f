"""Use cases of who and where: people, staff, invites, places."""
