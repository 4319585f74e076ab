"""Reference data (real schemes, with sources) and an illustrative demo registry."""
