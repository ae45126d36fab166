"""warp(): identity is exact, torch matches grid_sample(align_corners=True), flow rescaling."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from arseg_tutorial.codec import warp


def grid_sample_reference(features: torch.Tensor, flow_px: torch.Tensor, mode: str,
                          padding: str) -> torch.Tensor:
    """The same warp written with F.grid_sample; flow_px (N, 2, h, w) in feature pixels."""
    _, _, height, width = features.shape
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64),
                            torch.arange(width, dtype=torch.float64), indexing="ij")
    px = (xs + flow_px[:, 0].double()) / (width - 1) * 2 - 1
    py = (ys + flow_px[:, 1].double()) / (height - 1) * 2 - 1
    grid = torch.stack([px, py], dim=-1)
    return F.grid_sample(features.double(), grid, mode=mode, padding_mode=padding,
                         align_corners=True).float()


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.int64])
def test_identity_is_exact_for_numpy(dtype):
    rng = np.random.default_rng(0)
    image = (rng.random((13, 17, 3)) * 200).astype(dtype)
    zero = np.zeros((13, 17, 2), np.float32)
    for mode in ("bilinear", "nearest"):
        out = warp(image, zero, mode)
        assert out.dtype == image.dtype
        np.testing.assert_array_equal(out, image)
    labels = rng.integers(0, 11, (13, 17)).astype(np.uint8)
    np.testing.assert_array_equal(warp(labels, zero, "nearest"), labels)


def test_identity_is_exact_for_torch():
    features = torch.randn(2, 5, 23, 37)
    for flow in (torch.zeros(23, 37, 2), torch.zeros(2, 2, 23, 37), torch.zeros(92, 148, 2)):
        assert torch.equal(warp(features, flow), features)
        assert torch.equal(warp(features, flow, "nearest"), features)


def test_integer_shift_moves_content_exactly():
    image = np.arange(6 * 8, dtype=np.float32).reshape(6, 8)
    flow = np.zeros((6, 8, 2), np.float32)
    flow[..., 0] = 2.0  # out(x) = in(x + 2)
    out = warp(image, flow, padding="zeros")
    np.testing.assert_array_equal(out[:, :6], image[:, 2:])
    assert not out[:, 6:].any()
    np.testing.assert_array_equal(warp(image, flow)[:, 6:], image[:, [7, 7]])  # border repeats


def test_half_pixel_bilinear_and_nearest_labels():
    image = np.array([[0.0, 10.0, 20.0]], np.float32)
    flow = np.zeros((1, 3, 2), np.float32)
    flow[..., 0] = 0.5
    np.testing.assert_allclose(warp(image, flow), [[5.0, 15.0, 20.0]])
    labels = np.array([[1, 2, 3]], np.uint8)
    flow[..., 0] = 0.6
    assert set(np.unique(warp(labels, flow, "nearest"))) <= {1, 2, 3}
    np.testing.assert_array_equal(warp(labels, flow, "nearest"), [[2, 3, 3]])


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_torch_matches_grid_sample_align_corners_true(mode, padding):
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(2, 4, 9, 14, generator=generator)
    flow = torch.randn(2, 2, 9, 14, generator=generator) * 3
    ours = warp(features, flow, mode, padding=padding)
    torch.testing.assert_close(ours, grid_sample_reference(features, flow, mode, padding),
                               atol=1e-5, rtol=1e-5)


def test_numpy_and_torch_agree():
    rng = np.random.default_rng(1)
    image = rng.random((10, 12, 3)).astype(np.float32)
    flow = (rng.standard_normal((10, 12, 2)) * 2).astype(np.float32)
    as_torch = warp(torch.from_numpy(image).permute(2, 0, 1)[None], flow)
    np.testing.assert_allclose(as_torch[0].permute(1, 2, 0).numpy(), warp(image, flow), atol=1e-5)


def test_image_resolution_flow_is_rescaled_to_the_feature_grid():
    features = torch.randn(1, 3, 16, 24)
    flow_image = torch.zeros(64, 96, 2)  # image is 4x the feature grid
    flow_image[..., 0], flow_image[..., 1] = 8.0, -4.0  # = (2, -1) feature pixels
    ours = warp(features, flow_image, padding="zeros")
    expected = torch.zeros_like(features)
    expected[:, :, 1:, :22] = features[:, :, :-1, 2:]
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(warp(features, flow_image[None], padding="zeros"), expected)
    torch.testing.assert_close(warp(features, flow_image.permute(2, 0, 1)[None], padding="zeros"),
                               expected)


def test_gradients_flow_to_features_and_flow():
    features = torch.randn(1, 2, 6, 7, requires_grad=True)
    flow = (torch.rand(1, 2, 6, 7) * 2 - 1).requires_grad_()
    warp(features, flow).sum().backward()
    assert features.grad is not None and features.grad.abs().sum() > 0
    assert flow.grad is not None and flow.grad.abs().sum() > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="'bilinear'.*'nearest'"):
        warp(np.zeros((4, 4)), np.zeros((4, 4, 2)), "cubic")
    with pytest.raises(ValueError, match=r"flow must be \(H, W, 2\)"):
        warp(np.zeros((4, 4)), np.zeros((4, 5, 2)))
    with pytest.raises(ValueError, match=r"\(N, C, h, w\)"):
        warp(torch.zeros(3, 4, 4), torch.zeros(4, 4, 2))
    with pytest.raises(ValueError, match=r"\(N, H, W, 2\) or \(N, 2, H, W\)"):
        warp(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 4, 3))


def test_image_psnr_matches_its_definition():
    from arseg_tutorial.codec.quality import image_psnr

    true = np.full((4, 6, 3), 100, np.uint8)
    off = true.copy()
    off[0, 0] = 110                                   # 3 values off by 10 out of 72
    assert image_psnr(true, true) == float("inf")
    assert image_psnr(off, true) == pytest.approx(10 * np.log10(255 ** 2 / (3 * 100 / 72)))
    mask = np.zeros((4, 6), bool)
    mask[1:] = True
    assert image_psnr(off, true, mask) == float("inf")
    with pytest.raises(ValueError, match="no pixel"):
        image_psnr(off, true, np.zeros((4, 6), bool))
    with pytest.raises(ValueError, match="shape"):
        image_psnr(off, true[:2])


@pytest.mark.parametrize("padding", ["border", "zeros"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_grid_sample_path_gives_the_exact_warp_to_float_rounding(padding, channels_last):
    """``exact=False`` (one F.grid_sample call, the players' path) against the gather path."""
    generator = torch.Generator().manual_seed(3)
    features = torch.randn(3, 16, 11, 13, generator=generator)
    if channels_last:
        features = features.contiguous(memory_format=torch.channels_last)
    flow = torch.randn(3, 2, 11, 13, generator=generator) * 4       # many samples off the map
    exact = warp(features, flow, padding=padding)
    fast = warp(features, flow, padding=padding, exact=False)
    torch.testing.assert_close(fast, exact, atol=2e-5, rtol=1e-5)
    assert not torch.equal(fast, features)                          # it did warp
    torch.testing.assert_close(warp(features, flow.permute(0, 2, 3, 1) * 2, exact=False),
                               warp(features, flow.permute(0, 2, 3, 1) * 2), atol=2e-5, rtol=1e-5)


def test_nearest_warps_stay_exact_when_a_fast_warp_is_asked_for():
    features = torch.randn(1, 2, 5, 6)
    flow = torch.full((1, 2, 5, 6), 0.5)
    np.testing.assert_array_equal(warp(features, flow, "nearest", exact=False).numpy(),
                                  warp(features, flow, "nearest").numpy())
