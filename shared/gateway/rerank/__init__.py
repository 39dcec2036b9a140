"""POST /v1/rerank: Cohere's rerank API over Cohere, Bedrock and OpenAI-compatible servers."""
