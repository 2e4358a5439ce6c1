//! The recommendation rule against a real catalog, and a catalog outage.

use std::collections::HashSet;

use boutique_proto::ListRecommendationsRequest;
use tonic::Code;

use crate::helpers::{TestApp, catalog_ids, spawn_app, spawn_app_with, spawn_catalog};

async fn recommend(app: &mut TestApp, exclude: &[String]) -> Vec<String> {
    app.client
        .list_recommendations(ListRecommendationsRequest {
            user_id: "shopper".into(),
            product_ids: exclude.to_vec(),
        })
        .await
        .unwrap()
        .into_inner()
        .product_ids
}

#[tokio::test]
async fn recommends_up_to_five_distinct_real_products_never_the_requested_ones() {
    let catalog = spawn_catalog().await;
    let mut app = spawn_app(&catalog).await;
    let all = catalog_ids();
    let known: HashSet<&String> = all.iter().collect();

    for skip in 0..all.len() {
        // Exclude a sliding pair of products (plus an id the catalog lacks).
        let exclude = vec![
            all[skip].clone(),
            all[(skip + 1) % all.len()].clone(),
            "NOT-A-PRODUCT".to_owned(),
        ];
        let picked = recommend(&mut app, &exclude).await;
        assert_eq!(picked.len(), 5, "{picked:?}");
        let distinct: HashSet<&String> = picked.iter().collect();
        assert_eq!(distinct.len(), picked.len(), "duplicates in {picked:?}");
        for id in &picked {
            assert!(known.contains(id), "{id} is not a catalog product");
            assert!(!exclude.contains(id), "{id} was requested, yet recommended");
        }
    }
    app.server.stop().await;
    catalog.stop().await;
}

#[tokio::test]
async fn recommends_fewer_when_few_remain() {
    let catalog = spawn_catalog().await;
    let mut app = spawn_app(&catalog).await;
    let all = catalog_ids();

    let picked = recommend(&mut app, &all[..8]).await;
    assert_eq!(picked, [all[8].clone()]);
    let picked = recommend(&mut app, &all[..6]).await;
    let mut sorted = picked.clone();
    sorted.sort();
    let mut expected = all[6..].to_vec();
    expected.sort();
    assert_eq!(sorted, expected, "{picked:?}");
    assert!(recommend(&mut app, &all).await.is_empty());
    app.server.stop().await;
    catalog.stop().await;
}

#[tokio::test]
async fn recommendations_are_random_samples_in_random_order() {
    let catalog = spawn_catalog().await;
    let mut app = spawn_app(&catalog).await;
    let mut seen = HashSet::new();
    let mut answers = HashSet::new();
    let mut first_ids = HashSet::new();
    // Each product is left out of a call with probability 4/9, so the chance
    // that any of these checks fails by bad luck over 60 calls is below 1e-15.
    for _ in 0..60 {
        let picked = recommend(&mut app, &[]).await;
        assert_eq!(picked.len(), 5);
        first_ids.insert(picked[0].clone());
        seen.extend(picked.iter().cloned());
        answers.insert(picked);
    }
    assert_eq!(seen.len(), 9, "every product gets recommended");
    assert!(answers.len() > 1, "the answer varies");
    assert!(first_ids.len() > 1, "the order varies");
    app.server.stop().await;
    catalog.stop().await;
}

#[tokio::test]
async fn a_stopped_catalog_reads_as_unavailable() {
    let catalog = spawn_catalog().await;
    // Uncached, so the outage shows on the very next call.
    let mut app = spawn_app_with(&catalog, &[("CACHE_TTL", "0")]).await;
    // Works while the catalog is up...
    assert_eq!(recommend(&mut app, &[]).await.len(), 5);

    catalog.stop().await;
    let status = app
        .client
        .list_recommendations(ListRecommendationsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().starts_with("product catalog"),
        "{status:?}"
    );
    app.server.stop().await;
}

#[tokio::test]
async fn cached_catalog_ids_outlive_a_catalog_outage_within_the_ttl() {
    let catalog = spawn_catalog().await;
    let mut app = spawn_app_with(&catalog, &[("CACHE_TTL", "30s")]).await;
    assert_eq!(recommend(&mut app, &[]).await.len(), 5);
    catalog.stop().await;
    // Still answered from the ids fetched above (expiry is tested in `cache`).
    let picked = recommend(&mut app, &[]).await;
    assert_eq!(picked.len(), 5);
    let known = catalog_ids();
    assert!(picked.iter().all(|id| known.contains(id)), "{picked:?}");
    app.server.stop().await;
}
