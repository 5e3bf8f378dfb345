"""The one error users see when their code cannot be differentiated.

A `TransformError` always points at the user's own code: the function, the
file and line, the offending source line, and what to do instead.  Stages
raise it through `Source.error`, which knows the file and lines.
"""


class TransformError(Exception):
    """Raised when s2sad cannot build a gradient for a function."""

    def __init__(self, message, *, function=None, filename=None, lineno=None,
                 line=None, hint=None):
        self.message = message
        self.function = function
        self.filename = filename
        self.lineno = lineno
        self.line = line
        self.hint = hint
        super().__init__(self._format())

    def _format(self):
        where = ""
        if self.function:
            where = f"in {self.function}"
        if self.filename:
            where += f" ({self.filename}, line {self.lineno})" if self.lineno else f" ({self.filename})"
        parts = [f"s2sad cannot differentiate {where.strip()}: {self.message}" if where
                 else f"s2sad cannot differentiate: {self.message}"]
        if self.line:
            parts.append(f"    {self.line.strip()}")
        if self.hint:
            parts.append(f"What to do: {self.hint}")
        return "\n".join(parts)
