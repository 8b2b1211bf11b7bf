"""Before a launch: the campaign's stack is one its sites have published (a refusal names the tags they have)."""

from __future__ import annotations

from collections.abc import Iterable

from ..domain.errors import SubmitError
from ..domain.stacks import missing
from .context import Context


def refuse_unpublished(ctx: Context, sites: Iterable[str]) -> None:
    """Raise a SubmitError, before any intent is recorded, when a site among `sites` ("" is the central one)
    lists its stacks and the campaign's tag (a developer stack's base) is not among them. A listing that
    cannot be read is said and not held against the launch: the stack's set-up then tells what is wrong."""
    if ctx.stacks_at is None:
        return
    campaign = ctx.campaign
    for site in dict.fromkeys(site or campaign.central for site in sites):
        profile = campaign.site_profile(site)
        if profile.stacks is None:
            continue
        published = ctx.stacks_at(profile.stacks)
        if published.unreadable:
            ctx.say(f"  warning: could not check that stack {campaign.stack_tag} is published at {profile.name}: "
                    f"{published.where}: {published.unreadable}")
            continue
        why = missing(campaign.stack_tag, profile.name, published)
        if why is not None:
            where = campaign.path.name if campaign.path is not None else "the campaign"
            raise SubmitError(f"{campaign.name}: {why}. Nothing was submitted: set stack.tag in {where} to a "
                              f"published tag (`campaign new` takes the newest weekly), or wait until it is "
                              "published")


__all__ = ["refuse_unpublished"]
