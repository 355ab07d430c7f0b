"""The domain's words, spelled once: the phase of a case, how it ended, the kinds of reminder,
the three questions and the names of buttons. Every door uses these values; the stored
values are the same strings, so a `StrEnum` compares equal to what the database holds."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    """Where a case is in the Regieteam process."""

    NIEUW = "nieuw"
    OP_AGENDA = "op_agenda"
    BESLOTEN = "besloten"
    IN_UITVOERING = "in_uitvoering"
    GESLOTEN = "gesloten"


OPEN_PHASES: tuple[Phase, ...] = (Phase.NIEUW, Phase.OP_AGENDA, Phase.BESLOTEN, Phase.IN_UITVOERING)
UNDECIDED_PHASES: tuple[Phase, ...] = (Phase.NIEUW, Phase.OP_AGENDA)


class Outcome(StrEnum):
    """How a case ended (Case.outcome); labels in labels_sluiten.j2."""

    BLIJFT_BETALINGSREGELING = "blijft_betalingsregeling"
    BLIJFT_LAATSTE_KANSOVEREENKOMST = "blijft_laatste_kansovereenkomst"
    BLIJFT_VONNIS_NIET_UITGEVOERD = "blijft_vonnis_niet_uitgevoerd"
    VERHUISD_ANDERE_WOONVORM = "verhuisd_andere_woonvorm"
    SLEUTEL_INGELEVERD = "sleutel_ingeleverd"
    VERTROKKEN_ONBEKEND = "vertrokken_onbekend"
    UITGEZET_MET_OPVANG = "uitgezet_met_opvang"
    UITGEZET_ZONDER_OPVANG = "uitgezet_zonder_opvang"
    INGETROKKEN = "ingetrokken"


TENANT_STAYS: tuple[Outcome, ...] = tuple(o for o in Outcome if o.startswith("blijft_"))


class Question(StrEnum):
    """The three group decisions on a case."""

    KAN_VOORKOMEN = "q1"   # can the eviction be prevented?
    STAPPEN = "q2"         # which steps?
    MELDPUNT = "q3"        # registration with Meldpunt Bijzondere Zorg?


class ReminderKind(StrEnum):
    """What a reminder is about (Reminder.kind)."""

    TERMIJN = "termijn"
    TERUGKOPPELING = "terugkoppeling"
    MBZ = "mbz"
    JEUGDBESCHERMING = "jeugdbescherming"
    SPOED = "spoed"
    ONTRUIMING_NABIJ = "ontruiming_nabij"
    NAZORG = "nazorg"
    ESCALATIE = "escalatie"
    BEZORGING_MISLUKT = "bezorging_mislukt"


class ActionName(StrEnum):
    """The names of buttons, the same on every platform."""

    STEM = "stem"
    STAPPEN_KIEZEN = "stappen_kiezen"
    BESLUIT_VASTLEGGEN = "besluit_vastleggen"
    CASEMANAGER_AANWIJZEN = "casemanager_aanwijzen"
    TERUGKOPPELING_GEVEN = "terugkoppeling_geven"
    SLUITEN = "sluiten"
    AGENDA_PLAATSEN = "agenda_plaatsen"
    STATUS_VOLLEDIG = "status_volledig"
    TOON_GEGEVENS = "toon_gegevens"
    TOON_TOELICHTING = "toon_toelichting"
    HERINNERING_ONTVANGEN = "herinnering_ontvangen"
    HERINNERING_GEDAAN = "herinnering_gedaan"
    HERINNERING_UITSTELLEN = "herinnering_uitstellen"
    NAZORG_BEANTWOORDEN = "nazorg_beantwoorden"
