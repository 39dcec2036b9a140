"""POST /v1/completions: OpenAI's legacy text completions, passed through or served by chat."""
