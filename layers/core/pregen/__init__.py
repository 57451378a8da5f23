"""Pregen core: the domain, ports, adapters and use cases shared by every Lambda function."""

KEY_VERSION = "v1"
