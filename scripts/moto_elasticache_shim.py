"""ElastiCache shims for moto 5.2.5, applied by scripts/moto_server.py before the server starts.
What each fixes, each the way ElastiCache behaves:
- CreateReplicationGroup creates no member cache clusters (DescribeCacheClusters lists none):
  members `<group>-001`, `-002`, … are created with the group, each reporting what AWS reports
  for a member: engine, engine version (a `major.minor` request reads back as
  `major.minor.0`), node type, subnet group, security groups (`active`), maintenance and
  snapshot windows, port, encryption flags, its availability zone and empty
  PendingModifiedValues, status `available`.
- ModifyReplicationGroup ignores EngineVersion, SecurityGroupIds, PreferredMaintenanceWindow
  and SnapshotWindow, and applies CacheNodeType at once whatever ApplyImmediately says: the
  members take the security groups and windows at once; engine version and node type apply at
  once with ApplyImmediately=true, and otherwise wait in each member's PendingModifiedValues
  (the maintenance window), the group keeping its current node type meanwhile.
- NotificationTopicArn (CreateReplicationGroup, ModifyReplicationGroup with
  NotificationTopicStatus) is stored but never reported: each member cluster reports it as
  NotificationConfiguration {TopicArn, TopicStatus} (`active`, or `inactive` once turned off),
  as DescribeCacheClusters does on AWS.
- ModifyReplicationGroup ignores LogDeliveryConfigurations (CreateReplicationGroup stores them):
  honoured, an entry with Enabled=false removing that log type's delivery.
- DeleteReplicationGroup leaves the group `deleting` for ever: the group and its member
  clusters are gone once deleted (AWS takes minutes; RetainPrimaryCluster keeps the primary as
  a cluster of its own), and FinalSnapshotIdentifier, which moto ignores, records the snapshot.
- DeleteCacheSubnetGroup and ModifyCacheSubnetGroup answer HTTP 500: implemented (a subnet group
  a live replication group uses cannot be deleted: CacheSubnetGroupInUse).
- NumCacheClusters is ignored (one member whatever it says): honoured when ReplicasPerNodeGroup
  is not given.
- IncreaseReplicaCount and DecreaseReplicaCount answer HTTP 500: implemented for
  cluster-mode-disabled groups (NewReplicaCount), adding replicas `<group>-00N` after the last
  member or removing the last ones, members and node group alike.
Every patched name is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
import moto
import moto.elasticache.exceptions as ec_exceptions
import moto.elasticache.models as ec_models
import moto.elasticache.responses as ec_responses
from moto.core.responses import ActionResult, EmptyResult


from moto_shimkit import requirer

class NodeGroupNotFound(ec_exceptions.ElastiCacheException):
    code = "NodeGroupNotFoundFault"

    def __init__(self, name):
        super().__init__(f"Node group {name} not found.")


class InvalidReplicationGroupState(ec_exceptions.ElastiCacheException):
    code = "InvalidReplicationGroupState"

    def __init__(self, message):
        super().__init__(message)


class TestFailoverNotAvailable(ec_exceptions.ElastiCacheException):
    code = "TestFailoverNotAvailableFault"

    def __init__(self, message):
        super().__init__(message)


class CacheSubnetGroupInUse(ec_exceptions.ElastiCacheException):
    code = "CacheSubnetGroupInUse"

    def __init__(self, name):
        super().__init__(f"Cache subnet group {name} is currently in use by a replication group.")


# moto finds an error's service model from the exception's module (moto.<service>.…).
for _cls in (CacheSubnetGroupInUse, NodeGroupNotFound, InvalidReplicationGroupState, TestFailoverNotAvailable):
    _cls.__module__ = ec_exceptions.__name__


_require = requirer("the ElastiCache shim", "scripts/moto_elasticache_shim.py")


def _full_version(version):
    """ElastiCache reports the patch level: `7.1` reads back as `7.1.0`."""
    if not version:
        return "7.1.0"
    return version if version.count(".") >= 2 else f"{version}.0"


def _members(backend, group):
    """The group's member cache clusters that exist, in member order."""
    return [backend.cache_clusters[c] for c in group.member_clusters if c in backend.cache_clusters]


def _create_members(backend, cluster_cls, group, only_missing=False):
    """One cache cluster per member of a (cluster-mode-disabled) group, as AWS reports them."""
    azs = {
        m.get("cache_cluster_id"): m.get("preferred_availability_zone")
        for ng in group.node_groups
        for m in ng.get("node_group_members", [])
    }
    for cluster_id in group.member_clusters:
        if only_missing and cluster_id in backend.cache_clusters:
            continue
        c = cluster_cls(
            account_id=backend.account_id,
            region_name=backend.region_name,
            cache_cluster_id=cluster_id,
            cache_node_type=group.cache_node_type,
            replication_group_id=group.replication_group_id,
            az_mode="single-az",
            preferred_availability_zone=azs.get(cluster_id),
            num_cache_nodes=1,
            engine=group.engine,
            engine_version=_full_version(group.engine_version),
            cache_parameter_group_name=group.cache_parameter_group_name,
            cache_subnet_group_name=group.cache_subnet_group_name,
            transit_encryption_enabled=group.transit_encryption_enabled,
            network_type=group.network_type,
            ip_discovery=group.ip_discovery,
            snapshot_name=None,
            preferred_maintenance_window=(group.preferred_maintenance_window or "sun:23:00-mon:01:30").lower(),
            port=group.port,
            notification_topic_arn=group.notification_topic_arn,
            auto_minor_version_upgrade=group.auto_minor_version_upgrade,
            snapshot_retention_limit=group.snapshot_retention_limit,
            snapshot_window=group.snapshot_window,
            auth_token=None,
            outpost_mode=None,
            preferred_outpost_arn=None,
            preferred_availability_zones=None,
            cache_security_group_names=None,
            security_group_ids=list(group.security_group_ids or []),
            tags=None,
            snapshot_arns=None,
            preferred_outpost_arns=None,
            log_delivery_configurations=[],
            cache_node_ids_to_remove=None,
            cache_node_ids_to_reboot=None,
        )
        c.at_rest_encryption_enabled = group.at_rest_encryption_enabled
        c.auth_token_enabled = group.auth_token_enabled
        c.replication_group_log_delivery_enabled = bool(group.log_delivery_configurations)
        _set_security_groups(c, c.security_group_ids)
        c.pending_modified_values = {}
        _set_notification(c, group.notification_topic_arn, "active")
        backend.cache_clusters[cluster_id] = c


def _set_notification(cluster, topic_arn, status):
    """Each member reports the group's SNS topic as NotificationConfiguration."""
    cluster.notification_topic_arn = topic_arn
    cluster.notification_configuration = (
        {"TopicArn": topic_arn, "TopicStatus": status} if topic_arn else None
    )


def _set_security_groups(cluster, ids):
    cluster.security_group_ids = list(ids)
    cluster.security_groups = [{"SecurityGroupId": i, "Status": "active"} for i in ids]


def apply():
    backend = _require(ec_models, "ElastiCacheBackend")
    response = _require(ec_responses, "ElastiCacheResponse")
    subnet_group = _require(ec_models, "CacheSubnetGroup")
    cache_cluster = _require(ec_models, "CacheCluster")
    not_found = _require(ec_exceptions, "CacheSubnetGroupNotFound")

    delete_group = _require(backend, "delete_replication_group")

    def delete_replication_group(self, replication_group_id, retain_primary_cluster):
        group = self.replication_groups.get(replication_group_id)
        members = list(group.member_clusters) if group is not None else []
        # The member whose role is primary (a failover moves it), else the first.
        primary = next(
            (
                m.get("cache_cluster_id")
                for ng in (group.node_groups if group is not None else [])
                for m in ng.get("node_group_members", [])
                if m.get("current_role") == "primary"
            ),
            members[0] if members else None,
        )
        deleted = delete_group(self, replication_group_id, retain_primary_cluster)
        self.replication_groups.pop(replication_group_id, None)
        for cluster_id in members:
            if retain_primary_cluster and cluster_id == primary and cluster_id in self.cache_clusters:
                self.cache_clusters[cluster_id].replication_group_id = None
            else:
                self.cache_clusters.pop(cluster_id, None)
        return deleted

    backend.delete_replication_group = delete_replication_group

    respond_delete_group = _require(response, "delete_replication_group")

    def respond_delete_replication_group(self):
        final = self._get_param("FinalSnapshotIdentifier")
        group = self._get_param("ReplicationGroupId")
        if final and group in self.elasticache_backend.replication_groups:
            self.elasticache_backend.create_snapshot(
                snapshot_name=final,
                replication_group_id=group,
                cache_cluster_id=None,
                kms_key_id=None,
                tags=[],
            )
        return respond_delete_group(self)

    response.delete_replication_group = respond_delete_replication_group

    def delete_cache_subnet_group(self):
        b = self.elasticache_backend
        name = self._get_param("CacheSubnetGroupName")
        if name not in b.cache_subnet_groups:
            raise not_found(name)
        if any(getattr(g, "cache_subnet_group_name", None) == name for g in b.replication_groups.values()):
            raise CacheSubnetGroupInUse(name)
        del b.cache_subnet_groups[name]
        return EmptyResult()

    response.delete_cache_subnet_group = delete_cache_subnet_group

    def modify_cache_subnet_group(self):
        b = self.elasticache_backend
        name = self._get_param("CacheSubnetGroupName")
        old = b.cache_subnet_groups.get(name)
        if old is None:
            raise not_found(name)
        new = subnet_group(
            account_id=b.account_id,
            region_name=b.region_name,
            cache_subnet_group_name=name,
            cache_subnet_group_description=self._get_param("CacheSubnetGroupDescription")
            or old.cache_subnet_group_description,
            subnet_ids=self._get_param("SubnetIds") or old.subnet_ids,
            tags=old.tags,
        )
        b.cache_subnet_groups[name] = new
        return ActionResult({"CacheSubnetGroup": new})

    response.modify_cache_subnet_group = modify_cache_subnet_group

    create_group = _require(backend, "create_replication_group")

    def create_replication_group(self, *args, **kwargs):
        clusters = kwargs.get("num_cache_clusters") or 1
        if not kwargs.get("replicas_per_node_group") and clusters > 1:
            kwargs["replicas_per_node_group"] = clusters - 1
        group = create_group(self, *args, **kwargs)
        if group.cluster_mode != "enabled":
            _create_members(self, cache_cluster, group)
        return group

    backend.create_replication_group = create_replication_group

    respond_modify_group = _require(response, "modify_replication_group")
    normalise_delivery = _require(ec_models.ReplicationGroup, "_get_log_delivery_configurations")

    def respond_modify_replication_group(self):
        b = self.elasticache_backend
        requested = self._get_params().get("LogDeliveryConfigurations") or []
        group = b.replication_groups.get(self._get_param("ReplicationGroupId"))
        node_type_before = group.cache_node_type if group is not None else None
        if requested and group is not None:
            current = {c.get("LogType"): c for c in group.log_delivery_configurations}
            for c in requested:
                log_type = c.get("LogType")
                if str(c.get("Enabled", True)).lower() == "false":
                    current.pop(log_type, None)
                else:
                    entry = {k: v for k, v in c.items() if k != "Enabled"}
                    current[log_type] = normalise_delivery(group, [entry])[0]
            group.log_delivery_configurations = list(current.values())
        result = respond_modify_group(self)
        if group is not None:
            _modify_members(self, b, group, node_type_before)
        return result

    def _modify_members(self, b, group, node_type_before):
        immediately = self._get_bool_param("ApplyImmediately") is True
        node_type = self._get_param("CacheNodeType")
        version = self._get_param("EngineVersion")
        sgs = self._get_param("SecurityGroupIds")
        maintenance = self._get_param("PreferredMaintenanceWindow")
        snapshot_window = self._get_param("SnapshotWindow")
        topic = self._get_param("NotificationTopicArn")
        topic_status = self._get_param("NotificationTopicStatus")
        if topic:
            group.notification_topic_arn = topic
        if snapshot_window:
            group.snapshot_window = snapshot_window
        if maintenance:
            group.preferred_maintenance_window = maintenance
        if sgs:
            group.security_group_ids = list(sgs)
        if node_type and not immediately:
            group.cache_node_type = node_type_before
        if version and immediately:
            group.engine_version = version
        for m in _members(b, group):
            if snapshot_window:
                m.snapshot_window = snapshot_window
            if maintenance:
                m.preferred_maintenance_window = maintenance.lower()
            if sgs:
                _set_security_groups(m, sgs)
            m.snapshot_retention_limit = group.snapshot_retention_limit
            if topic or topic_status:
                current = m.notification_configuration or {}
                _set_notification(
                    m,
                    topic or current.get("TopicArn") or group.notification_topic_arn,
                    topic_status or "active",
                )
            m.replication_group_log_delivery_enabled = bool(group.log_delivery_configurations)
            pending = dict(getattr(m, "pending_modified_values", None) or {})
            if node_type:
                if immediately:
                    m.cache_node_type = node_type
                    pending.pop("CacheNodeType", None)
                elif node_type != m.cache_node_type:
                    pending["CacheNodeType"] = node_type
            if version:
                if immediately:
                    m.engine_version = _full_version(version)
                    pending.pop("EngineVersion", None)
                elif _full_version(version) != m.engine_version:
                    pending["EngineVersion"] = _full_version(version)
            m.pending_modified_values = pending

    response.modify_replication_group = respond_modify_replication_group

    group_not_found = _require(ec_exceptions, "ReplicationGroupNotFound")
    invalid = _require(ec_exceptions, "InvalidParameterValueException")

    def change_replica_count(self):
        b = self.elasticache_backend
        group_id = self._get_param("ReplicationGroupId")
        group = b.replication_groups.get(group_id)
        if group is None:
            raise group_not_found(group_id)
        wanted = self._get_int_param("NewReplicaCount")
        if wanted is None or wanted < 0 or group.cluster_mode == "enabled":
            raise invalid("NewReplicaCount must be given (cluster mode disabled groups only).")
        node_group = group.node_groups[0]
        while len(group.member_clusters) - 1 < wanted:
            cluster_id = f"{group_id}-{len(group.member_clusters) + 1:0>3}"
            group.member_clusters.append(cluster_id)
            node_group["node_group_members"].append(
                {
                    "cache_cluster_id": cluster_id,
                    "cache_node_id": node_group["node_group_id"],
                    "preferred_availability_zone": "us-east-1b",
                    "current_role": "replica",
                }
            )
        while len(group.member_clusters) - 1 > wanted:
            cluster_id = group.member_clusters.pop()
            node_group["node_group_members"] = [
                m for m in node_group["node_group_members"] if m.get("cache_cluster_id") != cluster_id
            ]
            b.cache_clusters.pop(cluster_id, None)
        _create_members(b, cache_cluster, group, only_missing=True)
        return ActionResult({"ReplicationGroup": group})

    response.increase_replica_count = change_replica_count
    response.decrease_replica_count = change_replica_count

    def test_failover(self):
        b = self.elasticache_backend
        group_id = self._get_param("ReplicationGroupId")
        node_group_id = self._get_param("NodeGroupId")
        group = b.replication_groups.get(group_id)
        if group is None:
            raise group_not_found(group_id)
        node_group = next((n for n in group.node_groups if n.get("node_group_id") == node_group_id), None)
        if node_group is None:
            raise NodeGroupNotFound(node_group_id)
        if group.status != "available":
            raise InvalidReplicationGroupState(f"Replication group {group_id} is {group.status}, not available.")
        members = node_group.get("node_group_members", [])
        replicas = [m for m in members if m.get("current_role") != "primary"]
        if group.automatic_failover != "enabled" or not replicas:
            raise TestFailoverNotAvailable(
                f"Replication group {group_id} needs a replica and automatic failover enabled to fail over."
            )
        for m in members:
            if m.get("current_role") == "primary":
                m["current_role"] = "replica"
        replicas[0]["current_role"] = "primary"
        return ActionResult({"ReplicationGroup": group})

    response.test_failover = test_failover
