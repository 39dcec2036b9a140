"""Local development and test helpers: the provider simulator."""
