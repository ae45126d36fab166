"""Benchmark: memory-light local attention (default) vs the unfold reference.

Run from the repository root:
``.venv/bin/python -m benchmarks.bench_local_attention [--repeats 3] [--device cpu|cuda] [--sweep]``.
For each setting, forward and forward+backward (similarity -> softmax -> aggregate), it prints the
peak memory of each implementation, their ratio (goal <= 0.3), the time ratio (goal <= 1.0) and the
achieved GMAC/s (2 * C * k^2 * H * W MACs forward, 3x that for forward+backward). The last setting
is the laptop profile's CReFF (C = 64 on the 45x60 feature grid of 180x240 frames at output stride
4, 3x3 window). Inputs are channels last, as CReFF hands them over.
It ends with the targets at the paper's CReFF (C = 256, 90x120, 7x7), each with its measured value:
default forward >= 5 GMAC/s, peak memory <= 0.3x the unfold reference's forward and fwd+bwd, and
outputs and gradients equal to the reference's to float rounding (error against a float64
unfold computation at most twice the float32 unfold reference's own). ``--sweep`` times the two CPU kernels, shift loops and tiles, forward and
forward+backward on a grid of shapes, with the one the default picks (``TILED_MIN_ELEMENTS``).

Peak memory on CPU is the peak resident set size (``VmHWM`` in ``/proc/self/status``) of a fresh
process running one step, minus its resident size once the inputs exist: what the operating system
had to give, whatever allocated it (the torch profiler's per-op accounting under-read the default
implementation ~7x). On CUDA it is ``torch.cuda.max_memory_allocated`` above the inputs.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os

import torch

from arseg_tutorial.cost import latency_ms
from arseg_tutorial.models import local_attention
from arseg_tutorial.models.local_attention import (
    aggregate, aggregate_reference, local_attention_macs, similarity, similarity_reference,
)

SETTINGS = [(1, 256, 90, 120, 7), (1, 64, 180, 240, 7), (1, 64, 45, 60, 3)]
TARGET_SETTING = (1, 256, 90, 120, 7)
SWEEP = [(c, h, w, kernel) for kernel in (3, 5, 7) for c, h, w in
         ((32, 30, 40), (64, 45, 60), (64, 64, 64), (128, 60, 80), (128, 90, 120), (256, 90, 120))]
IMPLEMENTATIONS = {"default": (similarity, aggregate), "unfold": (similarity_reference, aggregate_reference)}


def _step(impl: str, q, k, v, kernel: int, backward: bool) -> None:
    sim_fn, agg_fn = IMPLEMENTATIONS[impl]
    out = agg_fn(v, sim_fn(q, k, kernel).softmax(-1), kernel)
    if backward:
        out.sum().backward()
        for t in (q, k, v):
            t.grad = None


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def _rss_child(impl: str, shape: tuple[int, ...], kernel: int, backward: bool, queue) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    q, k, v = (torch.randn(*shape, requires_grad=backward) for _ in range(3))
    before = _status_kib("VmRSS")
    _step(impl, q, k, v, kernel, backward)
    queue.put((_status_kib("VmHWM") - before) * 1024)


def _peak_bytes_cpu(impl: str, shape: tuple[int, ...], kernel: int, backward: bool) -> int:
    """Peak RSS above the inputs of one step, in a fresh process (see the module docstring)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_rss_child, args=(impl, shape, kernel, backward, queue))
    child.start()
    peak = queue.get()
    child.join()
    return peak


def _peak_bytes_cuda(run, device) -> int:
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    run()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - base


def _outputs_and_gradients(sim_fn, agg_fn, q, k, v, kernel: int) -> tuple:
    """(similarity, aggregate, grad q, grad k, grad v) of sum(aggregate(softmax(similarity))**2)."""
    q, k, v = (t.detach().clone().requires_grad_(True) for t in (q, k, v))
    sim = sim_fn(q, k, kernel)
    agg = agg_fn(v, sim.softmax(-1), kernel)
    agg.square().sum().backward()
    return sim.detach(), agg.detach(), q.grad, k.grad, v.grad


def _rounding_errors(q, k, v, kernel: int) -> dict[str, tuple[float, float]]:
    """name -> (default, unfold) largest error against the unfold reference in float64, over the
    largest value: float32 rounding is the unfold reference's own error."""
    exact = _outputs_and_gradients(similarity_reference, aggregate_reference,
                                   q.double(), k.double(), v.double(), kernel)
    results = [_outputs_and_gradients(*fns, q, k, v, kernel) for fns in IMPLEMENTATIONS.values()]
    names = ("similarity", "aggregate", "grad q", "grad k", "grad v")
    return {name: tuple(((mine.double() - ref).abs().max() / ref.abs().max()).item() for mine in pair)
            for name, ref, *pair in zip(names, exact, *results)}


def _print_targets(results: dict, differences: dict[str, float]) -> None:
    n, c, h, w, kernel = TARGET_SETTING
    print(f"\ntargets at C={c} {h}x{w} k={kernel} (threads={torch.get_num_threads()}):")
    rows = [("default forward GMAC/s", results[("forward", "default")][2], ">=", 5.0)]
    for name in ("forward", "fwd+bwd"):
        ratio = results[(name, "default")][0] / results[(name, "unfold")][0]
        rows.append((f"peak memory {name} / unfold", ratio, "<=", 0.3))
    rows += [(f"{name} error (vs float64)", mine, "<=", max(2 * unfold, 1e-6))
             for name, (mine, unfold) in differences.items()]
    for name, value, op, goal in rows:
        met = value >= goal if op == ">=" else value <= goal
        print(f"  {name:<32}{value:>10.3g}  goal {op} {goal:.3g}  {'met' if met else 'NOT MET'}")
    print("  (errors: largest |x - x_float64| / largest |x_float64|; goal: at most twice the unfold "
          "reference's own float32 error)")


def _sweep(repeats: int) -> None:
    """Forward and fwd+bwd ms of the loops and the tiles on SWEEP's shapes (CPU, batch 1)."""
    print(f"\n{'C':>4}{'H x W':>9}{'k':>3}{'C*H*W':>9}  {'pass':<8}{'loops ms':>9}{'tiles ms':>9}"
          f"{'faster':>8}{'default':>9}")
    saved = dict(local_attention.TILED_MIN_ELEMENTS)
    picks = ["tiles" if local_attention._uses_tiles(torch.empty(1, c, h, w), kernel) else "loops"
             for c, h, w, kernel in SWEEP]
    try:
        for (c, h, w, kernel), pick in zip(SWEEP, picks):
            torch.manual_seed(0)
            q, k, v = (torch.randn(1, c, h, w).contiguous(memory_format=torch.channels_last) for _ in range(3))
            for backward in (False, True):
                for t in (q, k, v):
                    t.requires_grad_(backward)
                run = lambda: _step("default", q, k, v, kernel, backward)  # noqa: E731
                times = {"loops": [], "tiles": []}
                for _ in range(3):                                  # A B A B: load hits both alike
                    for path, threshold in (("loops", 1 << 62), ("tiles", 0)):
                        local_attention.TILED_MIN_ELEMENTS.clear()
                        local_attention.TILED_MIN_ELEMENTS.update({kernel: threshold})
                        times[path].append(latency_ms(run, warmup=1, repeats=repeats))
                loops, tiles = min(times["loops"]), min(times["tiles"])
                print(f"{c:>4}{f'{h}x{w}':>9}{kernel:>3}{c * h * w:>9}  "
                      f"{'fwd+bwd' if backward else 'forward':<8}{loops:>9.2f}{tiles:>9.2f}"
                      f"{'tiles' if tiles < loops else 'loops':>8}{pick:>9}")
    finally:
        local_attention.TILED_MIN_ELEMENTS.clear()
        local_attention.TILED_MIN_ELEMENTS.update(saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--sweep", action="store_true", help="also time loops vs tiles per shape (CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device={device}, torch {torch.__version__}, threads={torch.get_num_threads()}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'setting':<24}{'pass':<10}{'impl':<9}{'peak MiB':>9}{'ms':>9}{'GMAC/s':>8}"
          f"{'mem ratio':>11}{'time ratio':>11}")
    targets = {}                            # (pass, impl) -> (peak bytes, ms, GMAC/s) at TARGET_SETTING
    for n, c, h, w, kernel in SETTINGS:
        torch.manual_seed(0)
        q, k, v = (torch.randn(n, c, h, w, device=device).contiguous(memory_format=torch.channels_last)
                   for _ in range(3))
        for backward in (False, True):
            for t in (q, k, v):
                t.requires_grad_(backward)
            macs = local_attention_macs(c, h, w, kernel) * n * (3 if backward else 1)
            results = {}
            for impl in IMPLEMENTATIONS:
                run = lambda: _step(impl, q, k, v, kernel, backward)  # noqa: E731
                ms = latency_ms(run, warmup=1, repeats=args.repeats, device=device)
                peak = (_peak_bytes_cuda(run, device) if device.type == "cuda"
                        else _peak_bytes_cpu(impl, (n, c, h, w), kernel, backward))
                results[impl] = (peak, ms)
            label = f"C={c} {h}x{w} k={kernel}"
            name = "fwd+bwd" if backward else "forward"
            for impl, (peak, ms) in results.items():
                ratios = ""
                if impl == "default":
                    ratios = (f"{peak / results['unfold'][0]:>11.3f}"
                              f"{ms / results['unfold'][1]:>11.3f}")
                print(f"{label:<24}{name:<10}{impl:<9}{peak / 2**20:>9.1f}{ms:>9.1f}"
                      f"{macs / ms / 1e6:>8.2f}{ratios}")
                if (n, c, h, w, kernel) == TARGET_SETTING:
                    targets[(name, impl)] = (peak, ms, macs / ms / 1e6)
        if (n, c, h, w, kernel) == TARGET_SETTING:
            differences = _rounding_errors(q, k, v, kernel)
    _print_targets(targets, differences)
    if args.sweep:
        _sweep(args.repeats)


if __name__ == "__main__":
    main()
