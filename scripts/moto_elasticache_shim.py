"""ElastiCache shims for moto 5.2.5 (../shared/EMULATOR.md, "ElastiCache"), applied by
scripts/moto_server.py before the server starts. What it fixes, each the way ElastiCache behaves:
- DeleteReplicationGroup leaves the group `deleting` for ever: the group is gone once deleted
  (AWS takes minutes), and FinalSnapshotIdentifier, which moto ignores, records the snapshot.
- DeleteCacheSubnetGroup and ModifyCacheSubnetGroup answer HTTP 500: implemented (a subnet group
  a live replication group uses cannot be deleted: CacheSubnetGroupInUse).
- NumCacheClusters is ignored (one member whatever it says): honoured when ReplicasPerNodeGroup
  is not given.
- ModifyReplicationGroup ignores LogDeliveryConfigurations (CreateReplicationGroup stores them):
  honoured, an entry with Enabled=false removing that log type's delivery.
Not fixed: moto creates no member cache clusters (DescribeCacheClusters lists none), which
rtech bridges behind RTECH_EMULATOR_QUIRKS=1 (src/reconcile/redis/mod.rs). Every patched name
is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
import moto
import moto.elasticache.exceptions as ec_exceptions
import moto.elasticache.models as ec_models
import moto.elasticache.responses as ec_responses
from moto.core.responses import ActionResult, EmptyResult


class ShimError(RuntimeError):
    pass


class CacheSubnetGroupInUse(ec_exceptions.ElastiCacheException):
    code = "CacheSubnetGroupInUse"

    def __init__(self, name):
        super().__init__(f"Cache subnet group {name} is currently in use by a replication group.")


# moto finds an error's service model from the exception's module (moto.<service>.…).
CacheSubnetGroupInUse.__module__ = ec_exceptions.__name__


def _require(owner, name):
    if not hasattr(owner, name):
        raise ShimError(
            f"moto {moto.__version__}: {getattr(owner, '__name__', owner)}.{name} is gone; "
            "the ElastiCache shim in scripts/moto_elasticache_shim.py needs updating"
        )
    return getattr(owner, name)


def apply():
    backend = _require(ec_models, "ElastiCacheBackend")
    response = _require(ec_responses, "ElastiCacheResponse")
    subnet_group = _require(ec_models, "CacheSubnetGroup")
    not_found = _require(ec_exceptions, "CacheSubnetGroupNotFound")

    delete_group = _require(backend, "delete_replication_group")

    def delete_replication_group(self, replication_group_id, retain_primary_cluster):
        deleted = delete_group(self, replication_group_id, retain_primary_cluster)
        self.replication_groups.pop(replication_group_id, None)
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
        return create_group(self, *args, **kwargs)

    backend.create_replication_group = create_replication_group

    respond_modify_group = _require(response, "modify_replication_group")
    normalise_delivery = _require(ec_models.ReplicationGroup, "_get_log_delivery_configurations")

    def respond_modify_replication_group(self):
        requested = self._get_params().get("LogDeliveryConfigurations") or []
        group = self.elasticache_backend.replication_groups.get(self._get_param("ReplicationGroupId"))
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
        return respond_modify_group(self)

    response.modify_replication_group = respond_modify_replication_group
