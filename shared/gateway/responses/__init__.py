"""OpenAI's Responses API (/v1/responses) on every provider.

OpenAI deployments get the request natively (native); every other deployment gets it
translated to chat (to_chat) and its answer translated back into a Response object or
the Responses stream events (from_chat). Stored responses (store, previous_response_id)
live in the stack's S3 bucket, scoped to the caller's team or key (store).
"""
