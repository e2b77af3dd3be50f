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
Every patched name is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
import os

import moto
import moto.ecs.models as ecs_models
import moto.ecs.responses as ecs_responses

# Set in the emulator's environment: tasks do not start by themselves (moto's own behaviour).
TASKS_STUCK = "MOTO_ECS_SERVICE_RUNNING" in os.environ


class ShimError(RuntimeError):
    pass


def _require(owner, name):
    if not hasattr(owner, name):
        raise ShimError(
            f"moto {moto.__version__}: {getattr(owner, '__name__', owner)}.{name} is gone; "
            "the ECS shim in scripts/moto_ecs_shim.py needs updating"
        )
    return getattr(owner, name)


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
        return service

    backend.create_service = backend_create_service

    update_service = _require(backend, "update_service")

    def backend_update_service(self, service_properties):
        service = update_service(self, service_properties)
        _settle(service, run_all=not TASKS_STUCK)
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
