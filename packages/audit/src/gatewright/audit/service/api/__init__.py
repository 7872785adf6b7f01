"""HTTP layer of the audit service: dependencies and routers."""
