"""Response-cache metrics: one CloudWatch EMF line per lookup, `LLMGateway/CacheLookups`
with the dimension `Result` (plus Powertools' `service` when POWERTOOLS_SERVICE_NAME is
set, as the template sets it).

Powertools' `EphemeralMetrics` (its metrics provider without the state that `Metrics`
shares across every instance in the process), flushed at once: no handler decorator is
needed, which suits an app served by uvicorn under the Lambda Web Adapter, and nothing
is kept between lookups. One provider is made on first use (making one costs ~50 us,
reusing it ~20 us), under a lock from add to flush. POWERTOOLS_METRICS_DISABLED
silences it (Powertools' own switch).
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.metrics import EphemeralMetrics

NAMESPACE = "LLMGateway"
METRIC = "CacheLookups"
DIMENSION = "Result"
# A closed vocabulary keeps the dimension's values (each a metric of its own) bounded.
RESULTS = frozenset({"hit", "miss", "expired", "stale", "corrupt", "error", "bypass"})
OTHER = "other"

logger = logging.getLogger(__name__)
_lock = threading.Lock()


@functools.cache
def _provider() -> EphemeralMetrics:
    from aws_lambda_powertools.metrics import EphemeralMetrics

    return EphemeralMetrics(namespace=NAMESPACE)


def record(status: str) -> None:
    """Count one cache lookup with its result. Never raises: metrics are not worth a
    failed request."""
    try:
        metrics = _provider()
        with _lock:
            try:
                metrics.add_dimension(name=DIMENSION, value=status if status in RESULTS else OTHER)
                metrics.add_metric(name=METRIC, unit="Count", value=1)
                metrics.flush_metrics()  # prints the EMF line and clears the provider
            except Exception:
                metrics.clear_metrics()  # nothing of a failed flush is left for the next one
                raise
    except Exception:
        logger.debug("could not emit the %s metric", METRIC, exc_info=True)
