"""POST /v1/embeddings: OpenAI's embeddings API over OpenAI-compatible and Bedrock models."""
