"""Ports: what the services need from storage, and the data types that cross them.

Persistence implements these protocols; it imports from this package and from the domain,
never from a service module.
"""
