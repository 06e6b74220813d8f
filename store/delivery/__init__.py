"""Use cases of the notice outbox the transport drains."""
