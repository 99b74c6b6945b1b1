"""Network structure: depth, residual connections and normalisation, trained live."""
import ui

ui.category_page("structure")
