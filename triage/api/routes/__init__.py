"""The API's routers, one module per audience: health, triage, bot, inbox, admin, gaps, reports."""
