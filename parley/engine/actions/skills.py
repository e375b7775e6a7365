"""Botpress's `basic-skills/*` actions (SPEC §3.18–3.19): the choice and slot skills and call_api."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from parley.engine.actions.base import ActionFailed, NativeAction
from parley.engine.content import translate
from parley.engine.expressions import UNDEFINED, js_length, js_to_number, js_truthy
from parley.engine.runtime import FORCE_PERSIST_STATE, Turn
from parley.engine.templating import render_data

log = logging.getLogger("parley.actions")

NUMBER_ANSWER = re.compile(r"^[#).!]?(\d{1,2})[#).!]?$")
MAX_SLOT_RETRIES = 10
INTENT_PREFIX = "intent:"


def _suffix(args: dict[str, Any]) -> str:
    rid = args.get("randomId")
    return f"-{rid}" if isinstance(rid, str) and rid else ""


def _lower(value: Any) -> str:
    """Botpress's `lcstr`: a string lower-cased, anything else the empty string."""
    return value.lower() if isinstance(value, str) else ""


def _keywords(args: dict[str, Any]) -> dict[str, list[Any]]:
    raw = args.get("keywords") or {}
    if not isinstance(raw, dict):
        return {}
    return {str(k): v if isinstance(v, list) else [] if v is None else [v] for k, v in raw.items()}


def _answers(turn: Turn) -> list[str]:
    """The preview, the text and the button payload, lower-cased as typed (absent ones are "")."""
    payload = turn.event.get("payload") or {}
    return [_lower(turn.event.get("preview")), _lower(payload.get("text")), _lower(payload.get("payload"))]


def _choice_by_number(turn: Turn, args: dict[str, Any], keywords: dict[str, list[Any]]) -> str | None:
    """`1`, `2.`, `#1`: the n-th choice of the element (Botpress misses `choices$en`; parley does not)."""
    preview = turn.event.get("preview")
    match = NUMBER_ANSWER.match(preview.strip()) if isinstance(preview, str) else None
    element = turn.bot.content.get(str(args.get("contentId") or ""))
    if match is None or element is None:
        return None
    form = translate(element.form_data, None, turn.user_lang or turn.bot.config.default_language,
                     turn.bot.config.default_language)
    choices = form.get("choices")
    index = int(match.group(1)) - 1
    if not isinstance(choices, list) or not 0 <= index < len(choices) or not isinstance(choices[index], dict):
        return None
    value = str(choices[index].get("value", ""))
    if value in keywords:
        return value
    title = str(choices[index].get("title", ""))
    for key, words in keywords.items():
        if value in words or title in words:
            return key
    return value or None


def _match_choice(turn: Turn, args: dict[str, Any]) -> str | None:
    raw_config = args.get("config")
    config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
    keywords = _keywords(args)
    if config.get("matchNumbers", True) is not False:
        by_number = _choice_by_number(turn, args, keywords)
        if by_number is not None:
            return by_number
    if config.get("matchNLU", True) is not False:
        intent = ((turn.event.get("nlu") or {}).get("intent") or {}).get("name")
        for key, words in keywords.items():  # `intent:<name>`, `Intent:<name>`…: the prefix in any case
            names = [w[len(INTENT_PREFIX):] for w in words if _lower(w).startswith(INTENT_PREFIX)]
            if intent is not None and intent in names:
                return key
    # Like Botpress: an exact match first, then any keyword found inside the answer. A keyword that
    # is empty (or not a string) is found in every answer.
    answers = _answers(turn)
    for key, words in keywords.items():
        if any(_lower(w) in answers for w in words):
            return key
    for key, words in keywords.items():
        if any(_lower(w) in a for w in words for a in answers):
            return key
    return None


async def choice_parse_answer(turn: Turn, args: dict[str, Any]) -> None:
    sfx = _suffix(args)
    key = _match_choice(turn, args)
    temp = turn.state["temp"]
    if key is None:
        temp[f"skill-choice-valid{sfx}"] = False
    else:
        temp[f"skill-choice-valid{sfx}"] = True
        temp[f"skill-choice-ret{sfx}"] = key


async def choice_invalid_answer(turn: Turn, args: dict[str, Any]) -> None:
    key = f"skill-choice-invalid-count{_suffix(args)}"
    temp = turn.state["temp"]
    current = temp.get(key)
    temp[key] = (current if isinstance(current, int) and not isinstance(current, bool) else 0) + 1


# ------------------------------------------------------------------------------------------- slots


async def slot_update_contexts(turn: Turn, args: dict[str, Any]) -> None:
    name = str(args.get("intentName") or "")
    if not turn.options.nlu_module:  # Botpress asks the NLU module's `/mod/nlu/intents/<name>` route
        raise ActionFailed("slot_update_contexts: the NLU module is disabled, so its intents route does not exist")
    intent = turn.bot.intents.get(name)
    if intent is None:  # Botpress's request for the intent's contexts fails
        raise ActionFailed(f"slot_update_contexts: the bot has no intent {name!r}")
    turn.state["session"]["nluContexts"] = [{"context": c, "ttl": 1000} for c in intent.contexts]
    temp = turn.state["temp"]
    temp.update({"tryFillSlotCount": 1, "extracted": False, "notExtracted": False, "alreadyExtracted": False})
    temp.pop("valid", None)


def _entity_names(args: dict[str, Any]) -> list[str]:
    raw = args.get("entities") or []
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return [str(x).strip() for x in items if str(x).strip()]


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _set_slot(turn: Turn, slot_name: str, entity: dict[str, Any], expiry: Any) -> None:
    """Fill a slot unless it is already set; `expiry` is `_MISSING` when Botpress passes none."""
    slots = turn.state["session"]["slots"]
    if slots.get(slot_name):
        return
    slot: dict[str, Any] = {
        "name": slot_name,
        "value": (entity.get("data") or {}).get("value"),
        "entity": entity,
        "timestamp": _now_ms(),
        "turns": 0,
        "overwritable": True,
    }
    if expiry is not _MISSING:
        slot["expiresAfterTurns"] = expiry
    slots[slot_name] = slot
    slots["notFound"] = 0
    turn.flags.add(FORCE_PERSIST_STATE)


_MISSING = object()


async def slot_fill(turn: Turn, args: dict[str, Any]) -> None:
    """Botpress's rule: when the NLU found entities, only those of the slot's types fill it (the
    first one); the raw text fills an `any` slot only when the NLU found no entity at all."""
    slot_name = str(args.get("slotName") or "")
    if not slot_name:
        raise ActionFailed("slot_fill needs a `slotName`")
    turn.state["session"].setdefault("slots", {})
    wanted = _entity_names(args)
    entities = [e for e in (turn.event.get("nlu") or {}).get("entities") or [] if isinstance(e, dict)]
    if wanted and entities:
        for entity in entities:
            if entity.get("name") in wanted:
                # Botpress does not pass the turn expiry on this path.
                _set_slot(turn, slot_name, entity, _MISSING)
    elif "any" in wanted:
        value = (turn.event.get("payload") or {}).get("text") or turn.event.get("preview")
        if not isinstance(value, str):
            return
        entity = {
            "name": "any",
            "type": "any",
            "meta": {"start": 0, "end": js_length(value)},
            "data": {"extras": {}, "value": value},
        }
        _set_slot(turn, slot_name, entity, args.get("turnExpiry", _MISSING))


async def slot_not_found(turn: Turn, args: dict[str, Any]) -> None:
    """Count a failed try; at `min(retryAttempts, 10)` tries (or with no count or no number of
    attempts, as JavaScript's comparison with NaN/undefined fails) the skill gives up."""
    temp = turn.state["temp"]
    slots = turn.state["session"].setdefault("slots", {})
    if not js_truthy(slots.get("notFound")):
        slots["notFound"] = 1
    retries = min(float(js_to_number(args["retryAttempts"] if "retryAttempts" in args else UNDEFINED)),
                  MAX_SLOT_RETRIES)
    count = temp.get("tryFillSlotCount")
    if isinstance(count, int | float) and not isinstance(count, bool) and count < retries:
        temp["tryFillSlotCount"] = count + 1
    else:
        temp["notExtracted"] = "true"


async def slot_reset(turn: Turn, args: dict[str, Any]) -> None:
    slots = turn.state["session"].get("slots") or {}
    slots.pop(str(args.get("slotName") or ""), None)


# ---------------------------------------------------------------------------------------- call_api


async def call_api(turn: Turn, args: dict[str, Any]) -> None:
    """The "Call API" skill, as Botpress 12.31's `call_api.js`: a 2xx answer lands in `<memory>.<variable>` as
    `{body, status}` and sets `temp.valid_<randomId>` (`temp.valid` without one) to true; any other status, or
    no answer, leaves `{status}` (the HTTP status, or the network error's code) and false, logged as an error.
    The headers, an object, are templates too (`bp.cms.renderTemplate` renders them in depth)."""
    url = args.get("url")
    method = str(args.get("method") or "get").upper()
    raw_headers = args.get("headers")
    # unescaped, as every action argument (parley/engine/actions/__init__.py says why)
    headers: dict[str, Any] = (render_data(raw_headers, turn.scope(), escape=False) if isinstance(raw_headers, dict)
                               else {})
    body = args.get("body")
    content: bytes | None = None
    if isinstance(body, str) and body:
        content = body.encode()
        if not args.get("invalidJson"):
            try:
                orjson.loads(body)
                headers = {"Content-Type": "application/json", **headers}
            except orjson.JSONDecodeError:
                pass
    elif isinstance(body, dict | list):
        content = orjson.dumps(body)
        headers = {"Content-Type": "application/json", **headers}
    scope = str(args.get("memory") or "temp")
    variable = str(args.get("variable") or "response")
    if scope not in ("temp", "session", "user", "bot"):
        scope = "temp"
    if scope == "bot":  # `state.bot`: seen for the rest of the turn, never saved (as in Botpress)
        if not isinstance(turn.state.get("bot"), dict):  # undefined there: writing to it throws
            raise ActionFailed("call_api: state.bot is undefined (the bot has no global variables yet)")
        turn.state["bot"] = dict(turn.state["bot"])
    target = turn.state[scope]
    valid = f"valid_{args['randomId']}" if js_truthy(args.get("randomId")) else "valid"
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        # axios throws on it inside the action's `try`, whose `catch` records the failure
        log.error("bot %s: Error: ERR_INVALID_URL while calling resource %r", turn.bot.id, url)
        target[variable] = {"status": "ERR_INVALID_URL"}
        turn.state["temp"][valid] = False
        return
    import httpx  # here, not at the top: it costs every server start ~60 ms, and few bots call APIs

    error: int | str
    try:
        async with httpx.AsyncClient(timeout=turn.options.action_timeout) as client:
            resp = await client.request(method, url, content=content, headers={k: str(v) for k, v in headers.items()})
    except httpx.TimeoutException:
        error = "ECONNABORTED"  # the codes Node's HTTP client gives axios
    except httpx.ConnectError:
        error = "ECONNREFUSED"
    except httpx.HTTPError:
        error = ""
    else:
        if 200 <= resp.status_code < 300:
            try:
                data: Any = resp.json()
            except ValueError:
                data = resp.text
            target[variable] = {"body": data, "status": resp.status_code}
            turn.state["temp"][valid] = True
            return
        error = resp.status_code
    log.error("bot %s: Error: %s while calling resource %r", turn.bot.id, error, url)
    target[variable] = {"status": error}
    turn.state["temp"][valid] = False


async def send_email(turn: Turn, args: dict[str, Any]) -> None:
    """The "Send Email" skill, as Botpress's `send_email.js` behaves without a mail transport (parley has
    none): `temp.success` false and `temp.onErrorFlowTo` "#", then the failure, so the dialog returns to
    the skill's node and takes its "On failure" transition (it went to the error flow)."""
    turn.state["temp"]["success"] = False
    turn.state["temp"]["onErrorFlowTo"] = "#"
    raise ActionFailed("basic-skills/send_email is not supported by parley (no mail transport configured)")


async def check_agents(turn: Turn, args: dict[str, Any]) -> None:
    """The HITL Next skill's first action (Botpress's hitlnext module): whether an agent is online. parley
    has no human agents, so none is, and the skill takes its "No Agent Available" branch (the action was
    unknown: the conversation stopped at the skill)."""
    turn.state["temp"]["hitlnext-noAgent"] = True


async def handoff(turn: Turn, args: dict[str, Any]) -> None:
    """The HITL Next skill's handoff (and its older `escalate`): Botpress's handoff.js discards an event of
    the Converse API ("incompatible with the module") and returns; the skill then waits at its next node.
    parley has no human agents to hand off to in any case (the action was unknown: the error flow ran)."""
    log.warning("bot %s: HITLNext handoff discarded (no human agents; Botpress discards it on the Converse "
                "API too)", turn.bot.id)


SKILL_ACTIONS: dict[str, NativeAction] = {
    "basic-skills/choice_parse_answer": choice_parse_answer,
    "basic-skills/choice_invalid_answer": choice_invalid_answer,
    "basic-skills/slot_update_contexts": slot_update_contexts,
    "basic-skills/slot_fill": slot_fill,
    "basic-skills/slot_not_found": slot_not_found,
    "basic-skills/slot_reset": slot_reset,
    "basic-skills/call_api": call_api,
    "basic-skills/send_email": send_email,
    "hitlnext/check_agents": check_agents,
    "hitlnext/handoff": handoff,
    "hitlnext/escalate": handoff,
}
