"""Helpers several test modules share."""


def scored_epochs(monitor):
    """The per-epoch rows a ``sklearn.callback.ScoringMonitor`` logged during one fit."""
    log = monitor.get_logs()
    rows = next(iter(log.values())) if isinstance(log, dict) else log
    rows = rows.data if hasattr(rows, "data") else rows
    return [r for r in rows if r["task_name"] == "epoch"]
