"""QnA suggestions and the decision engine (SPEC §3.5–3.6).

The NLU proposes intents; an intent named `__qna__<id>` is a QnA suggestion. The decision engine
elects at most one suggestion (confidence ≥ 0.5, never in the middle of a flow) and otherwise lets
the dialog engine run with the default decision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from parley.engine.content import fixed_urls, render_content, render_text_answer
from parley.engine.runtime import Turn
from parley.engine.state import JSONDict

QNA_PREFIX = "__qna__"


def qna_suggestions(turn: Turn) -> list[JSONDict]:
    if turn.bot.config.get("qna", "disabled", default=False) is True:
        return []
    out: list[JSONDict] = []
    for intent in (turn.event.get("nlu") or {}).get("intents") or []:
        name = str(intent.get("name", ""))
        if not name.startswith(QNA_PREFIX):
            continue
        item = turn.bot.qna.get(name[len(QNA_PREFIX):])
        if item is None or not item.enabled:
            continue
        payloads: list[JSONDict] = []
        if "text" in item.action:
            user_lang = turn.user_lang
            lang = user_lang if user_lang and user_lang in item.answers else turn.bot.config.default_language
            # Botpress throws when neither language has answers (the request then times out); parley
            # answers nothing instead. An empty list is still a list there: a text without text.
            if lang in item.answers:
                answers = item.answers[lang]
                answer = turn.rng.choice(answers) if answers else None
                # Botpress's QnA renders with these arguments only (no `bot`, no `workflow`).
                scope = turn.scope()
                args = {k: scope[k] for k in ("event", "user", "session", "temp")}
                args["collectFeedback"] = True
                if answer is not None and answer.startswith("#!"):
                    # an element is translated as any other: into the user's language (the answer's
                    # list was only the one to pick from)
                    payloads += render_content(turn.bot, answer, args, lang=user_lang, rng=turn.rng,
                                               external_url=turn.options.external_url)
                else:
                    payloads += fixed_urls([render_text_answer(answer, args)], turn.bot.id,
                                           turn.options.external_url)
        if "redirect" in item.action:
            payloads.append({"type": "redirect", "flow": item.redirect_flow, "node": item.redirect_node})
        out.append({
            "confidence": intent.get("confidence", 0),
            "payloads": payloads,
            "source": "qna",
            "sourceDetails": name,
        })
    return out


def _reply_age_seconds(entry: JSONDict, now: datetime) -> float | None:
    try:
        date = datetime.fromisoformat(str(entry.get("replyDate", "")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (now - date).total_seconds()


def elect(turn: Turn, suggestions: list[JSONDict]) -> JSONDict | None:
    """Mark every suggestion elected or dropped, in Botpress's order; return the elected one."""
    in_flow = bool(turn.state["context"].get("currentFlow"))
    last = (turn.state["session"].get("lastMessages") or [None])[-1]
    opts = turn.options
    elected: JSONDict | None = None
    for s in sorted(suggestions, key=lambda x: -float(x.get("confidence") or 0)):
        source = f"{s.get('source')} {s.get('sourceDetails')}"
        if float(s.get("confidence") or 0) < opts.min_confidence:
            s["decision"] = {"status": "dropped", "reason": f"confidence lower than {opts.min_confidence:g}"}
        elif (
            opts.no_repeat_policy
            and isinstance(last, dict)
            and last.get("replySource") == source
            and (age := _reply_age_seconds(last, turn.now)) is not None
            and age < opts.no_repeat_seconds
        ):
            ms = int(opts.no_repeat_seconds * 1000)
            s["decision"] = {"status": "dropped", "reason": f"bot would repeat itself (within {ms}ms)"}
        elif elected is not None:
            s["decision"] = {"status": "dropped", "reason": "best suggestion already elected"}
        else:
            s["decision"] = {"status": "elected", "reason": "best remaining suggestion available"}
            elected = s
    if elected is not None and in_flow:
        elected["decision"] = {
            "status": "dropped",
            "reason": "would have been elected, but already in the middle of a flow",
        }
        elected = None
    return elected


def send_elected(turn: Turn, elected: JSONDict) -> tuple[str, str] | None:
    """Send an elected suggestion's answers; return a (flow, node) redirect when it has one."""
    payloads: list[Any] = elected.get("payloads") or []
    replies = [p for p in payloads if p.get("type") != "redirect"]
    turn.say(replies)
    preview = next((p for p in replies if "text" in p), None)
    turn.note_reply(f"{elected.get('source')} {elected.get('sourceDetails')}", preview,
                    float(elected.get("confidence") or 0))
    redirect = next((p for p in payloads if p.get("type") == "redirect"), None)
    if redirect and redirect.get("flow") and redirect.get("node"):
        return str(redirect["flow"]), str(redirect["node"])
    return None
