"""Use cases: pure Python, their ports passed in."""
