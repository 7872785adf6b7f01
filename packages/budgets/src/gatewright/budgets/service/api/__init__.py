"""HTTP layer of the budgets service: dependencies and one router per resource."""
