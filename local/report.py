"""The demo's HTML report: one self-contained page (inline CSS and SVG, no script, no external
asset) that opens offline. Every figure is computed here from the calls as ``GET /calls/{id}``
returns them, so the page and the API cannot disagree.

Cost model (per call): Twilio's charges by the one cost rule of ``autocall.pricing`` (the rule and the
prices ``GET /campaigns/{id}/stats`` uses), and about a tenth of a cent of AWS (Lambda, DynamoDB,
Scheduler, Step Functions) per placed attempt."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from autocall.models.enums import POSITIVE_OUTCOMES, CallPurpose
from autocall.pricing import TWILIO_PRICES, CallPrices, call_usage, twilio_cost

AWS_PER_ATTEMPT = 0.001  # Lambda, API Gateway, DynamoDB, Scheduler, Step Functions: about a tenth of a cent
DASH = "\u2013"  # shown for a missing value
FUNNEL_STAGES = ("dialed", "answered", "conversation", "positive_outcome")
_POSITIVE = frozenset(o.value for o in POSITIVE_OUTCOMES)
_NEGATIVE = frozenset({"not_interested", "opted_out", "declined", "churn_risk", "escalated", "wrong_person"})
_LIVE = ("in_progress", "completed")


# --- figures from the API's call views ------------------------------------------------------------


def answered(view: Mapping[str, Any]) -> bool:
    """A person picked up (as GET /campaigns/{id}/stats counts it): live call, no machine."""
    if view["status"] not in _LIVE:
        return False
    machine = str(view.get("answered_by") or "").startswith(("machine", "fax"))
    return not machine and view.get("outcome") != "voicemail"


def conversed(view: Mapping[str, Any]) -> bool:
    """Answered, and the callee said something the agent heard."""
    return answered(view) and any((t.get("utterance") or "").strip() for t in view.get("turns") or [])


def funnel(views: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """dialed → answered → conversation → positive outcome."""
    counts = dict.fromkeys(FUNNEL_STAGES, 0)
    for view in views:
        counts["dialed"] += int(view.get("attempts") or 0) > 0
        counts["answered"] += answered(view)
        counts["conversation"] += conversed(view)
        counts["positive_outcome"] += conversed(view) and view.get("outcome") in _POSITIVE
    return counts


def outcomes_by_purpose(views: Iterable[Mapping[str, Any]]) -> dict[str, Counter[str]]:
    table: dict[str, Counter[str]] = {p.value: Counter() for p in CallPurpose}
    for view in views:
        table[view["call_purpose"]][view.get("outcome") or "pending"] += 1
    return {purpose: counts for purpose, counts in table.items() if counts}


@dataclass(frozen=True)
class Cost:
    voice: float
    speech: float
    amd: float
    aws: float

    @property
    def total(self) -> float:
        return self.voice + self.speech + self.amd + self.aws


def call_cost(view: Mapping[str, Any], prices: CallPrices = TWILIO_PRICES) -> Cost:
    """Twilio's charges by the one cost rule (``autocall.pricing``), plus AWS per placed attempt
    (``attempts`` counts only those Twilio accepted)."""
    usage = call_usage(
        view.get("attempt_history") or [],
        answered=answered(view),
        answered_by=view.get("answered_by"),
        duration_s=view.get("duration_seconds"),
        turns=view.get("turns") or [],
        voice_mode=view.get("voice_mode"),
    )
    twilio = twilio_cost(usage, prices)
    return Cost(twilio.voice, twilio.speech, twilio.amd, AWS_PER_ATTEMPT * int(view.get("attempts") or 0))


# --- what the report shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class CallEntry:
    """One call of the demo: the API's view plus what the demo knows about the contact."""

    view: dict[str, Any]
    name: str
    company: str
    time_zone: str
    trigger: str
    persona: str
    expected_outcome: str | None
    next_call: str | None = None
    note: str | None = None

    @property
    def outcome_matches(self) -> bool:
        return self.expected_outcome is None or self.view.get("outcome") == self.expected_outcome


@dataclass(frozen=True)
class ReportMeta:
    title: str
    generated_at: datetime
    virtual_start: datetime
    virtual_end: datetime
    brain: str
    campaign: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    prices: CallPrices = TWILIO_PRICES


def sparkline(turns: Iterable[Mapping[str, Any]], width: int = 132, height: int = 30) -> str:
    """The callee's sentiment over the call (-1 … +1), one point per thing they said."""
    scores = [
        float(t["sentiment_score"])
        for t in turns
        if t.get("utterance") and t.get("sentiment_score") is not None
    ]
    if not scores:
        return '<span class="muted">no speech</span>'
    pad = 4
    step = (width - 2 * pad) / max(len(scores) - 1, 1)

    def y(score: float) -> float:
        return pad + (1 - (max(-1.0, min(1.0, score)) + 1) / 2) * (height - 2 * pad)

    points = [(pad + i * step if len(scores) > 1 else width / 2, y(s)) for i, s in enumerate(scores)]
    path = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in points)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="2.6" class="{_tone(s)}"><title>{s:+.2f}</title></circle>'
        for (x, yy), s in zip(points, scores, strict=True)
    )
    label = escape(", ".join(f"{s:+.2f}" for s in scores))
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="sentiment {label}">'
        f'<line x1="0" x2="{width}" y1="{y(0):.1f}" y2="{y(0):.1f}" class="zero"/>'
        f'<polyline points="{path}" class="trend"/>{dots}</svg>'
    )


def _tone(score: float) -> str:
    return "pos" if score >= 0.05 else "neg" if score <= -0.05 else "neu"


def _outcome_class(outcome: str | None) -> str:
    if outcome in _POSITIVE:
        return "good"
    if outcome in _NEGATIVE:
        return "bad"
    return "plain"


def _money(value: float) -> str:
    return f"${value:.3f}" if value < 1 else f"${value:.2f}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else DASH


def _label(value: str | None) -> str:
    return escape((value or DASH).replace("_", " "))


def _chips(labels: Iterable[str]) -> str:
    return "".join(f'<span class="chip">{escape(label)}</span>' for label in labels) or DASH


def render_report(calls: list[CallEntry], meta: ReportMeta) -> str:
    views = [c.view for c in calls]
    stages = funnel(views)
    costs = {c.view["call_id"]: call_cost(c.view, meta.prices) for c in calls}
    total_cost = sum(cost.total for cost in costs.values())
    sections = [
        _summary(calls, stages, total_cost, meta),
        _funnel(stages),
        _outcomes(outcomes_by_purpose(views)),
        _campaign(meta.campaign) if meta.campaign else "",
        _calls_table(calls, costs, total_cost),
        _transcripts(calls, costs),
        _footnote(meta),
    ]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(meta.title)}</title><style>{_STYLE}</style></head>\n<body><main>\n"
        + "\n".join(sections)
        + "\n</main></body></html>\n"
    )


def _summary(calls: list[CallEntry], stages: dict[str, int], total_cost: float, meta: ReportMeta) -> str:
    problems = (
        '<div class="problems"><h2>Problems</h2><ul>'
        + "".join(f"<li>{escape(p)}</li>" for p in meta.problems)
        + "</ul></div>"
        if meta.problems
        else '<p class="ok">Every call finished, every post-call chain ran, every outcome was expected.</p>'
    )
    cards = [
        ("calls", str(len(calls))),
        ("answered", f"{stages['answered']} ({_pct(stages['answered'], stages['dialed'])})"),
        ("positive outcomes", str(stages["positive_outcome"])),
        ("estimated cost", _money(total_cost)),
        ("realtime · gather", " · ".join(str(n) for n in _modes(calls))),
    ]
    return (
        f"<header><h1>{escape(meta.title)}</h1>"
        f'<p class="muted">Simulated time {meta.virtual_start:%a %d %b %Y %H:%M} to '
        f"{meta.virtual_end:%H:%M} UTC · brain: {escape(meta.brain)} · generated "
        f"{meta.generated_at:%Y-%m-%d %H:%M} UTC</p></header>"
        '<section class="cards">'
        + "".join(f'<div class="card"><b>{escape(v)}</b><span>{escape(k)}</span></div>' for k, v in cards)
        + f"</section>{problems}"
    )


def _modes(calls: list[CallEntry]) -> tuple[int, int]:
    realtime = sum(1 for entry in calls if entry.view.get("voice_mode") == "realtime")
    return realtime, len(calls) - realtime


def _funnel(stages: dict[str, int]) -> str:
    top = max(stages["dialed"], 1)
    rows = "".join(
        f'<tr data-stage="{stage}" data-count="{count}"><th>{_label(stage)}</th>'
        f'<td class="bar"><div style="width:{100 * count / top:.1f}%"></div></td>'
        f'<td>{count}</td><td class="muted">{_pct(count, top)}</td></tr>'
        for stage, count in stages.items()
    )
    return f'<section><h2>Funnel</h2><table class="funnel" id="funnel">{rows}</table></section>'


def _outcomes(table: dict[str, Counter[str]]) -> str:
    rows = []
    for purpose, counts in table.items():
        cells = "".join(
            f'<span class="chip {_outcome_class(outcome)}" data-purpose="{escape(purpose)}" '
            f'data-outcome="{escape(outcome)}" data-count="{n}">{_label(outcome)} &times; {n}</span>'
            for outcome, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        rows.append(f"<tr><th>{_label(purpose)}</th><td>{sum(counts.values())}</td><td>{cells}</td></tr>")
    return (
        '<section><h2>Outcomes by purpose</h2><table class="grid" id="outcomes">'
        "<tr><th>purpose</th><th>calls</th><th>outcomes</th></tr>" + "".join(rows) + "</table></section>"
    )


def _campaign(stats: dict[str, Any]) -> str:
    cost = stats.get("cost_estimate_usd") or {}

    def rate(value: float | None) -> str:
        return DASH if value is None else f"{100 * value:.0f}%"

    items = [
        ("calls", stats["counts"]["total"]),
        ("dialed", stats["dialed"]),
        ("answered", stats["answered"]),
        ("answer rate", rate(stats.get("answer_rate"))),
        ("positive outcomes", stats["positive_outcomes"]),
        ("conversion", rate(stats.get("conversion_rate"))),
        ("average duration", f"{stats.get('average_duration_seconds') or 0:.0f} s"),
        ("Twilio cost (campaign API)", _money(float(cost.get("total") or 0))),
    ]
    cells = "".join(f"<div><b>{escape(str(v))}</b><span>{escape(k)}</span></div>" for k, v in items)
    return (
        f'<section><h2>Campaign <span class="muted">GET /campaigns/{escape(stats["campaign_id"])}'
        f'/stats</span></h2><div class="stats" id="campaign-stats" data-answered="{stats["answered"]}" '
        f'data-dialed="{stats["dialed"]}">{cells}</div></section>'
    )


def _calls_table(calls: list[CallEntry], costs: dict[str, Cost], total_cost: float) -> str:
    head = (
        "<tr><th>contact</th><th>purpose · via · voice</th><th>outcome · status</th><th>duration</th>"
        "<th>prob.</th><th>value</th><th>sentiment</th><th>actions taken</th><th>next call scheduled</th>"
        '<th class="num">cost</th></tr>'
    )
    rows = []
    for entry in calls:
        view, result = entry.view, entry.view.get("result") or {}
        mode = view.get("voice_mode") or "gather"
        mismatch = (
            ""
            if entry.outcome_matches
            else f'<div class="bad small">expected {_label(entry.expected_outcome)}</div>'
        )
        rows.append(
            f'<tr data-call-id="{escape(view["call_id"])}" data-status="{escape(view["status"])}" '
            f'data-outcome="{escape(view.get("outcome") or "")}">'
            f'<td><b>{escape(entry.name)}</b><div class="muted small">{escape(entry.company)} · '
            f"{escape(entry.time_zone)}</div></td>"
            f'<td>{_label(view["call_purpose"])}<div class="muted small">{escape(entry.trigger)} · '
            f'<span class="mode" data-voice-mode="{escape(mode)}">{escape(mode)}</span></div></td>'
            f'<td><span class="chip {_outcome_class(view.get("outcome"))}">{_label(view.get("outcome"))}'
            f'</span>{mismatch}<div class="muted small">{_label(view["status"])}</div></td>'
            f"<td>{escape(view.get('duration') or DASH)}</td>"
            f"<td>{escape(str(result.get('probability') or DASH))}</td>"
            f"<td>{escape(str(result.get('estimated_value') or DASH))}</td>"
            f"<td>{sparkline(view.get('turns') or [])}</td>"
            f'<td class="actions">{_chips(view.get("actions_taken") or [])}</td>'
            f"<td>{escape(entry.next_call or DASH)}</td>"
            f'<td class="num">{_money(costs[view["call_id"]].total)}</td></tr>'
        )
    foot = (
        f'<tr class="total"><td colspan="9">total</td>'
        f'<td class="num" id="total-cost" data-total-cost="{total_cost:.4f}">{_money(total_cost)}</td></tr>'
    )
    return (
        '<section><h2>Calls</h2><div class="scroll"><table class="grid" id="calls">'
        f"{head}{''.join(rows)}{foot}</table></div></section>"
    )


def _transcript(view: Mapping[str, Any], callee: str) -> str:
    lines = []
    for turn in view.get("turns") or []:
        if turn.get("utterance"):
            intents = " ".join(f'<span class="chip">{escape(i)}</span>' for i in turn.get("intents") or [])
            score = turn.get("sentiment_score")
            tone = _tone(float(score)) if score is not None else "neu"
            badge = f'<span class="badge {tone}">{escape(str(turn.get("sentiment") or DASH))}'
            badge += f" {float(score):+.2f}</span>" if score is not None else "</span>"
            lines.append(
                f'<div class="line callee"><b>{escape(callee)}</b><p>{escape(turn["utterance"])}</p>'
                f'<div class="meta">{badge}{intents}</div></div>'
            )
        if turn.get("reply"):
            lines.append(f'<div class="line agent"><b>Agent</b><p>{escape(turn["reply"])}</p></div>')
    return "".join(lines) or '<p class="muted">Nobody spoke: no transcript.</p>'


def _transcripts(calls: list[CallEntry], costs: dict[str, Cost]) -> str:
    blocks = []
    for entry in calls:
        view = entry.view
        result = view.get("result") or {}
        cost = costs[view["call_id"]]
        reasons = "".join(
            f"<li>{escape(r.get('at', ''))}: {_label(r.get('reason'))}</li>" for r in view["reasons"]
        )
        failures = "".join(
            f'<li class="bad">{escape(f.get("step", ""))}: {escape(f.get("cause") or f.get("error", ""))}'
            "</li>"
            for f in view.get("failures") or []
        )
        details = [
            f"<h4>Summary</h4><p>{escape(result.get('summary') or DASH)}</p>",
            f"<p><b>Next action</b> {_label(result.get('next_action'))} · <b>interest</b> "
            f"{_label(result.get('interest_level'))} · <b>attempts</b> "
            f"{view['attempts']}/{view['max_attempts']}</p>",
            f"<h4>Transcript</h4>{_transcript(view, entry.name.split()[0])}",
        ]
        if entry.note:
            details.append(f'<h4>CRM note</h4><pre class="note">{escape(entry.note)}</pre>')
        details.append(f"<h4>Actions taken</h4><p>{_chips(view.get('actions_taken') or [])}</p>")
        if reasons:
            details.append(f"<h4>Scheduling</h4><ul>{reasons}</ul>")
        if failures:
            details.append(f"<h4>Post-call failures</h4><ul>{failures}</ul>")
        details.append(
            f'<p class="muted small">Cost: voice {_money(cost.voice)} · speech recognition '
            f"{_money(cost.speech)} · AMD {_money(cost.amd)} · AWS {_money(cost.aws)}</p>"
        )
        blocks.append(
            f"<details><summary><b>{escape(entry.name)}</b> · {_label(view['call_purpose'])} · "
            f'<span class="chip {_outcome_class(view.get("outcome"))}">{_label(view.get("outcome"))}</span>'
            f' <span class="muted">{escape(view.get("duration") or "")} · persona {escape(entry.persona)}'
            f"</span></summary>{''.join(details)}</details>"
        )
    return "<section><h2>Transcripts and actions</h2>" + "".join(blocks) + "</section>"


def _footnote(meta: ReportMeta) -> str:
    p = meta.prices
    return (
        '<footer class="muted small">Cost estimate: Twilio voice '
        f"${p.voice_per_started_minute}/started minute, speech recognition ${p.speech_per_15_seconds} "
        f"per 15 s (at least one unit per &lt;Gather&gt;), answering-machine detection ${p.amd_per_call} "
        f"when it ran (US list prices as of {escape(p.as_of)}), AWS about ${AWS_PER_ATTEMPT} per placed "
        "attempt. Calls ran on the embedded local stack: moto for AWS, the carrier simulator for Twilio."
        "</footer>"
    )


_STYLE = """
:root { --ink: #1d2433; --muted: #6b7385; --line: #e3e6ee; --bg: #f6f7fb; --good: #1f8f55;
  --bad: #c0392b; --accent: #3b5bdb; --neutral: #8a94ab }
* { box-sizing: border-box }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: var(--bg) }
main { max-width: 1500px; margin: 0 auto; padding: 24px }
h1 { margin: 0 0 4px; font-size: 24px } h2 { font-size: 17px; margin: 0 0 10px } h4 { margin: 14px 0 6px }
section, header { background: #fff; border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 18px; margin: 0 0 16px }
.muted { color: var(--muted) } .small { font-size: 12px } .ok { color: var(--good); margin: 0 0 16px }
.problems { background: #fff4f2; border: 1px solid #f3c2bb; border-radius: 10px; padding: 12px 18px;
  margin: 0 0 16px }
.cards, .stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px }
.card b, .stats b { display: block; font-size: 22px }
.card span, .stats span { color: var(--muted); font-size: 12px }
table { border-collapse: collapse; width: 100% }
th, td { text-align: left; padding: 6px 8px; vertical-align: top }
.grid tr + tr td, .grid tr + tr th { border-top: 1px solid var(--line) }
.grid th { font-size: 12px; color: var(--muted); font-weight: 600; white-space: nowrap }
#calls { font-size: 13px } .funnel th { width: 160px } .funnel td { padding: 5px 8px }
.bar { width: 60% } .bar div { height: 18px; background: var(--accent); border-radius: 4px; min-width: 2px }
.chip { display: inline-block; padding: 1px 7px; margin: 1px 2px; border-radius: 10px; background: #eef0f6;
  font-size: 12px; white-space: nowrap }
.chip.good { background: #e3f5ea; color: var(--good) } .chip.bad { background: #fde8e5; color: var(--bad) }
.bad { color: var(--bad) } .actions { min-width: 300px } .num { text-align: right; white-space: nowrap }
.total td { font-weight: 600; border-top: 2px solid var(--line) } .scroll { overflow-x: auto }
.spark .zero { stroke: #cfd4e0; stroke-dasharray: 3 3 } .spark .trend { fill: none; stroke: var(--neutral);
  stroke-width: 1.5 }
.spark .pos { fill: var(--good) } .spark .neg { fill: var(--bad) } .spark .neu { fill: var(--neutral) }
details { border-top: 1px solid var(--line); padding: 8px 0 } summary { cursor: pointer }
.line { margin: 6px 0; padding: 8px 12px; border-radius: 8px; max-width: 860px } .line p { margin: 2px 0 }
.line.agent { background: #eef2ff } .line.callee { background: #f3f4f6; margin-left: 40px }
.meta { margin-top: 4px }
.badge { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 12px; margin-right: 4px;
  color: #fff }
.badge.pos { background: var(--good) } .badge.neg { background: var(--bad) }
.badge.neu { background: var(--neutral) }
.note { white-space: pre-wrap; background: #fafafa; border: 1px solid var(--line); padding: 10px;
  border-radius: 6px; font: 12px/1.45 ui-monospace, Menlo, Consolas, monospace }
footer { padding: 0 4px 24px }
"""
