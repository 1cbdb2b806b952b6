"""DnCNN quality benchmark: train on Train400 patches at one noise level for a time budget,
report the mean PSNR on Set12 with the standard protocol (notebooks 02 and 05).

    python bench/dncnn_set12.py --train-dir ../shared/data/Train400 \\
        --test-dir ../shared/data/Set12 --sigma 25 --minutes 30

Protocol (Zhang et al. 2017, DnCNN-S): 8-bit images scaled to [0,1]; additive white
Gaussian noise of standard deviation sigma/255, not clipped; the network's output is not
clipped either; PSNR with peak 1, per image, then the mean over the 12 images. Training:
40x40 patches on a stride-10 grid with random flips/rotations, fresh noise for every batch,
``denoisers.dncnn`` (17 layers, 64 filters, BN, residual), Adam with a cosine learning-rate
decay over the time budget, batch 128. Published Set12 means at sigma 25: DnCNN-S 30.44 dB,
BM3D 29.97 dB. Prints the noisy-input PSNR measured on the same noisy images and the gain,
then one line:

    RESULT set12_psnr=<dB> noisy_psnr=<dB> sigma=<s> minutes=<m> steps=<n> backend=<b>

Without a GPU, run it tiny (e.g. ``--minutes 1 --depth 5 --filters 16``) only to check the
pipeline; the figure means nothing then.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", required=True, help="folder of training PNGs (Train400)")
    parser.add_argument("--test-dir", required=True, help="folder of test PNGs (Set12)")
    parser.add_argument("--sigma", type=float, default=25)
    parser.add_argument("--minutes", type=float, default=30, help="training time budget")
    parser.add_argument("--depth", type=int, default=17)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--stride", type=int, default=10)
    parser.add_argument("--max-patches", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import keras
    import numpy as np

    from helpers import denoisers, metrics
    from helpers import noise2noise as n2n
    from helpers.datasets import grayscale

    keras.utils.set_random_seed(args.seed)
    data = grayscale.load(args.train_dir, args.test_dir, patch=40, stride=args.stride,
                          max_patches=args.max_patches, seed=args.seed)
    print(f"data: {data.source}; {len(data.train)} training patches")
    sigma = args.sigma / 255

    def add_noise(x, rng):
        gen = np.random.default_rng(rng)
        return x + np.float32(sigma) * gen.standard_normal(x.shape, dtype=np.float32)

    feed = n2n.NoisyBatches(data.train, add_noise, batch_size=args.batch, seed=args.seed)
    model = denoisers.dncnn(depth=args.depth, filters=args.filters)
    budget = args.minutes * 60
    opt = keras.optimizers.Adam(args.lr)
    model.compile(optimizer=opt, loss="mse", jit_compile="auto")
    start = time.perf_counter()
    steps, epoch = 0, 0
    total_steps = None
    while time.perf_counter() - start < budget:
        for i in range(len(feed)):
            x, y = feed[i]
            model.train_on_batch(x, y)
            steps += 1
            elapsed = time.perf_counter() - start
            if total_steps is None and steps == 50:  # step-count estimate for the decay
                total_steps = max(100, int(budget / (elapsed / steps)))
            if total_steps is not None:  # cosine decay to 1 % over the estimated steps
                frac = min(1.0, steps / total_steps)
                opt.learning_rate.assign(args.lr * (0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * frac))))
            if elapsed >= budget:
                break
        feed.on_epoch_end()
        epoch += 1
        print(f"epoch {epoch}: {steps} steps, {time.perf_counter() - start:.0f} s", flush=True)
    train_s = time.perf_counter() - start

    rng = np.random.default_rng(12345)
    psnr_out, psnr_in = [], []
    for name, img in data.test.items():
        clean = img.astype(np.float32)[None, ..., None] / 255.0
        noisy = clean + np.float32(sigma) * rng.standard_normal(clean.shape, dtype=np.float32)
        den = np.asarray(model(noisy, training=False), dtype=np.float32)  # not clipped
        psnr_in.append(metrics.psnr(clean, noisy)[0])
        psnr_out.append(metrics.psnr(clean, den)[0])
        print(f"{name:>16}: noisy {psnr_in[-1]:6.2f} dB -> DnCNN {psnr_out[-1]:6.2f} dB")
    mean_out, mean_in = float(np.mean(psnr_out)), float(np.mean(psnr_in))
    print(f"mean: noisy {mean_in:.2f} dB, DnCNN {mean_out:.2f} dB "
          f"(gain {mean_out - mean_in:+.2f} dB); published DnCNN-S at sigma 25: 30.44 dB, "
          "BM3D 29.97 dB")
    print(f"RESULT set12_psnr={mean_out:.2f} noisy_psnr={mean_in:.2f} sigma={args.sigma:g} "
          f"minutes={train_s / 60:.1f} steps={steps} backend={keras.backend.backend()}")


if __name__ == "__main__":
    main()
