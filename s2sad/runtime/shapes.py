"""Run-time helpers for the shapes rules (generated code calls them)."""
