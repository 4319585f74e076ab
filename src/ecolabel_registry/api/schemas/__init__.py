"""Request and response bodies, one module per resource, with their domain conversions."""
