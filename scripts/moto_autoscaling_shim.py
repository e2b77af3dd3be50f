"""Application Auto Scaling shims for moto 5.2.5, applied by scripts/moto_server.py before the
server starts. What each fixes, the way Application Auto Scaling behaves on AWS:
- Scalable targets have no tags in moto: ListTagsForResource, TagResource and UntagResource
  answer HTTP 500 (not implemented), and RegisterScalableTarget accepts Tags and drops them.
  On AWS a scalable target (by its ScalableTargetARN) has tags: RegisterScalableTarget's Tags
  are stored when it creates the target (an existing target keeps its tags: those change
  through TagResource / UntagResource), and an ARN that names no target is
  ResourceNotFoundException.
- DeregisterScalableTarget leaves the target's scaling policies behind; AWS deletes them (and
  the CloudWatch alarms of target-tracking policies) with the target.
- Deregistering a target or deleting a policy that does not exist is a ValidationException
  in moto; AWS answers ObjectNotFoundException.
- DescribeScalingActivities answers HTTP 500 (not implemented). moto never scales anything, so
  it has no activity to report: the shim answers AWS's empty list, for the ServiceNamespace
  AWS requires.
Every patched name is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
import json

import moto
import moto.applicationautoscaling.models as aas_models
import moto.applicationautoscaling.responses as aas_responses
from moto.core.exceptions import JsonRESTError


from moto_shimkit import requirer

class ObjectNotFound(JsonRESTError):
    def __init__(self, message):
        super().__init__("ObjectNotFoundException", message)


class ResourceNotFound(JsonRESTError):
    def __init__(self, arn):
        super().__init__("ResourceNotFoundException", f"No scalable target found for {arn}")


_require = requirer("the Application Auto Scaling shim", "scripts/moto_autoscaling_shim.py")


def _tags(target):
    """The tags of a scalable target (kept on moto's target object)."""
    return target.__dict__.setdefault("rtech_tags", {})


def _target_by_arn(backend, arn):
    for by_resource in backend.targets.values():
        for target in by_resource.values():
            if target.arn == arn:
                return target
    raise ResourceNotFound(arn)


def apply():
    backend = _require(aas_models, "ApplicationAutoscalingBackend")
    response = _require(aas_responses, "ApplicationAutoScalingResponse")
    policy_cls = _require(aas_models, "FakeApplicationAutoscalingPolicy")
    formulate_key = _require(policy_cls, "formulate_key")
    _require(policy_cls, "delete_alarms")
    target_exists = _require(backend, "_scalable_target_exists")

    # RegisterScalableTarget: Tags stored when the call creates the target.
    respond_register = _require(response, "register_scalable_target")

    def register_scalable_target(self):
        b = self.applicationautoscaling_backend
        r_id = self._get_param("ResourceId")
        dimension = self._get_param("ScalableDimension")
        existed = target_exists(b, r_id, dimension)
        body = respond_register(self)
        tags = self._get_param("Tags") or {}
        if not existed and tags:
            _tags(b.targets[dimension][r_id]).update(tags)
        return body

    response.register_scalable_target = register_scalable_target

    # The tag API, on a scalable target's ARN.
    def list_tags_for_resource(self):
        target = _target_by_arn(self.applicationautoscaling_backend, self._get_param("ResourceARN"))
        return json.dumps({"Tags": dict(_tags(target))})

    def tag_resource(self):
        target = _target_by_arn(self.applicationautoscaling_backend, self._get_param("ResourceARN"))
        _tags(target).update(self._get_param("Tags") or {})
        return json.dumps({})

    def untag_resource(self):
        target = _target_by_arn(self.applicationautoscaling_backend, self._get_param("ResourceARN"))
        for key in self._get_param("TagKeys") or []:
            _tags(target).pop(key, None)
        return json.dumps({})

    response.list_tags_for_resource = list_tags_for_resource
    response.tag_resource = tag_resource
    response.untag_resource = untag_resource

    # DeregisterScalableTarget: not found is ObjectNotFoundException, and the target's
    # policies (with their alarms) go with it.
    deregister = _require(backend, "deregister_scalable_target")

    def deregister_scalable_target(self, namespace, r_id, dimension):
        if not target_exists(self, r_id, dimension):
            raise ObjectNotFound(
                f"No scalable target registered for service namespace: {namespace}, "
                f"resource ID: {r_id}, scalable dimension: {dimension}"
            )
        deregister(self, namespace, r_id, dimension)
        for key, policy in list(self.policies.items()):
            if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (
                namespace,
                r_id,
                dimension,
            ):
                policy.delete_alarms(self.account_id, self.region_name)
                del self.policies[key]

    backend.deregister_scalable_target = deregister_scalable_target

    # DeleteScalingPolicy: not found is ObjectNotFoundException.
    delete_policy = _require(backend, "delete_scaling_policy")

    def delete_scaling_policy(self, policy_name, service_namespace, resource_id, scalable_dimension):
        key = formulate_key(service_namespace, resource_id, scalable_dimension, policy_name)
        if key not in self.policies:
            raise ObjectNotFound(
                f"No scaling policy found for service namespace: {service_namespace}, "
                f"resource ID: {resource_id}, scalable dimension: {scalable_dimension}, "
                f"policy name: {policy_name}"
            )
        return delete_policy(self, policy_name, service_namespace, resource_id, scalable_dimension)

    backend.delete_scaling_policy = delete_scaling_policy

    # DescribeScalingActivities: moto runs no scaling, so there is none to list.
    def describe_scaling_activities(self):
        if not self._get_param("ServiceNamespace"):
            raise JsonRESTError("ValidationException", "ServiceNamespace is required")
        return json.dumps({"ScalingActivities": []})

    response.describe_scaling_activities = describe_scaling_activities
