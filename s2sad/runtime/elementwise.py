"""Run-time helpers for the elementwise rules (generated code calls them)."""
