"""HTTP layer of the gateway service."""
