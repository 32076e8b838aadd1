"""Bulk work runs with the cyclic collector held back, and gives its thresholds back."""

from __future__ import annotations

import gc

import pytest

from arrears.kit.helpers import fewer_collections


def test_fewer_collections_raises_the_thresholds_and_restores_them():
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] > before[0]
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("bulk work failed")
    assert gc.get_threshold() == before
