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
- CreateBucket with tags: S3 tags a bucket from the `<Tags>` of its CreateBucketConfiguration
  (a bucket is born tagged, so a create whose answer was lost leaves a bucket its owner
  recognises); moto ignores them. A newly made bucket gets them here; an existing one keeps
  its own.
Every patched name is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
from xml.sax.saxutils import escape

import json

import xmltodict

import moto
import moto.iam.access_control as access_control
import moto.s3.models as s3_models
import moto.s3.responses as s3_responses


from moto_shimkit import requirer

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"

# What S3 knows of every request the emulator stands in for: it came over TLS.
REQUEST_CONTEXT = {"aws:SecureTransport": "true"}


_require = requirer("the S3 shim", "scripts/moto_s3_shim.py")


def _creation_tags(body):
    """The `<Tags>` of a CreateBucket request's CreateBucketConfiguration, as a dict."""
    if not body:
        return {}
    try:
        conf = xmltodict.parse(body).get("CreateBucketConfiguration") or {}
    except Exception:
        return {}
    tags = (conf.get("Tags") or {}).get("Tag") or []
    if isinstance(tags, dict):
        tags = [tags]
    return {t["Key"]: t.get("Value") or "" for t in tags}


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

    put = _require(response, "_bucket_response_put")
    _require(s3_models.S3Backend, "put_bucket_tagging")
    _require(s3_models.S3Backend, "get_bucket")

    def _bucket_response_put(self, request, bucket_name, querystring):
        tags = {} if querystring else _creation_tags(self.body)
        existed = False
        if tags:
            try:
                self.backend.get_bucket(bucket_name)
                existed = True
            except Exception:
                existed = False
        out = put(self, request, bucket_name, querystring)
        if tags and not existed:
            self.backend.put_bucket_tagging(bucket_name, tags)
        return out

    response._bucket_response_put = _bucket_response_put
