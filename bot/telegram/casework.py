"""Which Telegram conversation opens which case-work form (commands/forms.py).

The forms themselves (questions, checks, the use case at the end) are defined once in
`commands.forms`; here each gets the one letter used in /start deep links. The keys are the
names of the buttons that open them (and "huishouden", opened by /huishouden RT-…).
"""

from __future__ import annotations

from bot.telegram.flows import Flow
from commands.words import ActionName

FLOWS: dict[str, Flow] = {flow.name: flow for flow in (
    Flow(ActionName.STAPPEN_KIEZEN, "s", "stappen"),
    Flow(ActionName.BESLUIT_VASTLEGGEN, "b", "besluit"),
    Flow(ActionName.CASEMANAGER_AANWIJZEN, "c", "casemanager"),
    Flow(ActionName.TERUGKOPPELING_GEVEN, "t", "terugkoppeling"),
    Flow(ActionName.SLUITEN, "z", "sluiten"),
    Flow("huishouden", "k", "huishouden"),
    Flow(ActionName.HERINNERING_UITSTELLEN, "u", "uitstellen"),
)}

__all__ = ["FLOWS"]
