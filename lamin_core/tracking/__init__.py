"""Tracking: which run is active (`context`), `ln.track()`/`ln.finish()`, `@ln.flow`/`@ln.step`."""
