"""RDS/DocumentDB event-subscription shims for moto 5.2.5, applied by scripts/moto_server.py
before the server starts. What each fixes, the way DocumentDB (and RDS) behave:
- ModifyEventSubscription answers HTTP 500 (not implemented): implemented. SnsTopicArn,
  SourceType, EventCategories and Enabled each change when given and stay as they were when
  not; an unknown subscription is SubscriptionNotFound; the answer is the subscription.
- AddSourceIdentifierToSubscription and RemoveSourceIdentifierFromSubscription answer HTTP 500:
  implemented (adding an id already there, or removing one that is not, changes nothing; the
  answer is the subscription).
- CreateEventSubscription stores Enabled as given, or false when not given: AWS enables a new
  subscription unless Enabled=false is sent.
Every patched name is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
import moto.rds.exceptions as rds_exceptions
import moto.rds.models as rds_models
import moto.rds.responses as rds_responses
from moto.core.responses import ActionResult

from moto_shimkit import requirer

_require = requirer("the RDS event-subscription shim", "scripts/moto_rds_shim.py")


def _flag(v):
    if isinstance(v, bool):
        return v
    return str(v).lower() == "true"


def apply():
    response = _require(rds_responses, "RDSResponse")
    backend = _require(rds_models, "RDSBackend")
    _require(rds_models, "EventSubscription")
    not_found = _require(rds_exceptions, "SubscriptionNotFoundError")
    create = _require(backend, "create_event_subscription")

    def create_event_subscription(self, kwargs):
        kwargs = dict(kwargs)
        kwargs["enabled"] = _flag(kwargs.get("enabled", True))
        return create(self, kwargs)

    backend.create_event_subscription = create_event_subscription

    def modify_event_subscription(self):
        p = self.params
        name = p.get("subscription_name")
        sub = self.backend.event_subscriptions.get(name)
        if sub is None:
            raise not_found(name)
        if p.get("sns_topic_arn"):
            sub.sns_topic_arn = p["sns_topic_arn"]
        if p.get("source_type"):
            sub.source_type = p["source_type"]
        if p.get("event_categories") is not None:
            sub.event_categories = list(p["event_categories"])
        if p.get("enabled") is not None:
            sub.enabled = _flag(p["enabled"])
        return ActionResult({"EventSubscription": sub})

    response.modify_event_subscription = modify_event_subscription

    def _source_ids(self, change):
        p = self.params
        name = p.get("subscription_name")
        sub = self.backend.event_subscriptions.get(name)
        if sub is None:
            raise not_found(name)
        ids = list(sub.source_ids or [])
        change(ids, p.get("source_identifier"))
        sub.source_ids = ids
        return ActionResult({"EventSubscription": sub})

    def add(ids, source):
        if source and source not in ids:
            ids.append(source)

    def remove(ids, source):
        if source in ids:
            ids.remove(source)

    response.add_source_identifier_to_subscription = lambda self: _source_ids(self, add)
    response.remove_source_identifier_from_subscription = lambda self: _source_ids(self, remove)
