"""Routing a model group to its deployments: strategies, retries, fallbacks, cooldowns."""
