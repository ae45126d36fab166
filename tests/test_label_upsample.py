"""Sparse bilinear labels (models.label_upsample) against the full upsample + argmax."""
import pytest
import torch
import torch.nn.functional as F

from arseg_tutorial.models import label_upsample
from arseg_tutorial.models.label_upsample import source_cells, upsampled_labels

SIZES = [((23, 30), (180, 240)), ((45, 60), (180, 240)), ((7, 9), (50, 61)), ((5, 4), (3, 9)),
         ((1, 1), (4, 4)), ((1, 6), (5, 20)), ((6, 5), (6, 12)), ((12, 16), (12, 16))]


def full_labels(logits, size, align_corners):
    up = F.interpolate(logits, size=size, mode="bilinear", align_corners=align_corners)
    return up.max(1).indices.to(torch.uint8)


def smooth_logits(grid, classes=11, coarse=4, seed=0, batch=2):
    """Logits of a few large regions (what a trained network gives): most blocks agree."""
    g = torch.Generator().manual_seed(seed)
    small = torch.randn(batch, classes, max(1, grid[0] // coarse), max(1, grid[1] // coarse), generator=g)
    return 3 * F.interpolate(small, size=grid, mode="bicubic")


@pytest.fixture
def always_sparse(monkeypatch):
    monkeypatch.setattr(label_upsample, "DENSE_FRACTION", {"small": 2.0, "large": 2.0})


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("grid, size", SIZES)
def test_sparse_labels_equal_the_full_upsample(always_sparse, grid, size, align_corners, memory_format):
    """Borders (clamped source cells), sizes that are and are not multiples of the grid, a
    1x1 grid, downsampling, both conventions and layouts: the same label map."""
    for seed, coarse in ((0, 1), (1, 4), (2, 8)):
        logits = smooth_logits(grid, coarse=coarse, seed=seed).contiguous(memory_format=memory_format)
        assert torch.equal(upsampled_labels(logits, size, align_corners), full_labels(logits, size, align_corners))


@pytest.mark.parametrize("align_corners, size", [(False, (36, 44)), (True, (33, 41))])
def test_ties_take_the_first_class_as_argmax_does(always_sparse, align_corners, size):
    """Integer logits with exact ties inside cells and between cells, at sizes whose weights are
    exact in binary (1/4 steps; otherwise the full upsample's rounding breaks exact ties one way
    or the other): the first largest class, on uniform blocks and mixed ones alike."""
    g = torch.Generator().manual_seed(3)
    logits = torch.randint(0, 3, (2, 5, 9, 11), generator=g).float()
    assert torch.equal(upsampled_labels(logits, size, align_corners), full_labels(logits, size, align_corners))


def test_uniform_map_needs_no_interpolation(always_sparse, monkeypatch):
    logits = torch.zeros(1, 4, 6, 8)
    logits[:, 2] = 1.0
    monkeypatch.setattr(label_upsample, "_interpolate_blocks", lambda *a: pytest.fail("interpolated"))
    assert (upsampled_labels(logits, (48, 64)) == 2).all()


def test_many_disagreeing_blocks_take_the_full_upsample():
    logits = torch.randn(1, 11, 20, 20, generator=torch.Generator().manual_seed(0))
    assert torch.equal(upsampled_labels(logits, (80, 80)), full_labels(logits, (80, 80), False))


def test_random_logits_differ_only_at_float_near_ties(always_sparse):
    """Noise logits (every block mixed): any difference is where the full upsample's own top two
    classes are within float rounding (its label there also depends on the memory layout)."""
    g = torch.Generator().manual_seed(7)
    for _ in range(20):
        logits = 3 * torch.randn(2, 11, 23, 30, generator=g)
        up = F.interpolate(logits, size=(180, 240), mode="bilinear")
        differ = upsampled_labels(logits, (180, 240)) != up.max(1).indices.to(torch.uint8)
        top2 = up.topk(2, dim=1).values
        assert ((top2[:, 0] - top2[:, 1])[differ] < 1e-5 * up.abs().max()).all()


def test_source_cells_give_the_interpolation_weights():
    for align_corners in (False, True):
        for out_size, in_size in ((180, 45), (61, 9), (9, 4), (4, 1)):
            i0, i1, w0, w1 = source_cells(out_size, in_size, align_corners)
            x = torch.arange(in_size, dtype=torch.float32).view(1, 1, 1, -1) ** 2
            ref = F.interpolate(x, size=(1, out_size), mode="bilinear", align_corners=align_corners).flatten()
            assert (i1 == (i0 + 1).clamp_max(in_size - 1)).all() and torch.equal(w0 + w1, torch.ones(out_size))
            torch.testing.assert_close(w0 * x.flatten()[i0] + w1 * x.flatten()[i1], ref, rtol=1e-6, atol=1e-5)


def test_too_many_classes_for_uint8():
    with pytest.raises(ValueError, match="256 classes"):
        upsampled_labels(torch.zeros(1, 257, 2, 2), (4, 4))


def test_same_size_labels_equal_argmax_ties_included():
    """``max(1).indices`` (~10x faster than ``argmax(1)`` on this CPU build) gives argmax's labels."""
    g = torch.Generator().manual_seed(0)
    for logits in (torch.randn(1, 11, 17, 23, generator=g),
                   torch.randint(0, 3, (1, 11, 17, 23), generator=g).float()):   # many ties
        assert torch.equal(upsampled_labels(logits, (17, 23)), logits.argmax(1).to(torch.uint8))
