"""S3 shim for moto 5.2.5, applied by scripts/moto_server.py before the server starts.
What it fixes, the way S3 behaves:
- GetBucketVersioning: moto answers `<GetBucketVersioningResponse>`; S3's answer is
  `<VersioningConfiguration>` (with `<Status>` only once versioning was ever set), the root
  the SDK requires. rtech bootstrap reads it for the lock bucket.
- Bucket policies and conditions: moto denies a request whenever a statement's Condition is
  not met, even in a Deny statement; on S3 a statement whose condition is not met does not
  apply. And the emulator's plain-HTTP loopback endpoint stands in for S3's HTTPS one, where
  every call rtech makes is over TLS: requests are evaluated with `aws:SecureTransport` true.
  So the lock bucket's TLS-only policy (Deny when `aws:SecureTransport` is false) denies
  nothing here, as on S3 over HTTPS.
Every patched name is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
from xml.sax.saxutils import escape

import json

import moto
import moto.iam.access_control as access_control
import moto.s3.models as s3_models
import moto.s3.responses as s3_responses


class ShimError(RuntimeError):
    pass


XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"

# What S3 knows of every request the emulator stands in for: it came over TLS.
REQUEST_CONTEXT = {"aws:SecureTransport": "true"}


def _require(owner, name):
    if not hasattr(owner, name):
        raise ShimError(
            f"moto {moto.__version__}: {getattr(owner, '__name__', owner)}.{name} is gone; "
            "the S3 shim in scripts/moto_s3_shim.py needs updating"
        )
    return getattr(owner, name)


def apply():
    response = _require(s3_responses, "S3Response")
    _require(response, "get_bucket_versioning")

    def get_bucket_versioning(self):
        status = self.backend.get_bucket_versioning(self.bucket_name)
        inner = f"<Status>{escape(status)}</Status>" if status else ""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<VersioningConfiguration xmlns="{XMLNS}">{inner}</VersioningConfiguration>'
        )
        return 200, {"Content-Type": "application/xml"}, body

    response.get_bucket_versioning = get_bucket_versioning

    bucket = _require(s3_models, "FakeBucket")
    _require(bucket, "get_permission")
    statement_cls = _require(access_control, "IAMPolicyStatement")
    _require(statement_cls, "_check_conditions")
    _require(statement_cls, "is_action_permitted")
    result = _require(access_control, "PermissionResult")

    def get_permission(self, action, resource):
        if self.policy is None:
            return result.NEUTRAL
        policy = self.policy
        statements = json.loads(policy.decode() if isinstance(policy, bytes) else policy)["Statement"]
        if not isinstance(statements, list):
            statements = [statements]
        permitted = False
        for doc in statements:
            # A statement whose condition is not met does not apply.
            if not _condition_met(doc):
                continue
            unconditional = {k: v for k, v in doc.items() if k != "Condition"}
            r = statement_cls(unconditional).is_action_permitted(action, resource)
            if r == result.DENIED:
                return r
            permitted = permitted or r == result.PERMITTED
        return result.PERMITTED if permitted else result.NEUTRAL

    def _condition_met(doc):
        """The statement's Condition against REQUEST_CONTEXT: `Bool` here (moto ignores that
        operator), every other operator by moto's own evaluator."""
        conditions = doc.get("Condition") or {}
        for key, value in conditions.get("Bool", {}).items():
            wanted = value if isinstance(value, list) else [value]
            if REQUEST_CONTEXT.get(key) not in [str(w).lower() for w in wanted]:
                return False
        rest = {op: v for op, v in conditions.items() if op != "Bool"}
        return not rest or statement_cls({**doc, "Condition": rest})._check_conditions(REQUEST_CONTEXT)

    bucket.get_permission = get_permission
