"""The order in which one reviewer sees the (study, model) items: randomised per reviewer, balanced.

Items are dealt into rounds by a Latin square: with the reviewer's own shuffle of studies (index i) and of
models (index j), item (study i, model j) goes to round (i + j) mod M, M the number of models. So each round
shows every study at most once, and each model about equally often (the counts differ by at most one);
rounds follow one another and items are shuffled within a round. A reviewer thus meets the M reports of one
study spread over the whole session (never two of them side by side), and every model equally early and
late, so fatigue and learning effects fall on all models alike. Where the grid is incomplete (a model failed
on a study) the missing items are just absent.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence


def balanced_order(items: Sequence[tuple[Hashable, Hashable]], seed: str) -> list[int]:
    """Indices of `items` ((study, model) pairs) in this reviewer's order; `seed` makes it reproducible."""
    rng = random.Random(seed)
    studies = sorted({s for s, _ in items}, key=str)
    models = sorted({m for _, m in items}, key=str)
    rng.shuffle(studies)
    rng.shuffle(models)
    s_index = {s: i for i, s in enumerate(studies)}
    m_index = {m: j for j, m in enumerate(models)}
    n_models = max(1, len(models))
    rounds: list[list[int]] = [[] for _ in range(n_models)]
    for k, (s, m) in enumerate(items):
        rounds[(s_index[s] + m_index[m]) % n_models].append(k)
    order: list[int] = []
    for block in rounds:
        rng.shuffle(block)
        if order and block and items[block[0]][0] == items[order[-1]][0]:
            # the same study across a round boundary: move it later in the round when possible
            swap = next((i for i in range(1, len(block)) if items[block[i]][0] != items[order[-1]][0]), None)
            if swap is not None:
                block[0], block[swap] = block[swap], block[0]
        order.extend(block)
    return order
