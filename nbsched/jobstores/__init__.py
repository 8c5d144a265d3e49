"""Job stores: where jobs wait for their next run time.

``store_for_url`` is the one place that turns a store URL into a store, so the notebook
layer, the ``nbsched`` command and user code agree on what a URL means.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbsched.jobstores.base import BaseJobStore

__all__ = ["store_for_url"]

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def store_for_url(url: str | None = None, **options: object) -> BaseJobStore:
    """Open the store a URL names (default: :func:`nbsched.store_url.default_store_url`).

    ``redis://``/``rediss://``/``unix://`` URLs give a :class:`RedisJobStore`; anything else
    is handed to SQLAlchemy (``sqlite:///...``, ``postgresql+psycopg://...``,
    ``mysql+pymysql://...``). ``options`` go to the store's constructor.
    """
    if url is None:
        from nbsched.store_url import default_store_url

        url = default_store_url()
    if not isinstance(url, str) or "://" not in url:
        from nbsched.store_url import mask_url

        raise ValueError(
            f"store url: {mask_url(url)!r}: expected a URL such as sqlite:///jobs.sqlite"
        )
    if url.startswith(_REDIS_SCHEMES):
        from nbsched.jobstores.redis import RedisJobStore

        return RedisJobStore(url=url, **options)
    from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore

    return SQLAlchemyJobStore(url=url, **options)
