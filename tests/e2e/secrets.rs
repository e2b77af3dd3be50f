//! The data tier's secrets: generated once, restored rather than regenerated, deleted with a
//! recovery window, and never printed anywhere.

use serde_json::Value as J;

use crate::emulator::Emulator;
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_values_never_appear_in_any_output() {
    let emu = Emulator::start();
    push_app_image(&emu, None, "dev", &[]);
    let sm = secretsmanager(&emu).await;
    let dir = tempfile::tempdir().unwrap();
    let mut seen = String::new();
    let record = |seen: &mut String, r: Run| {
        seen.push_str(&r.stdout);
        seen.push_str(&r.stderr);
    };
    record(
        &mut seen,
        run_ok(rtech(&emu).args(["-v", "plan", "--env", "dev"]), 0),
    );
    record(
        &mut seen,
        run_ok(
            rtech(&emu).args(["-vv", "apply", "--env", "dev", "--auto-approve"]),
            0,
        ),
    );

    // The canaries: the real generated values, read from Secrets Manager itself.
    let docdb = secret_json(&emu, "rtech/dev/docdb").await;
    let redis = secret_json(&emu, "rtech/dev/redis").await;
    let password = docdb["password"].as_str().unwrap().to_string();
    let token = redis["token"].as_str().unwrap().to_string();
    assert!(password.len() >= 32 && token.len() >= 32);
    // The secret is complete: the app's uri carries the password and the cluster's host.
    let uri = docdb["uri"].as_str().unwrap();
    assert!(
        uri.starts_with("mongodb://rtechadmin:")
            && uri.contains(&password)
            && uri.contains(docdb["host"].as_str().unwrap()),
        "uri"
    );
    assert_eq!(docdb["port"], "27017");
    assert_eq!(redis["port"], "6379");
    assert!(redis["host"].as_str().is_some_and(|h| !h.is_empty()));

    record(
        &mut seen,
        run_ok(
            rtech(&emu).args(["-v", "plan", "--env", "dev", "--detailed-exitcode"]),
            0,
        ),
    );
    record(
        &mut seen,
        run_ok(rtech(&emu).args(["plan", "--env", "dev", "--json"]), 0),
    );
    // A plan that touches the secrets: drift the connection details, then plan, save, show.
    sm.put_secret_value()
        .secret_id("rtech/dev/docdb")
        .secret_string({
            let mut j = docdb.clone();
            j.insert("host".into(), J::String("elsewhere".into()));
            // A copy of the password under a key the spec does not declare: never read back.
            j.insert("password_copy".into(), J::String(password.clone()));
            J::Object(j).to_string()
        })
        .send()
        .await
        .unwrap();
    let saved = dir.path().join("dev.plan");
    let p = run_ok(
        rtech(&emu)
            .args(["-v", "plan", "--env", "dev", "--detailed-exitcode", "--out"])
            .arg(&saved),
        2,
    );
    assert!(p.stdout.contains("secret_connection/docdb"), "{}", p.stdout);
    record(&mut seen, p);
    seen.push_str(&std::fs::read_to_string(&saved).unwrap());
    record(
        &mut seen,
        run_ok(rtech(&emu).args(["show", "--json"]).arg(&saved), 0),
    );
    record(&mut seen, run_ok(rtech(&emu).args(["show"]).arg(&saved), 0));
    // The apply writes the secret (PutSecretValue carries the password): at the SDK's most
    // verbose level, asked for by RUST_LOG, nothing shows it either.
    let traced = run_ok(
        rtech(&emu)
            .env("RUST_LOG", "trace")
            .args(["apply", "--env", "dev"])
            .arg(&saved),
        0,
    );
    assert!(
        traced.stderr.contains("TRACE aws_smithy_runtime")
            && traced.stderr.contains("PutSecretValue"),
        "RUST_LOG=trace showed the SDK's trace events:\n{}",
        traced.stderr
    );
    record(&mut seen, traced);
    let out = run_ok(rtech(&emu).args(["output", "--env", "dev", "--json"]), 0);
    let o: J = serde_json::from_str(&out.stdout).unwrap();
    assert!(o["docdb_secret_arn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:secretsmanager:"));
    assert!(o["redis_secret_arn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:secretsmanager:"));
    record(&mut seen, out);
    record(
        &mut seen,
        run_ok(rtech(&emu).args(["output", "--env", "dev"]), 0),
    );
    record(
        &mut seen,
        run_ok(
            rtech(&emu).args(["-v", "destroy", "--env", "dev", "--auto-approve"]),
            0,
        ),
    );

    assert!(!seen.is_empty());
    assert!(
        !seen.contains(&password),
        "the DocumentDB password leaked into an output"
    );
    assert!(
        !seen.contains(&token),
        "the Redis AUTH token leaked into an output"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_is_generated_once_and_a_deleted_secret_is_restored_not_regenerated() {
    let emu = Emulator::start();
    let sm = secretsmanager(&emu).await;
    apply(&emu, "staging");
    let first = secret_json(&emu, "rtech/staging/docdb").await;
    // Applying again never regenerates.
    apply(&emu, "staging");
    assert_eq!(
        secret_json(&emu, "rtech/staging/docdb").await["password"],
        first["password"]
    );

    // Deleted out of band (with the default recovery window): the plan shows a create…
    sm.delete_secret()
        .secret_id("rtech/staging/docdb")
        .send()
        .await
        .unwrap();
    let p = plan_json(&emu, "staging");
    let c = changes(&p);
    assert!(
        c.contains(&("secret/docdb".to_string(), "create".to_string())),
        "{c:?}"
    );
    assert!(
        c.contains(&("secret_connection/docdb".to_string(), "create".to_string())),
        "{c:?}"
    );
    // …and apply restores it, value and all: the cluster still matches its password.
    apply(&emu, "staging");
    let back = secret_json(&emu, "rtech/staging/docdb").await;
    assert_eq!(back["password"], first["password"]);
    assert_eq!(back["generated_id"], first["generated_id"]);
    assert_plan_empty(&emu, "staging");

    // Destroy deletes with a recovery window (staging: the default 7 days), not at once.
    destroy(&emu, "staging");
    let d = sm
        .describe_secret()
        .secret_id("rtech/staging/docdb")
        .send()
        .await
        .unwrap();
    assert!(
        d.deleted_date().is_some(),
        "scheduled for deletion, still recoverable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_secrets_are_force_deleted_as_its_spec_says() {
    let emu = Emulator::start();
    let sm = secretsmanager(&emu).await;
    apply(&emu, "dev");
    destroy(&emu, "dev");
    let err = sm
        .describe_secret()
        .secret_id("rtech/dev/docdb")
        .send()
        .await;
    assert!(err.is_err(), "force-deleted: gone at once");
}
