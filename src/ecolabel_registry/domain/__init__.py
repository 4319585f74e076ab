"""The domain: entities and the resolver's rules, in plain Python."""
