"""CloudFront shim for moto 5.2.5, applied by scripts/moto_server.py before the server starts.
What it fixes, the way CloudFront behaves:
- Invalidation status: moto reports `COMPLETED` at once; CloudFront's statuses are
  `InProgress` and `Completed` (the SDK's InvalidationCompleted waiter matches `Completed`
  exactly). A new invalidation is `InProgress`, and `Completed` from its first
  GetInvalidation on (CloudFront takes seconds to minutes), so the real waiter runs unchanged.
- CallerReference: moto refuses any repeated CallerReference (DistributionAlreadyExists).
  CloudFront answers a repeated reference whose DistributionConfig is identical with the
  distribution the first request made (no second one), and refuses it only when the config
  differs. A create retried after a lost response meets this.
Every patched name is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
import copy

import moto
import moto.cloudfront.models as cf_models


from moto_shimkit import requirer

IN_PROGRESS = "InProgress"
COMPLETED = "Completed"


_require = requirer("the CloudFront shim", "scripts/moto_cloudfront_shim.py")


def apply():
    backend = _require(cf_models, "CloudFrontBackend")
    invalidation = _require(cf_models, "Invalidation")

    init = _require(invalidation, "__init__")

    def invalidation_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.status = IN_PROGRESS

    invalidation.__init__ = invalidation_init

    create = _require(backend, "create_distribution_with_tags")
    find = _require(backend, "_distribution_with_caller_reference")

    def create_distribution_with_tags(self, distribution_config, tags):
        reference = (distribution_config or {}).get("CallerReference")
        existing = find(self, reference) if reference else None
        # A copy: moto's create changes the dicts it is given.
        request = copy.deepcopy((distribution_config, tags))
        if existing is not None and getattr(existing, "_rtech_request", None) == request:
            return existing, existing.location, existing.etag
        dist, location, etag = create(self, distribution_config, tags)
        dist._rtech_request = request
        return dist, location, etag

    backend.create_distribution_with_tags = create_distribution_with_tags

    get = _require(backend, "get_invalidation")

    def get_invalidation(self, dist_id, id):
        found = get(self, dist_id, id)
        found.status = COMPLETED
        return found

    backend.get_invalidation = get_invalidation
