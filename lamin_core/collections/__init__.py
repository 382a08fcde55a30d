"""Collections of artifacts: creating and versioning them (`create`), reading their members in order
(`access`: ordered_artifacts, load, open, cache), and training loaders over their .h5ad members (`mapped`).

The model (`lamin_core.models.collection`) declares the tables and reaches these modules lazily.
"""
