"""Rules every use case shares; each function here needs a unit of work its caller opened."""
