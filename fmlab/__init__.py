"""fmlab: runnable answers to deep-learning interview questions.

Plain PyTorch + NumPy; never imports streamlit. Importing the package does no work:
demos are found through `fmlab.registry`.
"""
from .text import T, _  # noqa: F401

__version__ = "0.1.0"
