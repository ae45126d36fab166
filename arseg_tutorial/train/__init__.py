"""Training: data (``data``, ``augment``), losses (``losses``), one step per method (``loops``), the
loop with resumable checkpoints (``trainer``, ``checkpoint``), data-parallel runs (``distributed``),
the shipped runs (``recipes``) and the rebuild of ``data/`` (``build``).

Introduced in notebook 05.
"""
