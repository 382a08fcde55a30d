import pytest

pytest_plugins = ["lamin_core.testing"]


@pytest.fixture(autouse=True)
def no_tracked_run_left():
    """A test that fails between track() and finish() must not leave its run to the next test."""
    yield
    from lamin_core.tracking import context
    from lamin_core.tracking import track as tracking

    tracked = tracking._state["tracked"]
    if tracked is not None:
        tracked.done = True
    context.set_process_run(None)
