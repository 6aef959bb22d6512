"""``make demo``: the local stack, a book of thirty contacts, a campaign and every other kind of
trigger through the public HTTP API, the clock run fast until every call and every post-call chain
is done; then the results in the terminal and ``demo-report.html``.

    python -m local.demo [--small] [--no-live] [--report PATH] [--speed 90]

Its parts: ``book`` (who is called, and how), ``seeding`` (the contacts and the triggers, over the
API), ``waiter`` (polling the calls, the clock moved over idle time), ``judge`` (what each call
came to, and what counts as a problem), ``display`` (the terminal), ``run`` (one demo on a running
stack), ``cli`` (the command: the stack, the logs, the exit code)."""

from local.demo.judge import DemoResult
from local.demo.run import DemoOptions, run_demo
from local.demo.waiter import finished

__all__ = ["DemoOptions", "DemoResult", "finished", "run_demo"]
