"""CloudWatch Logs shim for moto 5.2.5, applied by scripts/moto_server.py before the server starts.
What it fixes, the way CloudWatch Logs behaves:
- DescribeLogGroups with `logGroupNamePattern`: CloudWatch Logs returns only the groups whose
  name contains the pattern (a case-sensitive substring search, anywhere in the name; it
  cannot be combined with `logGroupNamePrefix`: InvalidParameterException). moto ignores the
  parameter and returns every group. rtech reads all of an env's groups (`/ecs/…`,
  `/aws/docdb/…`, `/elasticache/…`, `/vpc/…`, `aws-waf-logs-…`, each holding
  `{project}-{env}`) with one such call. Pages (`limit`, `nextToken`) as before.
Every patched name is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
import json

import moto.logs.exceptions as logs_exceptions
import moto.logs.models as logs_models
import moto.logs.responses as logs_responses
import moto.logs.utils as logs_utils
from moto.utilities.paginator import paginate

from moto_shimkit import ShimError, requirer

_require = requirer("the CloudWatch Logs shim", "scripts/moto_logs_shim.py")


def apply():
    backend = _require(logs_models, "LogsBackend")
    _require(backend, "describe_log_groups")
    response = _require(logs_responses, "LogsResponse")
    _require(response, "describe_log_groups")
    model = _require(logs_utils, "PAGINATION_MODEL")
    if "describe_log_groups" not in model:
        raise ShimError(
            "moto: logs PAGINATION_MODEL has no describe_log_groups; "
            "scripts/moto_logs_shim.py needs updating"
        )
    invalid = _require(logs_exceptions, "InvalidParameterException")

    @paginate(pagination_model=model)
    def describe_log_groups(self, log_group_name_prefix=None, log_group_name_pattern=None):
        prefix = log_group_name_prefix or ""
        pattern = log_group_name_pattern or ""
        groups = [
            g
            for name, g in self.groups.items()
            if name.startswith(prefix) and pattern in name
        ]
        return sorted(groups, key=lambda g: g.name)

    backend.describe_log_groups = describe_log_groups

    def describe_log_groups_response(self):
        prefix = self._get_param("logGroupNamePrefix")
        pattern = self._get_param("logGroupNamePattern")
        if prefix and pattern:
            raise invalid(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
            )
        limit = self._get_param("limit", 50)
        if limit > 50:
            raise invalid(
                constraint="Member must have value less than or equal to 50",
                parameter="limit",
                value=limit,
            )
        groups, next_token = self.logs_backend.describe_log_groups(
            limit=limit,
            log_group_name_prefix=prefix,
            log_group_name_pattern=pattern,
            next_token=self._get_param("nextToken"),
        )
        return json.dumps(
            {
                "logGroups": [g.to_describe_dict() for g in groups],
                "nextToken": next_token,
            }
        )

    response.describe_log_groups = describe_log_groups_response
