"""Training DECA: data loading and loss terms (reference §3.6–3.8).

Submodules are imported explicitly (``from pydeca.train.losses import ...``); this package
re-exports nothing, so importing it stays cheap and its submodules stay independent.
"""
