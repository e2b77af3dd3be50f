//! JSON documents compared by meaning, not by text: IAM policies (statement order, a single
//! item written as a string or a one-item list, whitespace) and any other JSON document (key
//! order, whitespace). Documents become `Value`s, so the plan diffs them field by field.

use serde_json::Value as J;

use super::Value;

/// Any JSON as a `Value` (objects are maps, so key order never matters). Numbers that are not
/// integers are kept as their text.
pub fn from_json(j: &J) -> Value {
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .unwrap_or_else(|| Value::Str(n.to_string())),
        J::String(s) => Value::Str(s.clone()),
        J::Array(a) => Value::List(a.iter().map(from_json).collect()),
        J::Object(o) => Value::Map(o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()),
    }
}

/// Parse a JSON document's text (None if it is not JSON).
pub fn parse(text: &str) -> Option<Value> {
    serde_json::from_str::<J>(text).ok().map(|j| from_json(&j))
}

/// Keys whose value is "one or many strings" in IAM's grammar.
const ONE_OR_MANY: &[&str] = &["Action", "NotAction", "Resource", "NotResource"];

/// An IAM policy document in canonical form: `Statement` always a list, sorted; `Action`,
/// `Resource` (and their `Not` forms), principal values and condition values always sorted,
/// de-duplicated lists. Two documents IAM treats as the same compare equal.
pub fn iam(doc: &J) -> Value {
    let mut out = doc.as_object().cloned().unwrap_or_default();
    let statements = match out.remove("Statement") {
        Some(J::Array(a)) => a,
        Some(one) => vec![one],
        None => vec![],
    };
    let mut canon: Vec<J> = statements.iter().map(statement).collect();
    // serde_json keeps insertion order here: sort by the key-ordered `Value` form.
    canon.sort_by_cached_key(|s| format!("{:?}", from_json(s)));
    canon.dedup();
    out.insert("Statement".into(), J::Array(canon));
    from_json(&J::Object(out))
}

/// Parse and canonicalise an IAM policy's text (URL-encoded, as IAM returns it, or plain).
pub fn iam_text(text: &str) -> Option<Value> {
    let decoded;
    let text = if text.trim_start().starts_with('%') || !text.trim_start().starts_with('{') {
        decoded = percent_decode(text);
        decoded.as_str()
    } else {
        text
    };
    serde_json::from_str::<J>(text).ok().map(|j| iam(&j))
}

fn statement(s: &J) -> J {
    let Some(obj) = s.as_object() else {
        return s.clone();
    };
    let mut out = serde_json::Map::new();
    for (k, v) in obj {
        let v = if ONE_OR_MANY.contains(&k.as_str()) {
            string_set(v)
        } else if k == "Principal" || k == "NotPrincipal" {
            match v {
                J::Object(p) => {
                    J::Object(p.iter().map(|(k, v)| (k.clone(), string_set(v))).collect())
                }
                other => other.clone(),
            }
        } else if k == "Condition" {
            match v {
                J::Object(ops) => J::Object(
                    ops.iter()
                        .map(|(op, keys)| {
                            let keys = match keys {
                                J::Object(m) => J::Object(
                                    m.iter().map(|(k, v)| (k.clone(), string_set(v))).collect(),
                                ),
                                other => other.clone(),
                            };
                            (op.clone(), keys)
                        })
                        .collect(),
                ),
                other => other.clone(),
            }
        } else {
            v.clone()
        };
        out.insert(k.clone(), v);
    }
    J::Object(out)
}

/// `"x"` or `["x", …]` → a sorted, de-duplicated list of strings.
fn string_set(v: &J) -> J {
    let mut items: Vec<J> = match v {
        J::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    items.sort_by_cached_key(|i| format!("{:?}", from_json(i)));
    items.dedup();
    J::Array(items)
}

/// `%7B%22a%22…` → `{"a"…` (IAM returns policy documents URL-encoded).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_and_whitespace_do_not_matter() {
        let a = parse(r#"{"rules":[{"rulePriority":1,"action":{"type":"expire"}}]}"#).unwrap();
        let b = parse(
            "{\n  \"rules\": [ { \"action\": {\"type\": \"expire\"}, \"rulePriority\": 1 } ]\n}",
        )
        .unwrap();
        assert_eq!(a, b);
        assert_ne!(
            a,
            parse(r#"{"rules":[{"rulePriority":2,"action":{"type":"expire"}}]}"#).unwrap()
        );
    }

    #[test]
    fn iam_statement_order_and_single_items_do_not_matter() {
        let a = json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": ["arn:b", "arn:a"]},
                {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "*"}
            ]
        });
        let b = json!({
            "Statement": [
                {"Resource": "*", "Action": "logs:PutLogEvents", "Effect": "Allow"},
                {"Action": ["secretsmanager:GetSecretValue"], "Resource": ["arn:a", "arn:b"], "Effect": "Allow"}
            ],
            "Version": "2012-10-17"
        });
        assert_eq!(iam(&a), iam(&b));
    }

    #[test]
    fn iam_difference_in_meaning_is_a_difference() {
        let a = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}});
        let wider = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}
        ]});
        assert_ne!(iam(&a), iam(&wider));
    }

    #[test]
    fn principals_and_conditions_are_sets() {
        let a = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": "123"}}}]});
        let b = json!({"Statement": {"Effect": "Allow", "Principal": {"Service": ["ecs-tasks.amazonaws.com"]},
            "Action": ["sts:AssumeRole"], "Condition": {"StringEquals": {"aws:SourceAccount": ["123"]}}}});
        assert_eq!(iam(&a), iam(&b));
    }

    #[test]
    fn url_encoded_documents_as_iam_returns_them() {
        let plain = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        assert_eq!(iam_text(plain), iam_text(encoded));
        assert!(iam_text(plain).is_some());
        assert_eq!(iam_text("not json"), None);
    }
}
