//! Route 53: expansion for every record style, name normalisation, ownership classification,
//! change batches and error mapping (AWS errors the emulator never raises are injected).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_route53::types::ChangeAction;

use super::record::prior_json;
use super::*;
use crate::model::{tags_of, Ownership, TAG_ENV, TAG_ID, TAG_PROJECT};
use crate::plan::{Action, Plan};
use crate::testutil::{dev_spec, diff_of, only_update, parse_as};

const ZONE: &str = "Z0123456789ABC";

fn spec_with(edge: &str) -> Spec {
    let text = format!(
        "project = \"rtech\"\nenv = \"dev\"\nregion = \"us-east-1\"\n\n[network]\ncidr = \"10.0.0.0/16\"\n\n[ecr]\n[app]\n{edge}"
    );
    parse_as("dev", &text)
}

fn edge(www: &str, api: &str, cf: bool, create: bool) -> Spec {
    let mut s =
        format!("[edge]\ndomain = \"rtech.example.com\"\nwww = \"{www}\"\napi = \"{api}\"\n");
    if create {
        s.push_str("hosted_zone = \"create\"\n");
    }
    if cf {
        s.push_str("[edge.cloudfront]\n");
    }
    spec_with(&s)
}

fn ids(rs: &[Resource]) -> Vec<String> {
    let mut v: Vec<String> = rs.iter().map(|r| r.id.to_string()).collect();
    v.sort();
    v
}

fn find<'a>(rs: &'a [Resource], id: &str) -> &'a Resource {
    rs.iter()
        .find(|r| r.id.to_string() == id)
        .unwrap_or_else(|| panic!("{id} in {:?}", ids(rs)))
}

fn lb_ref(attr: &str) -> Value {
    Value::reference(&ResourceId::new("load_balancer", "main"), attr)
}

fn alb_alias() -> Value {
    alias_value(lb_ref("dns_name"), lb_ref("zone_id"))
}

fn cf_alias() -> Value {
    alias_value(
        Value::reference(&ResourceId::new("distribution", "main"), "domain_name"),
        Value::str(CLOUDFRONT_ZONE_ID),
    )
}

#[test]
fn no_edge_no_dns() {
    let spec = dev_spec("");
    assert!(expand(&spec).is_empty());
}

#[test]
fn expand_every_style_with_and_without_cloudfront_in_either_zone_mode() {
    let styles = ["cname", "alias", "none"];
    for create in [false, true] {
        for cf in [false, true] {
            for www in styles {
                for api in styles {
                    let ctx = format!("www={www} api={api} cf={cf} create={create}");
                    let rs = expand(&edge(www, api, cf, create));
                    let mut want: Vec<String> = vec![
                        "record/validation-apex".into(),
                        "record/validation-www".into(),
                        "record/validation-api".into(),
                        "record/apex-a".into(),
                    ];
                    if create {
                        want.push("hosted_zone/main".into());
                    }
                    if cf {
                        want.push("record/apex-aaaa".into());
                    }
                    match www {
                        "cname" => want.push("record/www-cname".into()),
                        "alias" => {
                            want.push("record/www-a".into());
                            if cf {
                                want.push("record/www-aaaa".into());
                            }
                        }
                        _ => {}
                    }
                    match api {
                        "cname" => want.push("record/api-cname".into()),
                        "alias" => want.push("record/api-a".into()), // never AAAA: the ALB is IPv4
                        _ => {}
                    }
                    want.sort();
                    assert_eq!(ids(&rs), want, "{ctx}");

                    let site = if cf { cf_alias() } else { alb_alias() };
                    let apex = find(&rs, "record/apex-a");
                    assert_eq!(apex.props["name"], Value::str("rtech.example.com"), "{ctx}");
                    assert_eq!(apex.props["alias"], site, "{ctx}");
                    assert!(!apex.props.contains_key("ttl"), "no TTL on an alias: {ctx}");
                    if cf {
                        assert_eq!(find(&rs, "record/apex-aaaa").props["alias"], site, "{ctx}");
                    }
                    if www == "cname" {
                        let r = find(&rs, "record/www-cname");
                        assert_eq!(r.props["name"], Value::str("www.rtech.example.com"));
                        assert_eq!(
                            r.props["values"],
                            Value::List(vec![Value::str("rtech.example.com")])
                        );
                        assert_eq!(r.props["ttl"], Value::Int(TTL));
                    }
                    if www == "alias" {
                        assert_eq!(find(&rs, "record/www-a").props["alias"], site, "{ctx}");
                    }
                    if api == "cname" {
                        let r = find(&rs, "record/api-cname");
                        let target = if cf {
                            lb_ref("dns_name")
                        } else {
                            Value::str("rtech.example.com")
                        };
                        assert_eq!(r.props["values"], Value::List(vec![target]), "{ctx}");
                    }
                    if api == "alias" {
                        assert_eq!(
                            find(&rs, "record/api-a").props["alias"],
                            alb_alias(),
                            "{ctx}"
                        );
                    }
                    for r in rs.iter().filter(|r| r.id.kind == RECORD) {
                        assert_eq!(r.props["zone"], Value::str("rtech.example.com"), "{ctx}");
                        assert_eq!(r.deps.contains(&zone_id()), create, "{}: {ctx}", r.id);
                        assert_eq!(r.props.contains_key("zone_id"), create, "{}: {ctx}", r.id);
                    }
                    assert_eq!(zone_of(&rs).as_deref(), Some("rtech.example.com"));
                }
            }
        }
    }
}

#[test]
fn validation_records_take_name_and_value_from_the_certificate() {
    let rs = expand(&edge("cname", "cname", false, false));
    let c = ResourceId::new("certificate", "main");
    for label in ["apex", "www", "api"] {
        let r = find(&rs, &format!("record/validation-{label}"));
        assert_eq!(r.props["type"], Value::str("CNAME"));
        assert_eq!(r.props["ttl"], Value::Int(300));
        assert_eq!(
            r.props["name"],
            Value::reference(&c, &format!("validation_name.{label}"))
        );
        assert_eq!(
            r.props["values"],
            Value::List(vec![Value::reference(
                &c,
                &format!("validation_value.{label}")
            )])
        );
        assert!(r.deps.contains(&c));
    }
}

#[test]
fn a_created_zone_has_name_comment_and_our_tags() {
    let rs = expand(&edge("cname", "cname", false, true));
    let z = find(&rs, "hosted_zone/main");
    assert_eq!(z.props["name"], Value::str("rtech.example.com"));
    assert_eq!(
        z.props["comment"],
        Value::str("Managed by rtech (rtech/dev)")
    );
    let t = tags_of(&z.props);
    assert_eq!(t[TAG_ID], "hosted_zone/main");
    assert_eq!(t[TAG_ENV], "dev");
    assert_eq!(t[TAG_PROJECT], "rtech");
}

#[test]
fn names_are_normalised_as_route53_returns_them() {
    assert_eq!(norm_name("WWW.Rtech.Example.COM."), "www.rtech.example.com");
    assert_eq!(norm_name("\\052.rtech.example.com."), "*.rtech.example.com");
    assert_eq!(norm_name("a\\.b.example.com"), "a.b.example.com");
    assert_eq!(
        norm_name("dualstack.Foo.elb.amazonaws.com."),
        "dualstack.foo.elb.amazonaws.com"
    );
    assert_eq!(bare_zone_id("/hostedzone/Z123"), "Z123");
    assert_eq!(bare_zone_id("Z123"), "Z123");
    assert_eq!(bare_zone_id("/change/C1"), "C1");
}

fn rr(name: &str, rtype: &str, ttl: Option<i64>, values: &[&str]) -> Rrset {
    Rrset {
        name: name.into(),
        rtype: rtype.into(),
        ttl,
        values: values.iter().map(|v| v.to_string()).collect(),
        alias: None,
        set_identifier: None,
    }
}

fn alias_rr(name: &str, rtype: &str, dns: &str, zone: &str) -> Rrset {
    Rrset {
        name: name.into(),
        rtype: rtype.into(),
        ttl: None,
        values: vec![],
        alias: Some(Alias {
            dns_name: dns.into(),
            zone_id: zone.into(),
            evaluate_target_health: false,
        }),
        set_identifier: None,
    }
}

fn txt(project: &str, env: &str, id: &str, rtype: &str, name: &str) -> Rrset {
    owner_rrset(project, env, &id.parse().unwrap(), rtype, name)
}

fn zref(owned: bool) -> ZoneRef {
    ZoneRef {
        id: ZONE.into(),
        name: "rtech.example.com".into(),
        owned,
    }
}

/// `classify_records` for dev in its zone (`owned`: the zone is ours), nothing seen before.
fn dev_records(owned: bool, live: &[Rrset], desired: &[Resource]) -> Vec<Observed> {
    classify_records(
        "rtech",
        "dev",
        &zref(owned),
        live,
        desired,
        &mut BTreeSet::new(),
    )
}

/// Each change as (id, action, the paths of its fields).
fn changes_with_fields(p: &Plan) -> Vec<(String, Action, Vec<String>)> {
    p.changes
        .iter()
        .map(|c| {
            (
                c.id.to_string(),
                c.action,
                c.fields.iter().map(|f| f.path.clone()).collect(),
            )
        })
        .collect()
}

/// The records of a (www=cname, api=cname, ALB) spec against `observed`, with the ALB and the
/// certificate observed as ours; only the record changes are returned.
fn record_plan(observed: Vec<Observed>, desired: &[Resource]) -> Plan {
    let mut obs = observed;
    let mut lb = Observed::new(ResourceId::new("load_balancer", "main"), "arn:lb");
    lb.attrs.insert(
        "dns_name".into(),
        "rtech-dev-alb-1.us-east-1.elb.amazonaws.com".into(),
    );
    lb.attrs.insert("zone_id".into(), "Z35SXDOTRQ7X7K".into());
    obs.push(lb);
    let mut cert = Observed::new(ResourceId::new("certificate", "main"), "arn:cert");
    for l in ["apex", "www", "api"] {
        cert.attrs.insert(
            format!("validation_name.{l}"),
            format!("_x{l}.rtech.example.com"),
        );
        cert.attrs.insert(
            format!("validation_value.{l}"),
            format!("_y{l}.acm-validations.aws"),
        );
    }
    obs.push(cert);
    let mut p = diff_of("dev", desired, &obs, false);
    p.changes.retain(|c| c.id.kind == RECORD);
    p
}

fn live_zone() -> Vec<Rrset> {
    vec![
        rr(
            "rtech.example.com.",
            "NS",
            Some(172800),
            &["ns-1.awsdns-1.org.", "ns-2.awsdns-2.com."],
        ),
        rr(
            "rtech.example.com.",
            "SOA",
            Some(900),
            &["ns-1.awsdns-1.org. hostmaster 1 7200 900 1209600 86400"],
        ),
        alias_rr(
            "Rtech.Example.com.",
            "A",
            "Rtech-Dev-Alb-1.us-east-1.elb.amazonaws.com.",
            "Z35SXDOTRQ7X7K",
        ),
        txt("rtech", "dev", "record/apex-a", "A", "rtech.example.com"),
        rr(
            "www.rtech.example.com.",
            "CNAME",
            Some(300),
            &["rtech.example.com"],
        ),
        txt(
            "rtech",
            "dev",
            "record/www-cname",
            "CNAME",
            "www.rtech.example.com",
        ),
        rr(
            "api.rtech.example.com.",
            "CNAME",
            Some(300),
            &["RTECH.example.com."],
        ),
        txt(
            "rtech",
            "dev",
            "record/api-cname",
            "CNAME",
            "api.rtech.example.com",
        ),
    ]
    .into_iter()
    .chain(["apex", "www", "api"].map(|l| {
        rr(
            &format!("_x{l}.rtech.example.com."),
            "CNAME",
            Some(300),
            &[&format!("_y{l}.acm-validations.aws.")],
        )
    }))
    .chain(["apex", "www", "api"].map(|l| {
        txt(
            "rtech",
            "dev",
            &format!("record/validation-{l}"),
            "CNAME",
            &format!("_x{l}.rtech.example.com"),
        )
    }))
    .collect()
}

#[test]
fn records_as_route53_returns_them_are_no_change() {
    let desired = expand(&edge("cname", "cname", false, false));
    let obs = dev_records(false, &live_zone(), &desired);
    assert_eq!(obs.len(), 6, "{obs:#?}");
    assert!(obs.iter().all(|o| o.ownership == Ownership::Owned));
    let apex = obs.iter().find(|o| o.id == record_id("apex", "A")).unwrap();
    assert_eq!(apex.attrs["fqdn"], "rtech.example.com");
    assert_eq!(apex.attrs["zone_id"], ZONE);
    assert_eq!(apex.props["zone"], Value::str("rtech.example.com"));
    assert!(!apex.props.contains_key("ttl"));
    let p = record_plan(obs, &desired);
    assert!(p.changes.is_empty(), "{:#?}", p.changes);
    assert!(p.conflicts.is_empty(), "{:#?}", p.conflicts);
}

#[test]
fn a_changed_value_is_one_field_of_drift_and_a_missing_record_a_create() {
    let desired = expand(&edge("cname", "cname", false, false));
    let mut live = live_zone();
    live.retain(|r| norm_name(&r.name) != "www.rtech.example.com"); // deleted, our TXT kept
    for r in live.iter_mut() {
        if r.rtype == "CNAME" && norm_name(&r.name) == "api.rtech.example.com" {
            r.values = vec!["elsewhere.example.net".into()];
        }
    }
    let obs = dev_records(false, &live, &desired);
    assert!(obs.iter().all(|o| o.id != record_id("www", "CNAME")));
    let p = record_plan(obs, &desired);
    let got = changes_with_fields(&p);
    assert_eq!(got[0].0, "record/api-cname");
    assert_eq!(got[0].1, Action::Update);
    assert_eq!(got[0].2, vec!["values".to_string()]);
    assert_eq!(got[1].0, "record/www-cname");
    assert_eq!(got[1].1, Action::Create);
    assert_eq!(got.len(), 2);
}

#[test]
fn a_record_without_our_txt_or_with_another_envs_is_foreign() {
    let desired = expand(&edge("cname", "alias", false, false));
    let live = vec![
        // Someone's www CNAME, no TXT.
        rr(
            "www.rtech.example.com.",
            "CNAME",
            Some(60),
            &["other.example.net"],
        ),
        // The apex owned by prod.
        alias_rr(
            "rtech.example.com.",
            "A",
            "x.elb.amazonaws.com.",
            "Z35SXDOTRQ7X7K",
        ),
        txt("rtech", "prod", "record/apex-a", "A", "rtech.example.com"),
        // api: a CNAME there blocks our A.
        rr(
            "api.rtech.example.com.",
            "CNAME",
            Some(60),
            &["other.example.net"],
        ),
    ];
    let obs = dev_records(false, &live, &desired);
    let foreign: BTreeSet<String> = obs
        .iter()
        .filter(|o| o.ownership == Ownership::Foreign)
        .map(|o| o.id.to_string())
        .collect();
    assert_eq!(
        foreign,
        ["record/apex-a", "record/api-a", "record/www-cname"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    assert!(obs.iter().all(|o| o.ownership == Ownership::Foreign));
    let p = record_plan(obs, &desired);
    let conflicts: Vec<String> = p.conflicts.iter().map(|c| c.id.to_string()).collect();
    assert!(
        conflicts.contains(&"record/www-cname".to_string()),
        "{conflicts:?}"
    );
    assert!(p
        .changes
        .iter()
        .all(|c| c.id.to_string() != "record/www-cname"));

    // Destroy (nothing desired) sees none of them.
    let obs = dev_records(false, &live, &[]);
    assert!(obs.is_empty(), "{obs:#?}");
}

#[test]
fn another_envs_txt_without_a_record_is_a_conflict_too() {
    let desired = expand(&edge("cname", "none", false, false));
    let live = vec![txt(
        "rtech",
        "prod",
        "record/www-cname",
        "CNAME",
        "www.rtech.example.com",
    )];
    let obs = dev_records(false, &live, &desired);
    assert_eq!(obs.len(), 1);
    assert_eq!(obs[0].ownership, Ownership::Foreign);
    assert!(
        obs[0].physical_id.contains("env=prod"),
        "{}",
        obs[0].physical_id
    );
}

#[test]
fn destroy_finds_ours_by_txt_including_a_lonely_txt() {
    let mut live = live_zone();
    live.retain(|r| !(r.rtype == "CNAME" && norm_name(&r.name) == "www.rtech.example.com"));
    let obs = dev_records(true, &live, &[]);
    let got: BTreeSet<String> = obs.iter().map(|o| o.id.to_string()).collect();
    assert_eq!(got.len(), 6, "{got:?}");
    assert!(
        obs.iter().all(|o| o.deps.contains(&zone_id())),
        "records go before our zone"
    );
    let www = obs
        .iter()
        .find(|o| o.id == record_id("www", "CNAME"))
        .unwrap();
    assert!(!www.attrs.contains_key("rrset"), "only the TXT is left");
    let steps = delete_steps(
        prior_json(www, "rrset"),
        prior_json(www, "owner").unwrap(),
        &owner_value("rtech", "dev", &record_id("www", "CNAME")),
    );
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].action, ChangeAction::Delete);
    assert_eq!(steps[0].rrset.rtype, "TXT");
}

#[test]
fn a_second_copy_in_another_zone_gets_a_suffixed_id() {
    let mut seen = BTreeSet::new();
    let live = live_zone();
    let a = classify_records("rtech", "dev", &zref(false), &live, &[], &mut seen);
    let other = ZoneRef {
        id: "ZOTHER".into(),
        name: "rtech.example.com".into(),
        owned: false,
    };
    let b = classify_records("rtech", "dev", &other, &live, &[], &mut seen);
    assert_eq!(a.len(), b.len());
    assert!(b.iter().all(|o| o.id.name.ends_with("~ZOTHER")), "{b:#?}");
}

#[test]
fn owner_txt_round_trips() {
    let id = record_id("www", "CNAME");
    let t = owner_rrset("rtech", "dev", &id, "CNAME", "www.rtech.example.com");
    assert_eq!(t.name, "_rtech.cname.www.rtech.example.com.");
    assert_eq!(
        t.values,
        vec!["\"heritage=rtech,project=rtech,env=dev,id=record/www-cname\"".to_string()]
    );
    assert_eq!(
        owner_target(&t.name),
        Some(("www.rtech.example.com".into(), "CNAME".into()))
    );
    let o = parse_owner(&t.values[0]).unwrap();
    assert_eq!(
        (o.project.as_str(), o.env.as_str(), o.id.as_str()),
        ("rtech", "dev", "record/www-cname")
    );
    // Split into several strings (as long TXT values come back), and not ours at all.
    assert_eq!(
        parse_owner("\"heritage=rtech,project=rtech,\" \"env=dev,id=record/www-cname\""),
        Some(o)
    );
    assert_eq!(parse_owner("\"v=spf1 -all\""), None);
    assert_eq!(parse_owner("\"heritage=external-dns,owner=x\""), None);
}

#[test]
fn desired_records_become_route53_record_sets() {
    let mut r = Resource::new(record_id("www", "CNAME"), "x")
        .prop("name", Value::str("www.rtech.example.com"))
        .prop("type", Value::str("CNAME"))
        .prop("zone", Value::str("rtech.example.com"))
        .prop("ttl", Value::Int(300))
        .prop(
            "values",
            Value::List(vec![
                Value::str("b.example.com"),
                Value::str("a.example.com"),
            ]),
        );
    let s = desired_rrset(&r).unwrap();
    assert_eq!(s.name, "www.rtech.example.com.");
    assert_eq!(s.ttl, Some(300));
    assert_eq!(s.values, vec!["a.example.com", "b.example.com"]);
    assert!(s.alias.is_none());
    r = Resource::new(record_id("apex", "A"), "x")
        .prop("name", Value::str("rtech.example.com"))
        .prop("type", Value::str("A"))
        .prop("zone", Value::str("rtech.example.com"))
        .prop(
            "alias",
            alias_value(
                Value::str("d1.cloudfront.net"),
                Value::str(CLOUDFRONT_ZONE_ID),
            ),
        );
    let s = desired_rrset(&r).unwrap();
    assert_eq!(s.ttl, None, "no TTL on an alias");
    assert_eq!(s.alias.as_ref().unwrap().zone_id, CLOUDFRONT_ZONE_ID);
    let sdk = s.to_sdk();
    assert_eq!(Rrset::from_sdk(&sdk), s);
    // Still unknown: refused before any call.
    let unknown = Resource::new(record_id("apex", "A"), "x")
        .prop("name", Value::Unknown)
        .prop("type", Value::str("A"))
        .prop("zone", Value::str("rtech.example.com"));
    assert_eq!(desired_rrset(&unknown).unwrap_err().code, "InvalidRecord");
}

#[test]
fn change_batches_for_create_update_and_delete() {
    let rec = rr(
        "www.rtech.example.com.",
        "CNAME",
        Some(300),
        &["rtech.example.com"],
    );
    let own = txt(
        "rtech",
        "dev",
        "record/www-cname",
        "CNAME",
        "www.rtech.example.com",
    );

    // Create: CREATE both (never an overwrite).
    let s = create_steps(rec.clone(), own.clone(), None).unwrap();
    assert_eq!(
        s.iter()
            .map(|x| (x.action.clone(), x.rrset.rtype.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (ChangeAction::Create, "CNAME"),
            (ChangeAction::Create, "TXT")
        ]
    );
    // Our own TXT left over: UPSERT it, still CREATE the record.
    let s = create_steps(rec.clone(), own.clone(), Some(&own)).unwrap();
    assert_eq!(s[0].action, ChangeAction::Create);
    assert_eq!(s[1].action, ChangeAction::Upsert);
    // Someone else's TXT: refused.
    let theirs = txt(
        "rtech",
        "prod",
        "record/www-cname",
        "CNAME",
        "www.rtech.example.com",
    );
    let e = create_steps(rec.clone(), own.clone(), Some(&theirs)).unwrap_err();
    assert!(e.contains("env=prod"), "{e}");

    // Update: UPSERT both.
    let s = update_steps(rec.clone(), own.clone());
    assert!(s.iter().all(|x| x.action == ChangeAction::Upsert));
    assert_eq!(s.len(), 2);

    // Delete: the exact prior values (raw, as AWS returned them).
    let prior = rr(
        "WWW.rtech.example.com.",
        "CNAME",
        Some(60),
        &["Changed.Example.net."],
    );
    let ours = own.values[0].clone();
    let s = delete_steps(Some(prior.clone()), own.clone(), &ours);
    assert_eq!(
        s[0],
        Step {
            action: ChangeAction::Delete,
            rrset: prior.clone()
        }
    );
    assert_eq!(
        s[1],
        Step {
            action: ChangeAction::Delete,
            rrset: own.clone()
        }
    );
    // A TXT that also holds someone else's value keeps it.
    let mut shared = own.clone();
    shared.values.push("\"v=spf1 -all\"".into());
    let s = delete_steps(Some(prior), shared, &ours);
    assert_eq!(s[1].action, ChangeAction::Upsert);
    assert_eq!(s[1].rrset.values, vec!["\"v=spf1 -all\"".to_string()]);

    let b = to_batch(&update_steps(rec, own), "c");
    assert_eq!(b.changes().len(), 2);
    assert_eq!(
        b.changes()[1].resource_record_set().unwrap().r#type(),
        &RrType::Txt
    );
}

#[test]
fn route53_refusals_are_mapped_to_clear_errors() {
    let what = "www.rtech.example.com CNAME";
    let e = map_change_error(
        AwsError::new(
            "route53:ChangeResourceRecordSets",
            "InvalidChangeBatch",
            "[Tried to create resource record set [name='www.rtech.example.com.', type='CNAME'] but it already exists]",
        ),
        what,
    );
    assert_eq!(e.code, "InvalidChangeBatch");
    assert!(
        e.message
            .starts_with("conflict: www.rtech.example.com CNAME was created by someone else"),
        "{e}"
    );
    assert!(e.to_string().contains("route53:ChangeResourceRecordSets"));

    let e = map_change_error(
        AwsError::new(
            "route53:ChangeResourceRecordSets",
            "InvalidChangeBatch",
            "[Tried to delete resource record set [name='www.rtech.example.com.', type='CNAME'] but the values provided do not match the current values]",
        ),
        what,
    );
    assert!(e.message.contains("changed since the plan"), "{e}");

    let e = map_change_error(
        AwsError::new(
            "route53:ChangeResourceRecordSets",
            "InvalidChangeBatch",
            "[RRSet of type A with DNS name api.rtech.example.com. is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone rtech.example.com.]",
        ),
        "api.rtech.example.com A",
    );
    assert!(e.message.starts_with("conflict:"), "{e}");

    let other = AwsError::new(
        "route53:ChangeResourceRecordSets",
        "NoSuchHostedZone",
        "gone",
    );
    assert_eq!(map_change_error(other.clone(), what).message, "gone");

    // HostedZoneNotEmpty (the emulator raises it too, but not with this text): the records left.
    let e = zone_not_empty(
        AwsError::new(
            "route53:DeleteHostedZone",
            "HostedZoneNotEmpty",
            "The hosted zone contains resource record sets",
        ),
        "rtech.example.com",
        &[
            rr("rtech.example.com.", "NS", Some(1), &["ns"]),
            rr("rtech.example.com.", "SOA", Some(1), &["soa"]),
            rr("mail.rtech.example.com.", "MX", Some(1), &["10 mx"]),
            rr("\\052.rtech.example.com.", "A", Some(1), &["1.2.3.4"]),
        ],
    );
    assert_eq!(e.code, "HostedZoneNotEmpty");
    assert!(
        e.message.contains(
            "2 record(s) rtech did not create: mail.rtech.example.com MX, *.rtech.example.com A"
        ),
        "{e}"
    );

    let e = missing_zone("rtech.example.com");
    assert!(
        e.message.contains("edge.hosted_zone") && e.message.contains("rtech.example.com"),
        "{e}"
    );
}

fn zs(id: &str, reference: &str) -> ZoneSummary {
    ZoneSummary {
        id: id.into(),
        name: "rtech.example.com".into(),
        caller_reference: reference.into(),
        comment: None,
        private: false,
    }
}

#[test]
fn our_zone_is_found_by_tags_or_caller_reference_and_duplicates_are_marked() {
    let desired = expand(&edge("cname", "cname", false, true));
    let ours_tags = tags_of(&find(&desired, "hosted_zone/main").props);
    let prefix = caller_reference_prefix("rtech", "dev");
    let zones = vec![
        zs("ZFOREIGN", "console-1"),
        zs("ZUNTAGGED", &format!("{prefix}100")), // interrupted before tagging
        zs("ZTAGGED", &format!("{prefix}200")),
        zs(
            "ZPROD",
            &format!("{}1", caller_reference_prefix("rtech", "prod")),
        ),
    ];
    let mut tags = BTreeMap::new();
    tags.insert("ZTAGGED".to_string(), ours_tags.clone());
    let picked = pick_owned_zones("rtech", "dev", &zones, &tags);
    let got: Vec<(String, String)> = picked
        .iter()
        .map(|(id, z)| (id.to_string(), z.id.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("hosted_zone/main".to_string(), "ZTAGGED".to_string()),
            (
                "hosted_zone/main~ZUNTAGGED".to_string(),
                "ZUNTAGGED".to_string()
            ),
        ]
    );
    // Alone, the untagged one is ours and its tags are the drift.
    let picked = pick_owned_zones("rtech", "dev", &zones[..2], &BTreeMap::new());
    assert_eq!(picked.len(), 1);
    let o = observed_zone(
        &picked[0].0,
        picked[0].1,
        &BTreeMap::new(),
        &["ns-1.awsdns-1.org".into()],
    );
    assert_eq!(o.attrs["id"], "ZUNTAGGED");
    assert_eq!(o.attrs["name_servers"], "ns-1.awsdns-1.org");
    let hosted: Vec<Resource> = desired
        .iter()
        .filter(|r| r.id.kind == HOSTED_ZONE)
        .cloned()
        .collect();
    let plan = diff_of("dev", &hosted, &[o], false);
    assert!(only_update(&plan)
        .iter()
        .all(|p| p == "tags" || p == "comment"));
    assert!(!zone_is_ours("rtech", "dev", &zones[0], &BTreeMap::new()));
}

#[test]
fn name_servers_come_from_the_apex_ns_record() {
    let ns = name_servers("rtech.example.com", &live_zone());
    assert_eq!(ns, vec!["ns-1.awsdns-1.org", "ns-2.awsdns-2.com"]);
}

#[test]
fn destroy_deletes_records_before_what_they_point_at() {
    let obs = dev_records(false, &live_zone(), &[]);
    let deps = |id: &str| {
        obs.iter()
            .find(|o| o.id.to_string() == id)
            .unwrap()
            .deps
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(deps("record/apex-a"), vec!["load_balancer/main"]);
    assert_eq!(deps("record/validation-www"), vec!["certificate/main"]);
    assert!(deps("record/www-cname").is_empty(), "not in a zone of ours");
    let cf = alias_rr(
        "rtech.example.com.",
        "AAAA",
        "d1.cloudfront.net.",
        CLOUDFRONT_ZONE_ID,
    );
    let o = observed_record(
        &record_id("apex", "AAAA"),
        Some(&cf),
        &txt(
            "rtech",
            "dev",
            "record/apex-aaaa",
            "AAAA",
            "rtech.example.com",
        ),
        &zref(true),
    );
    assert!(o.deps.contains(&ResourceId::new("distribution", "main")));
    assert!(o.deps.contains(&zone_id()));
    assert_eq!(
        o.props["alias"],
        alias_value(
            Value::str("d1.cloudfront.net"),
            Value::str(CLOUDFRONT_ZONE_ID)
        )
    );
}

#[test]
fn a_conflicting_record_says_how_to_adopt_it_with_the_owner_txt() {
    let c = crate::plan::Conflict {
        id: ResourceId::new("record", "www-cname"),
        physical_id: "Z123:www.rtech.example.com:CNAME".into(),
        message: "generic".into(),
    };
    let m = conflict_message("rtech", "prod", &c).unwrap();
    assert_eq!(
        m,
        "conflict: the CNAME record www.rtech.example.com already exists and rtech did not create it (no ownership TXT _rtech.cname.www.rtech.example.com); rtech will not modify or delete it (delete it, or adopt it by adding the TXT record _rtech.cname.www.rtech.example.com = \"heritage=rtech,project=rtech,env=prod,id=record/www-cname\")"
    );
    let zone = crate::plan::Conflict {
        id: ResourceId::new("hosted_zone", "main"),
        physical_id: "Z123".into(),
        message: "generic".into(),
    };
    assert_eq!(conflict_message("rtech", "prod", &zone), None);
}
