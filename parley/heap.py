"""The cyclic garbage collector and what a server builds once.

What start-up builds (the bots, their NLU models and tables, compiled patterns: ≈ 60,000 of the
≈ 92,000 objects the collector tracks in a server of the template bots) lives as long as the process,
yet each of CPython's full collections walked all of it again: one in ten seconds under load, a pause
of 39-41 ms for every request in flight (`gc.callbacks`, welcome-bot, 32 clients). `settle`
moves what is alive into the collector's permanent generation once the server is ready, so its full
collections walk only what serving creates: 5-6 ms. A reload makes the bots' old objects collectable
again (`unsettle`) and settles anew once the new bots are in place.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what is garbage now, then keep the collector's hands off what is left."""
    gc.unfreeze()  # what an earlier settle kept: a reloaded bot's old objects are among it
    gc.collect()
    gc.freeze()


def unsettle() -> None:
    """Let the collector walk everything again (a bot was reloaded: its old objects may form cycles
    that only the collector frees)."""
    gc.unfreeze()
