"""One module per pipeline step; each exposes a `*_step(ctx, ...)` factory taking a StepContext."""
