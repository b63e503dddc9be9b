"""The lookup's one-statement read (scores and pending together) on PostgreSQL and MariaDB
answers what the two reads it replaced did."""

from __future__ import annotations

import pytest
import servers

from conftest import ToyPack
from lookup_read import assert_one_read_agrees
from rescore.db.engine import Database
from rescore.engine import Engine
from rescore.plugins import PackRegistry
from rescore.settings import Settings

pytestmark = pytest.mark.integration

make_database = servers.make_database
server_url = servers.server_url


def test_the_lookup_read_is_one_statement_that_agrees_with_two(server_url: str) -> None:
    engine = Engine(Database(server_url), PackRegistry([ToyPack()]), Settings())
    engine.migrate()
    try:
        assert_one_read_agrees(engine)
    finally:
        engine.close()
