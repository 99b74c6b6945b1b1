"""fmlab: deep-learning interview questions, each answered by a small PyTorch demo that trains live.

Run with `streamlit run app.py`. The topic pages live in pages/ (one file per topic).
"""
import ui

ui.home()
