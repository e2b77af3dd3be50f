//! Network expansion (Spec → Desired) and the content-derived ids of rules and routes.

use std::collections::BTreeSet;

use super::*;
use crate::plan::Action;
use crate::testutil::{get, parse_as, try_diff, DEV_2AZ};

fn dev() -> Vec<Resource> {
    expand(&parse_as("dev", DEV_2AZ))
}

fn dev_with(nat: &str, az_count: usize) -> Vec<Resource> {
    let text = DEV_2AZ
        .replace("nat = \"single\"", &format!("nat = \"{nat}\""))
        .replace("az_count = 2", &format!("az_count = {az_count}"))
        .lines()
        .filter(|l| !l.contains("_subnets"))
        .collect::<Vec<_>>()
        .join("\n");
    expand(&parse_as("dev", &text))
}

fn ids_of_kind(rs: &[Resource], kind: &str) -> Vec<String> {
    let mut v: Vec<String> = rs
        .iter()
        .filter(|r| r.id.kind == kind)
        .map(|r| r.id.to_string())
        .collect();
    v.sort();
    v
}

fn reference(r: &Resource, key: &str) -> String {
    match r.props.get(key) {
        Some(Value::Ref(rf)) => format!("{}.{}", rf.resource, rf.attr),
        other => panic!("{}: {key} is not a reference: {other:?}", r.id),
    }
}

fn rid(s: &str) -> ResourceId {
    s.parse().unwrap()
}

#[test]
fn rule_names_are_their_content() {
    for ((group, egress, proto, from, to, peer), want) in [
        (
            ("app", false, "tcp", 3000, 3000, "alb"),
            "app-in-tcp-3000-alb",
        ),
        (
            ("alb", false, "tcp", 443, 443, "0.0.0.0/0"),
            "alb-in-tcp-443-0.0.0.0_0",
        ),
        (
            ("alb", true, "-1", -1, -1, "0.0.0.0/0"),
            "alb-out-all-0.0.0.0_0",
        ),
        (
            ("app", false, "tcp", 8000, 8100, "10.0.0.0/8"),
            "app-in-tcp-8000-8100-10.0.0.0_8",
        ),
        (
            ("app", true, "udp", 53, 53, "sg-123"),
            "app-out-udp-53-sg-123",
        ),
    ] {
        assert_eq!(rule_name(group, egress, proto, from, to, peer), want);
    }
}

#[test]
fn route_names_use_default_or_the_sanitised_cidr() {
    assert_eq!(route_name("public", "0.0.0.0/0"), "public-default");
    assert_eq!(route_name("private-a", "0.0.0.0/0"), "private-a-default");
    assert_eq!(
        route_name("private-a", "10.20.0.0/16"),
        "private-a-10.20.0.0_16"
    );
}

#[test]
fn protocols_normalise_to_what_the_spec_writes() {
    assert_eq!(normalise_protocol("6"), "tcp");
    assert_eq!(normalise_protocol("17"), "udp");
    assert_eq!(normalise_protocol("1"), "icmp");
    assert_eq!(normalise_protocol("all"), "-1");
    assert_eq!(normalise_protocol("-1"), "-1");
    assert_eq!(normalise_protocol("TCP"), "tcp");
}

#[test]
fn dev_expands_to_the_expected_resources() {
    let rs = dev();
    let ids: BTreeSet<String> = rs.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(ids.len(), rs.len(), "ids are unique");
    let expected: BTreeSet<String> = [
        "vpc/main",
        "igw/main",
        "subnet/public-a",
        "subnet/public-b",
        "subnet/private-a",
        "subnet/private-b",
        "route_table/public",
        "route_table/private-a",
        "route_table/private-b",
        "route/public-default",
        "route/private-a-default",
        "route/private-b-default",
        "rta/public-a",
        "rta/public-b",
        "rta/private-a",
        "rta/private-b",
        "eip/nat-a",
        "nat/a",
        "sg/alb",
        "sg/app",
        "sg/docdb",
        "sg/redis",
        "sg_rule/alb-in-tcp-80-0.0.0.0_0",
        "sg_rule/alb-in-tcp-443-0.0.0.0_0",
        "sg_rule/app-in-tcp-3000-alb",
        "sg_rule/docdb-in-tcp-27017-app",
        "sg_rule/redis-in-tcp-6379-app",
        "sg_rule/alb-out-all-0.0.0.0_0",
        "sg_rule/app-out-all-0.0.0.0_0",
        "sg_rule/docdb-out-all-0.0.0.0_0",
        "sg_rule/redis-out-all-0.0.0.0_0",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(ids, expected);
    // Every kind has a schema.
    for r in &rs {
        assert!(crate::reconcile::schema(&r.id.kind).is_some(), "{}", r.id);
    }
}

#[test]
fn vpc_and_subnets_carry_the_spec_values() {
    let rs = dev();
    let vpc = get(&rs, "vpc/main");
    assert_eq!(vpc.name, "rtech-dev-vpc");
    assert_eq!(vpc.get_str("cidr_block"), Some("10.10.0.0/20"));
    assert_eq!(vpc.props["enable_dns_support"], Value::Bool(true));
    assert_eq!(vpc.props["enable_dns_hostnames"], Value::Bool(true));

    for (id, cidr, az, public) in [
        ("subnet/public-a", "10.10.0.0/24", "us-east-1a", true),
        ("subnet/public-b", "10.10.1.0/24", "us-east-1b", true),
        ("subnet/private-a", "10.10.8.0/23", "us-east-1a", false),
        ("subnet/private-b", "10.10.10.0/23", "us-east-1b", false),
    ] {
        let s = get(&rs, id);
        assert_eq!(s.get_str("cidr_block"), Some(cidr), "{id}");
        assert_eq!(s.get_str("availability_zone"), Some(az), "{id}");
        assert_eq!(
            s.props["map_public_ip_on_launch"],
            Value::Bool(public),
            "{id}"
        );
        assert_eq!(reference(s, "vpc_id"), "vpc/main.id");
        assert!(s.deps.contains(&rid("vpc/main")));
    }
    assert_eq!(get(&rs, "subnet/private-b").name, "rtech-dev-private-b");
}

#[test]
fn routing_wires_tables_associations_and_gateways() {
    let rs = dev();
    assert_eq!(reference(get(&rs, "igw/main"), "vpc_id"), "vpc/main.id");
    let public = get(&rs, "route/public-default");
    assert_eq!(reference(public, "route_table_id"), "route_table/public.id");
    assert_eq!(public.get_str("destination_cidr_block"), Some("0.0.0.0/0"));
    assert_eq!(reference(public, "gateway_id"), "igw/main.id");
    assert_eq!(public.props["nat_gateway_id"], Value::Null);

    for s in ["a", "b"] {
        let rta = get(&rs, &format!("rta/public-{s}"));
        assert_eq!(reference(rta, "route_table_id"), "route_table/public.id");
        assert_eq!(reference(rta, "subnet_id"), format!("subnet/public-{s}.id"));
        let rta = get(&rs, &format!("rta/private-{s}"));
        assert_eq!(
            reference(rta, "route_table_id"),
            format!("route_table/private-{s}.id")
        );
        assert_eq!(
            reference(rta, "subnet_id"),
            format!("subnet/private-{s}.id")
        );
    }

    let eip = get(&rs, "eip/nat-a");
    assert_eq!(eip.get_str("domain"), Some("vpc"));
    assert!(
        eip.deps.contains(&rid("igw/main")),
        "EIPs are released before the IGW detaches"
    );
    let nat = get(&rs, "nat/a");
    assert_eq!(reference(nat, "subnet_id"), "subnet/public-a.id");
    assert_eq!(reference(nat, "allocation_id"), "eip/nat-a.allocation_id");
    assert!(nat.deps.contains(&rid("igw/main")));
}

fn private_route_targets(rs: &[Resource]) -> Vec<(String, String)> {
    rs.iter()
        .filter(|r| r.id.kind == ROUTE && r.id.name.starts_with("private-"))
        .map(|r| {
            assert_eq!(r.props["gateway_id"], Value::Null, "{}", r.id);
            assert_eq!(r.get_str("destination_cidr_block"), Some("0.0.0.0/0"));
            (r.id.to_string(), reference(r, "nat_gateway_id"))
        })
        .collect()
}

#[test]
fn nat_single_is_one_gateway_shared_by_every_private_subnet() {
    let rs = dev_with("single", 3);
    assert_eq!(ids_of_kind(&rs, NAT), ["nat/a"]);
    assert_eq!(ids_of_kind(&rs, EIP), ["eip/nat-a"]);
    assert_eq!(
        private_route_targets(&rs),
        [
            (
                "route/private-a-default".to_string(),
                "nat/a.id".to_string()
            ),
            (
                "route/private-b-default".to_string(),
                "nat/a.id".to_string()
            ),
            (
                "route/private-c-default".to_string(),
                "nat/a.id".to_string()
            ),
        ]
    );
}

#[test]
fn nat_one_per_az_routes_each_private_subnet_to_its_own() {
    let rs = dev_with("one_per_az", 3);
    assert_eq!(ids_of_kind(&rs, NAT), ["nat/a", "nat/b", "nat/c"]);
    assert_eq!(
        ids_of_kind(&rs, EIP),
        ["eip/nat-a", "eip/nat-b", "eip/nat-c"]
    );
    assert_eq!(
        private_route_targets(&rs),
        [
            (
                "route/private-a-default".to_string(),
                "nat/a.id".to_string()
            ),
            (
                "route/private-b-default".to_string(),
                "nat/b.id".to_string()
            ),
            (
                "route/private-c-default".to_string(),
                "nat/c.id".to_string()
            ),
        ]
    );
    assert_eq!(
        reference(get(&rs, "nat/c"), "subnet_id"),
        "subnet/public-c.id"
    );
    assert_eq!(
        reference(get(&rs, "nat/c"), "allocation_id"),
        "eip/nat-c.allocation_id"
    );
}

#[test]
fn nat_none_has_no_gateway_and_no_private_default_route() {
    let rs = dev_with("none", 2);
    assert!(ids_of_kind(&rs, NAT).is_empty());
    assert!(ids_of_kind(&rs, EIP).is_empty());
    assert_eq!(ids_of_kind(&rs, ROUTE), ["route/public-default"]);
    // The private tables and their associations are still there.
    assert_eq!(
        ids_of_kind(&rs, ROUTE_TABLE),
        [
            "route_table/private-a",
            "route_table/private-b",
            "route_table/public"
        ]
    );
    assert_eq!(ids_of_kind(&rs, RTA).len(), 4);
}

#[test]
fn security_groups_and_rules() {
    let rs = dev();
    assert_eq!(
        ids_of_kind(&rs, SG),
        ["sg/alb", "sg/app", "sg/docdb", "sg/redis"]
    );
    let app = get(&rs, "sg/app");
    assert_eq!(app.get_str("group_name"), Some("rtech-dev-app"));
    assert_eq!(
        app.get_str("description"),
        Some("rtech dev: application tasks: the container port from the load balancer")
    );
    assert_eq!(reference(app, "vpc_id"), "vpc/main.id");

    let https = get(&rs, "sg_rule/alb-in-tcp-443-0.0.0.0_0");
    assert_eq!(reference(https, "group_id"), "sg/alb.id");
    assert_eq!(https.get_str("direction"), Some("ingress"));
    assert_eq!(https.get_str("protocol"), Some("tcp"));
    assert_eq!(
        (
            https.props["from_port"].as_int(),
            https.props["to_port"].as_int()
        ),
        (Some(443), Some(443))
    );
    assert_eq!(https.get_str("cidr_ipv4"), Some("0.0.0.0/0"));
    assert_eq!(https.get_str("description"), Some("HTTPS from 0.0.0.0/0"));
    assert!(!https.props.contains_key("referenced_group_id"));

    let app_in = get(&rs, "sg_rule/app-in-tcp-3000-alb");
    assert_eq!(reference(app_in, "group_id"), "sg/app.id");
    assert_eq!(reference(app_in, "referenced_group_id"), "sg/alb.id");
    assert!(!app_in.props.contains_key("cidr_ipv4"));
    assert_eq!(app_in.props["from_port"], Value::Int(3000));
    assert_eq!(app_in.deps, BTreeSet::from([rid("sg/app"), rid("sg/alb")]));

    let egress = get(&rs, "sg_rule/alb-out-all-0.0.0.0_0");
    assert_eq!(egress.get_str("direction"), Some("egress"));
    assert_eq!(egress.get_str("protocol"), Some("-1"));
    assert_eq!(
        (
            egress.props["from_port"].as_int(),
            egress.props["to_port"].as_int()
        ),
        (Some(-1), Some(-1))
    );
    // AWS's default egress rule has no description: the spec matches it.
    assert_eq!(egress.props["description"], Value::Null);
}

#[test]
fn app_port_and_alb_ingress_cidrs_shape_the_rules() {
    let text = DEV_2AZ.replace(
        "[network]",
        "[network]\napp_port = 8080\nalb_ingress_cidrs = [\"203.0.113.0/24\", \"198.51.100.0/24\"]",
    );
    let rs = expand(&parse_as("dev", &text));
    let rules = ids_of_kind(&rs, SG_RULE);
    assert!(
        rules.contains(&"sg_rule/app-in-tcp-8080-alb".to_string()),
        "{rules:?}"
    );
    for cidr in ["203.0.113.0_24", "198.51.100.0_24"] {
        for port in [80, 443] {
            assert!(
                rules.contains(&format!("sg_rule/alb-in-tcp-{port}-{cidr}")),
                "{rules:?}"
            );
        }
    }
    assert!(
        !rules
            .iter()
            .any(|r| r.starts_with("sg_rule/alb-in-") && r.ends_with("0.0.0.0_0")),
        "{rules:?}"
    );
    assert_eq!(rules.len(), 4 + 3 + 4);
}

#[test]
fn taggable_resources_are_tagged_with_ownership_and_name() {
    let rs = dev();
    let mut tagged = 0;
    for r in &rs {
        match r.id.kind.as_str() {
            ROUTE | RTA | SG_RULE => {
                assert!(!r.props.contains_key("tags"), "{} cannot carry tags", r.id);
                assert_eq!(r.name, "", "{}", r.id);
            }
            _ => {
                tagged += 1;
                let tags = r
                    .props
                    .get("tags")
                    .and_then(Value::as_map)
                    .unwrap_or_else(|| panic!("{} has no tags", r.id));
                let t = |k: &str| tags.get(k).and_then(Value::as_str);
                assert_eq!(t("rtech:project"), Some("rtech"), "{}", r.id);
                assert_eq!(t("rtech:env"), Some("dev"), "{}", r.id);
                assert_eq!(t("rtech:id"), Some(r.id.to_string().as_str()));
                assert_eq!(t("Name"), Some(r.name.as_str()), "{}", r.id);
                assert!(r.name.starts_with("rtech-dev-"), "{}: {}", r.id, r.name);
                assert_eq!(
                    t("Environment"),
                    Some("development"),
                    "the spec's extra tags, {}",
                    r.id
                );
                assert_eq!(tags.len(), 5, "{}: {tags:?}", r.id);
            }
        }
    }
    // vpc, igw, 4 subnets, 3 route tables, eip, nat, 4 security groups.
    assert_eq!(tagged, 15);
}

#[test]
fn expansion_diffs_cleanly_against_an_empty_account() {
    let rs = crate::reconcile::expand(&parse_as("dev", DEV_2AZ));
    let plan = try_diff("dev", &rs, &[], false)
        .expect("every dependency is in the expansion and there is no cycle");
    assert_eq!(plan.changes.len(), rs.len());
    assert!(plan.changes.iter().all(|c| c.action == Action::Create));
    let pos = |id: &str| {
        plan.changes
            .iter()
            .position(|c| c.id.to_string() == id)
            .unwrap()
    };
    assert!(pos("vpc/main") < pos("subnet/public-a"));
    assert!(pos("eip/nat-a") < pos("nat/a"));
    assert!(pos("nat/a") < pos("route/private-b-default"));
    assert!(pos("sg/alb") < pos("sg_rule/app-in-tcp-3000-alb"));
}

#[test]
fn expansion_is_deterministic() {
    assert_eq!(dev(), dev());
}

#[test]
fn a_live_rule_normalises_to_the_props_and_id_expand_gives_it() {
    use aws_sdk_ec2::types::{ReferencedSecurityGroup, SecurityGroupRule};
    let live = SecurityGroupRule::builder()
        .group_id("sg-app")
        .is_egress(false)
        .ip_protocol("6")
        .from_port(3000)
        .to_port(3000)
        .referenced_group_info(
            ReferencedSecurityGroup::builder()
                .group_id("sg-alb")
                .build(),
        )
        .description("port 3000 from the alb security group")
        .security_group_rule_id("sgr-1")
        .build();
    let (id, props) = rule::observed(
        &live,
        &rid("sg/app"),
        Some(&rid("sg/alb")),
        &Default::default(),
    );
    assert_eq!(id, rid("sg_rule/app-in-tcp-3000-alb"));
    let rs = dev();
    let want: rule::RuleProps = kit::from_props(&get(&rs, &id.to_string()).props).unwrap();
    assert_eq!(
        rule::RuleProps {
            group_id: want.group_id.clone(),
            referenced_group_id: want.referenced_group_id.clone(),
            ..props.clone()
        },
        want
    );
    assert_eq!(props.group_id, kit::Link::from("sg-app"));
    assert_eq!(
        kit::round_trip::<rule::RuleProps>(&kit::to_props(&props)).unwrap(),
        kit::to_props(&props)
    );
}

#[test]
fn with_cloudfront_the_alb_admits_443_only_from_the_origin_facing_prefix_list() {
    let rs = expand(&crate::testutil::env_spec("prod"));
    let alb_in: Vec<String> = ids_of_kind(&rs, SG_RULE)
        .into_iter()
        .filter(|i| i.starts_with("sg_rule/alb-in-"))
        .collect();
    assert_eq!(alb_in, vec!["sg_rule/alb-in-tcp-443-pl-origin-facing"]);
    let r = get(&rs, &alb_in[0]);
    let p: rule::RuleProps = kit::from_props(&r.props).unwrap();
    assert_eq!(
        p.prefix_list_name.as_deref(),
        Some(CLOUDFRONT_ORIGIN_FACING)
    );
    assert_eq!((p.from_port, p.to_port), (443, 443));
    assert_eq!(p.cidr_ipv4, None);
    assert_eq!(
        p.prefix_list_id, None,
        "the id is resolved at apply, never in the spec"
    );
    // Without CloudFront, today's rules from the spec's CIDRs stay.
    let dev_in: Vec<String> = ids_of_kind(&dev(), SG_RULE)
        .into_iter()
        .filter(|i| i.starts_with("sg_rule/alb-in-"))
        .collect();
    assert_eq!(
        dev_in,
        vec![
            "sg_rule/alb-in-tcp-443-0.0.0.0_0",
            "sg_rule/alb-in-tcp-80-0.0.0.0_0"
        ]
    );
}

#[test]
fn a_live_prefix_list_rule_observes_to_its_name_and_plans_nothing() {
    use aws_sdk_ec2::types::SecurityGroupRule;
    let live = SecurityGroupRule::builder()
        .group_id("sg-alb")
        .is_egress(false)
        .ip_protocol("tcp")
        .from_port(443)
        .to_port(443)
        .prefix_list_id("pl-123")
        .description("HTTPS from CloudFront")
        .security_group_rule_id("sgr-1")
        .build();
    let names = [("pl-123".to_string(), CLOUDFRONT_ORIGIN_FACING.to_string())].into();
    let (id, props) = rule::observed(&live, &rid("sg/alb"), None, &names);
    assert_eq!(id, rid("sg_rule/alb-in-tcp-443-pl-origin-facing"));
    assert_eq!(props.prefix_list_id.as_deref(), Some("pl-123"));
    let rs = expand(&crate::testutil::env_spec("prod"));
    let want: rule::RuleProps = kit::from_props(&get(&rs, &id.to_string()).props).unwrap();
    assert_eq!(
        rule::RuleProps {
            group_id: want.group_id.clone(),
            prefix_list_id: None,
            ..props.clone()
        },
        want
    );
    assert_eq!(
        kit::round_trip::<rule::RuleProps>(&kit::to_props(&props)).unwrap(),
        kit::to_props(&props)
    );
    // An unknown list keeps its id as its name (shown, and deleted as not desired).
    let (id, props) = rule::observed(&live, &rid("sg/alb"), None, &Default::default());
    assert_eq!(id, rid("sg_rule/alb-in-tcp-443-pl-123"));
    assert_eq!(props.prefix_list_name.as_deref(), Some("pl-123"));
}

fn dev_flow_logs(value: &str) -> crate::spec::Spec {
    let text = DEV_2AZ.replace(
        "nat = \"single\"",
        &format!("nat = \"single\"\nflow_logs = \"{value}\""),
    );
    parse_as("dev", &text)
}

#[test]
fn flow_logs_off_has_no_flow_log() {
    assert!(ids_of_kind(&expand(&dev_flow_logs("off")), FLOW_LOG).is_empty());
    assert!(ids_of_kind(&dev(), FLOW_LOG).is_empty());
}

#[test]
fn a_flow_log_records_the_vpc_to_its_group_with_its_role() {
    for (value, traffic) in [("reject", "REJECT"), ("all", "ALL")] {
        let rs = expand(&dev_flow_logs(value));
        assert_eq!(ids_of_kind(&rs, FLOW_LOG), ["flow_log/main"]);
        let fl = get(&rs, "flow_log/main");
        assert_eq!(reference(fl, "resource_id"), "vpc/main.id");
        assert_eq!(
            reference(fl, "log_group_name"),
            "log_group/vpc-flow-logs.name"
        );
        assert_eq!(
            reference(fl, "deliver_logs_permission_arn"),
            "iam_role/vpc-flow-logs.arn"
        );
        assert_eq!(fl.get_str("traffic_type"), Some(traffic));
        assert_eq!(fl.get_str("log_destination_type"), Some("cloud-watch-logs"));
        assert_eq!(fl.props["max_aggregation_interval"], Value::Int(600));
        let tags = crate::model::tags_of(&fl.props);
        assert_eq!(tags["rtech:id"], "flow_log/main");
        assert_eq!(tags["Name"], "rtech-dev-vpc-flow-log");
        // Created after the VPC, the group and the role: destroyed before them.
        for dep in [
            "vpc/main",
            "log_group/vpc-flow-logs",
            "iam_role/vpc-flow-logs",
        ] {
            assert!(fl.deps.contains(&rid(dep)), "{dep}: {:?}", fl.deps);
        }
    }
}

#[test]
fn the_whole_env_with_a_flow_log_plans_cleanly_and_a_traffic_change_is_a_replace() {
    let spec = dev_flow_logs("reject");
    let rs = crate::reconcile::expand(&spec);
    let plan = try_diff("dev", &rs, &[], false).expect("no missing dependency, no cycle");
    let pos = |id: &str| {
        plan.changes
            .iter()
            .position(|c| c.id.to_string() == id)
            .unwrap_or_else(|| panic!("{id} not planned"))
    };
    for before in [
        "vpc/main",
        "log_group/vpc-flow-logs",
        "iam_role/vpc-flow-logs",
    ] {
        assert!(pos(before) < pos("flow_log/main"), "{before}");
    }

    // The live flow log, as observe reads it, against the spec: no change; with the other
    // traffic type: a replace naming that field.
    use aws_sdk_ec2::types::{FlowLog, LogDestinationType, Tag, TrafficType};
    let fl = get(&rs, "flow_log/main");
    let live = |traffic: TrafficType| {
        let mut b = FlowLog::builder()
            .flow_log_id("fl-1")
            .resource_id("vpc-1")
            .traffic_type(traffic)
            .log_destination_type(LogDestinationType::CloudWatchLogs)
            .log_group_name("/vpc/rtech-dev/flow-logs")
            .deliver_logs_permission_arn("arn:aws:iam::1:role/rtech-dev-vpc-flow-logs")
            .max_aggregation_interval(600);
        for (k, v) in crate::model::tags_of(&fl.props) {
            b = b.tags(Tag::builder().key(k).value(v).build());
        }
        b.build()
    };
    let attrs = |rid_: &str, pairs: &[(&str, &str)]| {
        let mut o = Observed::new(rid(rid_), pairs[0].1);
        for (k, v) in pairs {
            o.attrs.insert(k.to_string(), v.to_string());
        }
        o
    };
    let others = vec![
        attrs("vpc/main", &[("id", "vpc-1")]),
        attrs(
            "log_group/vpc-flow-logs",
            &[("name", "/vpc/rtech-dev/flow-logs")],
        ),
        attrs(
            "iam_role/vpc-flow-logs",
            &[("arn", "arn:aws:iam::1:role/rtech-dev-vpc-flow-logs")],
        ),
    ];
    let only = vec![fl.clone()];
    let diff = |traffic: TrafficType| {
        let mut observed = others.clone();
        observed.push(flow_log::observed(
            rid("flow_log/main"),
            &live(traffic),
            Some(rid("vpc/main")),
        ));
        try_diff("dev", &only, &observed, false).unwrap()
    };
    let same = diff(TrafficType::Reject);
    let flow: Vec<_> = same
        .changes
        .iter()
        .filter(|c| c.id.kind == FLOW_LOG)
        .collect();
    assert!(flow.is_empty(), "{flow:?}");
    let changed = diff(TrafficType::All);
    let c = changed
        .changes
        .iter()
        .find(|c| c.id.kind == FLOW_LOG)
        .expect("a change of the flow log");
    assert_eq!(c.action, Action::Replace);
    let paths: Vec<&str> = c.fields.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["traffic_type"]);
}

#[test]
fn our_nat_gateways_stand_for_describe_addresses_only_when_they_hold_every_indexed_one() {
    use super::observe::addresses_from_nats;
    use crate::reconcile::kit::tag_index::TagIndex;
    use aws_sdk_ec2::types::{NatGateway, NatGatewayAddress};
    use std::collections::{BTreeMap, BTreeSet};
    let tags = |env: &str, id: &str| -> BTreeMap<String, String> {
        [
            ("rtech:project".to_string(), "rtech".to_string()),
            ("rtech:env".to_string(), env.to_string()),
            ("rtech:id".to_string(), id.to_string()),
        ]
        .into()
    };
    let eip = |alloc: &str| format!("arn:aws:ec2:us-east-1:1:elastic-ip/{alloc}");
    let index = TagIndex::from_pairs([
        (eip("eipalloc-a"), tags("prod", "eip/nat-a")),
        (eip("eipalloc-b"), tags("prod", "eip/nat-b")),
        (
            "arn:aws:ec2:us-east-1:1:natgateway/nat-1".to_string(),
            tags("prod", "nat_gateway/a"),
        ),
    ]);
    let nat = |allocs: &[(&str, &str)]| {
        let mut b = NatGateway::builder().nat_gateway_id("nat-1");
        for (a, ip) in allocs {
            b = b.nat_gateway_addresses(
                NatGatewayAddress::builder()
                    .allocation_id(*a)
                    .public_ip(*ip)
                    .build(),
            );
        }
        b.build()
    };
    let scope = ("rtech", "prod", "us-east-1");
    let ids = |names: &[&str]| -> BTreeSet<ResourceId> {
        names.iter().map(|n| n.parse().unwrap()).collect()
    };
    let both = [
        nat(&[("eipalloc-a", "1.2.3.4")]),
        nat(&[("eipalloc-b", "5.6.7.8")]),
    ];
    let got = addresses_from_nats(&index, scope, &both, &ids(&["eip/nat-a", "eip/nat-b"])).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].allocation_id(), Some("eipalloc-a"));
    assert_eq!(got[0].public_ip(), Some("1.2.3.4"));
    assert!(got[0]
        .tags()
        .iter()
        .any(|t| t.key() == Some("rtech:id") && t.value() == Some("eip/nat-a")));
    // An indexed address no NAT gateway holds (a leftover, or released since): the Describe.
    let one = [nat(&[("eipalloc-a", "1.2.3.4")])];
    assert!(addresses_from_nats(&index, scope, &one, &ids(&["eip/nat-a"])).is_none());
    // A wanted address the index does not list (to create, or tagged too recently).
    assert!(addresses_from_nats(&index, scope, &both, &ids(&["eip/nat-c"])).is_none());
    // An index listing none: the Describe finds what is left.
    assert!(addresses_from_nats(&index, ("rtech", "dev", "us-east-1"), &both, &ids(&[])).is_none());
}
