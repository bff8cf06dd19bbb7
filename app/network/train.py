"""Train the shipped network: ``python -m app.network.train`` (about 2 s on two cores).

Writes ``assets/network.npz`` (the weights, the seed, the training configuration and the
per-epoch history: training loss, test loss, test accuracy) and ``assets/network.json`` (the
same record without the weights, for people and for the README).  Deterministic: the seed
fixes the initial weights and the batch order, so running it again on the same machine
writes the same weights.  ``--backend cupy`` trains on the GPU through the same code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import convcore as cc
from app.network import net
from app.network.data import digits

ASSETS = Path(__file__).resolve().parents[2] / "assets"
WEIGHTS = ASSETS / "network.npz"
RECORD = ASSETS / "network.json"


def record(trained: net.Trained, weights_bytes: int) -> dict:
    """What the JSON file says about the weights."""
    d = digits()
    correct = round(trained.test_accuracy * d.test_size)
    c = trained.config
    return {
        "seed": trained.seed, "epochs": c.epochs, "batch": c.batch, "lr": c.lr,
        "schedule": "cosine", "optimizer": "Adam (PyTorch's defaults)",
        "parameters": net.PARAMETERS, "train_images": len(d.y_train),
        "test_images": d.test_size, "test_correct": correct,
        "test_accuracy": round(trained.test_accuracy, 6),
        "training_seconds": round(trained.seconds, 2), "backend": trained.backend,
        "weights_file_bytes": weights_bytes,
        "history": {k: [round(v, 6) for v in vals] for k, vals in trained.history.items()},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    parser.add_argument("--out", type=Path, default=WEIGHTS,
                        help="the .npz to write (the .json goes beside it)")
    args = parser.parse_args(argv)
    from convcore.backend import xp_by_name

    xp = xp_by_name(args.backend)

    def progress(epoch: int, t: net.Trained) -> None:
        h = t.history
        print(f"epoch {epoch + 1:2d}  train loss {h['train_loss'][-1]:.4f}  test loss "
              f"{h['test_loss'][-1]:.4f}  test accuracy {100 * h['test_accuracy'][-1]:.2f} %",
              flush=True)

    trained = net.train(args.seed, digits(), xp=xp, on_epoch=progress)
    data = net.to_bytes(trained)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    info = record(trained, len(data))
    args.out.with_suffix(".json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"{args.out.name}: {len(data):,} bytes, {net.PARAMETERS:,} parameters, test accuracy "
          f"{100 * trained.test_accuracy:.2f} % ({info['test_correct']}/{info['test_images']})"
          f", trained in {trained.seconds:.2f} s on {cc.backend_name() if xp is np else 'cupy'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
