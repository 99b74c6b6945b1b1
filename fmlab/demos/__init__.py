"""One module per demo; each defines `Config`, `run` and `DEMO`. `fmlab.registry` finds them all."""
