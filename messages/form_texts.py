"""How each form is worded on the doors that show it whole (a Slack modal, a Teams card):
its title, the explanation at the top, each field's label and hint, and the submit button.
All are keys of the labels templates (`formulier.*` in labels_formulier_geheel.j2, shared
with the doors that ask one question at a time where the wording is the same) or template
names under formulier/; a field not listed here uses `veld.<name>` without a hint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

GEEN_NAMEN = "formulier.hint.geen_namen"
PERSONAL_DATA_NOTE = "formulier/melding_persoonsgegevens"  # before the casusformulier's name field
CONDITIONS_NOTE = "formulier/voorwaarden_uitleg"  # before the first plan condition


@dataclass(frozen=True)
class FormTexts:
    title: str
    intro: str  # the template of the explanation at the top
    labels: Mapping[str, tuple[str, str | None]]
    submit: str = "formulier.knop.versturen"


FORM_TEXTS: dict[str, FormTexts] = {
    "melding": FormTexts("formulier.titel.melding", "formulier/melding_uitleg", {}),
    "stappen": FormTexts("formulier.titel.stappen", "formulier/stappen_uitleg", {
        "stappen": ("formulier.veld.stappen", None),
        "stappen_tekst": ("veld.stappen_tekst", GEEN_NAMEN)}),
    "besluit": FormTexts("formulier.titel.besluit", "formulier/besluit_uitleg", {
        "q1": ("formulier.veld.q1", None), "q2": ("formulier.veld.q2", "formulier.hint.q2_meerderheid"),
        "q2_tekst": ("veld.stappen_tekst", None), "q3": ("formulier.veld.q3", None),
        "reden": ("formulier.veld.reden_afwijking", "formulier.hint.reden_afwijking")},
        submit="formulier.knop.vastleggen"),
    "casemanager": FormTexts("formulier.titel.casemanager", "formulier/casemanager_uitleg", {
        "casemanager": ("formulier.veld.casemanager", None),
        "termijn": ("formulier.veld.termijn", "formulier.hint.termijn"),
        "weken": ("formulier.veld.weken", "formulier.hint.weken")}, submit="formulier.knop.vastleggen"),
    "terugkoppeling": FormTexts("formulier.titel.terugkoppeling", "formulier/terugkoppeling_uitleg", {
        "tekst": ("formulier.veld.terugkoppeling", GEEN_NAMEN),
        "termijn_houdt": ("formulier.veld.termijn_houdt", None),
        "nieuwe_termijn": ("formulier.veld.nieuwe_termijn", "formulier.hint.nieuwe_termijn")}),
    "uitstellen": FormTexts("formulier.titel.uitstellen", "formulier/uitstellen_uitleg", {
        "datum": ("formulier.veld.uitstel_datum", None),
        "reden": ("formulier.veld.uitstel_reden", GEEN_NAMEN)}),
    "huishouden": FormTexts("formulier.titel.huishouden", "formulier/huishouden_uitleg", {
        "huishouden": ("veld.huishouden", "formulier.hint.huishouden"),
        "kinderen": ("veld.minderjarige_kinderen", None),
        "reden": ("veld.correctie_reden", GEEN_NAMEN)}, submit="formulier.knop.vastleggen"),
    "sluiten": FormTexts("formulier.titel.sluiten", "formulier/sluiten_uitleg", {
        "uitkomst": ("formulier.veld.uitkomst", None),
        "opvang": ("formulier.veld.opvang", "formulier.hint.opvang"),
        "opvang_toelichting": ("formulier.veld.opvang_toelichting", "formulier.hint.opvang_toelichting"),
        "gemeld_bij": ("formulier.veld.gemeld_bij", "formulier.hint.gemeld_bij"),
        "gemeld_op": ("formulier.veld.gemeld_op", None),
        "reden": ("formulier.veld.reden_sluiten", GEEN_NAMEN)}, submit="formulier.knop.afsluiten"),
}
