"""Configuration read from the environment once per cold start, validated, failing loudly."""
