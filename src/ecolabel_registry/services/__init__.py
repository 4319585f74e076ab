"""Use cases: validation and orchestration over repository ports, no web or SQL code."""
