"""Azure AI Face liveness detection for Django."""

__version__ = "0.2.0"
