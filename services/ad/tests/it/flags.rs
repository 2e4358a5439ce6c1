//! The ad service's failure flags over real gRPC: `adFailure` fails about one
//! call in ten with UNAVAILABLE, `adHighCpu` and `adManualGc` slow calls but
//! never fail them; off, nothing changes.

use std::time::Duration;

use boutique_platform::testing::sample;
use boutique_proto::AdRequest;
use boutique_testkit::{eventually, flags::FlagFile};
use serde_json::json;
use tonic::Code;

use crate::helpers::spawn_app_with;

fn request() -> AdRequest {
    AdRequest {
        context_keys: vec!["kitchen".into()],
    }
}

#[tokio::test]
async fn ad_failure_fails_about_one_call_in_ten() {
    let flags = FlagFile::with(&[("adFailure", json!(true))]);
    let app = spawn_app_with(&flags.env()).await;
    let client = app.client.clone();
    eventually("a call fails on purpose", Duration::from_secs(10), || {
        let mut client = client.clone();
        async move {
            client
                .get_ads(request())
                .await
                .err()
                .filter(|s| s.code() == Code::Unavailable)
        }
    })
    .await;
    let mut failed = 0;
    for _ in 0..300 {
        match app.client.clone().get_ads(request()).await {
            Ok(_) => {}
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                failed += 1;
            }
        }
    }
    // One in ten of 300: the chance of a count outside 5..=90 is below 1e-6.
    assert!((5..=90).contains(&failed), "{failed} of 300 failed");

    flags.set(&[("adFailure", json!(false))]);
    eventually("calls succeed again", Duration::from_secs(10), || {
        let client = app.client.clone();
        async move {
            for _ in 0..50 {
                client.clone().get_ads(request()).await.ok()?;
            }
            Some(())
        }
    })
    .await;
    app.server.stop().await;
}

#[tokio::test]
async fn high_cpu_and_manual_gc_burden_calls_without_failing_them() {
    let flags = FlagFile::with(&[("adHighCpu", json!(true)), ("adManualGc", json!(true))]);
    let mut app = spawn_app_with(&flags.env()).await;
    let telemetry = app.server.telemetry().clone();
    let evaluated = |flag: &'static str| {
        let telemetry = telemetry.clone();
        move || {
            let text = telemetry.metrics().registry().render();
            sample(
                &text,
                "boutique_feature_flag_evaluations_total",
                &[("service_name", "ad"), ("flag", flag), ("variant", "set")],
            )
        }
    };
    eventually("both burdens are applied", Duration::from_secs(10), || {
        let mut app_client = app.client.clone();
        let cpu = evaluated("adHighCpu");
        let gc = evaluated("adManualGc");
        async move {
            app_client.get_ads(request()).await.ok()?;
            Some((cpu()?, gc()?))
        }
    })
    .await;
    for _ in 0..5 {
        assert!(!app.ads(&["kitchen"]).await.is_empty());
    }
    app.server.stop().await;
}
