"""EC2 shim for moto 5.2.5, applied by scripts/moto_server.py before the server starts.
What it fixes, the way EC2 behaves:
- ClientToken (idempotency): moto ignores it. On AWS, CreateRouteTable and CreateNatGateway
  repeated with a token already used and the same parameters return the resource the first
  call made (no second one); the same token with other parameters is refused with
  `IdempotentParameterMismatch`. rtech sends a token per resource and apply, so the SDK's
  retry of a create whose response was lost does not make a duplicate. A token whose resource
  was deleted since starts afresh (rtech never reuses one across applies anyway).
- CreateFlowLogs' ClientToken: moto ignores it, so a retried create whose response was lost
  fails with `FlowLogAlreadyExists` (the first call made the flow log). On AWS the same token
  with the same parameters returns the flow log ids the first call made (and the token); with
  other parameters, `IdempotentParameterMismatch`. A token whose flow logs were all deleted
  since starts afresh.
- AssociateRouteTable: moto answers a second association of a subnet with the existing
  association's id, whatever the route table; EC2 refuses it with `Resource.AlreadyAssociated`
  (a subnet has one explicit association; ReplaceRouteTableAssociation moves it).
- Security group rules to a prefix list: moto drops the description given with the
  PrefixListId (AuthorizeSecurityGroupIngress/Egress), and DescribeSecurityGroupRules answers
  none; EC2 keeps and returns it, as for a CIDR rule.
Every patched name is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
import threading

import moto
import moto.ec2.exceptions as ec2_exceptions
import moto.ec2.responses.flow_logs as fl_responses
import moto.ec2.responses.nat_gateways as nat_responses
import moto.ec2.responses.route_tables as rt_responses


from moto_shimkit import requirer

_LOCK = threading.Lock()


_require = requirer("the EC2 shim", "scripts/moto_ec2_shim.py")


def _idempotent(cls, method, op, params, registry, key, id_attr):
    """Wrap the response handler `cls.method` (operation `op`): a repeated ClientToken with the
    same `params` answers the first call's resource, found in the backend's dict `registry`
    (its attribute name) under its id (`id_attr` of the result's `key`)."""
    original = _require(cls, method)
    error = _require(ec2_exceptions, "EC2ClientError")
    action_result = _require(rt_responses, "ActionResult")

    def patched(self):
        token = self._get_param("ClientToken")
        if not token:
            return original(self)
        backend = self.ec2_backend
        sig = tuple(self._get_param(p) for p in params)
        with _LOCK:
            tokens = backend.__dict__.setdefault("_rtech_client_tokens", {})
            seen = tokens.get((op, token))
            if seen is not None:
                first_sig, rid = seen
                resource = getattr(backend, registry).get(rid)
                if resource is not None:
                    if first_sig != sig:
                        raise error(
                            "IdempotentParameterMismatch",
                            f"The client token {token} was used with other parameters.",
                        )
                    return action_result({key: resource})
            result = original(self)
            tokens[(op, token)] = (sig, getattr(result.result[key], id_attr))
            return result

    setattr(cls, method, patched)


def _idempotent_flow_logs():
    """CreateFlowLogs answers FlowLogIds (a list), not one resource: its own wrapper."""
    cls = _require(fl_responses, "FlowLogs")
    original = _require(cls, "create_flow_logs")
    error = _require(ec2_exceptions, "EC2ClientError")
    action_result = _require(fl_responses, "ActionResult")
    params = (
        "ResourceType",
        "ResourceIds",
        "TrafficType",
        "LogDestinationType",
        "LogDestination",
        "LogGroupName",
        "DeliverLogsPermissionArn",
        "MaxAggregationInterval",
        "LogFormat",
    )

    def create_flow_logs(self):
        token = self._get_param("ClientToken")
        if not token:
            return original(self)
        backend = self.ec2_backend
        sig = repr(tuple(self._get_param(p) for p in params))
        with _LOCK:
            tokens = backend.__dict__.setdefault("_rtech_client_tokens", {})
            seen = tokens.get(("CreateFlowLogs", token))
            if seen is not None:
                first_sig, ids = seen
                if any(i in backend.flow_logs for i in ids):
                    if first_sig != sig:
                        raise error(
                            "IdempotentParameterMismatch",
                            f"The client token {token} was used with other parameters.",
                        )
                    return action_result(
                        {"FlowLogIds": ids, "Unsuccessful": [], "ClientToken": token}
                    )
            result = original(self)
            ids = list(result.result["FlowLogIds"])
            tokens[("CreateFlowLogs", token)] = (sig, ids)
            result.result["ClientToken"] = token
            return result

    cls.create_flow_logs = create_flow_logs


def _one_association_per_subnet():
    import moto.ec2.models.route_tables as rt_models

    backend = _require(rt_models, "RouteBackend")
    original = _require(backend, "associate_route_table")
    already = _require(ec2_exceptions, "ResourceAlreadyAssociatedError")

    def associate_route_table(self, route_table_id, gateway_id=None, subnet_id=None):
        if subnet_id is not None:
            for table in self.route_tables.values():
                if subnet_id in table._associations.values():
                    raise already(subnet_id)
        return original(self, route_table_id, gateway_id=gateway_id, subnet_id=subnet_id)

    backend.associate_route_table = associate_route_table


def _prefix_list_rule_descriptions():
    import moto.ec2.models.security_groups as sg_models

    rule = _require(sg_models, "SecurityGroupRule")
    init = _require(rule, "__init__")
    prop = _require(rule, "description")

    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        pl = kwargs.get("prefix_list_id")
        if pl is None and len(args) >= 8:
            pl = args[7]
        self._rtech_pl_description = (pl or {}).get("Description")

    def description(self):
        d = prop.fget(self)
        if d is None and self.prefix_list_id:
            return getattr(self, "_rtech_pl_description", None)
        return d

    rule.__init__ = __init__
    rule.description = property(description)


def apply():
    _prefix_list_rule_descriptions()
    _one_association_per_subnet()
    _idempotent_flow_logs()
    _idempotent(
        _require(rt_responses, "RouteTables"),
        "create_route_table",
        "CreateRouteTable",
        ("VpcId",),
        "route_tables",
        "RouteTable",
        "id",
    )
    _idempotent(
        _require(nat_responses, "NatGateways"),
        "create_nat_gateway",
        "CreateNatGateway",
        ("SubnetId", "AllocationId", "ConnectivityType"),
        "nat_gateways",
        "NatGateway",
        "id",
    )
