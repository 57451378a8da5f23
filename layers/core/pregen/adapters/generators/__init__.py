"""Generator adapters. Importing this package imports no provider SDK: get-content must stay lean."""
