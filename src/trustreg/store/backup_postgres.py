"""Backing up and restoring a PostgreSQL store with ``pg_dump``, ``pg_restore`` and ``psql``.

Backup: a REPEATABLE READ transaction exports its snapshot; ``pg_dump --snapshot``
dumps exactly that snapshot (custom format) while the facts for the manifest (rows
per table, audit head) are read in it too, so the two agree whatever the server
writes meanwhile.

Restore: ``pg_restore --clean --if-exists --no-owner --no-privileges`` turns the dump
into SQL, which ``psql --single-transaction`` runs after dropping the store's tables
and before a check of the rows per table and of the audit head against the manifest:
any error, a check that fails or a dump cut short rolls the whole restore back, and
the store is as it was.

The programs are found the way the tests find the server's (``/usr/lib/postgresql/*/bin``,
then ``PATH``); the newest one whose major version is at least the server's is used,
as an older ``pg_dump`` refuses a newer server.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from trustreg.errors import Conflict, InputFileError
from trustreg.store.backups import (
    BackupFailed,
    StoreFacts,
    describe_rows,
    non_empty,
    read_facts,
)
from trustreg.store.writes import GENESIS_HASH

MAGIC = b"PGDMP"
PROGRAMS = ("pg_dump", "pg_restore", "psql")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, slots=True)
class Tools:
    """One folder holding pg_dump, pg_restore and psql of one version."""

    bindir: Path
    major: int
    version: str

    def __call__(self, program: str) -> str:
        return str(self.bindir / program)


def _bindirs() -> list[Path]:
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/pg_dump")),
        key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("pg_dump")
    if on_path:
        found.append(Path(on_path).parent)  # not resolved: Debian's wrapper picks the version
    return list(dict.fromkeys(found))


def _tools_in(bindir: Path) -> Tools | None:
    if not all((bindir / program).exists() for program in PROGRAMS):
        return None
    try:
        answer = subprocess.run(
            [str(bindir / "pg_dump"), "--version"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = _VERSION.search(answer.stdout)
    if not found:
        return None
    return Tools(bindir, int(found.group(1)), found.group(0).split()[-1])


def find_tools(server_major: int) -> Tools:
    """The newest pg_dump, pg_restore and psql at least as new as the server, or an
    error saying what was found and what is needed."""
    found = [t for t in map(_tools_in, _bindirs()) if t is not None]
    usable = [t for t in found if t.major >= server_major]
    if usable:
        return max(usable, key=lambda t: t.major)
    need = (
        f"install the PostgreSQL {server_major} client programs (postgresql-client-{server_major})"
    )
    if not found:
        raise BackupFailed(
            f"pg_dump, pg_restore and psql not found (looked in /usr/lib/postgresql/*/bin and "
            f"on PATH): {need}, or put their folder on PATH"
        )
    best = max(found, key=lambda t: t.major)
    raise BackupFailed(
        f"the PostgreSQL server is version {server_major}, but the newest pg_dump found is "
        f"{best.version} ({best.bindir}), which cannot dump it: {need}"
    )


def _conninfo(engine: Engine) -> tuple[str, dict[str, str]]:
    """The libpq connection URI of the store and the environment carrying its password
    (kept out of the command line, which other users of the machine can read)."""
    url = engine.url
    plain = url.set(drivername="postgresql", password=None)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return plain.render_as_string(hide_password=False), env


def _server_major(connection: Connection) -> int:
    version = connection.dialect.server_version_info
    return int(version[0]) if version else 0


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    try:
        answer = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BackupFailed(f"{what}: cannot run {command[0]} ({exc})") from exc
    if answer.returncode != 0:
        raise BackupFailed(f"{what} failed: {_first_lines(answer.stderr)}")
    return answer.stdout


def _first_lines(stderr: str, count: int = 3) -> str:
    """The error lines of a program's messages (else its first lines), on one line."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "error:" in line]
    return " / ".join((errors or lines)[:count]) or "no message"


class PostgresBackups:
    """:class:`trustreg.store.backups.BackupEngine` for PostgreSQL."""

    kind = "postgresql"

    def dump(self, engine: Engine, partial: Path) -> StoreFacts:
        conninfo, env = _conninfo(engine)
        with _connected(engine) as connection:
            tools = find_tools(_server_major(connection))
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                snapshot = connection.scalar(text("SELECT pg_export_snapshot()"))
                facts = read_facts(connection)
                schema = str(connection.scalar(text("SELECT current_schema()")))
                # The transaction stays open until pg_dump has the snapshot (and longer).
                command = [tools("pg_dump"), "--format=custom", "--no-password"]
                command += [f"--snapshot={snapshot}", f"--file={partial}", f"--dbname={conninfo}"]
                _run(command, env, "pg_dump")
            version = ".".join(map(str, connection.dialect.server_version_info or ()))
        extra = {"schema": schema, "server_version": version, "pg_dump": tools.version}
        return StoreFacts(
            facts.revision, facts.tables, facts.audit_head_id, facts.audit_head_hash, extra
        )

    @contextmanager
    def audit_store(self, engine: Engine, partial: Path) -> Iterator[Engine]:
        # The dump cannot be read without restoring it; the live chain must contain
        # the dump's head (the caller passes it as the expected head) and be intact.
        yield engine

    def check_file(self, path: Path) -> None:
        with path.open("rb") as handle:
            if handle.read(len(MAGIC)) != MAGIC:
                raise InputFileError(
                    f"{path}: not a PostgreSQL dump in custom format (pg_dump --format=custom)"
                )

    def restore(self, engine: Engine, path: Path, facts: StoreFacts, force: bool) -> None:
        schema = facts.extra.get("schema", "public")
        with _connected(engine) as connection:
            tools = find_tools(_server_major(connection))
            _refuse_in_use(connection)
            tables = [
                str(name)
                for name in connection.scalars(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
                )
            ]
            if not force and (held := non_empty(read_facts(connection).tables)):
                raise Conflict(
                    f"the store {engine.url.database} is not empty ({describe_rows(held)}): "
                    "a restore replaces everything in it; add --force to do so"
                )
            quote = connection.dialect.identifier_preparer.quote_identifier
        engine.dispose()  # no connection of ours stays open on the tables dropped
        conninfo, env = _conninfo(engine)
        _run([tools("pg_restore"), "--list", str(path)], env, f"reading {path}")
        drop = ", ".join(f"{quote(schema)}.{quote(t)}" for t in tables)
        prelude = f"DROP TABLE IF EXISTS {drop} CASCADE;" if tables else "SELECT 1;"
        _pipe_restore(tools, path, conninfo, env, prelude, _check_sql(facts, schema, quote))


@contextmanager
def _connected(engine: Engine) -> Iterator[Connection]:
    try:
        connection = engine.connect()
    except OperationalError as exc:
        where = engine.url.render_as_string()
        raise BackupFailed(f"cannot connect to {where}: {' '.join(str(exc.orig).split())}") from exc
    with connection:
        yield connection


def _refuse_in_use(connection: Connection) -> None:
    others = connection.scalar(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
    )
    if others:
        raise Conflict(
            f"{others} other connection(s) to database {connection.engine.url.database} are "
            "open: stop the server and any other trustreg command using it, then restore"
        )


def _check_sql(facts: StoreFacts, schema: str, quote: Callable[[str], str]) -> str:
    """A DO block that raises, and so rolls the restore back, unless every table holds
    the rows the manifest lists and the audit log ends at the manifest's head.

    The manifest's names and hash were checked to be plain names and hex digits.
    """
    lines = ["DO $trustreg$ DECLARE found bigint; BEGIN"]
    for name, rows in facts.tables.items():
        lines.append(f"SELECT count(*) INTO found FROM {quote(schema)}.{quote(name)};")
        lines.append(
            f"IF found <> {int(rows)} THEN RAISE EXCEPTION "
            f"'table {name}: % rows restored, the manifest says {int(rows)}', found; END IF;"
        )
    if facts.audit_head_hash != GENESIS_HASH:
        last = f"SELECT entry_hash FROM {quote(schema)}.audit_entries ORDER BY id DESC LIMIT 1"
        lines.append(
            f"IF ({last}) IS DISTINCT FROM '{facts.audit_head_hash}' THEN RAISE EXCEPTION "
            f"'the restored audit log does not end at {facts.audit_head_hash}, the manifest''s "
            "head'; END IF;"
        )
    lines.append("END $trustreg$;")
    return "\n".join(lines)


def _pipe_restore(
    tools: Tools, path: Path, conninfo: str, env: dict[str, str], prelude: str, check: str
) -> None:
    """``prelude``, pg_restore's SQL and ``check`` in one psql transaction, which is
    committed only if pg_restore ended well too (else an error statement rolls it back)."""
    restore = [tools("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges"]
    restore += ["--file=-", str(path)]
    psql = [tools("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "--no-password"]
    psql += ["--set=ON_ERROR_STOP=1", f"--dbname={conninfo}", "--command", prelude, "--file=-"]
    # Messages go to files: a full pipe that nobody reads would stall the program.
    with tempfile.TemporaryFile() as restore_log, tempfile.TemporaryFile() as psql_log:
        with (
            subprocess.Popen(restore, stdout=subprocess.PIPE, stderr=restore_log, env=env) as sql,
            subprocess.Popen(
                psql, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_log, env=env
            ) as runner,
        ):
            assert sql.stdout is not None
            assert runner.stdin is not None
            try:
                shutil.copyfileobj(sql.stdout, runner.stdin, 1 << 20)
                ended_well = sql.wait() == 0
                # After a cut script psql may be inside a COPY: a line \. ends it first.
                last = check if ended_well else "\\.\n" + _ABORT
                runner.stdin.write(("\n" + last + "\n").encode())
                runner.stdin.close()
            except BrokenPipeError:  # psql stopped at an error: it rolled back
                sql.kill()
                ended_well = False
            runner.wait()
        if runner.returncode != 0:
            psql_log.seek(0)
            message = _first_lines(psql_log.read().decode(errors="replace"))
            raise BackupFailed(
                f"restoring {path} failed and was rolled back, the store is unchanged: {message}"
            )
        if not ended_well:  # pragma: no cover - psql fails on the abort statement first
            restore_log.seek(0)
            message = _first_lines(restore_log.read().decode(errors="replace"))
            raise BackupFailed(f"pg_restore {path} failed: {message}")


_ABORT = (
    "DO $trustreg$ BEGIN RAISE EXCEPTION 'pg_restore failed: nothing restored'; END $trustreg$;"
)
