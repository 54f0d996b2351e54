"""Infilling: runs go through ``codeduel run --task humaneval-infill-* --fim-order psm|spm``.

This module adds only ``codeduel infill-formats``, which prints each model family's FIM
sentinels and an example prompt in both orders, so a user can check the exact string a run
sends (the usual cause of "I can't reproduce the published number") before spending hours.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from codeduel import api
from codeduel.cli.console import out, print_json, safe
from codeduel.cli.options import JsonOpt

_PREFIX = "def add(a, b):\n    "
_SUFFIX = "\n    return c\n"


def register(app: typer.Typer) -> None:
    """Attach ``infill-formats`` to ``app``."""

    @app.command("infill-formats")
    def infill_formats(
        as_json: JsonOpt = False,
    ) -> None:
        """List the FIM formats (sentinels, orders) with an example PSM/SPM prompt each.

        Example: codeduel infill-formats --json
        """
        rows: list[dict[str, Any]] = []
        for fmt in api.infill_formats().values():
            examples = {m: fmt.render(_PREFIX, _SUFFIX, m) for m in fmt.modes}
            rows.append(
                {
                    "name": fmt.name,
                    "prefix": fmt.prefix,
                    "suffix": fmt.suffix,
                    "middle": fmt.middle,
                    "end": fmt.eot,
                    "orders": list(fmt.modes),
                    "examples": examples,
                }
            )
        if as_json:
            print_json(rows)
            return
        table = Table(title="infilling formats (use with --fim-order)", title_justify="left")
        for column in ("format", "sentinels", "end", "orders", "example"):
            table.add_column(column)
        for row in rows:
            sentinels = " ".join((row["prefix"], row["suffix"], row["middle"]))
            example = "\n".join(f"{m}: {e!r}" for m, e in row["examples"].items())
            table.add_row(
                safe(row["name"]),
                safe(sentinels),
                safe(row["end"]),
                ", ".join(row["orders"]),
                safe(example),
            )
        out.print(table)
