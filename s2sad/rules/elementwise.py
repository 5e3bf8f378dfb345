"""Built-in reverse rules: elementwise (see rules/core.py for the form)."""
