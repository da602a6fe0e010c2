"""The knowledge base: load FAQ files and manuals, embed them, build index snapshots, search them.

Independent of the service in ``triage``: nothing here imports from it.
"""
