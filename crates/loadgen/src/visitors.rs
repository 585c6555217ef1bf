//! Visitors walking the site: home → residents → the next page → a resident → feed it,
//! and now and then the admission form, filled in well or badly. Links and forms are
//! taken from the pages themselves, as a browser would, so the walk follows the site as
//! it is.

use std::sync::Arc;
use std::time::Duration;

use regex::Regex;

use crate::traffic::{self, Plan, Report, Sample, timed};

/// One visitor's steps against the site at `base` (`http://127.0.0.1:8080`).
#[derive(Debug, Clone)]
pub struct Visitors {
    client: reqwest::Client,
    base: Arc<str>,
    patterns: Arc<Patterns>,
}

#[derive(Debug)]
struct Patterns {
    resident: Regex,
    next_page: Regex,
    form: Regex,
    hidden: Regex,
    text_input: Regex,
    first_choice: Regex,
}

/// What a page load came to: its sample and, when it answered, its HTML.
type Visit = (Sample, Option<String>);

impl Visitors {
    pub fn new(base: &str) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            // A visitor's browser would follow the 303 after a form; the walk does not
            // need the page it leads to, so it does not load it.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("cuddlekube-loadgen")
            .build()
            .map_err(|e| e.to_string())?;
        let regex = |pattern: &str| Regex::new(pattern).expect("a valid pattern");
        Ok(Self {
            client,
            base: base.trim_end_matches('/').into(),
            patterns: Arc::new(Patterns {
                resident: regex(r#"href="(/residents/[A-Za-z0-9._-]+)""#),
                next_page: regex(r##"href="(/residents\?cursor=[^"#]+)""##),
                form: regex(r#"(?s)<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>"#),
                hidden: regex(r#"<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)""#),
                text_input: regex(r#"<input[^>]*name="([^"]+)"[^>]*type="text"([^>]*)>"#),
                first_choice: regex(r#"<datalist id="([^"]+)"><option value="([^"]*)""#),
            }),
        })
    }

    /// Walks the site by `plan`, each worker a visitor: `cuddlekube-loadgen`'s load, the
    /// game day's and the tests'. `progress` as in [`traffic::run`].
    pub async fn walk_by(&self, plan: Plan, progress: Option<&(dyn Fn(&Report) + Sync)>) -> Report {
        let visitors = self.clone();
        let step = move |visitor, walk| {
            let visitors = visitors.clone();
            async move { visitors.walk(visitor, walk).await }
        };
        traffic::run(plan, step, progress).await
    }

    /// One walk; every `admit_every`th walk also sends the admission form (every other
    /// one of those badly, to see the site's answer to a mistake).
    pub async fn walk(&self, visitor: usize, walk: u64) -> Vec<Sample> {
        let mut samples = Vec::new();
        let (home, _) = self.get("GET /", "/").await;
        samples.push(home);
        let (list, page) = self.get("GET /residents", "/residents").await;
        samples.push(list);
        let mut page = page.unwrap_or_default();
        if let Some(next) = self.first(&self.patterns.next_page, &page) {
            let (sample, next_page) = self.get("GET /residents?cursor", &next).await;
            samples.push(sample);
            page = next_page.unwrap_or(page);
        }
        let residents: Vec<String> = self
            .patterns
            .resident
            .captures_iter(&page)
            .map(|c| c[1].to_owned())
            .collect();
        if !residents.is_empty() {
            let chosen = &residents[(visitor + walk as usize) % residents.len()];
            let (sample, resident_page) = self.get("GET /residents/{ckid}", chosen).await;
            samples.push(sample);
            if let Some((action, fields)) = resident_page
                .as_deref()
                .and_then(|html| self.form(html, "/feed"))
            {
                samples.push(
                    self.post("POST /residents/{ckid}/feed", &action, fields)
                        .await,
                );
            }
        }
        const ADMIT_EVERY: u64 = 5;
        if walk % ADMIT_EVERY == ADMIT_EVERY - 1 {
            let (sample, form_page) = self.get("GET /register", "/register").await;
            samples.push(sample);
            if let Some(html) = form_page.as_deref()
                && let Some((action, mut fields)) = self.form(html, "/register")
            {
                let well = walk % (2 * ADMIT_EVERY) == ADMIT_EVERY - 1;
                let free_text = if well {
                    format!("visitor {visitor}.{walk}")
                } else {
                    String::new()
                };
                fields.extend(self.filled_in(html, &free_text));
                let label = if well {
                    "POST /register (valid)"
                } else {
                    "POST /register (invalid)"
                };
                samples.push(self.post(label, &action, fields).await);
            }
        }
        samples
    }

    fn first(&self, pattern: &Regex, html: &str) -> Option<String> {
        pattern.captures(html).map(|c| decode(&c[1]))
    }

    /// The form's text fields as the page offers them, filled in: a numeric one with
    /// "3", one with suggestions with its first, any other with `free_text` (empty: a
    /// form sent badly, its required fields left empty).
    fn filled_in(&self, html: &str, free_text: &str) -> Vec<(String, String)> {
        let choices: Vec<(String, String)> = self
            .patterns
            .first_choice
            .captures_iter(html)
            .map(|c| (decode(&c[1]), decode(&c[2])))
            .collect();
        self.patterns
            .text_input
            .captures_iter(html)
            .map(|input| {
                let attributes = &input[2];
                let suggested = choices
                    .iter()
                    .find(|(list, _)| attributes.contains(&format!("list=\"{list}\"")));
                let value = match suggested {
                    _ if attributes.contains(r#"inputmode="numeric""#) => "3".to_owned(),
                    Some((_, first)) => first.clone(),
                    None => free_text.to_owned(),
                };
                (decode(&input[1]), value)
            })
            .collect()
    }

    /// The first form whose action ends with `ending`: its action and hidden fields.
    fn form(&self, html: &str, ending: &str) -> Option<(String, Vec<(String, String)>)> {
        self.patterns.form.captures_iter(html).find_map(|form| {
            let action = decode(&form[1]);
            action.ends_with(ending).then(|| {
                let fields = self
                    .patterns
                    .hidden
                    .captures_iter(&form[2])
                    .map(|f| (decode(&f[1]), decode(&f[2])))
                    .collect();
                (action, fields)
            })
        })
    }

    async fn get(&self, label: &'static str, path: &str) -> Visit {
        let url = format!("{}{path}", self.base);
        let (sample, answer) = timed(
            label,
            async {
                let response = self.client.get(url).send().await?;
                let status = response.status().as_u16();
                Ok((status, response.text().await?))
            },
            |(status, _)| *status,
        )
        .await;
        (sample, answer.map(|(_, html)| html))
    }

    async fn post(&self, label: &'static str, path: &str, fields: Vec<(String, String)>) -> Sample {
        let url = format!("{}{path}", self.base);
        let request = self
            .client
            .post(url)
            // What a browser on the site sends: the site refuses cross-site writes.
            .header("origin", &*self.base)
            .form(&fields)
            .send();
        timed(label, request, |response| response.status().as_u16())
            .await
            .0
    }
}

/// Undoes the HTML escaping of an attribute value.
fn decode(text: &str) -> String {
    html_escape::decode_html_entities(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_text_fields_are_filled_in_as_the_page_offers_them() {
        let html = r#"<form method="post" action="/register">
            <input type="hidden" name="idempotency_token" value="t1">
            <input id="name" name="name" type="text" value="" required maxlength="200" autocomplete="off">
            <input id="type" name="type" type="text" value="" required maxlength="200" list="type-choices" autocomplete="off">
            <datalist id="type-choices"><option value="t2.micro"><option value="m5.xlarge"></datalist>
            <input id="service" name="service" type="text" inputmode="numeric" value="" maxlength="20" class="input-short" autocomplete="off">
            </form>"#;
        let visitors = Visitors::new("http://127.0.0.1:1").unwrap();
        let pairs = |text: &str| {
            visitors
                .filled_in(html, text)
                .into_iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(pairs("v1"), ["name=v1", "type=t2.micro", "service=3"]);
        assert_eq!(pairs(""), ["name=", "type=t2.micro", "service=3"]);
        let (action, hidden) = visitors.form(html, "/register").unwrap();
        assert_eq!(action, "/register");
        assert_eq!(hidden, [("idempotency_token".to_owned(), "t1".to_owned())]);
    }
}
