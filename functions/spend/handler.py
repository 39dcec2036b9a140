"""SpendFunction's entrypoint: SQS batches of spend events (gateway/billing/consumer.py).

A plain Lambda handler (no web adapter): the event source mapping polls SpendQueue and
calls it with up to 100 records; the answer lists the records to redeliver
(ReportBatchItemFailures). The gateway's own loggers write through Powertools' JSON
format, with the invocation's context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from gateway.billing.consumer import handle

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()  # service: POWERTOOLS_SERVICE_NAME, level: LOG_LEVEL
copy_config_to_registered_loggers(source_logger=logger, include={"gateway"})


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
