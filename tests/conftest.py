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


def pytest_collection_modifyitems(config, items):  # noqa: ANN001, ANN201
    """Tests marked `torch` run only with LAMIN_TEST_TORCH=1 (and then fail without torch): deselected,
    never skipped, so a run says plainly that it did not run them."""
    import os

    if os.environ.get("LAMIN_TEST_TORCH") == "1":
        return
    keep = [i for i in items if i.get_closest_marker("torch") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
