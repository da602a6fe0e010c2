"""Prompt templates (Jinja, ``*.prompt.md``), reply templates for the no-LLM path and style lists.

They ship inside the wheel as package data, so content teams can edit them without touching code.
"""

from pathlib import Path

PROMPTS_DIR = Path(__file__).parent
