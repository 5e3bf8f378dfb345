"""Built-in reverse rules: shapes (see rules/core.py for the form)."""
