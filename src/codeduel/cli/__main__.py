"""``python -m codeduel.cli``: the same as the ``codeduel`` command."""

from codeduel.cli.app import main

main()
