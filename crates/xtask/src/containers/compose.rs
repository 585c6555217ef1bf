//! Step 4, compose: the smoke run's steps on the stack (see `stack.rs`), and what they
//! check through it: the listing, a registration through the API, and the website's
//! pages and form.

use anyhow::{Context, bail, ensure};

use super::images::{check_health, check_ready};
use super::stack::ComposeStack;
use super::summary::Summary;
use super::{Ctx, SEED_COUNT};

/// Every service sees a fault switched within 5 s (it polls every 2 s); a generous bound.
const FAULT_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);
use crate::http::{HttpResponse, html_text, http_get, http_request};

pub(super) fn compose_checks(ctx: &Ctx, summary: &mut Summary) {
    let stack = match summary.value("compose: prepare (ports, images)", || {
        ComposeStack::new(ctx)
    }) {
        Some(stack) => stack,
        None => return,
    };
    // The resident registered through the API, checked again after the second `up`.
    let registered = std::cell::RefCell::new(String::new());
    // Each step builds on the one before: after a failure the rest are skipped.
    let steps: [(&str, &dyn Fn() -> anyhow::Result<()>); 12] = [
        ("compose: up", &|| stack.up()),
        ("compose: table created and seeded (12)", &|| {
            expect_listing(&stack, SEED_COUNT, &[])
        }),
        ("compose: a registration appears in the listing", &|| {
            let ckid = register_resident(&stack)?;
            expect_listing(&stack, SEED_COUNT + 1, &[ckid.as_str()])?;
            println!("compose: {ckid} is listed with the {SEED_COUNT} seeds");
            *registered.borrow_mut() = ckid;
            Ok(())
        }),
        ("compose: website /health and /ready", &|| {
            check_health(ctx, "website", stack.port("website"))?;
            check_ready(ctx, "website", stack.port("website"))
        }),
        ("compose: healthchecks pass", &|| stack.healthchecks()),
        (
            "compose: website lists every resident, admits through its form",
            &|| website_page_checks(&stack),
        ),
        (
            "compose: missing-ca-certificates fails register's TLS handshake; off recovers",
            &|| missing_ca_round_trip(ctx, &stack),
        ),
        // init runs again on every `up`; it must add nothing to a seeded table.
        ("compose: second up (no down) seeds nothing twice", &|| {
            let before = stack.life("dynamodb")?;
            let up = stack.up();
            let after = stack.life("dynamodb")?;
            ensure!(
                before == after && before.contains(", 0 restart(s)"),
                "DynamoDB Local's container did not live through the second up (its table \
                 is in memory): before, {before}; after, {after} ({up:?})"
            );
            up?;
            let init = stack.init_output()?;
            ensure!(
                init.contains("seeded 0 demo resident"),
                "init on the second up: {init}"
            );
            // The seeds, the API's registration and the form's.
            expect_listing(&stack, SEED_COUNT + 2, &[registered.borrow().as_str()])
        }),
        // Last before `down`: its visitors admit residents, which the counts above exclude.
        ("compose: loadgen (profile load) walks the site", &|| {
            let output = stack.run_once(
                Some("load"),
                "loadgen",
                &["--duration=10s", "--rate=4", "--visitors=2"],
            )?;
            ensure!(
                output.contains("/residents"),
                "loadgen printed no summary per page: {output}"
            );
            println!("compose: loadgen summary:\n{}", output.trim());
            Ok(())
        }),
        ("compose: down leaves nothing", &|| stack.down()),
        // DynamoDB Local is in memory: a fresh `up` has only the seeds again.
        ("compose: up after down starts fresh (12)", &|| {
            stack.up()?;
            expect_listing(&stack, SEED_COUNT, &[])
        }),
        ("compose: final down", &|| stack.down()),
    ];
    let failures_before = summary.failed();
    for (name, step) in steps {
        if summary.failed() > failures_before {
            summary.skip(name, "an earlier compose step failed");
        } else {
            summary.run(name, step);
        }
    }
}

/// The 2019 outage, for real in compose: with `missing-ca-certificates` on, register's
/// DynamoDB calls fail the TLS handshake with dynamodb-tls (register is not ready, a
/// registration is a 503 problem and writes nothing, the proxy logs register's refusal of
/// its certificate); after `faults off --all`, register is ready again by itself.
fn missing_ca_round_trip(ctx: &Ctx, stack: &ComposeStack<'_>) -> anyhow::Result<()> {
    let port = stack.port("register");
    let ready_status = |wanted: u16| {
        move || match http_get(port, "/ready") {
            Ok(answer) if answer.status == wanted => Ok(()),
            Ok(answer) => Err(format!("register /ready answered {}", answer.status)),
            Err(err) => Err(format!("register /ready: {err:#}")),
        }
    };
    stack.admin(&["faults", "on", "missing-ca-certificates"])?;
    ctx.wait_for(
        "register unready under missing-ca-certificates",
        FAULT_LIMIT,
        ready_status(503),
    )?;
    let answer = post_registration(stack, "Untrusting", "nocerts")?;
    let problem =
        answer.expect_json(503, "POST /v1/registrations under missing-ca-certificates")?;
    ensure!(
        problem["type"].is_string(),
        "the 503 is not a problem document: {}",
        answer.body
    );
    let proxy = stack.logs("dynamodb-tls", 50)?;
    ensure!(
        proxy.contains("UnknownCA"),
        "dynamodb-tls logged no refused certificate (UnknownCA): {proxy}"
    );
    stack.admin(&["faults", "off", "--all"])?;
    ctx.wait_for(
        "register ready after faults off",
        FAULT_LIMIT,
        ready_status(200),
    )?;
    println!("compose: register's TLS handshake failed under the fault (503), and recovered");
    Ok(())
}

/// Checks of the website's pages through the compose stack: the residents pages list
/// every resident the API knows (seeds included), and a registration through the form
/// (with the form's own idempotency token) lands on the thank-you page and then on the
/// residents page.
fn website_page_checks(stack: &ComposeStack<'_>) -> anyhow::Result<()> {
    let port = stack.port("website");
    let listing = http_get(stack.port("server-listing"), "/v1/servers?limit=100")?
        .expect_json(200, "GET /v1/servers")?;
    let names: Vec<String> = listing["servers"]
        .as_array()
        .context("no `servers` array in the listing")?
        .iter()
        .filter_map(|server| server["name"].as_str().map(html_text))
        .collect();
    ensure!(
        names.len() > SEED_COUNT,
        "the listing has {} residents",
        names.len()
    );
    let shown = residents_pages(port)?;
    let missing: Vec<&String> = names.iter().filter(|name| !shown.contains(*name)).collect();
    ensure!(missing.is_empty(), "/residents does not show {missing:?}");

    let form = http_get(port, "/register")?;
    ensure!(form.status == 200, "GET /register answered {}", form.status);
    let token = form
        .body
        .split_once(r#"name="idempotency_token" value=""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(token, _)| token.to_owned())
        .context("no idempotency_token in the register form")?;
    let name = format!("Compose Form {}", std::process::id());
    let body = format!(
        "idempotency_token={token}&name={}&type=t3.micro&service=3&petname=formy&os=linux",
        name.replace(' ', "+")
    );
    let posted = http_request(
        "POST",
        port,
        "/register",
        Some(("application/x-www-form-urlencoded", &body)),
    )?;
    let location = posted.header("location").unwrap_or_default();
    ensure!(
        posted.status == 303 && location.starts_with("/register/thanks"),
        "POST /register answered {} (Location {location:?}): {}",
        posted.status,
        posted.body
    );
    let thanks = http_get(port, location)?;
    ensure!(
        thanks.status == 200 && thanks.body.contains(&name),
        "{location} answered {} without the new resident's name",
        thanks.status
    );
    let first_page = http_get(port, "/residents")?;
    ensure!(
        first_page.body.contains(&name),
        "the form's resident {name:?} is not on /residents"
    );
    println!(
        "compose: /residents shows all {} residents; the form admitted {name:?}",
        names.len()
    );
    Ok(())
}

/// Every residents page, first to last (following rel="next"), as one string.
fn residents_pages(port: u16) -> anyhow::Result<String> {
    let mut path = "/residents".to_owned();
    let mut pages = String::new();
    for _ in 0..20 {
        let page = http_get(port, &path)?;
        ensure!(page.status == 200, "GET {path} answered {}", page.status);
        let next = page
            .body
            .split_once(r#"rel="next""#)
            .and_then(|(before, _)| before.rsplit_once(r#"href=""#))
            .and_then(|(_, href)| href.split_once('"'))
            .map(|(href, _)| href.replace("&amp;", "&"));
        pages.push_str(&page.body);
        match next {
            Some(next) => path = next,
            None => return Ok(pages),
        }
    }
    bail!("/residents has more than 20 pages")
}

/// GET /v1/servers?limit=100 on server-listing: exactly `expected` residents, all distinct,
/// including every id in `must_include`.
fn expect_listing(
    stack: &ComposeStack<'_>,
    expected: usize,
    must_include: &[&str],
) -> anyhow::Result<()> {
    let response = http_get(stack.port("server-listing"), "/v1/servers?limit=100")?;
    let page = response.expect_json(200, "GET /v1/servers")?;
    let servers = page["servers"]
        .as_array()
        .context("no `servers` array in the listing")?;
    ensure!(
        page["next_cursor"].is_null(),
        "more than 100 residents (a next_cursor came back)"
    );
    let ids: std::collections::BTreeSet<&str> =
        servers.iter().filter_map(|s| s["ckid"].as_str()).collect();
    ensure!(
        ids.len() == servers.len(),
        "duplicate or missing ckids in the listing: {}",
        response.body
    );
    ensure!(
        servers.len() == expected,
        "the listing has {} residents, expected {expected}",
        servers.len()
    );
    for id in must_include {
        ensure!(ids.contains(id), "{id} is not in the listing");
    }
    Ok(())
}

/// POST /v1/registrations on register; returns the new resident's ckid.
fn register_resident(stack: &ComposeStack<'_>) -> anyhow::Result<String> {
    let response = post_registration(stack, "Smoke Test", "smokey")?;
    let resident = response.expect_json(201, "POST /v1/registrations")?;
    let ckid = resident["ckid"]
        .as_str()
        .context("the 201 has no ckid")?
        .to_string();
    Ok(ckid)
}

/// POST /v1/registrations on register, for a resident named after this run.
fn post_registration(
    stack: &ComposeStack<'_>,
    name: &str,
    petname: &str,
) -> anyhow::Result<HttpResponse> {
    let body = serde_json::json!({
        "name": format!("{name} {}", std::process::id()),
        "type": "m5.large",
        "os": "linux",
        "petname": petname,
    })
    .to_string();
    http_request(
        "POST",
        stack.port("register"),
        "/v1/registrations",
        Some(("application/json", &body)),
    )
}
