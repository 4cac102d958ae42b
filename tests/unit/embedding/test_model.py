"""vectorops.embedding.model.encode against the model's own encode, and the token-budget batching it relies on."""

from __future__ import annotations

import numpy as np
import pytest

from vectorops.embedding import model as embedding_model

TEXTS = (["short"] + [f"note {i}: " + "word " * (i % 40) for i in range(150)] + ["é ü ∑ 漢字 🙂 " * 3]
         + ["a very long document " * 200, ""])


@pytest.mark.parametrize("lengths", [[5, 5, 5], [1], [300, 3, 3, 3, 120, 9], list(range(1, 200))])
def test_every_text_is_in_exactly_one_pass_and_no_pass_exceeds_the_budget(lengths: list[int]) -> None:
    batches = embedding_model.token_budget_batches(lengths, budget=64, max_batch=16)
    seen = np.concatenate(batches)
    assert sorted(seen.tolist()) == list(range(len(lengths)))
    for batch in batches:
        padded = max(lengths[i] for i in batch) * len(batch)
        assert len(batch) <= 16 and (padded <= 64 or len(batch) == 1), (batch, padded)
    firsts = [lengths[b[0]] for b in batches]
    assert firsts == sorted(firsts, reverse=True)


def test_encode_gives_the_vectors_of_the_models_own_encode_in_the_callers_order() -> None:
    model = embedding_model.load_model()
    expected = model.encode(list(TEXTS), convert_to_numpy=True, show_progress_bar=False)
    got = embedding_model.encode(TEXTS)
    assert got.dtype == np.float32 and got.shape == expected.shape == (len(TEXTS), 384)
    assert np.abs(got - expected).max() < 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert embedding_model.encode([]).shape == (0, 384)
