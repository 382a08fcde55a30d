"""Annotation: labels, feature values, schemas and validation. The models declare the tables
(`lamin_core/models/annotations.py`); the behaviour their methods reach lazily lives here."""
