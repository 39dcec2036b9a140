"""The response cache: request fingerprints, S3 storage, stream replay."""
