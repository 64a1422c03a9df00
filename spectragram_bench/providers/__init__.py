"""Speech-to-text provider adapters, registered by name in core.registry."""
