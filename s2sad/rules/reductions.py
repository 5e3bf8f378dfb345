"""Built-in reverse rules: reductions (see rules/core.py for the form)."""
