"""A runner per facility says it is alive: its last cycle, recorded in each campaign it follows (`seen`).

A facility whose runner stopped (a dead host, a lost registration) leaves its runs as they were last seen;
its site page then says the runner is silent since then and shows those runs as not followed, never as
failed. Recorded once an hour at most (domain/scope.SEEN_EVERY, as observe.HEARTBEAT refreshes a quiet run), so
a quiet campaign gets one ledger line an hour, not one commit per status job; silent after three missed."""

from __future__ import annotations

from ..domain.clock import parse_utc
from ..domain.scope import SEEN_EVERY, silent
from ..ledger.records import SEEN, Control, Ledger
from .context import Context


def beat(ctx: Context, ledger: Ledger) -> Ledger:
    """The ledger with this runner's facility seen now (saved), unless it was seen less than HEARTBEAT ago."""
    facilities = dict.fromkeys(ctx.campaign.site_profile(s).site for s in ctx.campaign.sites if ctx.follows(s))
    for facility in facilities:
        last, now = ledger.last_seen(facility), parse_utc(ctx.now())
        if last is not None and now is not None and not silent(last.at, now, SEEN_EVERY):
            continue
        ledger = ledger.with_control(Control(ctx.now(), ctx.runner or "runner", SEEN, f"site:{facility}",
                                             "the facility's runner followed its runs", runner=ctx.runner))
    if ctx.dry_run:
        return ledger
    ctx.save(ledger)
    return ledger


__all__ = ["beat"]
