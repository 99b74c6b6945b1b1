"""One module per demo; each defines `Config`, `run` and `DEMO`. Listed in `fmlab.registry`."""
