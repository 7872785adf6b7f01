"""The gateway service (needs the `[service]` extra)."""
