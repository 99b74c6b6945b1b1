"""Loss functions: what each loss rewards, and how outliers pull a least-squares fit."""
import ui

ui.category_page("losses")
