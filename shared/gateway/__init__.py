"""LLM gateway: an OpenAI-compatible proxy for AWS Lambda."""
