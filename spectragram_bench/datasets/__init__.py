"""Dataset loaders, registered by name in core.registry."""
