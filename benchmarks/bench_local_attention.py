"""Benchmark: memory-light local attention (default) vs the unfold reference.

Run from the repository root:
``.venv/bin/python -m benchmarks.bench_local_attention [--repeats 3] [--device cpu|cuda]``.
For each setting, forward and forward+backward (similarity -> softmax -> aggregate), it prints the
peak memory of each implementation, their ratio (goal <= 0.3), the time ratio (goal <= 1.0) and the
achieved GMAC/s (2 * C * k^2 * H * W MACs forward, 3x that for forward+backward; goal for the
default forward at C = 256, 90x120, 7x7: >= 5 GMAC/s).

Peak memory on CPU is the peak resident set size (``VmHWM`` in ``/proc/self/status``) of a fresh
process running one step, minus its resident size once the inputs exist: what the operating system
had to give, whatever allocated it (the torch profiler's per-op accounting under-read the default
implementation ~7x). On CUDA it is ``torch.cuda.max_memory_allocated`` above the inputs.
"""
from __future__ import annotations

import argparse
import multiprocessing

import torch

from arseg_tutorial.cost import latency_ms
from arseg_tutorial.models.local_attention import (
    aggregate, aggregate_reference, local_attention_macs, similarity, similarity_reference,
)

SETTINGS = [(1, 256, 90, 120, 7), (1, 64, 180, 240, 7)]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device={device}, torch {torch.__version__}, threads={torch.get_num_threads()}")
    print(f"{'setting':<24}{'pass':<10}{'impl':<9}{'peak MiB':>9}{'ms':>9}{'GMAC/s':>8}"
          f"{'mem ratio':>11}{'time ratio':>11}")
    for n, c, h, w, kernel in SETTINGS:
        torch.manual_seed(0)
        q, k, v = (torch.randn(n, c, h, w, device=device) for _ in range(3))
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


if __name__ == "__main__":
    main()
