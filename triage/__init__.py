"""CX triage service: answer, tag, prioritise and draft replies for customer messages."""

__version__ = "0.1.0"
