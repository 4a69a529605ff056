"""The results format: schema, part store, commit-aware reader, compaction and manifest.

It sits below both the executor (``sweep``) and ``analysis``; it imports neither.
"""
