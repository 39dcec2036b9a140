"""Per-request telemetry: one CloudWatch EMF document and one access log line."""
