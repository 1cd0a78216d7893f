"""``trustreg watch``: send the webhook deliveries of watches (for cron)."""

from __future__ import annotations

import typer

from trustreg.cli_common import open_registry, out
from trustreg.config import Settings
from trustreg.services import watch
from trustreg.services.clock import SystemClock

watch_app = typer.Typer(help="Watches: deliver their webhooks.", no_args_is_help=True)


@watch_app.command("deliver")
def deliver() -> None:
    """Send every webhook delivery that is due, log each attempt, and delete finished
    deliveries older than 90 days. Run it from cron (every minute, say) when the server's
    own delivery is off (TRUSTREG_WEBHOOK_DELIVERY_SECONDS=0); both may run at once."""
    factory = open_registry(Settings())
    now = SystemClock().now()
    report = watch.deliver_due(factory, now)
    pruned = watch.prune_deliveries(factory, now)
    out.print(
        f"webhooks: {report.attempted} attempted, {report.delivered} delivered, "
        f"{report.retrying} to retry, {report.failed} given up; "
        f"{pruned} old deliveries deleted",
        highlight=False,
    )
