"""Run-time helpers for the reductions rules (generated code calls them)."""
