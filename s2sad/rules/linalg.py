"""Built-in reverse rules: linalg (see rules/core.py for the form)."""
