"""Fixtures shared by the unit tests (the session-wide setup lives in the root conftest.py)."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread: on a shared 2-core machine, two threads can wait on each other for
    seconds per step."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
