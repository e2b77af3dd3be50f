"""Resource Groups Tagging API shim: GetResources lists what AWS's does for rtech's kinds.

moto builds GetResources from each backend's `iter_tagged_resources`. Its RDS backend yields
clusters, instances and snapshots but not DB subnet groups, cluster parameter groups or event
subscriptions; its ELBv2 backend yields load balancers and target groups but not listeners or
their rules; its AWS Backup backend yields vaults but not plans; its ECR backend is not in the
index at all. AWS's tag index lists all of them (resource types `rds:subgrp`, `rds:cluster-pg`,
`rds:es`, `elasticloadbalancing:listener`, `elasticloadbalancing:listener-rule`,
`backup:backup-plan` and `ecr:repository`; its EC2 backend lists no Elastic IPs, which AWS
lists as `ec2:elastic-ip`; a listener's default rule carries no tags of its
own, and a deleted plan is gone from it). Its WAFv2 backend is no TaggableResourcesMixin either:
AWS lists web ACLs (`wafv2:webacl`), the CLOUDFRONT-scoped ones (ARN
`arn:aws:wafv2:us-east-1:ACCOUNT:global/webacl/NAME/ID`) in us-east-1 only, and this lists
them the same way (moto keeps those in its `global` WAFv2 backend). Application Auto Scaling's
scalable targets (`application-autoscaling:scalable-target`, tagged through
scripts/moto_autoscaling_shim.py, which keeps their tags on moto's target) are listed too,
so without this rtech would read those resources' tags one call each on the emulator only.

AWS takes either `ResourcesPerPage` or `TagsPerPage`; a request with only `ResourcesPerPage`
gets pages of up to that many resources, whatever their tags. moto applies its default of
100 tags a page as well, which cuts a page of 100 resources after 15 or so of rtech's.
"""
import sys
import threading
import moto.applicationautoscaling.models as aas_models
import moto.backup.models as backup_models
import moto.core.resource_tagging as resource_tagging
import moto.ecr.models as ecr_models
import moto.ec2.models as ec2_models
import moto.elbv2.models as elbv2_models
import moto.rds.models as rds_models
import moto.wafv2.models as wafv2_models
import moto.resourcegroupstaggingapi.models as tagging_models
import moto.resourcegroupstaggingapi.responses as tagging_responses
from moto.core.resource_tagging import TaggedResource

from moto_shimkit import requirer

_require = requirer("the tag index shim", "scripts/moto_tagindex_shim.py")


# Set while a GetResources request that gave ResourcesPerPage and no TagsPerPage is served.
_by_resources = threading.local()


def apply():
    responses = tagging_responses.ResourceGroupsTaggingAPIResponse
    respond = _require(responses, "get_resources")

    def get_resources(self):
        _by_resources.on = (
            self._get_param("TagsPerPage") is None
            and self._get_param("ResourcesPerPage") is not None
        )
        try:
            return respond(self)
        finally:
            _by_resources.on = False

    responses.get_resources = get_resources

    backend = tagging_models.ResourceGroupsTaggingAPIBackend
    page = _require(backend, "get_resources")

    def backend_get_resources(self, *args, **kwargs):
        if getattr(_by_resources, "on", False):
            kwargs["tags_per_page"] = sys.maxsize
        return page(self, *args, **kwargs)

    backend.get_resources = backend_get_resources

    rds_backend = rds_models.RDSBackend
    rds_iter = _require(rds_backend, "iter_tagged_resources")

    def rds_iter_tagged_resources(self):
        yield from rds_iter(self)
        for resource_type, groups in (
            ("rds:subgrp", self.subnet_groups.values()),
            ("rds:cluster-pg", self.db_cluster_parameter_groups.values()),
            ("rds:es", self.event_subscriptions.values()),
        ):
            for g in groups:
                yield TaggedResource(
                    arn=g.arn,
                    tags={t["Key"]: t["Value"] for t in g.get_tags()},
                    resource_type=resource_type,
                )

    rds_backend.iter_tagged_resources = rds_iter_tagged_resources

    elbv2_backend = elbv2_models.ELBv2Backend
    elbv2_iter = _require(elbv2_backend, "iter_tagged_resources")

    def elbv2_iter_tagged_resources(self):
        yield from elbv2_iter(self)
        for lb in self.load_balancers.values():
            for listener in lb.listeners.values():
                yield TaggedResource(
                    arn=listener.arn,
                    tags=self.tagging_service.get_tag_dict_for_resource(listener.arn),
                    resource_type="elasticloadbalancing:listener",
                )
                for rule in listener.rules.values():
                    if getattr(rule, "is_default", False):
                        continue
                    yield TaggedResource(
                        arn=rule.arn,
                        tags=self.tagging_service.get_tag_dict_for_resource(rule.arn),
                        resource_type="elasticloadbalancing:listener-rule",
                    )

    elbv2_backend.iter_tagged_resources = elbv2_iter_tagged_resources

    # EC2's Elastic IPs: moto's EC2 backend lists VPCs, subnets, NAT gateways… but no addresses;
    # AWS lists them (`ec2:elastic-ip`, ARN `arn:aws:ec2:REGION:ACCOUNT:elastic-ip/eipalloc-…`).
    ec2_backend = _require(ec2_models, "EC2Backend")
    ec2_iter = _require(ec2_backend, "iter_tagged_resources")

    def ec2_iter_tagged_resources(self):
        yield from ec2_iter(self)
        for a in self.addresses:
            if not getattr(a, "allocation_id", None):
                continue
            yield TaggedResource(
                arn=f"arn:{self.partition}:ec2:{self.region_name}:{self.account_id}:elastic-ip/{a.allocation_id}",
                tags=dict(self.tags.get(a.allocation_id, {})),
                resource_type="ec2:elastic-ip",
            )

    ec2_backend.iter_tagged_resources = ec2_iter_tagged_resources

    backup_backend = backup_models.BackupBackend
    backup_iter = _require(backup_backend, "iter_tagged_resources")

    def backup_iter_tagged_resources(self):
        yield from backup_iter(self)
        for plan in self.plans.values():
            if plan.deletion_date is not None:
                continue
            yield TaggedResource(
                arn=plan.backup_plan_arn,
                tags=self.tagger.get_tag_dict_for_resource(plan.backup_plan_arn),
                resource_type="backup:backup-plan",
            )

    backup_backend.iter_tagged_resources = backup_iter_tagged_resources

    # ECR repositories: ECRBackend is no TaggableResourcesMixin, so moto's index never walks it.
    ecr_backends = _require(ecr_models, "ecr_backends")
    make_tag_matcher = _require(resource_tagging, "make_tag_matcher")
    match_resource_type = _require(resource_tagging, "match_resource_type")
    generate = _require(backend, "_get_resources_generator")
    wafv2_backends = _require(wafv2_models, "wafv2_backends")
    aas_backends = _require(aas_models, "applicationautoscaling_backends")
    waf_global = _require(wafv2_models, "GLOBAL_REGION")
    _require(wafv2_models.WAFV2Backend, "list_tags_for_resource")

    def get_resources_generator(
        self, tag_filters=None, resource_type_filters=None, resource_arn_list=None
    ):
        yield from generate(
            self,
            tag_filters=tag_filters,
            resource_type_filters=resource_type_filters,
            resource_arn_list=resource_arn_list,
        )
        matches = make_tag_matcher(tag_filters)

        def wanted(arn, tags, resource_type):
            return (
                tags
                and matches(tags)
                and match_resource_type(resource_type, resource_type_filters)
                and not (resource_arn_list and arn not in resource_arn_list)
            )

        regional = ecr_backends.get(self.account_id, {})
        if self.region_name in regional:
            ecr = regional[self.region_name]
            for repo in list(ecr.repositories.values()):
                tags = ecr.tagger.get_tag_dict_for_resource(repo.arn)
                if wanted(repo.arn, tags, "ecr:repository"):
                    yield TaggedResource(arn=repo.arn, tags=tags, resource_type="ecr:repository")
        scaling = aas_backends.get(self.account_id, {})
        if self.region_name in scaling:
            for targets in list(scaling[self.region_name].targets.values()):
                for target in list(targets.values()):
                    tags = dict(target.__dict__.get("rtech_tags", {}))
                    arn = getattr(target, "arn", None)
                    if arn and wanted(arn, tags, "application-autoscaling:scalable-target"):
                        yield TaggedResource(
                            arn=arn, tags=tags, resource_type="application-autoscaling:scalable-target"
                        )
        waf = wafv2_backends.get(self.account_id, {})
        # The region's own web ACLs, and in us-east-1 the CLOUDFRONT-scoped (global) ones.
        scopes = [self.region_name] + (
            [waf_global] if self.region_name == "us-east-1" else []
        )
        for scope in scopes:
            if scope not in waf:
                continue
            backend_ = waf[scope]
            for acl in list(backend_.wacls.values()):
                tags = {
                    t["Key"]: t["Value"]
                    for t in backend_.tagging_service.list_tags_for_resource(acl.arn)["Tags"]
                }
                if wanted(acl.arn, tags, "wafv2:webacl"):
                    yield TaggedResource(arn=acl.arn, tags=tags, resource_type="wafv2:webacl")

    backend._get_resources_generator = get_resources_generator
