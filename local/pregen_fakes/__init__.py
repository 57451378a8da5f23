"""Fakes shared by unit tests, integration tests and benchmarks: the Anthropic Messages API, the schema-following
model, the in-memory adapters of Pregen's ports. Never shipped to Lambda."""
