"""Run-time helpers for the linalg rules (generated code calls them)."""
