"""HTTP layer of the identity service: dependencies and one router per resource."""
