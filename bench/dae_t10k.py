"""Notebook 04's pipeline on real MNIST digits from the official test-set IDX files only.

Where the 60,000-image MNIST training set cannot be fetched (an offline machine), this
runs the notebook's DAE and classifiers on the 10,000 real MNIST test images, split at
random (seeded) into a training part and a held-out part. It is NOT the full MNIST run:
the DAE and the classifiers see 8,000 images instead of 60,000, and the accuracies are
measured on the 2,000 held-out test images. Same model builders, noise and training
settings as the notebook (helpers.autoencoders, helpers.noise, helpers.training).

    KIT_CACHE_DIR=/tmp/cache_t10k python bench/dae_t10k.py --idx-dir ../shared/data/MNIST
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers import autoencoders as ae  # noqa: E402
from helpers import noise, training  # noqa: E402
from helpers.datasets import mnist  # noqa: E402

P_LEVELS = (0.05, 0.1, 0.2, 0.3, 0.4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idx-dir", required=True,
                        help="folder with the t10k images and labels IDX files (.gz or raw)")
    parser.add_argument("--n-heldout", type=int, default=2000)
    parser.add_argument("--dae-epochs", type=int, default=100)
    parser.add_argument("--clf-epochs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import keras

    keras.utils.set_random_seed(args.seed)
    folder = Path(args.idx_dir)
    images = mnist.read_idx(mnist.find_idx(folder, "t10k-images-idx3-ubyte"))
    labels = mnist.read_idx(mnist.find_idx(folder, "t10k-labels-idx1-ubyte")).astype(np.int64)
    order = np.random.default_rng(args.seed).permutation(len(images))
    held, fit = order[:args.n_heldout], order[args.n_heldout:]
    x_train, y_train = mnist.flatten(images[fit]), labels[fit]
    x_test, y_test = mnist.flatten(images[held]), labels[held]
    print(f"real MNIST t10k images: {len(x_train)} for training, {len(x_test)} held out "
          f"(seeded split, seed {args.seed}); backend {keras.backend.backend()}")

    n_val = len(x_train) // 10
    x_fit, x_val = x_train[:-n_val], x_train[-n_val:]
    x_val_noisy = ae.add_gaussian(x_val, 0.1, 1234)

    def build_dae():
        model = ae.dae()
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        return model

    key = {"source": "mnist-t10k-split", "n_heldout": args.n_heldout, "seed": args.seed}
    start = time.perf_counter()
    dae_run = training.train_or_load(
        "bench-dae-t10k", {**key, "version": 1}, build_dae, epochs=args.dae_epochs,
        x=ae.NoisyPairs(x_fit, batch_size=256, sigma=0.1, seed=args.seed),
        validation_data=(x_val_noisy, x_val), verbose=0)
    dae = dae_run.model
    h = dae_run.history
    print(f"DAE: {len(h['loss'])} epochs in {time.perf_counter() - start:.0f} s, "
          f"loss {h['loss'][0]:.4f} -> {h['loss'][-1]:.4f}, val_loss {h['val_loss'][-1]:.4f}")

    test_sets = {"clean": x_test, "gaussian 0.1": noise.gaussian(x_test, 0.1, rng=1434)}
    print(f"{'P':>5} | {'uniform: input':>14} {'DAE':>8} | {'gauss P/sqrt3: input':>20} {'DAE':>8}")
    for i, p in enumerate(P_LEVELS):
        test_sets[f"uniform P={p}"] = u = noise.uniform(x_test, p, rng=1234 + i)
        g = noise.gaussian(x_test, p / np.sqrt(3), rng=1334 + i)
        r_u = ae.reconstruction_loss(dae, u, x_test).mean()
        r_g = ae.reconstruction_loss(dae, g, x_test).mean()
        print(f"{p:>5.2f} | {np.mean((u - x_test) ** 2):>14.4f} {r_u:>8.4f} | "
              f"{np.mean((g - x_test) ** 2):>20.4f} {r_g:>8.4f}")

    encoder = ae.encoder_of(dae)
    y_1hot = keras.utils.to_categorical(y_train, 10)
    features = {"codes": encoder.predict(x_train, batch_size=1024, verbose=0), "raw": x_train}
    clf = {}
    for kind, feats in features.items():
        keras.utils.set_random_seed(args.seed)
        start = time.perf_counter()
        clf[kind] = training.train_or_load(
            f"bench-clf-t10k-{kind}", {**key, "dae": dae_run.path.name, "version": 1},
            lambda f=feats: ae.compiled_classifier(f.shape[1]), epochs=args.clf_epochs,
            x=feats, y=y_1hot, batch_size=128, validation_split=2 / 9,
            callbacks=[ae.early_stopping(20)], verbose=0)
        hk = clf[kind].history
        print(f"classifier on {kind}: {len(hk['loss'])} epochs in "
              f"{time.perf_counter() - start:.0f} s, best val_accuracy "
              f"{max(hk['val_accuracy']):.4f}")

    print(f"\n{'held-out test images':<22} {'codes':>8} {'raw pixels':>11}")
    for name, imgs in test_sets.items():
        acc = {}
        for kind in ("codes", "raw"):
            inputs = encoder.predict(imgs, batch_size=1024, verbose=0) if kind == "codes" else imgs
            pred = clf[kind].model.predict(inputs, batch_size=1024, verbose=0).argmax(axis=1)
            acc[kind] = float(np.mean(pred == y_test))
        print(f"{name:<22} {acc['codes']:>8.2%} {acc['raw']:>11.2%}")


if __name__ == "__main__":
    main()
