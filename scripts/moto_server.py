"""The local AWS emulator: moto's server, with rtech's shims applied before it starts.

The one launcher every test and the demo use; each shim documents the AWS
behaviour it reproduces. Usage: moto_server.py -H 127.0.0.1 -p PORT

Shims:
- DocumentDB: moto serves the DocDB API from its RDS backend, which rejects Engine=docdb.
  (Also: a DocumentDB instance answers its cluster's subnet group in DescribeDBInstances, as on
  AWS; moto gives a cluster member none.)
  Teach that backend the engine (port 27017, version 5.0.0). Three moto bugs met on the way
  are fixed here too: ModifyDBCluster ignores CloudwatchLogsExportConfiguration, deleting a
  cluster keeps its automated backups (so re-creating it within a minute fails), and
  ModifyDBSubnetGroup drops the group from the registry; CreateDBCluster over an existing
  cluster answers DBClusterAlreadyExistsFault as AWS does (moto replaced it). Every
  patched name is checked first: if moto renames or reshapes one, the launcher exits with an
  error naming it rather than starting an emulator that fails later in obscure ways.
- ElastiCache: scripts/moto_elasticache_shim.py (member cache clusters, deleted groups that stay
  `deleting`, missing subnet-group calls, ignored NumCacheClusters and Modify settings).
- Route 53 and ACM: scripts/moto_route53_acm_shim.py (a CREATE refused exactly when the record
  exists; each change batch atomic, as concurrent batches on one zone could lose a delete; an
  idempotency token of a deleted certificate returns its ARN).
- ECS: scripts/moto_ecs_shim.py (services that never run their tasks nor complete their
  rollout, CreateService dropping the deployment configuration and grace period).
- CloudFront: scripts/moto_cloudfront_shim.py (a repeated CallerReference with the same config
  returns the first distribution; invalidations `InProgress`, then `Completed`,
  as CloudFront spells them).
- Application Auto Scaling: scripts/moto_autoscaling_shim.py (scalable-target tags, policies
  deleted with their target, ObjectNotFoundException for what does not exist, an empty
  DescribeScalingActivities).
- EC2: scripts/moto_ec2_shim.py (ClientToken honoured on CreateRouteTable and CreateNatGateway,
  one explicit route table association per subnet, a prefix-list rule keeps its description).
- ELBv2: scripts/moto_elbv2_shim.py (load balancer names unique: a repeated create with the
  same settings answers the existing one).
- AWS Backup: scripts/moto_backup_shim.py (backup selections and UpdateBackupPlan implemented;
  CreatorRequestId answered with the first result; plans with selections and vaults with
  recovery points refused on delete; deleted plans free their name).
- CloudWatch Logs: scripts/moto_logs_shim.py (DescribeLogGroups' logGroupNamePattern, a
  substring of the name, honoured).
- RDS/DocumentDB event subscriptions: scripts/moto_rds_shim.py (ModifyEventSubscription,
  AddSourceIdentifierToSubscription, RemoveSourceIdentifierFromSubscription implemented; a new
  subscription enabled unless Enabled=false).
- S3: scripts/moto_s3_shim.py (GetBucketVersioning answered under S3's own root element,
  tags given in CreateBucket applied).
- WAFv2: scripts/moto_wafv2_shim.py (WAFDuplicateItemException for a taken name, a web ACL a
  CloudFront distribution names refused deletion, logging only to `aws-waf-logs-` groups of an
  existing web ACL).
- Resource Groups Tagging API: scripts/moto_tagindex_shim.py (GetResources lists DocumentDB
  subnet and cluster parameter groups, ELBv2 listeners and ECR repositories, as AWS's index
  does).
"""
import sys

import moto
import moto.rds.models as rds_models
import moto.rds.utils as rds_utils
from moto.server import main

DOCDB_ENGINE = "docdb"
DOCDB_PORT = 27017
DOCDB_VERSION = "5.0.0"


from moto_shimkit import ShimError, requirer

_require = requirer("the DocumentDB shim", "scripts/moto_server.py")


def _extend_engine_list(cls, method):
    """Replace the classmethod `cls.method` (a list of engine names) with one that adds docdb."""
    original = _require(cls, method)
    engines = original()
    if not isinstance(engines, list) or not all(isinstance(e, str) for e in engines):
        raise ShimError(f"moto {moto.__version__}: {cls.__name__}.{method}() no longer returns a list of names")

    def extended(_cls):
        names = original()
        return names if DOCDB_ENGINE in names else sorted(names + [DOCDB_ENGINE])

    setattr(cls, method, classmethod(extended))


def _extend_by_engine(cls, method, value):
    """Wrap the staticmethod `cls.method(engine, ...)` so that docdb answers `value(...)`."""
    original = _require(cls, method)
    if not callable(original):
        raise ShimError(f"moto {moto.__version__}: {cls.__name__}.{method} is not callable")

    def patched(engine, *args, **kwargs):
        if engine == DOCDB_ENGINE:
            return value(*args, **kwargs)
        return original(engine, *args, **kwargs)

    setattr(cls, method, staticmethod(patched))


def apply_docdb_shim():
    cluster_engine = _require(rds_utils, "ClusterEngine")
    instance_engine = _require(rds_utils, "DbInstanceEngine")
    cluster = _require(rds_models, "DBCluster")
    instance = _require(rds_models, "DBInstance")

    _extend_engine_list(cluster_engine, "list_cluster_engines")
    _extend_engine_list(instance_engine, "valid_db_instance_engine")

    _extend_by_engine(cluster, "default_engine_version", lambda: DOCDB_VERSION)
    _extend_by_engine(cluster, "default_port", lambda: DOCDB_PORT)
    # DocumentDB storage grows on its own: no allocated size, whatever the storage type.
    _extend_by_engine(cluster, "default_allocated_storage", lambda storage_type: 0)
    _extend_by_engine(instance, "default_port", lambda: DOCDB_PORT)
    _extend_by_engine(instance, "default_allocated_storage", lambda storage_type: 0)

    # ModifyDBCluster reads the log-export change from a key the request never has
    # ("enable_cloudwatch_logs_exports") and drops CloudwatchLogsExportConfiguration: hand
    # it over under the name the backend reads.
    backend = _require(rds_models, "RDSBackend")
    modify_cluster = _require(backend, "modify_db_cluster")

    def modify_db_cluster(self, kwargs):
        cfg = kwargs.get("cloudwatch_logs_export_configuration")
        if cfg is not None and kwargs.get("enable_cloudwatch_logs_exports") is None:
            kwargs["enable_cloudwatch_logs_exports"] = cfg
        return modify_cluster(self, kwargs)

    backend.modify_db_cluster = modify_db_cluster

    # Deleting a DocumentDB cluster deletes its automated backups on AWS; moto keeps them, and
    # their names (rds:<cluster>-<yyyy-mm-dd-hh-mm>) make re-creating the cluster within the
    # same minute fail (DBClusterSnapshotAlreadyExistsFault), e.g. on a replace.
    delete_cluster = _require(backend, "delete_db_cluster")

    def delete_db_cluster(self, cluster_identifier, *args, **kwargs):
        deleted = delete_cluster(self, cluster_identifier, *args, **kwargs)
        if getattr(deleted, "engine", None) == DOCDB_ENGINE:
            snapshots = getattr(self, "cluster_snapshots", None)
            if snapshots is None:
                raise ShimError(f"moto {moto.__version__}: RDSBackend.cluster_snapshots is gone")
            for sid in [
                sid
                for sid, snap in snapshots.items()
                if getattr(snap, "snapshot_type", None) == "automated"
                and getattr(getattr(snap, "cluster", None), "db_cluster_identifier", None) == cluster_identifier
            ]:
                del snapshots[sid]
        return deleted

    backend.delete_db_cluster = delete_db_cluster

    # CreateDBCluster with the identifier of an existing cluster: AWS refuses it with
    # DBClusterAlreadyExistsFault and leaves the cluster alone. moto replaces the cluster in its
    # registry, then fails saving the new one's automated backup under the old one's name
    # (DBClusterSnapshotAlreadyExistsFault). A create retried after a lost response meets this.
    create_cluster = _require(backend, "create_db_cluster")
    rds_exceptions = _require(rds_models, "RDSClientError")

    def create_db_cluster(self, kwargs):
        if kwargs.get("db_cluster_identifier") in self.clusters:
            raise rds_exceptions("DBClusterAlreadyExistsFault", "DB Cluster already exists")
        return create_cluster(self, kwargs)

    backend.create_db_cluster = create_db_cluster

    # ModifyDBSubnetGroup pops the group from the backend's registry and never puts it back, so
    # a modified subnet group vanishes (tags and all). Put it back under its name.
    modify_subnet_group = _require(backend, "modify_db_subnet_group")

    def modify_db_subnet_group(self, subnet_name, *args, **kwargs):
        group = modify_subnet_group(self, subnet_name, *args, **kwargs)
        self.subnet_groups[subnet_name] = group
        return group

    backend.modify_db_subnet_group = modify_db_subnet_group

    # A DocumentDB instance takes its cluster's subnet group, and DescribeDBInstances answers it
    # in the instance's DBSubnetGroup (name, description, VPC, subnets and their AZs), as AWS
    # does. moto leaves a cluster member without a subnet group (CreateDBInstance for DocumentDB
    # takes none), so the answer has no DBSubnetGroup.
    create_instance = _require(backend, "create_db_instance")

    def create_db_instance(self, db_kwargs):
        database = create_instance(self, db_kwargs)
        cluster = self.clusters.get(getattr(database, "db_cluster_identifier", None) or "")
        group = getattr(cluster, "db_subnet_group_name", None) if cluster is not None else None
        if (
            getattr(database, "engine", None) == DOCDB_ENGINE
            and getattr(database, "db_subnet_group", None) is None
            and group in self.subnet_groups
        ):
            database.db_subnet_group_name = group
        return database

    backend.create_db_instance = create_db_instance

    versions = _require(instance, "default_engine_versions")
    if not isinstance(versions, dict):
        raise ShimError(f"moto {moto.__version__}: DBInstance.default_engine_versions is no longer a dict")
    versions[DOCDB_ENGINE] = DOCDB_VERSION

    # Prove it took: the values moto will use for docdb, read back through moto itself.
    checks = {
        "ClusterEngine.list_cluster_engines()": DOCDB_ENGINE in cluster_engine.list_cluster_engines(),
        "DbInstanceEngine.valid_db_instance_engine()": DOCDB_ENGINE in instance_engine.valid_db_instance_engine(),
        "DBCluster.default_port": cluster.default_port(DOCDB_ENGINE) == DOCDB_PORT,
        "DBCluster.default_engine_version": cluster.default_engine_version(DOCDB_ENGINE) == DOCDB_VERSION,
        "DBInstance.default_port": instance.default_port(DOCDB_ENGINE) == DOCDB_PORT,
        "aurora still served": cluster.default_port("aurora-mysql") == 3306,
    }
    failed = [k for k, ok in checks.items() if not ok]
    if failed:
        raise ShimError(f"moto {moto.__version__}: the DocumentDB shim did not take: {', '.join(failed)}")


if __name__ == "__main__":
    import moto_autoscaling_shim
    import moto_backup_shim
    import moto_cloudfront_shim
    import moto_ec2_shim
    import moto_ecs_shim
    import moto_elasticache_shim
    import moto_elbv2_shim
    import moto_logs_shim
    import moto_rds_shim
    import moto_route53_acm_shim
    import moto_s3_shim
    import moto_tagindex_shim
    import moto_wafv2_shim

    # Each shim module has apply(); moto_shimkit.ShimError says a moto name it patches has moved.
    SHIMS = [
        moto_autoscaling_shim,
        moto_backup_shim,
        moto_cloudfront_shim,
        moto_ec2_shim,
        moto_ecs_shim,
        moto_elasticache_shim,
        moto_elbv2_shim,
        moto_logs_shim,
        moto_rds_shim,
        moto_route53_acm_shim,
        moto_s3_shim,
        moto_tagindex_shim,
        moto_wafv2_shim,
    ]
    try:
        apply_docdb_shim()
        for shim in SHIMS:
            shim.apply()
    except ShimError as e:
        print(f"moto_server.py: {e}", file=sys.stderr)
        sys.exit(3)
    sys.exit(main(sys.argv[1:]))
