"""Backward warping of images, label maps and feature maps with a dense flow.

Introduced in notebook 02 (images and labels) and used by CReFF in notebook 04 (features).
``out(x, y) = x_in(x + flow_x(x, y), y + flow_y(x, y))``: with the backward flow from frame t to
its keyframe, warping the keyframe's image, labels or features predicts frame t's.

Torch sampling has exactly the semantics of ``F.grid_sample(..., align_corners=True)`` (a test
compares the two) but is written with explicit gathers in pixel coordinates, so an integer
displacement - the identity in particular - reproduces the input bit for bit, which
grid_sample's normalise/unnormalise round trip does not.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:  # torch is imported only when a tensor is warped: reading a video needs none
    import torch

Mode = Literal["bilinear", "nearest"]
Padding = Literal["border", "zeros"]


def _check(mode: str, padding: str) -> None:
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"mode must be 'bilinear' (images, features) or 'nearest' (labels), "
                         f"got {mode!r}")
    if padding not in ("border", "zeros"):
        raise ValueError(f"padding must be 'border' or 'zeros', got {padding!r}")


def _check_finite(flow: np.ndarray | torch.Tensor) -> None:
    torch = sys.modules.get("torch")  # no tensor can exist before torch is imported
    is_tensor = torch is not None and isinstance(flow, torch.Tensor)
    finite = torch.isfinite(flow) if is_tensor else np.isfinite(np.asarray(flow))
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise ValueError(f"flow has {bad} NaN or infinite values; a flow must be finite pixel "
                         f"offsets (replace them, e.g. np.nan_to_num(flow), or mark those pixels "
                         f"invalid and use zero flow there)")


def _warp_numpy(image: np.ndarray, flow: np.ndarray, mode: Mode, padding: Padding) -> np.ndarray:
    height, width = image.shape[:2]
    if flow.shape != (height, width, 2):
        raise ValueError(f"flow must be (H, W, 2) = {(height, width, 2)} for an image of shape "
                         f"{image.shape}, got {flow.shape}")
    px = np.arange(width, dtype=np.float32)[None, :] + flow[..., 0].astype(np.float32)
    py = np.arange(height, dtype=np.float32)[:, None] + flow[..., 1].astype(np.float32)
    inside = (px >= 0) & (px <= width - 1) & (py >= 0) & (py <= height - 1)
    px, py = np.clip(px, 0, width - 1), np.clip(py, 0, height - 1)
    channels = image.reshape(height, width, -1)
    if mode == "nearest":
        out = channels[np.rint(py).astype(np.int64), np.rint(px).astype(np.int64)]
    else:
        x0, y0 = np.floor(px).astype(np.int64), np.floor(py).astype(np.int64)
        x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
        wx, wy = (px - x0)[..., None], (py - y0)[..., None]
        values = channels.astype(np.float32)
        out = ((values[y0, x0] * (1 - wx) + values[y0, x1] * wx) * (1 - wy)
               + (values[y1, x0] * (1 - wx) + values[y1, x1] * wx) * wy)
        if np.issubdtype(image.dtype, np.integer):
            info = np.iinfo(image.dtype)
            out = np.clip(np.rint(out), info.min, info.max)
    if padding == "zeros":
        out = out * inside[..., None]
    return out.astype(image.dtype, copy=False).reshape(image.shape)


def _flow_to_feature_grid(flow: torch.Tensor, batch: int, size: tuple[int, int]) -> torch.Tensor:
    """(H, W, 2), (N, H, W, 2) or (N, 2, H, W) image flow -> (N, 2, h, w) in feature pixels."""
    import torch
    import torch.nn.functional as F

    if flow.dim() == 3 and flow.shape[-1] == 2:
        flow = flow.permute(2, 0, 1)[None].expand(batch, -1, -1, -1)
    elif flow.dim() == 4 and flow.shape[1] != 2 and flow.shape[-1] == 2:
        flow = flow.permute(0, 3, 1, 2)
    elif not (flow.dim() == 4 and flow.shape[1] == 2):
        raise ValueError(f"flow must be (H, W, 2), (N, H, W, 2) or (N, 2, H, W), got "
                         f"{tuple(flow.shape)}")
    if flow.shape[0] not in (1, batch):
        raise ValueError(f"flow batch {flow.shape[0]} does not match the features' batch {batch}")
    image_h, image_w = flow.shape[-2:]
    if (image_h, image_w) == size:
        return flow.expand(batch, -1, -1, -1)
    resized = F.interpolate(flow, size=size, mode="bilinear", align_corners=True)
    scale = torch.tensor([size[1] / image_w, size[0] / image_h], dtype=flow.dtype,
                         device=flow.device).view(1, 2, 1, 1)
    return (resized * scale).expand(batch, -1, -1, -1)


def _sample_positions(features: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, h, w) x and y feature-pixel coordinates that each output pixel samples."""
    import torch

    if features.dim() != 4:
        raise ValueError(f"torch input must be (N, C, h, w) features, got {tuple(features.shape)}")
    batch, _, height, width = features.shape
    flow = _flow_to_feature_grid(flow.to(features.device, features.dtype), batch, (height, width))
    ys = torch.arange(height, dtype=features.dtype, device=features.device).view(1, height, 1)
    xs = torch.arange(width, dtype=features.dtype, device=features.device).view(1, 1, width)
    return xs + flow[:, 0], ys + flow[:, 1]


def _warp_torch(features: torch.Tensor, flow: torch.Tensor, mode: Mode,
                padding: Padding) -> torch.Tensor:
    import torch

    px, py = _sample_positions(features, flow)
    batch, channels, height, width = features.shape
    if padding == "border":
        px, py = px.clamp(0, width - 1), py.clamp(0, height - 1)
    if mode == "nearest":
        corners = [(torch.round(px), torch.round(py), torch.ones_like(px))]
    else:
        x0, y0 = torch.floor(px), torch.floor(py)
        wx, wy = px - x0, py - y0
        corners = [(x0, y0, (1 - wx) * (1 - wy)), (x0 + 1, y0, wx * (1 - wy)),
                   (x0, y0 + 1, (1 - wx) * wy), (x0 + 1, y0 + 1, wx * wy)]
    flat = features.reshape(batch, channels, height * width)
    out = torch.zeros_like(flat)
    for cx, cy, weight in corners:
        inside = (cx >= 0) & (cx <= width - 1) & (cy >= 0) & (cy <= height - 1)
        index = (cy.clamp(0, height - 1) * width + cx.clamp(0, width - 1)).long()
        gathered = flat.gather(2, index.view(batch, 1, -1).expand(-1, channels, -1))
        out = out + gathered * (weight * inside).view(batch, 1, -1)
    return out.view(batch, channels, height, width)


def _warp_grid_sample(features: torch.Tensor, flow: torch.Tensor, padding: Padding) -> torch.Tensor:
    """Bilinear ``_warp_torch`` by one ``F.grid_sample`` call: the same sampling to float rounding
    (grid_sample's normalise/unnormalise round trip), a few times faster on small feature maps."""
    import torch
    import torch.nn.functional as F

    px, py = _sample_positions(features, flow)
    height, width = features.shape[-2:]
    grid = torch.stack((px * (2 / max(width - 1, 1)) - 1, py * (2 / max(height - 1, 1)) - 1), dim=-1)
    return F.grid_sample(features, grid, mode="bilinear", padding_mode=padding, align_corners=True)


def warp(x: np.ndarray | torch.Tensor, flow: np.ndarray | torch.Tensor, mode: Mode = "bilinear",
         *, padding: Padding = "border", exact: bool = True) -> np.ndarray | torch.Tensor:
    """Backward-warp an image, label map or feature map: ``out(p) = x(p + flow(p))``.

    Introduced in notebook 02; CReFF (notebook 04) warps HR keyframe features with it.

    Args:
        x: numpy (H, W) or (H, W, C) image or label map (any dtype; integer images are rounded),
            or torch (N, C, h, w) float features.
        flow: backward flow in *image* pixels, x first: numpy/torch (H, W, 2), or torch
            (N, H, W, 2) or (N, 2, H, W) (a batch of clip flows). For features on a coarser grid
            (h, w) the flow is resized bilinearly (align_corners=True) and multiplied by w/W (x)
            and h/H (y).
        mode: "bilinear" for images and features, "nearest" for label maps.
        padding: "border" repeats the edge for samples outside the input; "zeros" gives 0 there.
        exact: for bilinear warps of torch features: True samples with explicit gathers (zero
            flow returns the input bit for bit); False makes one ``F.grid_sample`` call instead,
            the same values to float rounding and a few times faster on small feature maps
            (notebook 07's players use it). Images, label maps and nearest warps are always exact.

    Returns:
        Same type, shape and dtype as ``x``. Zero flow returns ``x`` exactly.
    """
    _check(mode, padding)
    _check_finite(flow)
    torch = sys.modules.get("torch")  # no tensor can exist before torch is imported
    if torch is not None and isinstance(x, torch.Tensor):
        flow_t = flow if isinstance(flow, torch.Tensor) else torch.from_numpy(np.asarray(flow))
        if not exact and mode == "bilinear":
            return _warp_grid_sample(x, flow_t, padding)
        return _warp_torch(x, flow_t, mode, padding)
    if torch is not None and isinstance(flow, torch.Tensor):
        flow = flow.detach().cpu().numpy()
    return _warp_numpy(np.asarray(x), np.asarray(flow), mode, padding)
