"""The ``codeduel`` command line: a thin typer + rich layer over :mod:`codeduel.api`.

Every user-fixable problem is one red line on stderr with exit code 2; Ctrl-C exits 130 and
SIGTERM 143 after saying which run is kept and how to resume it. With ``--json`` a command
prints exactly one JSON object on stdout and nothing else there.
"""

from codeduel.cli.app import app, main

__all__ = ["app", "main"]
