import os
import shutil
from collections.abc import Iterator

import pytest

from guardpay.adapters.analytics import DuckDBEngine, SparkEngine


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkEngine]:
    """One local Spark for the session (it takes seconds to start): the tests that use it
    share an xdist group, so one worker starts it."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail(
            "the Spark tests need a Java runtime: `make test` installs Debian's "
            "default-jre-headless when it is missing; elsewhere, install one first"
        )
    engine = SparkEngine("local[2]")
    yield engine
    engine.close()


@pytest.fixture
def duckdb() -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine()
    yield engine
    engine.close()
