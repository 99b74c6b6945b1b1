"""Adversarial robustness and security: attacks, adversarial training, poisoning, model theft and privacy."""
import ui

ui.category_page("adversarial")
