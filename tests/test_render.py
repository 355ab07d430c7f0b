"""Templates: Dutch formatting, and user text escaped for every platform."""

from __future__ import annotations

from datetime import date

from commands.replies import Message
from messages.render import bedrag, datum, datum_lang, renderer

HOSTILE = {"referentie": "RT-2026-0001", "corporatie": "<!channel> & <b>Talis</b>", "team": "x",
           "wijk": "<@U123>", "huishouden": ["kwetsbaar"], "kinderen": 0, "reden": "overlast",
           "achterstand": 85000, "maanden": 2, "zitting": None, "ontruiming": None, "spoed": False}


def test_dutch_formats() -> None:
    assert bedrag(123456) == "€ 1.234,56"
    assert bedrag(85000) == "€ 850,00"
    assert datum(date(2026, 12, 3)) == "do 3 dec 2026"
    assert datum_lang(date(2026, 12, 1)) == "dinsdag 1 december 2026"


def test_user_text_is_escaped_per_platform() -> None:
    message = Message("melding/aangekondigd", HOSTILE)
    slack = renderer("mrkdwn").render(message)
    assert "<!channel>" not in slack and "&lt;!channel&gt; &amp; &lt;b&gt;Talis" in slack
    assert "<@U123>" not in slack and "*Nieuwe melding RT-2026-0001*" in slack
    telegram = renderer("html").render(message)
    assert "<b>Talis</b>" not in telegram and "&lt;b&gt;Talis&lt;/b&gt;" in telegram
    assert "<b>Nieuwe melding RT-2026-0001</b>" in telegram
    assert "<!channel> & <b>Talis</b>" in renderer("plain").render(message)
