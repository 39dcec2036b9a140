"""Cost and spend accounting."""
