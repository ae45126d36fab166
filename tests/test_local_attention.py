"""Local attention: the memory-light default against the unfold reference, a naive loop, gradcheck,
the official edge semantics, and a check that no k^2-sized tensor is ever built."""
from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from arseg_tutorial.models.local_attention import (
    aggregate, aggregate_reference, local_attention_macs, similarity, similarity_reference,
    window_offsets,
)


def window_pairs(h, w, kernel):
    """(y, x, window index, yy, xx) for every pixel and every window position inside the image."""
    r = kernel // 2
    for y in range(h):
        for x in range(w):
            for i in range(kernel):
                for j in range(kernel):
                    yy, xx = y + i - r, x + j - r
                    if 0 <= yy < h and 0 <= xx < w:
                        yield y, x, i * kernel + j, yy, xx


def naive_similarity(q, k, kernel):
    n, c, h, w = q.shape
    out = torch.zeros(n, h, w, kernel * kernel, dtype=q.dtype)
    for y, x, index, yy, xx in window_pairs(h, w, kernel):
        out[:, y, x, index] = (q[:, :, y, x] * k[:, :, yy, xx]).sum(1)
    return out


def naive_aggregate(v, weights, kernel):
    n, c, h, w = v.shape
    out = torch.zeros_like(v)
    for y, x, index, yy, xx in window_pairs(h, w, kernel):
        out[:, :, y, x] += weights[:, y, x, index, None] * v[:, :, yy, xx]
    return out


@pytest.mark.parametrize("kernel", [1, 3, 5, 7])
def test_default_and_reference_match_naive_loop(kernel):
    g = torch.Generator().manual_seed(kernel)
    q, k, v = (torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64) for _ in range(3))
    weights = torch.randn(2, 4, 5, kernel * kernel, generator=g, dtype=torch.float64)
    expected_sim = naive_similarity(q, k, kernel)
    expected_agg = naive_aggregate(v, weights, kernel)
    torch.testing.assert_close(similarity(q, k, kernel), expected_sim)
    torch.testing.assert_close(similarity_reference(q, k, kernel), expected_sim)
    torch.testing.assert_close(aggregate(v, weights, kernel), expected_agg)
    torch.testing.assert_close(aggregate_reference(v, weights, kernel), expected_agg)


@pytest.mark.parametrize("kernel", [3, 7])
def test_default_gradients_equal_reference_gradients(kernel):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 6, 9, 11, generator=g, requires_grad=True) for _ in range(3))
    upstream = torch.randn(2, 6, 9, 11, generator=g)
    grads = []
    for sim_fn, agg_fn in ((similarity, aggregate), (similarity_reference, aggregate_reference)):
        out = agg_fn(v, sim_fn(q, k, kernel).softmax(-1), kernel)
        grads.append(torch.autograd.grad((out * upstream).sum(), (q, k, v)))
    for mine, reference in zip(*grads):
        torch.testing.assert_close(mine, reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kernel", [3, 5])
def test_gradcheck_double(kernel):
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 2, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
               for _ in range(3))
    weights = torch.randn(1, 4, 5, kernel * kernel, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: similarity(a, b, kernel), (q, k))
    assert torch.autograd.gradcheck(lambda a, b: aggregate(a, b, kernel), (v, weights))


def test_window_order_is_row_major():
    assert window_offsets(3) == [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 0), (0, 1), (1, -1), (1, 0), (1, 1)]
    # A key that is 1 only at (2, 4): the query at (3, 3) sees it at offset (-1, +1) = index 2.
    q = torch.ones(1, 1, 6, 6)
    k = torch.zeros(1, 1, 6, 6)
    k[0, 0, 2, 4] = 1.0
    sim = similarity(q, k, 3)
    assert sim[0, 3, 3].tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0]


def test_outside_positions_have_zero_similarity_and_keep_softmax_mass():
    q = torch.ones(1, 4, 5, 5)
    k = torch.full((1, 4, 5, 5), 0.5)
    sim = similarity(q, k, 7)
    corner = sim[0, 0, 0].view(7, 7)
    assert torch.all(corner[:3, :] == 0) and torch.all(corner[:, :3] == 0)   # outside: 0, not -inf
    assert torch.all(corner[3:, 3:] == 2.0)                                  # inside: 4 * 0.5, unscaled
    weights = sim.softmax(-1)
    inside_mass = weights[0, 0, 0].view(7, 7)[3:, 3:].sum()
    assert inside_mass < 0.99                                                # outside keeps mass
    v = torch.ones(1, 1, 5, 5)
    out = aggregate(v, weights, 7)
    torch.testing.assert_close(out[0, 0, 0, 0], inside_mass)                 # value 0 outside


class _LargestTensor(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def _largest_tensor(sim_fn, agg_fn, c=16, h=12, w=14, kernel=7):
    q, k, v = (torch.randn(1, c, h, w, requires_grad=True) for _ in range(3))
    mode = _LargestTensor()
    with mode:
        out = agg_fn(v, sim_fn(q, k, kernel).softmax(-1), kernel)
        out.sum().backward()
    return mode.largest, c * kernel * kernel * h * w


def test_default_never_builds_the_unfold_tensor_forward_or_backward():
    largest, unfold_numel = _largest_tensor(similarity, aggregate)
    assert largest < unfold_numel / 10
    largest_ref, _ = _largest_tensor(similarity_reference, aggregate_reference)
    assert largest_ref >= unfold_numel      # the check does see the reference's unfold tensor


def test_bad_inputs_raise_clear_errors():
    q = torch.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match="odd"):
        similarity(q, q, 4)
    with pytest.raises(ValueError, match="same shape"):
        similarity(q, torch.zeros(1, 2, 4, 5))
    with pytest.raises(ValueError, match="kernel\\*kernel"):
        aggregate(q, torch.zeros(1, 4, 4, 9), 7)


def test_macs_formula():
    assert local_attention_macs(256, 90, 120, 7) == 2 * 256 * 49 * 90 * 120


@pytest.mark.parametrize("kernel, size", [(1, (3, 4)), (3, (5, 7)), (3, (8, 8)), (5, (4, 3)), (5, (9, 13)),
                                          (7, (9, 11)), (7, (6, 2)), (7, (1, 1)), (7, (12, 16)), (9, (5, 10))])
def test_tiled_kernels_equal_the_reference(kernel, size):
    """Tiles of 4 x 4: grids that are and are not multiples of 4, smaller than one tile or the
    window, borders everywhere (zero keys still score 0 and take softmax mass), batch of 2."""
    from arseg_tutorial.models.window_tiles import aggregate_tiled, similarity_tiled

    g = torch.Generator().manual_seed(kernel)
    q, k, v = (torch.randn(2, 5, *size, generator=g, dtype=torch.float64) for _ in range(3))
    weights = torch.randn(2, *size, kernel * kernel, generator=g, dtype=torch.float64)
    torch.testing.assert_close(similarity_tiled(q, k, kernel), naive_similarity(q, k, kernel))
    torch.testing.assert_close(aggregate_tiled(v, weights, kernel), naive_aggregate(v, weights, kernel))


def test_tiled_kernels_read_non_contiguous_inputs():
    from arseg_tutorial.models.window_tiles import aggregate_tiled, similarity_tiled

    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 7, 11, 6, generator=g).transpose(2, 3) for _ in range(3))
    weights = torch.randn(2, 11, 6, 25, generator=g).transpose(1, 2)
    torch.testing.assert_close(similarity_tiled(q, k, 5), similarity_reference(q, k, 5))
    torch.testing.assert_close(aggregate_tiled(v, weights, 5), aggregate_reference(v, weights, 5))


@pytest.fixture
def tiles_everywhere(monkeypatch):
    from arseg_tutorial.models import local_attention as la

    monkeypatch.setattr(la, "_uses_tiles", lambda x, kernel: True)


@pytest.mark.parametrize("kernel, shape", [(3, (2, 2, 5, 5)), (5, (1, 2, 6, 5)), (7, (1, 2, 5, 6))])
def test_gradcheck_double_on_the_tiled_path(tiles_everywhere, kernel, shape):
    g = torch.Generator().manual_seed(kernel)
    q, k, v = (torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    weights = torch.randn(shape[0], *shape[2:], kernel * kernel, generator=g, dtype=torch.float64,
                          requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: similarity(a, b, kernel), (q, k))
    assert torch.autograd.gradcheck(lambda a, b: aggregate(a, b, kernel), (v, weights))


@pytest.mark.parametrize("kernel", [3, 7])
def test_tiled_gradients_equal_reference_gradients(tiles_everywhere, kernel):
    test_default_gradients_equal_reference_gradients(kernel)


def test_mirrored_windows_aggregate_as_the_loop_spreads():
    from arseg_tutorial.models import local_attention as la
    from arseg_tutorial.models.window_tiles import aggregate_tiled

    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 3, 7, 10, generator=g, dtype=torch.float64)
    weights = torch.randn(2, 7, 10, 25, generator=g, dtype=torch.float64)
    spread = la._scatter_loop(x, weights.permute(0, 3, 1, 2).contiguous(), 5)
    torch.testing.assert_close(la._aggregate_loop(x, la._mirror_windows(weights, 5).permute(0, 3, 1, 2), 5), spread)
    torch.testing.assert_close(aggregate_tiled(x, la._mirror_windows(weights, 5), 5), spread)


def test_dispatch_paper_creff_takes_tiles_laptop_creff_keeps_loops():
    from arseg_tutorial.models import local_attention as la

    assert la._uses_tiles(torch.empty(1, 256, 90, 120), 7)        # paper: BiSeNet18 feature, 7x7
    assert not la._uses_tiles(torch.empty(1, 64, 23, 30), 3)      # laptop: width 0.25, 180x240, 3x3
    assert not la._uses_tiles(torch.empty(1, 32, 15, 20), 3)      # ci
    assert not la._uses_tiles(torch.empty(1, 256, 90, 120), 1)


def test_large_grids_take_the_tiles_and_match_the_loops():
    from arseg_tutorial.models import local_attention as la

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 64, 64, 66, generator=g) for _ in range(3))
    assert la._uses_tiles(q, 7)
    weights = la.similarity(q, k, 7).softmax(-1)
    torch.testing.assert_close(weights, la._similarity_loop(q, k, 7).permute(0, 2, 3, 1).softmax(-1))
    loops = la._aggregate_loop(v, weights.permute(0, 3, 1, 2).contiguous(), 7)
    torch.testing.assert_close(la.aggregate(v, weights, 7), loops)


def test_tiled_path_never_builds_the_unfold_tensor_forward_or_backward():
    from arseg_tutorial.models import local_attention as la

    assert la._uses_tiles(torch.empty(1, 64, 24, 28), 7)
    largest, unfold_numel = _largest_tensor(similarity, aggregate, c=64, h=24, w=28)
    assert largest < unfold_numel / 10


@pytest.mark.parametrize("kernel", [3, 7])
def test_tiled_kernels_on_channels_last_inputs(kernel):
    """CReFF hands the tiles channels-last features (the layout they read fastest)."""
    from arseg_tutorial.models.window_tiles import aggregate_tiled, similarity_tiled

    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(2, 6, 9, 14, generator=g, dtype=torch.float64)
               .contiguous(memory_format=torch.channels_last) for _ in range(3))
    weights = torch.randn(2, 9, 14, kernel * kernel, generator=g, dtype=torch.float64)
    torch.testing.assert_close(similarity_tiled(q, k, kernel), naive_similarity(q, k, kernel))
    torch.testing.assert_close(aggregate_tiled(v, weights, kernel), naive_aggregate(v, weights, kernel))
