"""HTTP layer of the modelsim service: dependencies and one router per resource."""
