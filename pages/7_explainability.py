"""Explainability: where does a CNN look?"""
import ui

ui.category_page("explainability")
