"""Refs: how the analysis and the sweeps name a value.

A local is in SSA form after the analysis: each assignment makes a new
version, and a `Version` (name, version) names what the local holds after
it (version 0: a parameter, or the value on entry).  A value may be a
pytree (a tuple, list, dict or named tuple of arrays); a `Ref` names one
leaf of a version by its path of keys (`()`: the whole value).  Gradients,
tangents, activity and dependencies are all tables keyed by refs.
"""

from typing import NamedTuple


class Version(NamedTuple):
    """The value of local `name` after its `version`-th assignment."""
    name: str
    version: int

    def leaf(self, path: tuple = ()) -> "Ref":
        """The ref of the leaf at `path` in this value."""
        return Ref(self.name, self.version, path)


class Ref(NamedTuple):
    """One leaf of a local's version: `path` is the keys down to it."""
    name: str
    version: int
    path: tuple = ()

    @property
    def local(self) -> Version:
        """The version this leaf belongs to."""
        return Version(self.name, self.version)

    def child(self, path: tuple) -> "Ref":
        """The leaf at `path` below this one."""
        return Ref(self.name, self.version, self.path + path)
