"""WAFv2 shim for moto 5.2.5, applied by scripts/moto_server.py before the server starts.
What it fixes, the way AWS WAF behaves:
- A second CreateWebACL with a name the scope already holds: moto answers the code
  `WafV2DuplicateItem`; AWS answers `WAFDuplicateItemException` (a create retried after a lost
  response meets it, and rtech adopts the ACL when its tags are ours).
- DeleteWebACL of an ACL a CloudFront distribution still names in its `WebACLId`: moto deletes
  it; AWS refuses with `WAFAssociatedItemException` until the distribution lets go of it.
- PutLoggingConfiguration: moto stores any destination for any ARN; AWS refuses a CloudWatch
  Logs destination whose group name does not start with `aws-waf-logs-`
  (`WAFInvalidParameterException`) and a web ACL that does not exist
  (`WAFNonexistentItemException`).
Every patched name is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
import moto.cloudfront.models as cf_models
import moto.wafv2.exceptions as waf_exceptions
import moto.wafv2.models as waf_models
import moto.wafv2.utils as waf_utils

from moto_shimkit import requirer

_require = requirer("the WAFv2 shim", "scripts/moto_wafv2_shim.py")

LOG_GROUP_PREFIX = "aws-waf-logs-"


def apply():
    base = _require(waf_exceptions, "WAFv2ClientError")
    duplicate = _require(waf_exceptions, "WAFV2DuplicateItemException")
    nonexistent = _require(waf_exceptions, "WAFNonexistentItemException")
    backend = _require(waf_models, "WAFV2Backend")
    backends = _require(waf_models, "wafv2_backends")
    make_arn = _require(waf_utils, "make_arn_for_wacl")
    cf_backends = _require(cf_models, "cloudfront_backends")

    def duplicate_init(self):
        base.__init__(
            self,
            "WAFDuplicateItemException",
            "AWS WAF couldn't perform the operation because some resource in your request is a duplicate of an existing one.",
        )

    duplicate.__init__ = duplicate_init

    class AssociatedItem(base):
        def __init__(self):
            super().__init__(
                "WAFAssociatedItemException",
                "AWS WAF couldn't perform the operation because your resource is being used by another resource or it's associated with another resource.",
            )

    class InvalidParameter(base):
        def __init__(self, message):
            super().__init__("WAFInvalidParameterException", message)

    def distributions_naming(account_id, arn, acl_id):
        for partition in ("aws",):
            try:
                dists = cf_backends[account_id][partition].distributions.values()
            except KeyError:
                continue
            for d in dists:
                web_acl = getattr(d.distribution_config, "WebACLId", "") or ""
                if web_acl in (arn, acl_id):
                    yield d.distribution_id

    delete = _require(backend, "delete_web_acl")

    def delete_web_acl(self, name, scope, _id, lock_token):
        arn = make_arn(
            name=name,
            account_id=self.account_id,
            region_name=self.region_name,
            _id=_id,
            scope=scope,
        )
        if arn in self.wacls and any(distributions_naming(self.account_id, arn, _id)):
            raise AssociatedItem()
        return delete(self, name, scope, _id, lock_token)

    backend.delete_web_acl = delete_web_acl

    put_logging = _require(backend, "put_logging_configuration")

    def put_logging_configuration(self, arn, log_destination_configs, *args, **kwargs):
        for dest in log_destination_configs:
            if ":logs:" in dest:
                group = dest.split(":log-group:", 1)[-1].split(":", 1)[0]
                if not group.startswith(LOG_GROUP_PREFIX):
                    raise InvalidParameter(
                        f"Error reason: The ARN isn't valid. A valid ARN begins with arn: and includes other information separated by colons or slashes., field: LOG_DESTINATION, parameter: {dest}"
                    )
        # CloudFront web ACLs live in moto's global backend, regional ones in their region's.
        region = "global" if ":global/" in arn else arn.split(":")[3]
        if arn not in backends[self.account_id][region].wacls:
            raise nonexistent()
        return put_logging(self, arn, log_destination_configs, *args, **kwargs)

    backend.put_logging_configuration = put_logging_configuration
