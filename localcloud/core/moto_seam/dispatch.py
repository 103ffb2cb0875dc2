"""moto's request dispatch without a scan of moto's own folder on every request.

Written against moto 5.2.5: ``DomainDispatcherApplication.get_backend_for_host`` asks
``moto.backends.list_of_moto_modules()`` whether the host names a service, and that lists moto's
package folder and stats each of its ~150 entries, per request. The folder does not change while
the local cloud runs, so it is listed once. Measured with a sampling profiler during
``bench/deploy_under_load.py``: about a sixth of the time moto spent on each request.
"""

from __future__ import annotations

import functools

from moto import backends

from localcloud.core import moto_seam as seam


def _listed_once(original):
    @functools.cache
    def listed() -> tuple[str, ...]:
        return tuple(original())

    return listed


def install() -> None:
    seam.patch(
        backends,
        "list_of_moto_modules",
        wrap=_listed_once,
        why="moto's package folder is listed once, not on every request",
        until="moto caching its list of service modules",
    )
