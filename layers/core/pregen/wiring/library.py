"""The library function: versions, votes and regeneration (a regeneration is an enqueue-or-join, like a miss)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pregen.adapters.library import DynamoLibraryStore
from pregen.adapters.limits import DynamoRateCounter
from pregen.config.base import load
from pregen.config.functions import LibrarySettings
from pregen.domain.library import LibraryRules
from pregen.wiring import clients
from pregen.wiring.cache import once
from pregen.wiring.serve import serve_for

if TYPE_CHECKING:
    from pregen.services.voting import LibraryDeps


@once
def library_deps() -> LibraryDeps:
    from pregen.services.voting import LibraryDeps

    s = load(LibrarySettings)
    return LibraryDeps(
        library=DynamoLibraryStore(s.content_table, clients.dynamodb()),
        serve=serve_for(s),
        vote_counter=DynamoRateCounter(s.counters_table, clients.dynamodb()),
        votes_per_minute=s.votes_per_minute,
        rules=LibraryRules(
            approval_min_net_votes=s.approval_min_net_votes,
            approval_min_ratio=s.approval_min_ratio,
            regenerate_below_net_votes=s.regenerate_below_net_votes,
        ),
    )
