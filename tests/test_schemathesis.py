"""The live REST API against its own OpenAPI document (schemathesis).

A real Daphne on the test database; schemathesis reads GET /api/openapi.json
from it and sends generated requests, valid and invalid, to every operation
(and, through the document's links, creates sessions and joins them). It
must find no 5xx, no status code the document does not list, no response
body, content type or header outside it, and a 405 with `Allow` for a
method a route does not take. Bounded (PARTYHUB_SCHEMATHESIS_EXAMPLES per
operation, 15 by default; about half a minute); a fixed seed keeps a run
reproducible (PARTYHUB_SCHEMATHESIS_SEED to explore others).

Not checked: that every schema-valid body is accepted. JSON Schema counts
8.0 as an integer and the API takes whole numbers written as such only,
as its clients always have (realtime.schema.Validator).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

from django.test import TransactionTestCase

from .servers import Daphne

EXAMPLES = os.environ.get("PARTYHUB_SCHEMATHESIS_EXAMPLES", "15")
SEED = os.environ.get("PARTYHUB_SCHEMATHESIS_SEED", "18")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "unsupported_method",
)
# The rate limits stay on (their 429 is part of the contract) but high
# enough that generated requests reach the code behind them.
LIMITS = {
    "PARTYHUB_RATE_LIMIT_CREATE": "5000/60",
    "PARTYHUB_RATE_LIMIT_JOIN": "5000/60",
    "PARTYHUB_RATE_LIMIT_ACTION": "50000/60",
    "PARTYHUB_RATE_LIMIT_ACCOUNT": "5000/60",
}


class SchemathesisTests(TransactionTestCase):
    serialized_rollback = True  # the question bank and decks a migration loads

    def test_the_live_api_keeps_its_openapi_document(self):
        with mock.patch.dict(os.environ, LIMITS):
            daphne = Daphne()
        self.addCleanup(daphne.close)
        cli = Path(sys.executable).with_name("schemathesis")
        workdir = tempfile.mkdtemp(prefix="partyhub-schemathesis-")
        self.addCleanup(shutil.rmtree, workdir, True)
        started = time.monotonic()
        result = subprocess.run(
            [
                str(cli),
                "--no-color",
                "run",
                f"http://127.0.0.1:{daphne.port}/api/openapi.json",
                "--checks",
                ",".join(CHECKS),
                "--max-examples",
                EXAMPLES,
                "--seed",
                SEED,
                "--request-timeout",
                "10",
                "--generation-database",
                "none",
            ],
            cwd=workdir,  # its caches (.schemathesis/) go there, not into the checkout
            capture_output=True,
            text=True,
            timeout=300,
        )
        elapsed = time.monotonic() - started
        output = result.stdout[-12000:] + result.stderr[-4000:]
        self.assertEqual(result.returncode, 0, f"schemathesis ({elapsed:.0f} s):\n{output}")
        self.assertIn("passed", result.stdout)
        self.assertNotIn("Traceback", daphne.process.logtext())
