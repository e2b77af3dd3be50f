"""ELBv2 shim for moto 5.2.5, applied by scripts/moto_server.py before the server starts.
What it fixes, the way Elastic Load Balancing behaves:
- Load balancer names are unique per account and region. moto checks a new load balancer's
  ARN (which holds a random id) instead of its name, so a second CreateLoadBalancer with the
  same name makes a second load balancer. ELB answers a repeated create whose settings
  (scheme, type, IP address type, subnets, security groups) are the same with the existing
  load balancer, and refuses one with other settings with `DuplicateLoadBalancerName`. A
  create retried after a lost response meets the first case.
- A load balancer has at most one listener per port. moto compares the port with its
  listeners' ARNs, so a second CreateListener on a port makes a second listener there. ELB's
  CreateListener is idempotent: a repeated create with the same settings (here: protocol and
  certificate) answers the existing listener, one with other settings on that port is
  `DuplicateListener`. A create retried after a lost response meets the first case.
Every patched name is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
import inspect

import moto
import moto.elbv2.exceptions as elbv2_exceptions
import moto.elbv2.models as elbv2_models


from moto_shimkit import requirer

_require = requirer("the ELBv2 shim", "scripts/moto_elbv2_shim.py")


def apply():
    backend = _require(elbv2_models, "ELBv2Backend")
    create = _require(backend, "create_load_balancer")
    duplicate = _require(elbv2_exceptions, "DuplicateLoadBalancerName")

    def create_load_balancer(self, name, security_groups, subnet_ids, subnet_mappings=None,
                             scheme="internet-facing", loadbalancer_type=None,
                             ip_address_type="ipv4", tags=None):
        for lb in self.load_balancers.values():
            if lb.name != name:
                continue
            wanted_subnets = set(subnet_ids or []) | {m["SubnetId"] for m in subnet_mappings or []}
            same = (
                lb.scheme == scheme
                and lb.type == (loadbalancer_type or "application")
                and lb.ip_address_type == ip_address_type
                and {s.id for s in lb.subnets} == wanted_subnets
                and set(lb.security_groups or []) == set(security_groups or [])
            )
            if same:
                return lb
            raise duplicate()
        return create(self, name, security_groups, subnet_ids, subnet_mappings=subnet_mappings,
                      scheme=scheme, loadbalancer_type=loadbalancer_type,
                      ip_address_type=ip_address_type, tags=tags)

    backend.create_load_balancer = create_load_balancer

    create_listener = _require(backend, "create_listener")
    duplicate_listener = _require(elbv2_exceptions, "DuplicateListenerError")
    listener_args = inspect.signature(create_listener)

    def backend_create_listener(self, *args, **kwargs):
        a = listener_args.bind(self, *args, **kwargs).arguments
        balancer = self.load_balancers.get(a.get("load_balancer_arn"))
        if balancer is not None:
            for listener in balancer.listeners.values():
                if str(listener.port) != str(a.get("port")):
                    continue
                same = (
                    listener.protocol == (a.get("protocol") or "").upper()
                    and listener.certificate == a.get("certificate")
                )
                if same:
                    return listener
                raise duplicate_listener()
        return create_listener(self, *args, **kwargs)

    backend.create_listener = backend_create_listener
