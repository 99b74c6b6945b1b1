"""Deployment and systems: export, batching, load, autoscaling, releases and monitoring."""
import ui

ui.category_page("deployment")
