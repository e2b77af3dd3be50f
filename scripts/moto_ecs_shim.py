"""ECS shims for moto 5.2.5, applied by scripts/moto_server.py before the server starts. Each
makes a Fargate service behave as it does on AWS, so that rtech runs against the emulator
exactly the code it runs against an account (the SDK's services-stable waiter included):
- A healthy service runs its tasks: on AWS a service whose tasks start reaches
  runningCount == desiredCount, with one PRIMARY deployment of its task definition whose
  rolloutState is COMPLETED. moto starts `MOTO_ECS_SERVICE_RUNNING` tasks (0 by default) and
  leaves the rollout IN_PROGRESS for ever. Here every CreateService and UpdateService runs all
  the desired tasks, unless the emulator was started with MOTO_ECS_SERVICE_RUNNING set: then
  moto's count stands (tasks that never start, e.g. an image that cannot be pulled) until an
  UpdateService sends a desiredCount, which moto takes as the running count (tasks started).
- The PRIMARY deployment follows the service, as on AWS: its task definition, its counts, and
  its rolloutState (COMPLETED once the running count reaches the desired count, else
  IN_PROGRESS). moto never touches the deployment after CreateService.
- CreateService keeps deploymentConfiguration and healthCheckGracePeriodSeconds (moto drops
  both; its UpdateService already stores them).
- Service deployments and service revisions (moto has neither API). On AWS every CreateService,
  and every UpdateService that changes the task definition, starts a service deployment from the
  revisions that serve now to a new service revision (the task definition and its images);
  ListServiceDeployments / DescribeServiceDeployments follow it, DescribeServiceRevisions names
  the task definition of a revision, and StopServiceDeployment with stopType ROLLBACK rolls a
  running deployment back. Here each such call stores a deployment and a revision and answers
  those four calls in AWS's JSON shapes (List: newest first, cluster/service/status filters,
  maxResults/nextToken; Describe: up to 20 ARNs, unknown ones under `failures` as MISSING). A
  deployment is PENDING for no time, then IN_PROGRESS through the lifecycle stages SCALE_UP,
  BAKE_TIME and CLEAN_UP, then SUCCESSFUL (finishedAt set); each stage lasts
  MOTO_ECS_DEPLOYMENT_STAGE_SECONDS (a float, default 0: done at once, as the services-stable
  shim above). Time is read when the service or its deployments are read, so a test speeds
  the clock up by the variable alone. A deployment whose new image tag is listed in
  MOTO_ECS_FAILING_IMAGE_TAGS (comma-separated) fails as AWS's circuit breaker fails one whose
  tasks never start: at the end of SCALE_UP its deploymentCircuitBreaker is TRIGGERED, it is
  ROLLBACK_IN_PROGRESS for one stage, then ROLLBACK_SUCCESSFUL with `rollback` naming the
  revision it went back to, and the service runs that revision's task definition again (a
  first deployment, with nothing to go back to, ends ROLLBACK_FAILED). StopServiceDeployment
  (ROLLBACK) of a PENDING or IN_PROGRESS deployment does the same from that moment
  (ROLLBACK_REQUESTED, then ROLLBACK_IN_PROGRESS, then ROLLBACK_SUCCESSFUL); of a finished one
  it is a ConflictException, and stopType ABORT an InvalidParameterException (AWS supports
  ROLLBACK only). A newer deployment of the same service stops a running one (STOPPED), as
  ECS does. While a service deployment runs, DescribeServices reports the PRIMARY deployment's
  rolloutState IN_PROGRESS, as AWS does, and COMPLETED once it succeeded or was rolled back
  (then with the task definition it went back to).
- ECS's built-in traffic-shifting strategies (moto has none). A deployment of a service whose
  deploymentConfiguration.strategy is CANARY or BLUE_GREEN and whose load balancer carries an
  advancedConfiguration (alternateTargetGroupArn, productionListenerRule) moves that listener
  rule's weights in moto's ELBv2, as AWS does: the target group holding the larger weight when
  the deployment starts is production, the other one receives the new revision. CANARY:
  SCALE_UP, then PRODUCTION_TRAFFIC_SHIFT at (100 - canaryPercent)/canaryPercent for the canary
  bake, then 0/100 through BAKE_TIME (bakeTimeInMinutes), CLEAN_UP, SUCCESSFUL. BLUE_GREEN: the
  same with the whole shift at once. A minute of bake lasts MOTO_ECS_DEPLOYMENT_STAGE_SECONDS
  (each of these stages at least that long). While the traffic shift and the bake run, a
  rollback alarm (deploymentConfiguration.alarms with enable and rollback) in ALARM in moto's
  CloudWatch rolls the deployment back: the rule goes back to 100/0, the deployment reports
  `alarms` TRIGGERED with the alarm's name and ends ROLLBACK_SUCCESSFUL, the service runs the
  previous revision. The deployments move on a clock that is read lazily: every ECS call about
  the service, SetAlarmState and ELBv2 DescribeRules first bring every running deployment up
  to date, so an alarm set during the bake is seen during the bake, and the rule's weights read
  through the ELB API are those of the stage the deployment is in now, whether or not anyone
  follows it through ECS (on AWS, ECS moves them by itself). A StopServiceDeployment (ROLLBACK) or a
  circuit-breaker rollback of such a deployment restores the weights too.
- DescribeTaskDefinition by a family's name alone answers its newest ACTIVE revision, as AWS
  does; a family with no ACTIVE revision (all deregistered, or none) is AWS's ClientException
  "Unable to describe task definition.". moto answers its highest revision whatever its status
  (an INACTIVE one). A family:revision or an ARN is moto's own answer (INACTIVE ones included,
  as on AWS).
Every patched name is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
import itertools
import json
import os
import time

import moto
import moto.ecs.exceptions as ecs_exceptions
import moto.ecs.models as ecs_models
import moto.ecs.responses as ecs_responses
import moto.cloudwatch.models as cw_models
import moto.elbv2.models as elbv2_models

# Set in the emulator's environment: tasks do not start by themselves (moto's own behaviour).
TASKS_STUCK = "MOTO_ECS_SERVICE_RUNNING" in os.environ


from moto_shimkit import ShimError, requirer

def _stage_seconds():
    try:
        return max(float(os.environ.get("MOTO_ECS_DEPLOYMENT_STAGE_SECONDS", "0")), 0.0)
    except ValueError:
        return 0.0


FAILING_TAGS = {t for t in os.environ.get("MOTO_ECS_FAILING_IMAGE_TAGS", "").split(",") if t}
STAGES = ["SCALE_UP", "BAKE_TIME", "CLEAN_UP"]
RUNNING = ("PENDING", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")

# Service revision ARN -> revision; service key -> its deployments, oldest first.
_revisions = {}
_deployments = {}
_ids = itertools.count(1)


def _key(service):
    return (service._account_id, service.region_name, service.cluster_name, service.name)


def _arn(service, kind, n):
    return (
        f"arn:aws:ecs:{service.region_name}:{service._account_id}:{kind}/"
        f"{service.cluster_name}/{service.name}/{n}"
    )


def _images(backend, td_arn):
    try:
        td = backend.describe_task_definition(td_arn)
    except Exception:
        return []
    return [
        {"containerName": c.get("name"), "image": c.get("image")}
        for c in td.container_definitions
    ]


def _record(backend, service, before_td):
    """A service deployment from what serves now to the service's task definition."""
    deps = _deployments.setdefault(_key(service), [])
    now = time.time()
    for d in deps:
        _advance(backend, service, d, now)
        if d["status"] in ("PENDING", "IN_PROGRESS"):
            d["status"] = "STOPPED"
            d["statusReason"] = "A newer service deployment replaced it."
            d["stoppedAt"] = d["finishedAt"] = d["updatedAt"] = now
    source = service._shim_serving if hasattr(service, "_shim_serving") else None
    n = next(_ids)
    images = _images(backend, service.task_definition)
    rev = {
        "serviceRevisionArn": _arn(service, "service-revision", n),
        "serviceArn": service.arn,
        "clusterArn": service.cluster_arn,
        "taskDefinition": service.task_definition,
        "containerImages": images,
        "launchType": service.launch_type,
        "createdAt": now,
    }
    _revisions[rev["serviceRevisionArn"]] = rev
    tags = {(i.get("image") or "").rsplit(":", 1)[-1] for i in images}
    shift = _shift_plan(service)
    deps.append({
        "shift": shift,
        "serviceDeploymentArn": _arn(service, "service-deployment", n),
        "serviceArn": service.arn,
        "clusterArn": service.cluster_arn,
        "createdAt": now,
        "startedAt": now,
        "updatedAt": now,
        "source": source,
        "target": rev["serviceRevisionArn"],
        "fails": bool(tags & FAILING_TAGS),
        "stopAt": None,
        "status": "PENDING",
        "deploymentConfiguration": getattr(service, "deployment_configuration", None),
    })
    if source is None:
        service._shim_serving = None
    _advance(backend, service, deps[-1], now)


# moto's own ELBv2 DescribeRules (the shim's wraps it to bring deployments up to date first).
_describe_rules = None


def _rule(arn, account, region):
    """moto's listener rule of that ARN (None when it is gone)."""
    try:
        backend = elbv2_models.elbv2_backends[account][region]
        found = _describe_rules(backend, None, [arn])
    except Exception:
        return None
    return found[0] if found else None


def _weights(rule):
    """{target group ARN: weight} of the rule's forward."""
    for a in rule.actions:
        groups = (a.data.get("ForwardConfig") or {}).get("TargetGroups") or []
        if groups:
            return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
    return {}


def _set_weights(d, new_percent):
    """Put `new_percent` of the production rule's traffic on the deployment's new target
    group and the rest on the production one (as ECS does through its infrastructure role)."""
    shift = d["shift"]
    rule = _rule(shift["rule"], shift["account"], shift["region"])
    if rule is None:
        return
    weights = {shift["prod"]: 100 - new_percent, shift["new"]: new_percent}
    for a in rule.actions:
        fc = a.data.get("ForwardConfig")
        if not fc or not fc.get("TargetGroups"):
            continue
        for g in fc["TargetGroups"]:
            if g["TargetGroupArn"] in weights:
                g["Weight"] = weights[g["TargetGroupArn"]]
        a.__dict__.update(a.data)


def _shift_plan(service):
    """What a CANARY or BLUE_GREEN deployment of the service does to its production rule:
    the rule, which target group is production now, which gets the new revision, and the
    stages (name, seconds, percent on the new group); None for other deployments."""
    dc = getattr(service, "deployment_configuration", None) or {}
    strategy = dc.get("strategy")
    if strategy not in ("CANARY", "BLUE_GREEN"):
        return None
    lb = next((l for l in service.load_balancers or [] if l.get("advancedConfiguration")), None)
    if lb is None:
        return None
    adv = lb["advancedConfiguration"]
    rule = _rule(adv.get("productionListenerRule"), service._account_id, service.region_name)
    if rule is None:
        return None
    pair = [lb.get("targetGroupArn"), adv.get("alternateTargetGroupArn")]
    w = _weights(rule)
    prod = max(pair, key=lambda t: w.get(t, 0))
    new = pair[1] if prod == pair[0] else pair[0]
    s = _stage_seconds()
    bake = max(float(dc.get("bakeTimeInMinutes") or 0) * s, s)
    if strategy == "CANARY":
        canary = dc.get("canaryConfiguration") or {}
        percent = int(round(float(canary.get("canaryPercent") or 10)))
        canary_bake = max(float(canary.get("canaryBakeTimeInMinutes") or 0) * s, s)
        stages = [("SCALE_UP", s, 0), ("PRODUCTION_TRAFFIC_SHIFT", canary_bake, percent),
                  ("BAKE_TIME", bake, 100), ("CLEAN_UP", s, 100)]
    else:
        stages = [("SCALE_UP", s, 0), ("PRODUCTION_TRAFFIC_SHIFT", s, 100),
                  ("BAKE_TIME", bake, 100), ("CLEAN_UP", s, 100)]
    alarms = dc.get("alarms") or {}
    watched = list(alarms.get("alarmNames") or []) if alarms.get("enable") and alarms.get("rollback") else []
    return {"rule": rule.arn, "prod": prod, "new": new, "stages": stages, "alarms": watched,
            "account": service._account_id, "region": service.region_name, "percent": None}


def _alarm_firing(shift):
    """The first watched alarm in ALARM in moto's CloudWatch, or None."""
    try:
        cw = cw_models.cloudwatch_backends[shift["account"]][shift["region"]]
    except Exception:
        return None
    for name in shift["alarms"]:
        alarm = cw.alarms.get(name)
        if alarm is not None and alarm.state_value == "ALARM":
            return name
    return None


def _advance_shift(d, now):
    """A traffic-shifting deployment along its stages: weights set as each stage starts, and
    a rollback (stopAt) when a watched alarm fires during the shift or the bake. True when the
    deployment finished its stages (the caller marks it SUCCESSFUL)."""
    shift = d["shift"]
    t = now - d["createdAt"]
    start = 0.0
    for name, length, percent in shift["stages"]:
        if t < start + length:
            if name in ("PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME"):
                if shift["percent"] != percent:
                    _set_weights(d, percent)
                    shift["percent"] = percent
                fired = _alarm_firing(shift)
                if fired is not None:
                    d["stopAt"] = now
                    d["stopReason"] = f"Alarm {fired} is in ALARM: rolling the deployment back."
                    d["triggered"] = [fired]
                    d["status"] = "ROLLBACK_IN_PROGRESS"
                    return False
            d["status"] = "IN_PROGRESS"
            d["lifecycleStage"] = name
            d["updatedAt"] = d["createdAt"] + start
            return False
        if percent and shift["percent"] != percent:
            _set_weights(d, percent)
            shift["percent"] = percent
        start += length
    return True


def _rollout(service, state, task_definition=None):
    """The PRIMARY deployment DescribeServices reports follows the service deployment; tasks
    that have not started (MOTO_ECS_SERVICE_RUNNING) keep it IN_PROGRESS."""
    if state == "COMPLETED" and int(service.running_count or 0) < int(service.desired_count or 0):
        state = "IN_PROGRESS"
    for dep in service.deployments:
        if dep.get("status") == "PRIMARY":
            dep["rolloutState"] = state
            if task_definition:
                dep["taskDefinition"] = task_definition


def _advance(backend, service, d, now):
    """Move a deployment along the clock; apply what its end does to the service."""
    if d["status"] not in RUNNING:
        return
    _rollout(service, "IN_PROGRESS")
    s = _stage_seconds()
    t = now - d["createdAt"]
    if d["fails"] and d["stopAt"] is None:
        d["stopAt"] = d["createdAt"] + s
        d["stopReason"] = "ECS deployment circuit breaker: tasks failed to start."
        d["breaker"] = True
    if d["stopAt"] is not None and now >= d["stopAt"]:
        if d.get("shift") and d["shift"]["percent"] != 0:
            _set_weights(d, 0)
            d["shift"]["percent"] = 0
        d["lifecycleStage"] = "CLEAN_UP"
        if now < d["stopAt"] + s:
            d["status"] = "ROLLBACK_IN_PROGRESS"
            d["statusReason"] = d["stopReason"]
            return
        d["finishedAt"] = d["updatedAt"] = d["stopAt"] + s
        d["statusReason"] = d["stopReason"]
        if d["source"] is None:
            d["status"] = "ROLLBACK_FAILED"
            _rollout(service, "FAILED")
            return
        d["status"] = "ROLLBACK_SUCCESSFUL"
        d["rollback"] = {
            "reason": d["stopReason"],
            "startedAt": d["stopAt"],
            "serviceRevisionArn": d["source"],
        }
        back = _revisions[d["source"]]["taskDefinition"]
        service.task_definition = back
        _rollout(service, "COMPLETED", back)
        service._shim_serving = d["source"]
        return
    if d["stopAt"] is not None and not d.get("breaker"):
        d["status"] = "ROLLBACK_REQUESTED"
        return
    if d.get("shift"):
        if not _advance_shift(d, now):
            if d["stopAt"] is not None:
                _advance(backend, service, d, now)
            return
        total = sum(length for _, length, _ in d["shift"]["stages"])
    else:
        stage = int(t / s) if s > 0 else len(STAGES)
        if stage < len(STAGES):
            d["status"] = "IN_PROGRESS"
            d["lifecycleStage"] = STAGES[stage]
            d["updatedAt"] = d["createdAt"] + stage * s
            return
        total = len(STAGES) * s
    d["status"] = "SUCCESSFUL"
    d["lifecycleStage"] = "CLEAN_UP"
    d["statusReason"] = "Service deployment completed successfully."
    d["finishedAt"] = d["updatedAt"] = d["createdAt"] + total
    _rollout(service, "COMPLETED")
    service._shim_serving = d["target"]


def _advance_service(backend, service):
    now = time.time()
    for d in _deployments.get(_key(service), []):
        _advance(backend, service, d, now)


def _summary(arn):
    rev = _revisions.get(arn) or {}
    return {"arn": arn, "requestedTaskCount": 0, "runningTaskCount": 0, "pendingTaskCount": 0} if rev else None


def _brief(d):
    out = {k: d[k] for k in ("serviceDeploymentArn", "serviceArn", "clusterArn", "startedAt", "createdAt", "status") if d.get(k) is not None}
    out["targetServiceRevisionArn"] = d["target"]
    for k in ("finishedAt", "statusReason"):
        if d.get(k) is not None:
            out[k] = d[k]
    return out


def _full(d):
    out = {k: d[k] for k in ("serviceDeploymentArn", "serviceArn", "clusterArn", "createdAt", "startedAt", "updatedAt", "finishedAt", "stoppedAt", "status", "statusReason", "lifecycleStage", "rollback", "deploymentConfiguration") if d.get(k) is not None}
    out["sourceServiceRevisions"] = [_summary(d["source"])] if d["source"] else []
    out["targetServiceRevision"] = _summary(d["target"])
    if d.get("breaker"):
        out["deploymentCircuitBreaker"] = {"status": "TRIGGERED", "failureCount": 3, "threshold": 3}
    if d.get("shift") and d["shift"]["alarms"]:
        done = d["status"] not in RUNNING
        out["alarms"] = {
            "status": "TRIGGERED" if d.get("triggered") else ("MONITORING_COMPLETE" if done else "MONITORING"),
            "alarmNames": d["shift"]["alarms"],
            "triggeredAlarmNames": d.get("triggered") or [],
        }
    return out


def _all_deployments(backend):
    """Every stored deployment with its service, advanced to now."""
    now = time.time()
    out = []
    for key, deps in _deployments.items():
        service = backend.services.get(f"{key[2]}:{key[3]}")
        for d in deps:
            if service is not None:
                _advance(backend, service, d, now)
            out.append(d)
    return out


_require = requirer("the ECS shim", "scripts/moto_ecs_shim.py")


def _advance_everything():
    """Every stored deployment of every account and region, advanced to now."""
    now = time.time()
    for key, deps in list(_deployments.items()):
        try:
            backend = ecs_models.ecs_backends[key[0]][key[1]]
        except KeyError:
            continue
        service = backend.services.get(f"{key[2]}:{key[3]}")
        if service is None:
            continue
        for d in list(deps):
            _advance(backend, service, d, now)


def _settle(service, run_all):
    """Run all the desired tasks (`run_all`), then bring the PRIMARY deployment in line."""
    for attr in ("desired_count", "running_count", "pending_count", "deployments", "task_definition"):
        if not hasattr(service, attr):
            raise ShimError(f"moto {moto.__version__}: ecs Service.{attr} is gone")
    desired = int(service.desired_count or 0)
    if run_all:
        service.running_count = desired
    service.pending_count = max(desired - int(service.running_count or 0), 0)
    for d in service.deployments:
        if d.get("status") != "PRIMARY":
            continue
        d["taskDefinition"] = service.task_definition
        d["desiredCount"] = desired
        d["runningCount"] = service.running_count
        d["pendingCount"] = service.pending_count
        done = service.running_count >= desired
        d["rolloutState"] = "COMPLETED" if done else "IN_PROGRESS"
        d["rolloutStateReason"] = f"ECS deployment {d.get('id')} {'completed' if done else 'in progress'}."


def apply():
    backend = _require(ecs_models, "EC2ContainerServiceBackend")
    response = _require(ecs_responses, "EC2ContainerServiceResponse")
    _require(backend, "_get_service")

    create_service = _require(backend, "create_service")

    def backend_create_service(self, *args, **kwargs):
        service = create_service(self, *args, **kwargs)
        _settle(service, run_all=not TASKS_STUCK)
        _deployments.pop(_key(service), None)
        if service.task_definition:
            _record(self, service, None)
        return service

    backend.create_service = backend_create_service

    update_service = _require(backend, "update_service")

    def backend_update_service(self, service_properties):
        cluster = service_properties.get("cluster", "default")
        name = (service_properties.get("service") or "").split("/")[-1]
        before = None
        try:
            prior = self._get_service(cluster, name)
            _advance_service(self, prior)
            before = prior.task_definition
        except Exception:
            pass
        service = update_service(self, service_properties)
        _settle(service, run_all=not TASKS_STUCK)
        if service.task_definition and service.task_definition != before:
            _record(self, service, before)
        return service

    backend.update_service = backend_update_service

    respond_create = _require(response, "create_service")

    def respond_create_service(self):
        result = respond_create(self)
        service = self.ecs_backend._get_service(
            self._get_param("cluster", "default"), self._get_param("serviceName")
        )
        deployment = self._get_param("deploymentConfiguration")
        if deployment is not None:
            service.deployment_configuration = deployment
        grace = self._get_param("healthCheckGracePeriodSeconds")
        if grace is not None:
            service.health_check_grace_period_seconds = int(grace)
        return result

    response.create_service = respond_create_service

    describe_services = _require(backend, "describe_services")

    def backend_describe_services(self, cluster_str, names):
        services, failures = describe_services(self, cluster_str, names)
        for service in services:
            _advance_service(self, service)
        return services, failures

    backend.describe_services = backend_describe_services

    def list_service_deployments(self):
        cluster = self._get_param("cluster") or "default"
        cluster = cluster.split("/")[-1]
        name = (self._get_param("service") or "").split("/")[-1]
        statuses = self._get_param("status") or []
        found = [
            d for d in _all_deployments(self.ecs_backend)
            if d["clusterArn"].split("/")[-1] == cluster
            and d["serviceArn"].split("/")[-1] == name
            and (not statuses or d["status"] in statuses)
        ]
        found.sort(key=lambda d: d["createdAt"], reverse=True)
        start = int(self._get_param("nextToken") or 0)
        size = int(self._get_param("maxResults") or 20)
        page = found[start:start + size]
        out = {"serviceDeployments": [_brief(d) for d in page]}
        if start + size < len(found):
            out["nextToken"] = str(start + size)
        return json.dumps(out)

    def describe_service_deployments(self):
        arns = self._get_param("serviceDeploymentArns") or []
        by_arn = {d["serviceDeploymentArn"]: d for d in _all_deployments(self.ecs_backend)}
        return json.dumps({
            "serviceDeployments": [_full(by_arn[a]) for a in arns if a in by_arn],
            "failures": [{"arn": a, "reason": "MISSING"} for a in arns if a not in by_arn],
        })

    def describe_service_revisions(self):
        arns = self._get_param("serviceRevisionArns") or []
        return json.dumps({
            "serviceRevisions": [_revisions[a] for a in arns if a in _revisions],
            "failures": [{"arn": a, "reason": "MISSING"} for a in arns if a not in _revisions],
        })

    def stop_service_deployment(self):
        arn = self._get_param("serviceDeploymentArn")
        stop = self._get_param("stopType") or "ROLLBACK"
        if stop != "ROLLBACK":
            raise ecs_exceptions.InvalidParameterException(f"stopType {stop} is not supported: use ROLLBACK")
        by_arn = {d["serviceDeploymentArn"]: d for d in _all_deployments(self.ecs_backend)}
        d = by_arn.get(arn)
        if d is None:
            raise ecs_exceptions.ECSException("ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist.")
        if d["status"] not in ("PENDING", "IN_PROGRESS"):
            raise ecs_exceptions.ECSException("ConflictException", f"The service deployment {arn} is {d['status']}: only a running deployment can be stopped.")
        d["stopAt"] = time.time()
        d["stopReason"] = "Rollback requested by StopServiceDeployment."
        d["status"] = "ROLLBACK_REQUESTED"
        d["updatedAt"] = d["stopAt"]
        return json.dumps({"serviceDeploymentArn": arn})

    describe_task_definition = _require(backend, "describe_task_definition")
    _require(ecs_exceptions, "TaskDefinitionNotFoundException")

    def backend_describe_task_definition(self, task_definition_str):
        name = task_definition_str.split("/")[-1]
        if ":" in name:
            return describe_task_definition(self, task_definition_str)
        revisions = self.task_definitions.get(name) or {}
        active = [r for r, td in revisions.items() if getattr(td, "status", "ACTIVE") == "ACTIVE"]
        if not active:
            raise ecs_exceptions.TaskDefinitionNotFoundException()
        return describe_task_definition(self, f"{name}:{max(active)}")

    backend.describe_task_definition = backend_describe_task_definition

    cw_backend = _require(cw_models, "CloudWatchBackend")
    set_alarm_state = _require(cw_backend, "set_alarm_state")
    _require(elbv2_models, "elbv2_backends")
    _require(cw_models, "cloudwatch_backends")
    elbv2_backend = _require(elbv2_models, "ELBv2Backend")
    global _describe_rules
    _describe_rules = _require(elbv2_backend, "describe_rules")

    def backend_set_alarm_state(self, *args, **kwargs):
        result = set_alarm_state(self, *args, **kwargs)
        _advance_everything()
        return result

    cw_backend.set_alarm_state = backend_set_alarm_state

    def backend_describe_rules(self, listener_arn, rule_arns):
        _advance_everything()
        return _describe_rules(self, listener_arn, rule_arns)

    elbv2_backend.describe_rules = backend_describe_rules

    for name, f in [
        ("list_service_deployments", list_service_deployments),
        ("describe_service_deployments", describe_service_deployments),
        ("describe_service_revisions", describe_service_revisions),
        ("stop_service_deployment", stop_service_deployment),
    ]:
        if hasattr(response, name):
            raise ShimError(f"moto {moto.__version__}: ECS {name} exists now; the shim's would replace it")
        setattr(response, name, f)
