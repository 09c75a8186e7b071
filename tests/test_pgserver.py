"""The tests' private PostgreSQL server: it starts, answers on loopback, and restarts."""

from __future__ import annotations

from typing import Any

import psycopg


def test_a_new_database_is_empty_and_answers(pg_url: str) -> None:
    """Each test gets its own empty database on a server bound to 127.0.0.1."""
    assert "@127.0.0.1:" in pg_url
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (0,)


def test_the_server_restarts_with_its_data(pg_server: Any) -> None:
    """A crash-restart of the server keeps committed rows (the daemons' reconnect test needs it)."""
    url = pg_server.create_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
    pg_server.restart()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT x FROM t").fetchone() == (1,)
