"""Provider dialects (code) and the provider catalog (data)."""
