"""Route 53 and ACM shims for moto 5.2.5, applied by scripts/moto_server.py before the server
starts. What each fixes, the way AWS behaves:
- Route 53 ChangeResourceRecordSets: a CREATE is refused ("Tried to create resource record set
  … but it already exists", InvalidChangeBatch) exactly when the zone holds a record set with the
  same name, type and SetIdentifier. moto instead refuses a CREATE identical to any earlier
  CREATE in the zone's change journal whenever some record sorts at or after its name, so
  re-creating a record deleted since fails, and it lets a CREATE over an existing record with
  other values through. Each batch is also applied under one lock: AWS applies a zone's batches
  atomically, moto's threaded server can lose one of two concurrent DELETEs.
- ACM RequestCertificate: an IdempotencyToken used within the hour returns the certificate it
  was first used for, even when that certificate has been deleted since (the caller then finds
  the ARN gone). moto looks the deleted ARN up and fails with an internal error.
Every patched name is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
import copy
import threading

import moto
import moto.acm.models as acm_models
import moto.route53.exceptions as r53_exceptions
import moto.route53.models as r53_models


from moto_shimkit import ShimError, requirer

_require = requirer("the Route 53/ACM shim", "scripts/moto_route53_acm_shim.py")


def _bare(name):
    return (name or "").rstrip(".").lower()


_CHANGES = threading.Lock()


def _apply_route53():
    backend = _require(r53_models, "Route53Backend")
    already_exists = _require(r53_exceptions, "ResourceRecordAlreadyExists")
    original = _require(backend, "change_resource_record_sets")
    _require(backend, "get_hosted_zone")
    _require(r53_models, "FakeZone")

    def change_resource_record_sets(self, zoneid, change_list):
        # AWS applies a zone's change batches atomically, one after another. moto's threaded
        # server does not: its DELETE rebuilds FakeZone.rrsets from a copy, so two batches
        # deleting different records of one zone at once could lose one of the deletes (both
        # report success, one record stays). One lock makes each batch atomic, as on AWS.
        with _CHANGES:
            return _change(self, zoneid, change_list)

    def _change(self, zoneid, change_list):
        zone = self.get_hosted_zone(zoneid)
        rrsets = getattr(zone, "rrsets", None)
        journal = getattr(zone, "rr_changes", None)
        if rrsets is None or journal is None:
            raise ShimError(f"moto {moto.__version__}: FakeZone.rrsets or FakeZone.rr_changes is gone")
        for change in change_list:
            if change.get("Action") != "CREATE":
                continue
            rs = change["ResourceRecordSet"]
            name, rtype, ident = _bare(rs["Name"]), rs.get("Type"), rs.get("SetIdentifier")
            # AWS: a CREATE over an existing record set (same name, type, set identifier) fails.
            if any(
                _bare(r.name) == name and r.type == rtype and getattr(r, "set_identifier", None) == ident
                for r in rrsets
            ):
                raise already_exists(name=rs["Name"].rstrip(".") + ".", _type=rtype)
            # The record is absent: forget earlier identical CREATEs in the journal, which moto
            # takes for a live duplicate. Its later CREATE is journaled again by moto, so a
            # DELETE of the new record still finds the values it was created with.
            stale = copy.deepcopy(change)
            stale["ResourceRecordSet"]["Name"] = stale["ResourceRecordSet"]["Name"].strip(".")
            journal[:] = [c for c in journal if c != stale]
        return original(self, zoneid, change_list)

    backend.change_resource_record_sets = change_resource_record_sets


def _apply_acm():
    backend = _require(acm_models, "AWSCertificateManagerBackend")
    original = _require(backend, "request_certificate")
    lookup = _require(backend, "_get_arn_from_idempotency_token")

    def request_certificate(self, domain_name, idempotency_token, *args, **kwargs):
        certificates = getattr(self, "_certificates", None)
        if certificates is None:
            raise ShimError(f"moto {moto.__version__}: AWSCertificateManagerBackend._certificates is gone")
        if idempotency_token is not None:
            arn = lookup(self, idempotency_token)
            # AWS: the token still names its (deleted) certificate for the hour.
            if arn and arn not in certificates:
                return arn
        return original(self, domain_name, idempotency_token, *args, **kwargs)

    backend.request_certificate = request_certificate


def apply():
    _apply_route53()
    _apply_acm()
