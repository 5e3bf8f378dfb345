"""`python -m s2sad show FILE.py:FUNCTION ...`: the command line of `s2sad.cli`."""

from .cli import main

raise SystemExit(main())
