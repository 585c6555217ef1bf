//! Bad query parameters, unknown routes and wrong methods: all problem+json.

use reqwest::{Method, StatusCode};

use crate::helpers::{detail, problem, spawn_app};

#[tokio::test]
async fn a_limit_out_of_range_is_a_400_naming_limit() {
    let app = spawn_app().await;

    for limit in ["0", "101", "-1", "1000000000000000000000"] {
        let body = problem(
            app.list(&format!("limit={limit}")).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(
            detail(&body).starts_with("limit must be a whole number from 1 to 100"),
            "{limit}: {body}"
        );
    }
}

#[tokio::test]
async fn a_non_numeric_limit_is_a_400_naming_limit() {
    let app = spawn_app().await;

    for limit in ["ten", "1.5", "12abc", "5%20", "0x10"] {
        let body = problem(
            app.list(&format!("limit={limit}")).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(
            detail(&body).starts_with("limit must be"),
            "{limit}: {body}"
        );
    }
}

#[tokio::test]
async fn an_over_long_os_is_a_400_naming_os() {
    let app = spawn_app().await;
    let os = "x".repeat(33);

    let body = problem(app.list(&format!("os={os}")).await, StatusCode::BAD_REQUEST).await;

    assert_eq!(detail(&body), "os must be at most 32 characters (got 33)");
}

#[tokio::test]
async fn an_os_with_control_characters_is_a_400_naming_os() {
    let app = spawn_app().await;

    for os in ["li%00nux", "li%0Anux", "%7F"] {
        let body = problem(app.list(&format!("os={os}")).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(
            detail(&body),
            "os must not contain control characters",
            "{os}"
        );
    }
}

#[tokio::test]
async fn a_parameter_given_twice_is_a_400() {
    let app = spawn_app().await;

    let body = problem(app.list("limit=1&limit=2").await, StatusCode::BAD_REQUEST).await;

    assert!(detail(&body).contains("limit"), "{body}");
}

#[tokio::test]
async fn unknown_parameters_are_ignored() {
    let app = spawn_app().await;

    let response = app.list("page=2&sort=name").await;

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = spawn_app().await;

    for path in ["/v1/nope", "/v2/servers", "/v1/servers/ck1/pet", "/"] {
        let body = problem(app.request(Method::GET, path).await, StatusCode::NOT_FOUND).await;
        assert!(detail(&body).contains(path), "{path}: {body}");
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem() {
    let app = spawn_app().await;

    for (method, path) in [
        (Method::POST, "/v1/servers"),
        (Method::DELETE, "/v1/servers"),
        (Method::PUT, "/v1/servers/ck1"),
        (Method::DELETE, "/v1/servers/ck1"),
        (Method::GET, "/v1/servers/ck1/feed"),
        (Method::POST, "/openapi.json"),
    ] {
        problem(
            app.request(method, path).await,
            StatusCode::METHOD_NOT_ALLOWED,
        )
        .await;
    }
}
