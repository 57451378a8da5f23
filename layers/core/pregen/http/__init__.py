"""The HTTP edge shared by the API functions: resolver, caller identity, error table, presenters."""
