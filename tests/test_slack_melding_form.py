"""The casusformulier is built once per organisation and kind of member: the view sent on
/melding is the one a fresh build gives for that member, and a reloaded organisation builds
it anew."""

from __future__ import annotations

import copy

from bot.slack import forms
from commands.melding import require_melder
from commands.organisation import load_organisation
from commands.replies import CommandRefused
from tests.conftest import EXAMPLE_ORG


def test_the_kept_form_is_what_a_fresh_build_gives_every_melder() -> None:
    org = load_organisation(EXAMPLE_ORG)
    checked = 0
    for member in org.members:
        try:
            require_melder(org, member)
        except CommandRefused:
            continue
        assert forms.melding_modal(org, member) == forms.build_melding_modal(org, member), member.id
        checked += 1
    assert checked >= 2


def test_a_reloaded_organisation_gets_its_own_form() -> None:
    org = load_organisation(EXAMPLE_ORG)
    anna = org.member("anna")
    assert anna is not None
    first = copy.deepcopy(forms.melding_modal(org, anna))
    assert forms.melding_modal(org, anna) is forms.melding_modal(org, anna)
    # the file changed and was read again: a household category fewer
    reloaded = org.model_copy(update={"household_categories": org.household_categories[1:]})
    member = reloaded.member("anna")
    assert member is not None
    fresh = forms.melding_modal(reloaded, member)
    assert fresh == forms.build_melding_modal(reloaded, member)
    assert fresh != first
