"""The domain: models, keys, errors, the clock and the rules. Imports nothing from the other rooms."""
