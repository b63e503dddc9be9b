"""Real databases for the integration suite: a fresh database per test on the local
PostgreSQL and MariaDB servers, dropped afterwards (a test module binds the fixtures it uses,
``make_database = servers.make_database``). A server that is down skips the test
locally and fails it under CI=true (see ``helpers.need_service``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from helpers import need_service

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIA_ADMIN = "mysql+pymysql://root@127.0.0.1:3306/test"

SERVERS = {
    "postgresql": ("PostgreSQL", 5432, PG_ADMIN, "postgresql+psycopg://postgres@127.0.0.1:5432"),
    "mariadb": ("MariaDB", 3306, MARIA_ADMIN, "mysql+pymysql://root@127.0.0.1:3306"),
}


def _create(kind: str, name: str) -> None:
    admin = sa.create_engine(SERVERS[kind][2], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if kind == "postgresql":
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        else:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    admin.dispose()


def _drop(kind: str, name: str) -> None:
    admin = sa.create_engine(SERVERS[kind][2], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if kind == "postgresql":
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


MakeDatabase = Callable[[str], str]


@pytest.fixture
def make_database() -> Iterator[MakeDatabase]:
    """``make_database("postgresql" | "mariadb")`` -> the URL of a new, empty database."""
    made: list[tuple[str, str]] = []

    def make(kind: str) -> str:
        label, port, _admin, base = SERVERS[kind]
        need_service(label, port)
        name = f"rescore_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        _create(kind, name)
        made.append((kind, name))
        return f"{base}/{name}"

    yield make
    for kind, name in made:
        _drop(kind, name)


@pytest.fixture(params=["postgresql", "mariadb"])
def server_url(request: pytest.FixtureRequest, make_database: MakeDatabase) -> str:
    """A fresh database on each server in turn."""
    return make_database(request.param)
