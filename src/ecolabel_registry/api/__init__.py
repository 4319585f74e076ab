"""The HTTP API: FastAPI routers, request/response schemas and problem+json errors."""
