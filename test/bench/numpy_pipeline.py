"""Whole-process NumPy implementation of the prediction pipeline (SPEC sections 1-5), for the bench.

CSV in (stdlib csv module), features in float64 (SPEC 2), the windows (SPEC 3), the float64 forward pass of
numpy_forward.py (SPEC 4), predictions (SPEC 5), CSV out with the columns of `npm run predict`:

    python3 numpy_pipeline.py --input IN.csv --scalers scalers.json --weights weights.json \
        --output preds.csv [--forecast forecast.csv] [--mode anchored|integrated]

`scalers.json` is the team's `scalers-json/1` file (model/scalers.ts); `weights.json` is the raw-weights
file the bench writes. Prints one JSON line of counts and timings on stdout.
"""

import argparse
import csv
import datetime
import json
import math
import sys
import time

import numpy as np

from numpy_forward import blas_name, forward, load_weights

REQUIRED = ("symbol", "date", "open", "high", "low", "close", "market")
SCALED = ("open", "high", "low", "close", "close_ratio", "spread",
          "v_open", "v_high", "v_low", "v_close", "v_close_ratio", "v_spread")


def number(text):
    """A finite or infinite decimal (1.23E+09 included); None for anything else."""
    t = text.strip()
    if not t or t.lower().startswith(("0x", "+0x", "-0x")):
        return None
    try:
        v = float(t)
    except ValueError:
        return None
    return None if math.isnan(v) else v


def read_input(path):
    """symbol -> rows (date, open text, open, high, low, close, market), plus symbol -> skip reason."""
    symbols, problems = {}, {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            sys.exit(f"{path}: empty file")
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            sys.exit(f"{path}: missing column(s) {', '.join(missing)}")
        idx = [header.index(c) for c in REQUIRED]
        for line, record in enumerate(reader, start=2):
            symbol, date, open_text, high, low, close, market = (record[i] if i < len(record) else "" for i in idx)
            if symbol in problems:
                continue
            values = [number(v) for v in (open_text, high, low, close, market)]
            bad = next((REQUIRED[2 + k] for k, v in enumerate(values) if v is None), None)
            if bad is None:
                try:
                    datetime.date.fromisoformat(date.strip())
                except ValueError:
                    bad = "date"
            if bad is not None:
                problems[symbol] = f"row {line}, column '{bad}'"
                symbols.pop(symbol, None)
                continue
            symbols.setdefault(symbol, []).append((date.strip(), open_text.strip(), *values))
    return symbols, problems


def features(rows, scalers):
    """[n, 13] float64 (SPEC 2) of one symbol's rows, already in date order."""
    _, _, o, h, l, c, m = (np.array(col) for col in zip(*rows))
    o, h, l, c, m = (x.astype(np.float64) for x in (o, h, l, c, m))
    spread = h - l
    with np.errstate(divide="ignore", invalid="ignore"):
        close_ratio = np.where(spread == 0, 0.0, (c - l) / np.where(spread == 0, 1.0, spread))
        log_shares = np.log(np.ceil(m / c))
    base = np.stack([o, h, l, c, close_ratio, spread], axis=1)
    diffs = np.zeros_like(base)
    diffs[1:] = base[1:] - base[:-1]
    raw = np.concatenate([base, diffs], axis=1)
    mean = np.array([scalers[col]["mean"] for col in SCALED])
    scale = np.array([scalers[col]["scale"] for col in SCALED])
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = (raw - mean) / scale
    out = np.concatenate([scaled, log_shares[:, None]], axis=1)
    out[~np.isfinite(out)] = 0.0
    return out


def windows_of(feats, seq_len):
    """[n + 1, seq_len, 13]: window t holds rows t-seq_len .. t-1, zero rows before the first (SPEC 3)."""
    padded = np.vstack([np.zeros((seq_len, feats.shape[1])), feats])
    return np.lib.stride_tricks.sliding_window_view(padded, seq_len, axis=0).transpose(0, 2, 1)


def next_day(date):
    return (datetime.date.fromisoformat(date) + datetime.timedelta(days=1)).isoformat()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", required=True)
    p.add_argument("--scalers", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--forecast")
    p.add_argument("--mode", choices=("anchored", "integrated"), default="anchored")
    a = p.parse_args(argv)

    t0 = time.perf_counter()
    with open(a.scalers, encoding="utf-8") as f:
        scaler_doc = json.load(f)
    if scaler_doc.get("format") != "scalers-json/1":
        sys.exit(f"{a.scalers}: format {scaler_doc.get('format')!r}, expected 'scalers-json/1'")
    known = scaler_doc["symbols"]
    weights = load_weights(a.weights)
    seq_len = weights["seq_len"]
    t1 = time.perf_counter()

    symbols, problems = read_input(a.input)
    t2 = time.perf_counter()

    batch = []
    for symbol, rows in symbols.items():
        if symbol not in known:
            problems[symbol] = "unknown symbol"
            continue
        rows.sort(key=lambda r: r[0])
        batch.append((symbol, rows, windows_of(features(rows, known[symbol]), seq_len)))
    if not batch:
        sys.exit(f"{a.input}: nothing to predict ({len(problems)} symbol(s) skipped)")
    windows = np.concatenate([w for _, _, w in batch])
    t3 = time.perf_counter()

    scaled = forward(windows, weights)
    t4 = time.perf_counter()

    with open(a.output, "w", newline="", encoding="utf-8") as out:
        preds = csv.writer(out, lineterminator="\n")
        preds.writerow(["symbol", "index", "date", "val_open", "pred_open", "v_open_scaled", "v_open"])
        forecasts = []
        first = 0
        for symbol, rows, w in batch:
            n = len(rows)
            y = scaled[first : first + n + 1]
            first += n + 1
            s = known[symbol]["v_open"]
            v = y * s["scale"] + s["mean"]
            opens = np.array([r[2] for r in rows])
            pred = np.empty(n)
            pred[0] = opens[0]
            if a.mode == "anchored":
                pred[1:] = opens[:-1] + v[1:n]
            else:
                pred[1:] = opens[0] + np.cumsum(v[1:n])
            for t, r in enumerate(rows):
                preds.writerow([symbol, t, r[0], r[1], repr(float(pred[t])), repr(float(y[t])), repr(float(v[t]))])
            last = rows[-1]
            forecasts.append([symbol, last[0], next_day(last[0]), last[1], repr(float(y[n])), repr(float(v[n])), repr(float(last[2] + v[n]))])
    if a.forecast:
        with open(a.forecast, "w", newline="", encoding="utf-8") as out:
            fw = csv.writer(out, lineterminator="\n")
            fw.writerow(["symbol", "last_date", "date", "last_open", "v_open_scaled", "v_open", "forecast_open"])
            fw.writerows(forecasts)
    t5 = time.perf_counter()

    print(json.dumps({
        "symbols": len(batch),
        "skipped": problems,
        "rows": sum(len(r) for _, r, _ in batch),
        "windows": int(windows.shape[0]),
        "numpy": np.__version__,
        "blas": blas_name(),
        "seconds": {"load": t1 - t0, "parse": t2 - t1, "features": t3 - t2, "inference": t4 - t3, "write": t5 - t4, "total": t5 - t0},
    }))


if __name__ == "__main__":
    main(sys.argv[1:])
