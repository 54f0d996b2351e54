"""``python -m codeduel``: the same as the ``codeduel`` command (and ``python -m codeduel.cli``)."""

from codeduel.cli.app import main

main()
