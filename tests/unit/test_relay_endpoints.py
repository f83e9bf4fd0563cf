"""box.toml's hub endpoints: one, several to fail over between, or a clear error."""

from __future__ import annotations

import pytest

from edge.config import RelaySection


def test_one_endpoint_several_or_both():
    assert RelaySection(hub_endpoint="tcp://a:7700").endpoints == ["tcp://a:7700"]
    several = RelaySection(hub_endpoints=["tcp://a:7700", "tcp://b:7701"])
    assert several.endpoints == ["tcp://a:7700", "tcp://b:7701"]
    both = RelaySection(hub_endpoint="tcp://a:7700", hub_endpoints=["tcp://b:7701", "tcp://a:7700"])
    assert both.endpoints == ["tcp://a:7700", "tcp://b:7701"]


def test_no_endpoint_or_a_wrong_one_is_refused_by_name():
    with pytest.raises(ValueError, match="hub_endpoint or hub_endpoints is required"):
        RelaySection()
    with pytest.raises(ValueError, match="hub_endpoints"):
        RelaySection(hub_endpoints=["http://b:7701"])
