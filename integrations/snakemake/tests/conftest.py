pytest_plugins = ["lamin_core.testing"]
