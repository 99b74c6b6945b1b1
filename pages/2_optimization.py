"""Optimization: how SGD, momentum, Adam and friends differ, trained live."""
import ui

ui.category_page("optimization")
