//! `GET /openapi.json` describes what the service really does.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_created, content_type, spawn_app, valid_registration};

async fn document() -> (crate::helpers::TestApp, Value) {
    let app = spawn_app().await;
    let response = app.get_openapi().await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(&response), "application/json");
    let doc = response.json().await.expect("a JSON document");
    (app, doc)
}

fn keys(object: &Value) -> BTreeSet<String> {
    object
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {object}"))
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_registration_endpoint_is_described_with_every_answer() {
    let (_app, doc) = document().await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["title"], "register");
    let description = doc["info"]["description"].as_str().unwrap();
    for bound in [
        "16 KiB",
        "10 s",
        "20 s",
        "1024 connections",
        "outcome-unknown",
    ] {
        assert!(
            description.contains(bound),
            "the document does not say {bound:?}"
        );
    }

    let post = &doc["paths"]["/v1/registrations"]["post"];
    assert_eq!(post["operationId"], "register");
    let body = &post["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(body, "#/components/schemas/RegistrationRequest");

    let key = post["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .expect("the Idempotency-Key parameter");
    assert_eq!(key["in"], "header");
    assert_ne!(key["required"], true);
    assert_eq!(key["schema"]["type"], "string", "a header is never null");
    assert_eq!(key["schema"]["maxLength"], 128);

    let responses = &post["responses"];
    let created = &responses["201"];
    assert_eq!(
        created["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Resident"
    );
    assert_eq!(created["headers"]["Location"]["schema"]["type"], "string");
    assert_eq!(
        created["headers"]["Idempotent-Replayed"]["schema"]["type"],
        "boolean"
    );
    for status in ["400", "409", "413", "415", "422", "500", "503"] {
        let schema = &responses[status]["content"]["application/problem+json"]["schema"];
        assert_eq!(
            schema["$ref"], "#/components/schemas/ProblemDetails",
            "{status}: {}",
            responses[status]
        );
    }
    assert!(responses["503"]["headers"]["Retry-After"].is_object());
}

#[tokio::test]
async fn health_and_readiness_are_described() {
    let (_app, doc) = document().await;
    let health = &doc["paths"]["/health"]["get"]["responses"]["200"];
    assert_eq!(
        health["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Health"
    );
    let ready = &doc["paths"]["/ready"]["get"]["responses"];
    assert!(ready["200"].is_object());
    assert_eq!(
        ready["503"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/ProblemDetails"
    );
    let problem = &doc["components"]["schemas"]["ProblemDetails"]["properties"];
    for member in ["type", "title", "status", "detail", "errors"] {
        assert!(problem[member].is_object(), "ProblemDetails.{member}");
    }
}

#[tokio::test]
async fn the_schemas_match_what_is_accepted_and_answered() {
    let (app, doc) = document().await;
    let schemas = &doc["components"]["schemas"];

    // The resident schema names exactly the fields of a real answer.
    let (resident, _) = assert_created(app.post_registration(&valid_registration()).await).await;
    assert_eq!(keys(&schemas["Resident"]["properties"]), keys(&resident));
    let mut required: Vec<_> = schemas["Resident"]["required"]
        .as_array()
        .expect("required")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    required.sort();
    assert_eq!(required, keys(&resident).into_iter().collect::<Vec<_>>());

    // The request schema names exactly the fields a registration is read from, and only
    // the three the service cannot do without are required.
    let request = &schemas["RegistrationRequest"];
    assert_eq!(keys(&request["properties"]), keys(&valid_registration()));
    let mut required: Vec<_> = request["required"]
        .as_array()
        .expect("required")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(required, ["name", "os", "type"]);
    let properties = &request["properties"];
    assert_eq!(properties["name"]["maxLength"], 64);
    assert_eq!(properties["type"]["maxLength"], 32);
    assert_eq!(properties["os"]["maxLength"], 32);
    assert_eq!(properties["petname"]["maxLength"], 32);
    assert_eq!(properties["service"]["minimum"], 0);
    assert_eq!(properties["service"]["maximum"], 100);
    assert_eq!(properties["happiness"]["minimum"], 1);
    assert_eq!(properties["happiness"]["maximum"], 10);
    assert_eq!(properties["image"]["maxLength"], 2048);
    // The character rule is published as the domain states it (a domain property test
    // proves the patterns agree with the validation itself).
    for field in ["name", "type", "os"] {
        assert_eq!(properties[field]["minLength"], 1, "{field}");
        assert_eq!(
            properties[field]["pattern"],
            domain::required_text_pattern(),
            "{field}"
        );
    }
    assert_eq!(properties["petname"]["pattern"], domain::text_pattern());
    assert_eq!(properties["name"]["description"], "The resident's name.");
}
