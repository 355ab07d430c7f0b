"""What a request to /slack/events must be before the bot acts on it.

1. Signed by Slack: a numeric `X-Slack-Request-Timestamp` within five minutes and a valid
   `X-Slack-Signature` (v0, HMAC-SHA256 with the signing secret). Anything else is answered
   401 and causes nothing: no listener and no error handler runs, so nobody can make the bot
   post to a `response_url` or message a member named in a body of their choosing.
2. Well formed: the body is a JSON object (or a form whose `payload` is one) with the fields
   each kind of request needs, in the types Slack sends. A signed request that is not is
   answered 400, with one log line that names the problem but never the body.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

MAX_TIMESTAMP_DIGITS = 12
MAX_AGE_SECONDS = 5 * 60  # as Slack's own verifier


class MalformedPayload(ValueError):
    """A signed request whose content is not shaped as Slack sends it."""


def signature_problem(verifier: SignatureVerifier, body: str, headers: Mapping[str, str]) -> str | None:
    """Why the request is not Slack's own (for the log, without its content), or None."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        return "geen geldig tijdstempel"
    if not signature:
        return "geen handtekening"
    if abs(time.time() - int(timestamp)) > MAX_AGE_SECONDS:
        return f"tijdstempel {int(time.time()) - int(timestamp)} s afwijkend (klok of oud verzoek?)"
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        return "handtekening klopt niet (signing secret?)"
    return None


def parse_body(body: str, content_type: str) -> dict[str, Any]:
    """The request's content as a dict, as Bolt will read it; MalformedPayload otherwise."""
    try:
        if content_type.startswith("application/json"):
            parsed: Any = json.loads(body)
        else:
            form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
            parsed = json.loads(form["payload"]) if "payload" in form else form
    except (ValueError, KeyError) as exc:
        raise MalformedPayload("geen geldige JSON") from exc
    if not isinstance(parsed, dict):
        raise MalformedPayload(f"inhoud is {type(parsed).__name__}, geen object")
    check_shape(parsed)
    return parsed


def _require(body: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(key)
    if not isinstance(value, kind):
        raise MalformedPayload(f"veld {key} ontbreekt of heeft de verkeerde vorm")
    return value


def _check_state(view: Mapping[str, Any]) -> None:
    state = view.get("state")
    if state is None:
        return
    if not isinstance(state, dict) or not isinstance(state.get("values", {}), dict):
        raise MalformedPayload("view.state heeft de verkeerde vorm")
    for block in state.get("values", {}).values():
        if not isinstance(block, dict) or not all(isinstance(a, dict) for a in block.values()):
            raise MalformedPayload("view.state heeft de verkeerde vorm")


def check_shape(body: Mapping[str, Any]) -> None:
    """The fields the listeners read, in the types they expect."""
    kind = body.get("type")
    if "command" in body:
        for key in ("command", "user_id", "trigger_id"):
            _require(body, key, str)
        if "text" in body:
            _require(body, "text", str)
    elif kind == "view_submission" or kind == "view_closed":
        _require(_require(body, "user", dict), "id", str)
        view = _require(body, "view", dict)
        for key in ("id", "type", "callback_id"):
            _require(view, key, str)
        _check_state(view)
    elif kind == "block_actions":
        _require(_require(body, "user", dict), "id", str)
        actions = _require(body, "actions", list)
        if not actions or not all(isinstance(a, dict) for a in actions):
            raise MalformedPayload("actions heeft de verkeerde vorm")
    elif kind == "message_action":
        _require(_require(body, "user", dict), "id", str)
        for key in ("callback_id", "trigger_id"):
            _require(body, key, str)
        _require(_require(body, "channel", dict), "id", str)
        _require(_require(body, "message", dict), "ts", str)
    elif kind == "event_callback":
        _require(body, "event", dict)
