"""Fetch middlewares that ship with Harvester, named in `[project] middlewares` by dotted path.

`harvester.middlewares.RotatingProxy` sends each attempt through the next proxy of
`[fetch] proxy_list`, resting one that fails.
"""

from __future__ import annotations

from harvester.middlewares.rotating_proxy import RotatingProxy

__all__ = ["RotatingProxy"]
