"""The navigation function: the serving path (to pre-generate), the transition counts, the rules, the curriculum."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pregen.adapters.navigation import DynamoTransitionStore
from pregen.config.base import load
from pregen.config.functions import NavigationSettings
from pregen.domain.prediction import default_preload_rules
from pregen.domain.warming import default_warming_config
from pregen.wiring import clients
from pregen.wiring.cache import once
from pregen.wiring.serve import serve_deps

if TYPE_CHECKING:
    from pregen.services.navigation import NavigationDeps


@once
def navigation_deps() -> NavigationDeps:
    from pregen.services.navigation import NavigationDeps

    s = load(NavigationSettings)
    return NavigationDeps(
        serve=serve_deps(),
        transitions=DynamoTransitionStore(s.navigation_table, clients.dynamodb()),
        rules=default_preload_rules(),
        warming=default_warming_config(),
    )
