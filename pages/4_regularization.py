"""Regularization: dropout, weight decay, augmentation, early stopping, and when less of it is the fix."""
import ui

ui.category_page("regularization")
