"""The fuzz stage (`nox -s fuzz`): Schemathesis and hostile-input properties on real services."""
