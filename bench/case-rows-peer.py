"""The SQLite floor under case intake: real case rows written straight into a table with Pingan's own
schema for cases (every index the lists and the duplicate search need), with nothing else: no
routing, no duplicate search, no numbering, no history, no tallies, no text index.

It is the peer of `pingan bench submit --batch 10000` (BENCHMARKS.md section 4): what SQLite itself
takes to store the rows an import makes, on the same machine, in transactions of the same size.
It also counts the pages a small group commit (50 cases, as concurrent submissions make) writes
to the log per case: every index entry of a new case lands on a page of its own.

Usage: python3 bench/case-rows-peer.py DB [ROUNDS] [--costs]
DB is a database filled by `pingan simulate` (its newest 100,000 cases are the rows written; it is
only read). Runs on Python's own SQLite library. With --costs, the case rows alone are written
again without each secondary index in turn, without any, and with commits not synced: what each
part of the floor costs.
"""

import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time

ROWS = 100_000
BATCH = 10_000
GROUP = 50


def schema(source: sqlite3.Connection) -> list[str]:
    """The cases table with its indexes, and the history table, as the source holds them, without
    the reference to divisions (the scratch file holds no divisions)."""
    rows = source.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name IN ('cases', 'case_actions') AND sql IS NOT NULL"
        " ORDER BY tbl_name DESC, type DESC"
    ).fetchall()
    return [sql.replace("REFERENCES divisions (code)", "") for (sql,) in rows]


PAGE_SIZE = 8192


def connect(path: str, synchronous: str = "FULL") -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    # As Pingan's writer: its page size (for a new file), WAL, every commit synced, a 128 MB page cache.
    connection.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {synchronous}")
    connection.execute("PRAGMA cache_size = -131072")
    return connection


def batches(rows: list, ddl: list[str], scratch: str, history: dict | None = None, synchronous: str = "FULL") -> float:
    """Seconds to write `rows` into a new file in transactions of BATCH rows, each row followed by
    its entries in `history` if given."""
    path = os.path.join(scratch, "batches.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    connection = connect(path, synchronous)
    for statement in ddl:
        connection.execute(statement)
    insert = "INSERT INTO cases VALUES (%s)" % ",".join("?" * len(rows[0]))
    insert_entry = "INSERT INTO case_actions VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    started = time.perf_counter()
    for first in range(0, len(rows), BATCH):
        connection.execute("BEGIN")
        if history is None:
            connection.executemany(insert, rows[first : first + BATCH])
        else:
            for row in rows[first : first + BATCH]:
                connection.execute(insert, row)
                connection.executemany(insert_entry, history.get(row[0], ()))
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def group_pages(database: str, rows: list, scratch: str) -> float:
    """Log pages per case when groups of GROUP new cases are committed into a copy of `database`."""
    path = os.path.join(scratch, "groups.db")
    shutil.copyfile(database, path)
    connection = connect(path)
    connection.execute("PRAGMA wal_autocheckpoint = 0")
    insert = "INSERT INTO cases VALUES (%s)" % ",".join("?" * len(rows[0]))
    pages = []
    for group in range(20):
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        prefix = "new-%d-" % group
        fresh = [(prefix + row[0], prefix + row[1], *row[2:14], row[14] and prefix + row[14], *row[15:])
                 for row in rows[group * GROUP : (group + 1) * GROUP]]
        connection.execute("BEGIN")
        connection.executemany(insert, fresh)
        connection.execute("COMMIT")
        pages.append(connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    connection.close()
    return statistics.median(pages) / GROUP


def costs(rows: list, ddl: list[str], scratch: str, rounds: int) -> None:
    """The case rows alone, as Pingan writes them and then each way lighter, the variants
    alternated round by round (the machine is noisy)."""
    secondary = [statement.split()[2] for statement in ddl if statement.startswith("CREATE INDEX")]
    variants = {"as Pingan writes them": (ddl, "FULL")}
    for name in secondary:
        variants[f"without {name}"] = ([s for s in ddl if s.split()[2:3] != [name]], "FULL")
    variants["without any secondary index"] = ([s for s in ddl if not s.startswith("CREATE INDEX")], "FULL")
    variants["commits not synced"] = (ddl, "OFF")
    rates: dict = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (statements, synchronous) in variants.items():
            rates[name].append(len(rows) / batches(rows, statements, scratch, None, synchronous))
    for name, measured in rates.items():
        print(f"{name}: median {statistics.median(measured):,.0f} cases/s ({', '.join(f'{r:,.0f}' for r in measured)})")


def main() -> None:
    arguments = [a for a in sys.argv[1:] if a != "--costs"]
    database = arguments[0]
    rounds = int(arguments[1]) if len(arguments) > 1 else 3
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    ddl = schema(source)
    newest = source.execute("SELECT * FROM cases ORDER BY reported_at DESC LIMIT ?", (ROWS,)).fetchall()
    # A new case's history: its report, and its acceptance and dispatch where the rules allow.
    history: dict = {}
    for entry in source.execute(
        "SELECT a.* FROM case_actions AS a JOIN (SELECT id FROM cases ORDER BY reported_at DESC LIMIT ?) AS c"
        " ON a.case_id = c.id WHERE a.sequence <= 3 ORDER BY a.case_id, a.sequence",
        (ROWS,),
    ):
        history.setdefault(entry[0], []).append(entry)
    source.close()
    # Ids are time-ordered, and an import writes its cases in that order. A new case is open:
    # dispatched where it has a handler, else reported (the open-case indexes hold it).
    newest = [(*row[:3], "dispatched" if row[8] else "reported", *row[4:]) for row in sorted(newest)]
    entries = sum(len(e) for e in history.values())
    print(f"SQLite {sqlite3.sqlite_version}; {len(newest)} case rows of {database} ({len(ddl) - 2} indexes),"
          f" {entries} history entries")
    with tempfile.TemporaryDirectory() as scratch:
        if "--costs" in sys.argv:
            costs(newest, ddl, scratch, rounds)
            return
        for what, entries in (("case rows", None), ("case rows with their history", history)):
            rates = [len(newest) / batches(newest, ddl, scratch, entries) for _ in range(rounds)]
            print(
                f"{what}, transactions of {BATCH}: best {max(rates):,.0f} cases/s,"
                f" median {statistics.median(rates):,.0f} ({', '.join(f'{r:,.0f}' for r in rates)})"
            )
        per_case = group_pages(database, newest, scratch)
        print(f"groups of {GROUP} new cases into a copy of the file: {per_case:.1f} log pages per case")


if __name__ == "__main__":
    main()
