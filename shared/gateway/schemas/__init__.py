"""Wire formats: the public OpenAI shapes and what the gateway stores or enqueues."""
