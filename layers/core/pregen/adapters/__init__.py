"""Adapters: the only code that talks to DynamoDB, SQS, CloudWatch Logs and the model providers."""
