"""Anthropic Messages API on providers that speak OpenAI chat.

A Messages request (gateway.schemas.anthropic) is translated into a
ChatCompletionRequest (to_chat), runs through the chat pipeline, and its answer is
translated back: a ChatCompletion into a Message, a chunk stream into Anthropic stream
events (from_chat). fold turns an event stream into the Message it describes.
Pure functions over typed data; no I/O. Reference:
https://docs.anthropic.com/en/api/messages (anthropic-version 2023-06-01).
"""
