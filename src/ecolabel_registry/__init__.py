"""Eco-label mutual recognition registry: schemes, certificates, agreements and a resolver."""

__version__ = "0.1.0"
