//! `/flows/bindings/` list filters, search, ordering and pagination, and what a flow's
//! `stages` and a stage's `flow_set` show.

use crate::helpers::{MISSING, fixture};
use authentik_sim::Profile;
use serde_json::json;

#[tokio::test]
async fn bindings_are_filtered_searched_and_ordered() {
    let fx = fixture(Profile::V2024_4).await;
    let [pw, id, login] = [0, 1, 2].map(|i| fx.bindings[i].clone());
    let r = fx
        .api
        .patch(
            &format!("flows/bindings/{login}/"),
            json!({"policy_engine_mode": "all", "evaluate_on_plan": true}),
        )
        .await;
    assert_eq!(r.status, 200);
    let flow = &fx.flow;
    let cases: Vec<(String, Vec<&String>)> = vec![
        (format!("?target={flow}"), vec![&pw, &id, &login]),
        (
            format!("?target={flow}&ordering=-order"),
            vec![&login, &id, &pw],
        ),
        (
            format!("?target={flow}&ordering=stage__name"),
            vec![&id, &login, &pw],
        ),
        (format!("?stage={}", fx.ident), vec![&id]),
        (format!("?target={flow}&order=20"), vec![&id]),
        (
            format!("?target={flow}&policy_engine_mode=all"),
            vec![&login],
        ),
        (
            format!("?target={flow}&evaluate_on_plan=false"),
            vec![&pw, &id],
        ),
        (format!("?target={flow}&re_evaluate_policies=false"), vec![]),
        (
            format!("?target={flow}&invalid_response_action=retry"),
            vec![&pw, &id, &login],
        ),
        (format!("?fsb_uuid={id}"), vec![&id]),
        (format!("?target={flow}&search=LOG"), vec![&login]),
        (format!("?target={flow}&page_size=2&page=2"), vec![&login]),
        // Unknown parameters and ordering terms are ignored.
        (
            format!("?target={flow}&ordering=nope&colour=1"),
            vec![&pw, &id, &login],
        ),
    ];
    for (query, want) in cases {
        let want: Vec<String> = want.into_iter().cloned().collect();
        assert_eq!(fx.listed(&query).await, want, "{query}");
    }
    let all = fx.api.get("flows/bindings/").await;
    assert_eq!(
        all.json["pagination"]["count"],
        3 + 20,
        "the fresh install's 20 bindings too"
    );

    let choice = "Select a valid choice. That choice is not one of the available choices.";
    for (query, want) in [
        (format!("?target={MISSING}"), format!(r#"{{"target":["{choice}"]}}"#)),
        ("?stage=x".to_string(), format!(r#"{{"stage":["{choice}"]}}"#)),
        ("?order=x".to_string(), r#"{"order":["Enter a number."]}"#.to_string()),
        (
            "?invalid_response_action=panic".to_string(),
            r#"{"invalid_response_action":["Select a valid choice. panic is not one of the available choices."]}"#.to_string(),
        ),
        ("?pbm_uuid=x".to_string(), r#"{"pbm_uuid":["Enter a valid UUID."]}"#.to_string()),
    ] {
        let r = fx.api.get(&format!("flows/bindings/{query}")).await;
        assert_eq!((r.status, r.text.as_str()), (400, want.as_str()), "{query}");
    }
}

#[tokio::test]
async fn flows_and_stages_show_each_binding() {
    let fx = fixture(Profile::V2024_4).await;
    // A second binding of the same stage: the flow shows twice in its flow_set.
    let r = fx
        .api
        .post(
            "flows/bindings/",
            json!({"target": fx.flow, "stage": fx.password, "order": 40}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let flow = fx.api.get("flows/instances/f/").await;
    assert_eq!(
        flow.json["stages"],
        json!([fx.password, fx.password, fx.ident, fx.login]),
        "in the stages' creation order"
    );
    let pw = fx
        .api
        .get(&format!("stages/password/{}/", fx.password))
        .await;
    let slugs: Vec<_> = pw.json["flow_set"]
        .as_array()
        .map(|a| a.iter().map(|f| f["slug"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(slugs, [json!("f"), json!("f")]);
}

#[tokio::test]
async fn current_flow_set_items_carry_background_url() {
    let fx = fixture(Profile::Current).await;
    let r = fx
        .api
        .get(&format!("flows/bindings/{}/", fx.bindings[0]))
        .await;
    let item = &r.json["stage_obj"]["flow_set"][0];
    assert_eq!(item["slug"], "f", "{}", r.text);
    assert!(item.get("background_url").is_some() && item.get("background").is_none());
    let list = fx.api.get("flows/bindings/?page_size=1").await;
    assert_eq!(list.json["autocomplete"], json!({}));
}
