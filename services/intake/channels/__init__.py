"""Intake's channels besides the JSON API: SMS (Kannel), e-mail, social webhooks, Open311, offline.

Each channel module is an adapter onto intake's use cases (`services.intake.usecases.Intake`,
`services.intake.models`): it exposes a FastAPI router (`build`) that `bootstrap.py` wires in.
"""
