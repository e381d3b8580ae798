"""An offline emulator of the Azure AI Face liveness API (test mode). See docs/testing.md."""
