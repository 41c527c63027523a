"""Train the intent head from nlu/data with torch; calibrate; save a versioned model file."""
from __future__ import annotations

import hashlib
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import cast

import numpy as np

from nlu.augment import augment
from nlu.corpus import TRAIN_DIR, Example, context_rules, load_train, resolve
from nlu.features import NGRAM_DIM, USE_DIM, Featurizer
from nlu.intent_model import DEFAULT_MODEL, IntentModel
from nlu.text import normalize
from nlu.types import EXPECTS, intent_names


@dataclass
class TrainConfig:
    hidden: int = 256
    epochs: int = 14
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    dropout: float = 0.3
    augment_per_example: int = 2
    val_fraction: float = 0.15
    oos_threshold: float = 0.35
    seed: int = 13
    features: str = "use+ngram"  # or "use" / "ngram": ablations for the model comparison in nlu/README.md
    per_intent: int = 0  # at most this many utterances per intent and language (0: all): a quick smoke run
    threads: int = 2  # torch's threads; 1 on a busy machine (OpenMP threads that share cores wait on each other)


def corpus_digest(train_dir: Path = TRAIN_DIR) -> str:
    h = hashlib.sha256()
    for f in sorted(train_dir.parent.rglob("*.yaml")):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def by_intent_and_lang(examples: list[Example]) -> list[list[Example]]:
    """The examples of each (intent, language), in corpus order, the groups sorted by (intent, language)."""
    groups: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for ex in examples:
        groups[(ex.intent, ex.lang)].append(ex)
    return [groups[key] for key in sorted(groups)]


def split(examples: list[Example], fraction: float, rng: random.Random) -> tuple[list[Example], list[Example]]:
    train, val = [], []
    for items in by_intent_and_lang(examples):  # fresh lists: shuffled in place
        rng.shuffle(items)
        k = max(1, int(round(len(items) * fraction)))
        val.extend(items[:k])
        train.extend(items[k:])
    return train, val


def sample(examples: list[Example], per_intent: int, rng: random.Random) -> list[Example]:
    """At most `per_intent` utterances of each intent in each language, drawn at random (0: all of them)."""
    if per_intent <= 0:
        return examples
    return [ex for group in by_intent_and_lang(examples) for ex in rng.sample(group, min(per_intent, len(group)))]


def expand(examples: list[Example], cfg: TrainConfig, rng: random.Random, with_aug: bool) -> list[Example]:
    """Each example: itself + noisy variants, each paired with a context; labels resolved by context."""
    rules = context_rules()
    contexts = list(EXPECTS)
    rows: list[Example] = []
    for ex in examples:
        variants = [ex.text] + (augment(ex.text, ex.lang, cfg.augment_per_example, rng) if with_aug else [])
        for i, text in enumerate(variants):
            ctx = "open" if i == 0 else rng.choice(contexts)
            rows.append(Example(text, ex.lang, resolve(ex.intent, ctx, rules), ctx))
        # every generic reply also appears under each context that changes its meaning
        for ctx, mapping in rules.items():
            if ex.intent in mapping:
                rows.append(Example(rng.choice(variants), ex.lang, mapping[ex.intent], ctx))
    return rows


def _featurize(fz: Featurizer, rows: list[Example]) -> np.ndarray:
    return fz.transform([normalize(r.text) for r in rows], [r.lang for r in rows],
                        [r.context for r in rows], normalized=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature minimising validation NLL (grid then refine; 1-D so a search is exact enough)."""
    def nll(t: float) -> float:
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(labels)), labels].mean())

    grid = np.exp(np.linspace(np.log(0.2), np.log(10.0), 60))
    best = min(grid, key=nll)
    fine = np.linspace(best * 0.85, best * 1.15, 31)
    return float(min(fine, key=nll))


def train(out: Path = DEFAULT_MODEL, cfg: TrainConfig | None = None, log=print) -> IntentModel:
    import torch
    from torch import nn

    cfg = cfg or TrainConfig()
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, cfg.threads))
    t0 = time.time()
    intents = intent_names()
    index = {n: i for i, n in enumerate(intents)}
    base = sample(load_train(), cfg.per_intent, rng)
    tr, va = split(base, cfg.val_fraction, rng)
    tr_rows = expand(tr, cfg, rng, with_aug=True)
    va_rows = expand(va, cfg, rng, with_aug=False)
    fz = Featurizer()
    xtr = torch.from_numpy(_featurize(fz, tr_rows))
    ytr = torch.tensor([index[r.intent] for r in tr_rows])
    xva = _featurize(fz, va_rows)
    yva = np.array([index[r.intent] for r in va_rows])
    zero_blocks = {"use+ngram": [], "use": [[USE_DIM, USE_DIM + NGRAM_DIM]], "ngram": [[0, USE_DIM]]}[cfg.features]
    for start, end in zero_blocks:
        xtr[:, start:end] = 0.0
        xva[:, start:end] = 0.0
    log(f"corpus {len(base)} utterances -> {len(tr_rows)} training rows, {len(va_rows)} validation rows "
        f"({time.time() - t0:.1f}s featurising)")

    net = nn.Sequential(nn.Dropout(0.1), nn.Linear(xtr.shape[1], cfg.hidden), nn.ReLU(),
                        nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, len(intents)))
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    n = len(ytr)
    for epoch in range(cfg.epochs):
        net.train()
        perm = torch.randperm(n)
        total = 0.0
        for i in range(0, n, cfg.batch):
            idx = perm[i:i + cfg.batch]
            opt.zero_grad()
            loss = loss_fn(net(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        if epoch % 3 == 2 or epoch == cfg.epochs - 1:
            net.eval()
            with torch.no_grad():
                acc = float((net(torch.from_numpy(xva)).argmax(1).numpy() == yva).mean())
            log(f"epoch {epoch + 1:2d} loss {total / n:.4f} val acc {acc:.4f}")

    net.eval()
    lin1, lin2 = cast(nn.Linear, net[1]), cast(nn.Linear, net[4])
    model = IntentModel(
        intents=intents,
        w1=lin1.weight.detach().numpy().T.copy(), b1=lin1.bias.detach().numpy().copy(),
        w2=lin2.weight.detach().numpy().T.copy(), b2=lin2.bias.detach().numpy().copy(),
        oos_threshold=cfg.oos_threshold, meta={"zero_blocks": zero_blocks},
    )
    model.w1 = model.w1.astype(np.float16).astype(np.float32)  # what the saved file will hold
    val_logits = model.logits(xva)
    model.temperature = fit_temperature(val_logits, yva)
    probs = model.predict_proba(xva)
    conf = probs.max(1)
    acc = float((probs.argmax(1) == yva).mean())
    ece = _ece(conf, probs.argmax(1) == yva)
    model.meta = {
        "zero_blocks": zero_blocks,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "corpus_digest": corpus_digest(),
        "train_rows": len(tr_rows), "val_rows": len(va_rows),
        "val_accuracy": round(acc, 4), "val_ece": round(ece, 4),
        "features": {"use+ngram": "use-m3-512 + char-ngram-hash-4096", "use": "use-m3-512",
                     "ngram": "char-ngram-hash-4096"}[cfg.features] + " + context-onehot-9 + lang-onehot-2",
        "config": cfg.__dict__,
    }
    model.save(out)
    log(f"val acc {acc:.4f} ece {ece:.4f} temperature {model.temperature:.3f} -> {out} "
        f"({time.time() - t0:.1f}s total)")
    return model


def _ece(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(conf[m].mean() - correct[m].mean())
    return float(total)


if __name__ == "__main__":
    train()
