"""The Athena named queries (analytics/*.sql), run locally with DuckDB over the export's files.

The .sql files are Athena (Trino) SQL, deployed as they are (stacks/analytics.py). Here sqlglot
transpiles each to DuckDB; the one construct it drops is mended: Trino's
`from_unixtime(seconds, zone)` becomes `to_timestamp(seconds) AT TIME ZONE zone` (sqlglot keeps
only the seconds, which would count every day in UTC). The table `stripe_events` is a DuckDB view
over the export's gzipped JSON lines, with the partition columns `dt` and `type` read from the
Hive-style key (`events/dt=YYYY-MM-DD/type=<event type>/...`), as the Glue table declares them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ANALYTICS_DIR = Path(__file__).resolve().parent.parent.parent / "analytics"
TABLE = "stripe_events"
EVENTS_PREFIX = "events/"  # where the export writes, under the analytics bucket
# The Glue table's columns (stacks/analytics.py): the EventBridge envelope; `detail` (the Stripe
# event) stays JSON text, read with json_extract*, because Stripe objects differ by API version.
COLUMNS = {
    "version": "VARCHAR",
    "id": "VARCHAR",
    "source": "VARCHAR",
    "account": "VARCHAR",
    "time": "VARCHAR",
    "region": "VARCHAR",
    "detail": "JSON",
}


class QueryError(RuntimeError):
    """A query file could not be transpiled or run; str() names the file."""


@dataclass(frozen=True)
class NamedQuery:
    name: str  # the file stem, also the Athena named query's name
    description: str  # the file's first comment line
    sql: str  # Athena SQL, as deployed
    parameters: int  # how many `?` execution parameters it takes

    @property
    def path(self) -> Path:
        return ANALYTICS_DIR / f"{self.name}.sql"


def load_queries(folder: Path = ANALYTICS_DIR) -> list[NamedQuery]:
    """Every analytics/*.sql file, sorted by name."""
    import sqlglot

    found = []
    for path in sorted(folder.glob("*.sql")):
        sql = path.read_text(encoding="utf-8").strip()
        first = next((line for line in sql.splitlines() if line.startswith("--")), "-- ")
        try:
            expression = sqlglot.parse_one(sql, read="athena")
        except sqlglot.errors.ParseError as err:
            raise QueryError(f"{path.name}: not valid Athena SQL: {err}") from None
        parameters = len(list(expression.find_all(sqlglot.exp.Placeholder)))
        found.append(NamedQuery(path.stem, first[2:].strip(), sql, parameters))
    return found


def to_duckdb(sql: str) -> str:
    """Athena SQL -> DuckDB SQL (see the module docstring for the one mended construct)."""
    import sqlglot
    from sqlglot import exp

    def mend(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.UnixToTime) and node.args.get("zone") is not None:
            seconds = exp.Anonymous(this="to_timestamp", expressions=[node.this.copy()])
            return exp.AtTimeZone(this=seconds, zone=node.args["zone"].copy())
        return node

    tree = sqlglot.parse_one(sql, read="athena").transform(mend)
    return tree.sql(dialect="duckdb")


def connect(export_dir: Path) -> Any:
    """A DuckDB connection whose `stripe_events` view reads the export under `export_dir`
    (a copy of the bucket: `export_dir/events/dt=.../type=.../*.gz`)."""
    import duckdb

    con = duckdb.connect()
    files = sorted((export_dir / EVENTS_PREFIX).glob("dt=*/type=*/*"))
    if not files:  # an empty export: the same columns, no rows
        columns = ", ".join(f'CAST(NULL AS {t}) AS "{n}"' for n, t in COLUMNS.items())
        con.execute(
            f"CREATE VIEW {TABLE} AS SELECT {columns}, CAST(NULL AS VARCHAR) AS dt, "
            "CAST(NULL AS VARCHAR) AS type WHERE false"
        )
        return con
    listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    columns = ", ".join(f"'{n}': '{t}'" for n, t in COLUMNS.items())
    con.execute(
        f"CREATE VIEW {TABLE} AS SELECT * FROM read_json([{listing}], "
        f"format = 'newline_delimited', compression = 'gzip', columns = {{{columns}}}, "
        "hive_partitioning = true, hive_types = {'dt': 'VARCHAR', 'type': 'VARCHAR'})"
    )
    return con


def run(con: Any, query: NamedQuery, parameters: Sequence[Any]) -> list[dict[str, Any]]:
    if len(parameters) != query.parameters:
        raise QueryError(
            f"{query.path.name}: takes {query.parameters} parameter(s), got {len(parameters)}"
        )
    try:
        cursor = con.execute(to_duckdb(query.sql), list(parameters))
    except Exception as err:  # duckdb's errors have no common base worth naming here
        raise QueryError(f"{query.path.name}: {type(err).__name__}: {err}") from None
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
