"""Cost accounting: GMACs per model, per scale and per GOP, and measured latency.

Introduced in notebook 03. The project's convention (docs/method.md#how-gmacs-are-counted-here):
**GMACs = torch's
FlopCounterMode FLOPs / 2** (it counts convolutions, linear layers and matrix products, 2 FLOPs per
multiply-accumulate, and nothing else) **plus an analytic term for the local attention**
(2 * C * k^2 * H * W MACs for CReFF's similarity + aggregation, elementwise ops the counter does
not see). BatchNorm, activations, pooling, upsampling and warping are not charged (thop would charge
them, which is why the paper's BiSeNet numbers are higher).

Counting runs on the ``meta`` device: shapes flow through the network without any arithmetic, so
a full-size 1024x2048 model is counted in about a second on a laptop.
"""
from __future__ import annotations

import copy
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from arseg_tutorial.models import build_model
from arseg_tutorial.models.arseg import lr_size
from arseg_tutorial.models.creff import CReFF, CReFFResult
from arseg_tutorial.models.local_attention import local_attention_macs

PAPER_SETTINGS: dict[str, tuple[int, int, int]] = {
    "CamVid": (720, 960, 12),
    "Cityscapes": (1024, 2048, 19),
}
"""dataset -> (height, width, classes) of the paper's experiments."""

PAPER_SCALES = (0.3, 0.5, 0.7, 0.9)
PAPER_GOP_LENGTH = 12


def count_gmacs(run: Callable[[], Any], model: nn.Module) -> float:
    """GMACs of calling ``run()``: FlopCounterMode / 2 plus the local attention of every CReFF
    module of ``model`` that runs.

    Introduced in notebook 03.

    Args:
        run: a function that runs ``model`` (or part of it) once.
        model: the module whose CReFF submodules are charged analytically.
    Returns:
        Giga multiply-accumulates (1e9 MACs).
    """
    attention_macs = []

    def charge(module: CReFF, inputs: tuple, output: Any) -> None:
        fused = output.fused if isinstance(output, CReFFResult) else output   # on the reference grid
        batch, channels, height, width = fused.shape
        attention_macs.append(batch * local_attention_macs(channels, height, width, module.kernel))

    hooks = [m.register_forward_hook(charge) for m in model.modules() if isinstance(m, CReFF)]
    try:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            run()
    finally:
        for hook in hooks:
            hook.remove()
    return (counter.get_total_flops() / 2 + sum(attention_macs)) / 1e9


def _on_meta(model: nn.Module) -> nn.Module:
    if all(p.device.type == "meta" for p in model.parameters()):
        return model
    return copy.deepcopy(model).to("meta")


def gmacs(model: nn.Module, input_shape: tuple[int, ...],
          reference_shape: tuple[int, ...] | None = None) -> float:
    """GMACs of one eval-mode forward pass (project convention, see the module docstring).

    Introduced in notebook 03. The model is copied to the meta device, so the call is fast and
    leaves ``model`` untouched; aux heads are not charged (eval mode).

    Args:
        model: a network (e.g. from ``build_model``).
        input_shape: (N, 3, H, W) of the input batch.
        reference_shape: (N, C, h, w) of a warped keyframe feature: the cost then includes CReFF
            (the model needs one, see ``add_creff``) and the classifier on the reference grid.
    Returns:
        GMACs for the whole batch.
    """
    if len(input_shape) != 4:
        raise ValueError(f"input_shape must be (N, 3, H, W), got {input_shape!r}")
    meta = _on_meta(model)
    was_training = meta.training
    meta.eval()
    x = torch.empty(input_shape, device="meta")
    reference = None if reference_shape is None else torch.empty(reference_shape, device="meta")
    try:
        if reference is None:
            return count_gmacs(lambda: meta(x), meta)
        return count_gmacs(lambda: meta(x, reference=reference), meta)
    finally:
        meta.train(was_training)


def gop_average(keyframe_cost: float, nonkeyframe_cost: float, gop_length: int = PAPER_GOP_LENGTH) -> float:
    """Average cost per frame of a GOP: (HR + (L - 1) * (LR + CReFF)) / L.

    Introduced in notebook 03.
    """
    if gop_length < 1:
        raise ValueError(f"gop_length must be >= 1, got {gop_length}")
    return (keyframe_cost + (gop_length - 1) * nonkeyframe_cost) / gop_length


def saving(per_frame_cost: float, average_cost: float) -> float:
    """Fraction of the per-frame HR cost that AR-Seg saves: 1 - average / HR.

    Introduced in notebook 03.
    """
    return 1.0 - average_cost / per_frame_cost


@dataclass(frozen=True)
class CostRow:
    """One line of ``cost_table``; costs in GMACs per frame.

    Introduced in notebook 03.

    Attributes:
        dataset, model, height, width, lr_scale, gop_length: the setting.
        hr_gmacs: HR network on a full frame.
        lr_gmacs: LR network alone on the downsampled frame (no CReFF).
        nonkeyframe_gmacs: LR network + CReFF + classifier on the HR feature grid.
        creff_gmacs: nonkeyframe_gmacs - lr_gmacs (CReFF and the larger classifier map).
        gop_gmacs: average per frame over the GOP.
        saving: 1 - gop_gmacs / hr_gmacs.
    """

    dataset: str
    model: str
    height: int
    width: int
    lr_scale: float
    gop_length: int
    hr_gmacs: float
    lr_gmacs: float
    nonkeyframe_gmacs: float
    creff_gmacs: float
    gop_gmacs: float
    saving: float

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain dict."""
        return asdict(self)


def cost_rows(model_name: str, height: int, width: int, num_classes: int, scales: tuple[float, ...],
              gop_length: int = PAPER_GOP_LENGTH, net_width: float = 1.0,
              dataset: str = "", creff_kernel: int = 7) -> list[CostRow]:
    """Cost of AR-Seg for one network and frame size at several LR scales.

    Introduced in notebook 03.

    Args:
        model_name: "bisenet18" or "pspnet18".
        height, width: frame size in pixels.
        num_classes: K.
        scales: LR scales s.
        gop_length: L.
        net_width: channel multiplier (1.0 = official networks).
        dataset: a label for the rows.
        creff_kernel: CReFF's attention window (7 in the paper).
    Returns:
        One ``CostRow`` per scale.
    """
    with torch.device("meta"):
        hr = build_model(model_name, num_classes, width=net_width)
        lr = build_model(model_name, num_classes, width=net_width)
        lr.add_creff(creff_kernel)
    hr_gmacs = gmacs(hr, (1, 3, height, width))
    with torch.no_grad():
        hr_feature_shape = tuple(hr.eval().forward_phase1(torch.empty(1, 3, height, width, device="meta")).shape)
    rows = []
    for scale in scales:
        lr_shape = (1, 3, *lr_size(height, width, scale))
        lr_gmacs = gmacs(lr, lr_shape)
        nonkey = gmacs(lr, lr_shape, reference_shape=hr_feature_shape)
        average = gop_average(hr_gmacs, nonkey, gop_length)
        rows.append(CostRow(dataset, model_name, height, width, scale, gop_length, hr_gmacs, lr_gmacs,
                            nonkey, nonkey - lr_gmacs, average, saving(hr_gmacs, average)))
    return rows


def paper_cost_table(scales: tuple[float, ...] = PAPER_SCALES,
                     gop_length: int = PAPER_GOP_LENGTH) -> list[CostRow]:
    """The paper's settings: CamVid 720x960 and Cityscapes 1024x2048, BiSeNet18 and PSPNet18.

    Introduced in notebook 03. Full-width (official) networks; takes a few seconds (meta device).
    """
    rows = []
    for dataset, (height, width, classes) in PAPER_SETTINGS.items():
        for name in ("bisenet18", "pspnet18"):
            rows += cost_rows(name, height, width, classes, scales, gop_length, dataset=dataset)
    return rows


def format_cost_table(rows: list[CostRow]) -> str:
    """A fixed-width text table of cost rows (GMACs per frame, saving in %).

    Introduced in notebook 03.
    """
    lines = [f"{'dataset':<11}{'model':<10}{'size':>10}{'s':>5}{'HR':>9}{'LR':>9}{'CReFF':>8}"
             f"{'GOP avg':>9}{'saving':>8}"]
    for r in rows:
        lines.append(f"{r.dataset:<11}{r.model:<10}{f'{r.height}x{r.width}':>10}{r.lr_scale:>5.2f}"
                     f"{r.hr_gmacs:>9.1f}{r.lr_gmacs:>9.1f}{r.creff_gmacs:>8.2f}{r.gop_gmacs:>9.1f}"
                     f"{100 * r.saving:>7.1f}%")
    return "\n".join(lines)


def latency_ms(run: Callable[[], Any], warmup: int = 2, repeats: int = 5,
               device: torch.device | str | None = None) -> float:
    """Median wall-clock time of ``run()`` in milliseconds, after ``warmup`` untimed calls.

    Introduced in notebook 03; the benchmarks use it too. On CUDA the device is synchronised
    around each call.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    is_cuda = device is not None and torch.device(device).type == "cuda"
    times = []
    for i in range(warmup + repeats):
        if is_cuda:
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        run()
        if is_cuda:
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def model_latency_ms(model: nn.Module, input_shape: tuple[int, ...],
                     reference_shape: tuple[int, ...] | None = None,
                     warmup: int = 2, repeats: int = 5) -> float:
    """Measured eval-mode latency of one forward pass of ``model``, in ms (median of ``repeats``).

    Introduced in notebook 03. Runs on the model's device with random inputs, under
    ``torch.inference_mode``; the model's training flag is restored afterwards.
    """
    device = next(model.parameters()).device
    x = torch.randn(input_shape, device=device)
    reference = None if reference_shape is None else torch.randn(reference_shape, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            return latency_ms(lambda: model(x, reference=reference), warmup, repeats, device)
    finally:
        model.train(was_training)
