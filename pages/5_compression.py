"""Compression and acceleration: pruning, quantization, distillation, and what really makes a model faster."""
import ui

ui.category_page("compression")
