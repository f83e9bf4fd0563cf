"""Fixtures of the integration tests.

``deployment``: a hub and its boxes in the test's folder, provisioned but not started
(tests/integration/relay_harness.py); whatever is still running is killed afterwards.
"""

from __future__ import annotations

import pytest

from tests.integration.relay_harness import Deployment


@pytest.fixture
def deployment(tmp_path):
    deployment = Deployment(tmp_path)
    yield deployment
    deployment.close()
