"""Azure AI Face liveness detection for Django."""

__version__ = "0.3.0"
