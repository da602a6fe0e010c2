"""Learning from a company's helpdesk history: its exported past tickets (``exports``), what agents did with
them (``matching``: the FAQ entry that answered, the tag), and the learned set the service trains on
(``importer``, ``learned``)."""
