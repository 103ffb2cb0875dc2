"""One module per pipeline step; each exposes a `*_step(...)` factory."""
