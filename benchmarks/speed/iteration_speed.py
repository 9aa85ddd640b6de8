"""Milliseconds per training iteration: plain PyTorch loops vs the Lightning framework on the path it chooses.

    python benchmarks/speed/iteration_speed.py [--iters 200] [--crop 128] [--repeats 3] [--bf16]
    python benchmarks/speed/iteration_speed.py --profile --iters 20   # framework vs plain loop, back to back, profiled
    python benchmarks/speed/iteration_speed.py --device cuda          # the same rows on the GPU

Rows: the plain loop (net + Adam + L1 on a fixed crop, no data making) in fp32 NCHW, fp32 channels-last and, on CPUs
with native bf16 (or with ``--bf16``, or on a GPU), bf16 autocast + channels-last; then the framework (Trainer +
FatherSonDataModule + LR policy) on the precision and memory format ``zssr.ops.compute`` chooses for this machine, with
and without the reconstruction test every 50 steps. The ratio column compares each row with the fastest plain loop.
Prints the CPU flags and the chosen path with the table; writes ``benchmarks/results/iteration_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from zssr.method.data import FatherSonDataModule
from zssr.method.lr_policy import LinearFitLRPolicy
from zssr.method.module import ZSSRModule
from zssr.method.net import ZSSRNet
from zssr.ops.compute import choose_compute, cpu_flags
from zssr.ops.imageio import open_input


def train_flops(net: ZSSRNet, crop: int) -> float:
    """Forward + backward FLOPs of one iteration (backward ~ 2x forward)."""
    return 3.0 * net.flops_per_pixel() * crop**2


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def plain_loop(iters: int, crop: int, bf16: bool, channels_last: bool, warmup: int = 20,
               device: str = "cpu", crops: bool = False, pin_memory: bool = False) -> float:
    """``crops``: train on the framework's father/son crops (made on the CPU, moved to ``device`` each step) instead
    of one fixed crop: the data path's cost without Lightning's."""
    torch.manual_seed(0)
    net = ZSSRNet()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(device=device, memory_format=fmt)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.rand(1, 3, crop, crop, device=device).contiguous(memory_format=fmt)
    y = torch.rand(1, 3, crop, crop, device=device)
    batches = iter(FatherSonDataModule(open_input("skimage:chelsea").rgb, (2, 2), crop_size=crop,
                                       pin_memory=pin_memory).train_dataloader()) if crops else None
    for i in range(warmup + iters):
        if i == warmup:
            _sync(device)
            t0 = time.perf_counter()
        if batches is not None:
            batch = next(batches)
            x = batch["input"].to(device, non_blocking=True).contiguous(memory_format=fmt)
            y = batch["target"].to(device, non_blocking=True)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            loss = F.l1_loss(net(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _sync(device)
    return (time.perf_counter() - t0) / iters * 1000


class _Timer(pl.Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.t0 = None

    def on_train_batch_start(self, trainer, pl_module, *args) -> None:
        if trainer.global_step == self.warmup:
            _sync(pl_module.device.type)
            self.t0 = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        _sync(pl_module.device.type)
        self.seconds = time.perf_counter() - self.t0
        self.steps = trainer.global_step - self.warmup


def framework(iters: int, crop: int, precision: str, channels_last: bool, with_test: bool, warmup: int = 20,
              device: str = "cpu", pin_memory: bool = False) -> float:
    torch.manual_seed(0)
    image = open_input("skimage:chelsea").rgb
    data = FatherSonDataModule(image, (2, 2), crop_size=crop, test_max_side=512, pin_memory=pin_memory)
    module = ZSSRModule(ZSSRNet(), optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
                        channels_last=channels_last)
    timer = _Timer(warmup)
    policy = LinearFitLRPolicy(min_lr=0.0)  # measure a fixed number of steps
    trainer = pl.Trainer(max_steps=warmup + iters, precision=precision, logger=False, enable_checkpointing=False,
                         accelerator="gpu" if device == "cuda" else "cpu", devices=1,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         val_check_interval=50 if with_test else None, check_val_every_n_epoch=None,
                         limit_val_batches=1.0 if with_test else 0, callbacks=[policy, timer])
    trainer.fit(module, datamodule=data)
    return timer.seconds / timer.steps * 1000


class _Profiled(pl.Callback):
    """Profiles the framework's steps after ``warmup``."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup

    def on_train_batch_start(self, trainer, *args) -> None:
        if trainer.global_step == self.warmup:
            self.profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            self.profiler.__enter__()
            self.t0 = time.perf_counter()

    def on_train_end(self, trainer, *args) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.profiler.__exit__(None, None, None)


def profiled_pair(iters: int, crop: int, path, warmup: int = 10) -> dict[str, float]:
    """The framework and the plain loop on the chosen path, back to back in one process under torch.profiler: ms per
    step and the convolutions' share, which drift on a shared machine affects far less than separate timed runs."""
    torch.manual_seed(0)
    data = FatherSonDataModule(open_input("skimage:chelsea").rgb, (2, 2), crop_size=crop)
    module = ZSSRModule(ZSSRNet(), optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
                        channels_last=path.channels_last)
    prof = _Profiled(warmup)
    pl.Trainer(max_steps=warmup + iters, precision=path.precision, logger=False, enable_checkpointing=False,
               enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
               callbacks=[LinearFitLRPolicy(min_lr=0.0), prof]).fit(module, datamodule=data)
    conv = ("aten::convolution_backward", "aten::mkldnn_convolution", "aten::convolution")
    framework_conv = sum(e.self_cpu_time_total for e in prof.profiler.key_averages() if e.key in conv) / 1e3
    fmt = torch.channels_last if path.channels_last else torch.contiguous_format
    net = ZSSRNet().to(memory_format=fmt)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y = torch.rand(1, 3, crop, crop).contiguous(memory_format=fmt), torch.rand(1, 3, crop, crop)
    for i in range(warmup + iters):
        if i == warmup:
            profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            profiler.__enter__()
            t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=path.precision == "bf16-mixed"):
            loss = F.l1_loss(net(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    plain = time.perf_counter() - t0
    profiler.__exit__(None, None, None)
    plain_conv = sum(e.self_cpu_time_total for e in profiler.key_averages() if e.key in conv) / 1e3
    return {"framework_ms": prof.seconds / iters * 1000, "plain_ms": plain / iters * 1000,
            "framework_conv_ms": framework_conv / iters, "plain_conv_ms": plain_conv / iters}


def cases(args: argparse.Namespace) -> dict:
    dev = args.device
    path = choose_compute("auto", "auto", dev)
    rows = {
        "plain loop fp32 NCHW": lambda: plain_loop(args.iters, args.crop, False, False, device=dev),
        "plain loop fp32 channels-last": lambda: plain_loop(args.iters, args.crop, False, True, device=dev),
    }
    if args.bf16 or path.precision == "bf16-mixed":
        rows["plain loop bf16 NCHW"] = lambda: plain_loop(args.iters, args.crop, True, False, device=dev)
        rows["plain loop bf16 channels-last"] = lambda: plain_loop(args.iters, args.crop, True, True, device=dev)
    layout = "channels-last" if path.channels_last else "NCHW"
    bf16 = path.precision == "bf16-mixed"
    rows[f"plain loop {path.precision} {layout}, father/son crops"] = lambda: plain_loop(
        args.iters, args.crop, bf16, path.channels_last, device=dev, crops=True)
    if dev == "cuda":
        rows[f"plain loop {path.precision} {layout}, crops, pinned"] = lambda: plain_loop(
            args.iters, args.crop, bf16, path.channels_last, device=dev, crops=True, pin_memory=True)
        rows[f"framework {path.precision} {layout}, no test, pinned"] = lambda: framework(
            args.iters, args.crop, path.precision, path.channels_last, False, device=dev, pin_memory=True)
    rows[f"framework {path.precision} {layout}, no test"] = lambda: framework(
        args.iters, args.crop, path.precision, path.channels_last, False, device=dev)
    rows[f"framework {path.precision} {layout}, test every 50"] = lambda: framework(
        args.iters, args.crop, path.precision, path.channels_last, True, device=dev)
    return path, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds over all rows, interleaved; the table gives each row's median round")
    parser.add_argument("--bf16", action="store_true", help="also the bf16 plain loop on a CPU that emulates bf16")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--profile", action="store_true",
                        help="only the framework and the plain loop back to back under torch.profiler")
    args = parser.parse_args()
    if args.profile:
        path = choose_compute("auto", "auto", "cpu")
        r = profiled_pair(args.iters, args.crop, path)
        print(f"chosen path {path.precision}, {'channels-last' if path.channels_last else 'NCHW'}; "
              f"CPU flags {' '.join(k for k, v in cpu_flags().items() if v)}; {args.iters} steps each")
        print(f"framework {r['framework_ms']:.1f} ms/step (convolutions {r['framework_conv_ms']:.1f}), plain loop "
              f"{r['plain_ms']:.1f} ms/step (convolutions {r['plain_conv_ms']:.1f}): "
              f"{r['framework_ms'] / r['plain_ms']:.3f}x")
        return
    flops = train_flops(ZSSRNet(), args.crop)
    path, rows_to_run = cases(args)
    # a shared machine's speed drifts by 10-20 % over minutes: interleave the rows so drift hits them all alike
    times: dict[str, list[float]] = {name: [] for name in rows_to_run}
    for _ in range(args.repeats):
        for name, run in rows_to_run.items():
            times[name].append(run())
    rows = [(name, statistics.median(t)) for name, t in times.items()]
    fastest = min(ms for name, ms in rows if name.startswith("plain") and "crops" not in name)
    flags = cpu_flags()
    print(f"CPU {platform.processor() or platform.machine()}, capability {torch.backends.cpu.get_cpu_capability()}, "
          f"flags {' '.join(k for k, v in flags.items() if v)}; {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}")
    gpu = torch.cuda.get_device_name() if args.device == "cuda" else None
    if gpu:
        print(f"GPU {gpu}")
    print(f"chosen path: {path.precision}, training {'channels-last' if path.channels_last else 'NCHW'} "
          f"({path.reason}); crop {args.crop}, {flops / 1e9:.1f} GFLOP per iteration, "
          f"median of {args.repeats} interleaved rounds")
    print(f"{'':45s} {'ms/it':>8s} {'GFLOP/s':>8s} {'x fastest plain':>16s} {'rounds (ms/it)':>24s}")
    for name, ms in rows:
        spread = " ".join(f"{t:.1f}" for t in times[name])
        print(f"{name:45s} {ms:8.1f} {flops / ms / 1e6:8.0f} {ms / fastest:16.2f} {spread:>24s}")
    out = Path(__file__).resolve().parents[1] / "results"
    out.mkdir(exist_ok=True)
    name = "iteration_speed.json" if args.device == "cpu" else f"iteration_speed_{args.device}.json"
    (out / name).write_text(json.dumps({"device": args.device, "gpu": gpu,
        "crop": args.crop, "iters": args.iters, "repeats": args.repeats, "gflop_per_iteration": flops / 1e9,
        "threads": torch.get_num_threads(), "torch": torch.__version__, "cpu_flags": flags,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "chosen_path": path.to_dict(),
        "machine": platform.processor() or platform.machine(),
        "rows": [{"name": n, "ms_per_iteration": ms, "rounds": times[n], "gflops": flops / ms / 1e6,
                  "x_fastest_plain": ms / fastest} for n, ms in rows]}, indent=2))
    print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
