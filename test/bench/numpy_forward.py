"""Independent float64 NumPy forward pass of the team's BiGRU model (SPEC section 4), for the bench.

It shares no code with the TypeScript engines: it reads the raw Keras weights (BatchNormalization not
folded) from the JSON file the bench writes, and the windows from a raw little-endian float32 file laid
out [count, seq_len, features].

    python3 numpy_forward.py --weights W.json --windows X.f32 --count N [--reps 5] [--out Y.f64]

prints one JSON line: {"count", "reps", "seconds": [...], "median_s", "windows_per_s", "numpy", "blas"}.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np


def load_weights(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    arr = lambda values, *shape: np.asarray(values, dtype=np.float64).reshape(shape)
    u, d = doc["units"], doc["inputDim"]

    def gru(g):
        return {
            "kernel": arr(g["kernel"], d, 3 * u),
            "recurrent": arr(g["recurrentKernel"], u, 3 * u),
            "bias": arr(g["bias"], 3 * u),
        }

    bn = doc["batchNorm"]
    return {
        "seq_len": doc["seqLen"],
        "input_dim": d,
        "units": u,
        "forward": gru(doc["forward"]),
        "backward": gru(doc["backward"]),
        "bn": {k: arr(bn[k], 2 * u) for k in ("gamma", "beta", "movingMean", "movingVariance")} | {"epsilon": bn["epsilon"]},
        "dense": [
            {"kernel": arr(x["kernel"], x["inputs"], x["units"]), "bias": arr(x["bias"], x["units"]), "activation": x["activation"]}
            for x in doc["dense"]
        ],
    }


def hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def gru_final_state(x_proj, recurrent, units, steps):
    """Keras 2.2.4 GRU, reset_after=False; x_proj is [n, seq_len, 3u] = x @ kernel + bias."""
    u = units
    h = np.zeros((x_proj.shape[0], u))
    for t in steps:
        xp = x_proj[:, t]
        hz_hr = h @ recurrent[:, : 2 * u]
        z = hard_sigmoid(xp[:, :u] + hz_hr[:, :u])
        r = hard_sigmoid(xp[:, u : 2 * u] + hz_hr[:, u:])
        hh = np.tanh(xp[:, 2 * u :] + (r * h) @ recurrent[:, 2 * u :])
        h = z * h + (1.0 - z) * hh
    return h


ACTIVATIONS = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0.0), "linear": lambda x: x}


def forward(windows, w):
    """windows: [n, seq_len, input_dim] float64 -> scaled v_open, [n] float64."""
    n, s, d = windows.shape
    flat = windows.reshape(n * s, d)
    states = []
    for name, steps in (("forward", range(s)), ("backward", range(s - 1, -1, -1))):
        g = w[name]
        x_proj = (flat @ g["kernel"] + g["bias"]).reshape(n, s, -1)
        states.append(gru_final_state(x_proj, g["recurrent"], w["units"], steps))
    y = np.concatenate(states, axis=1)
    bn = w["bn"]
    y = (y - bn["movingMean"]) / np.sqrt(bn["movingVariance"] + bn["epsilon"]) * bn["gamma"] + bn["beta"]
    for layer in w["dense"]:
        y = ACTIVATIONS[layer["activation"]](y @ layer["kernel"] + layer["bias"])
    return y[:, 0]


def blas_name():
    """The BLAS library this process loaded (from /proc/self/maps), with NumPy's own account of it where it has one."""
    loaded = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "blas" in path.lower():
                    loaded.add(os.path.realpath(path))
    except OSError:
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        built = " ".join(str(x) for x in (blas.get("name"), blas.get("version")) if x)
    except Exception:  # older NumPy: no dict mode
        built = ""
    return "; ".join(x for x in [built, ", ".join(sorted(loaded))] if x) or "unknown"


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True)
    p.add_argument("--windows", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--out")
    a = p.parse_args(argv)
    w = load_weights(a.weights)
    raw = np.fromfile(a.windows, dtype="<f4")
    expected = a.count * w["seq_len"] * w["input_dim"]
    if raw.size != expected:
        sys.exit(f"{a.windows}: {raw.size} float32 values, expected {expected} for {a.count} windows")
    windows = raw.astype(np.float64).reshape(a.count, w["seq_len"], w["input_dim"])
    y = forward(windows, w)  # warm-up, and the output
    seconds = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        forward(windows, w)
        seconds.append(time.perf_counter() - t0)
    if a.out:
        y.astype("<f8").tofile(a.out)
    median = statistics.median(seconds)
    print(json.dumps({
        "count": a.count,
        "reps": a.reps,
        "seconds": seconds,
        "median_s": median,
        "windows_per_s": a.count / median,
        "numpy": np.__version__,
        "blas": blas_name(),
    }))


if __name__ == "__main__":
    main(sys.argv[1:])
