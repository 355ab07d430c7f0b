"""How each form is worded on the doors that show it whole (a Slack modal, a Teams card):
its title, the explanation at the top, each field's label and hint, and the submit button.
All are keys of the labels templates or template names; a field not listed here uses
`veld.<name>` without a hint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

GEEN_NAMEN = "slack.hint.geen_namen"


@dataclass(frozen=True)
class FormTexts:
    title: str
    intro: str  # the template of the explanation at the top
    labels: Mapping[str, tuple[str, str | None]]
    submit: str = "slack.knop.versturen"


FORM_TEXTS: dict[str, FormTexts] = {
    "melding": FormTexts("slack.titel.melding", "slack/melding_uitleg", {}),
    "stappen": FormTexts("slack.titel.stappen", "slack/stappen_uitleg", {
        "stappen": ("slack.veld.stappen", None),
        "stappen_tekst": ("veld.stappen_tekst", GEEN_NAMEN)}),
    "besluit": FormTexts("slack.titel.besluit", "slack/besluit_uitleg", {
        "q1": ("slack.veld.q1", None), "q2": ("slack.veld.q2", "slack.hint.q2_meerderheid"),
        "q2_tekst": ("veld.stappen_tekst", None), "q3": ("slack.veld.q3", None),
        "reden": ("slack.veld.reden_afwijking", "slack.hint.reden_afwijking")},
        submit="slack.knop.vastleggen"),
    "casemanager": FormTexts("slack.titel.casemanager", "slack/casemanager_uitleg", {
        "casemanager": ("slack.veld.casemanager", None),
        "termijn": ("slack.veld.termijn", "slack.hint.termijn"),
        "weken": ("slack.veld.weken", "slack.hint.weken")}, submit="slack.knop.vastleggen"),
    "terugkoppeling": FormTexts("slack.titel.terugkoppeling", "slack/terugkoppeling_uitleg", {
        "tekst": ("slack.veld.terugkoppeling", GEEN_NAMEN),
        "termijn_houdt": ("slack.veld.termijn_houdt", None),
        "nieuwe_termijn": ("slack.veld.nieuwe_termijn", "slack.hint.nieuwe_termijn")}),
    "uitstellen": FormTexts("slack.titel.uitstellen", "slack/uitstellen_uitleg", {
        "datum": ("slack.veld.uitstel_datum", None),
        "reden": ("slack.veld.uitstel_reden", GEEN_NAMEN)}),
    "huishouden": FormTexts("slack.titel.huishouden", "slack/huishouden_uitleg", {
        "huishouden": ("veld.huishouden", "slack.hint.huishouden"),
        "kinderen": ("veld.minderjarige_kinderen", None),
        "reden": ("veld.correctie_reden", GEEN_NAMEN)}, submit="slack.knop.vastleggen"),
    "sluiten": FormTexts("slack.titel.sluiten", "slack/sluiten_uitleg", {
        "uitkomst": ("slack.veld.uitkomst", None),
        "opvang": ("slack.veld.opvang", "slack.hint.opvang"),
        "opvang_toelichting": ("slack.veld.opvang_toelichting", "slack.hint.opvang_toelichting"),
        "gemeld_bij": ("slack.veld.gemeld_bij", "slack.hint.gemeld_bij"),
        "gemeld_op": ("slack.veld.gemeld_op", None),
        "reden": ("slack.veld.reden_sluiten", GEEN_NAMEN)}, submit="slack.knop.afsluiten"),
}
