//! Every store operation against DynamoDB Local, one fresh table per test.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use domain::{
    IdempotencyKey, NewResident, OperatingSystem, PageSize, RegistrationInput, ResidentId,
};
use serde_json::json;
use store::table::{Created, create_table};
use store::{
    DynamoStore, ListQuery, Readiness, ResidentAdmitter, ResidentFeeder, ResidentReader, StoreError,
};
use test_support::fresh_store;

fn new_resident(name: &str, os: &str) -> NewResident {
    let input: RegistrationInput = serde_json::from_value(
        json!({"name": name, "type": "m5.xlarge", "os": os, "happiness": 1}),
    )
    .unwrap();
    NewResident::parse(&input).unwrap()
}

async fn raw_item(store: &DynamoStore, ckid: &str) -> Option<HashMap<String, AttributeValue>> {
    store
        .client()
        .get_item()
        .table_name(store.table().as_str())
        .key("ckid", AttributeValue::S(ckid.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

/// Every item in the table (tests may scan; request paths never do).
async fn all_items(store: &DynamoStore) -> Vec<HashMap<String, AttributeValue>> {
    store
        .client()
        .scan()
        .table_name(store.table().as_str())
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

async fn list_all(store: &DynamoStore, os: Option<&str>, limit: i64) -> (Vec<String>, usize) {
    let mut query = ListQuery {
        limit: PageSize::parse(limit).unwrap(),
        cursor: None,
        os: os.map(|o| OperatingSystem::parse(o).unwrap()),
    };
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.list(&query).await.unwrap();
        pages += 1;
        assert!(page.residents.len() <= limit as usize);
        ids.extend(page.residents.iter().map(|r| r.ckid.to_string()));
        match page.next_cursor {
            Some(cursor) => {
                assert!(
                    !page.residents.is_empty(),
                    "a page with a next cursor was empty"
                );
                query.cursor = Some(cursor);
            }
            None => return (ids, pages),
        }
    }
}

#[tokio::test]
async fn admitted_resident_is_stored_as_answered() {
    let store = fresh_store().await;
    let admission = store
        .admit(&new_resident("<b>Sven</b> 鯖", "Linux"), None)
        .await
        .unwrap();
    assert!(!admission.replayed);
    let resident = admission.resident;
    assert_eq!(resident.name, "<b>Sven</b> 鯖");
    assert_eq!(resident.happiness, 1);
    assert_eq!(resident.feed_count, 0);
    assert_eq!(store.get(&resident.ckid).await.unwrap(), resident);

    let item = raw_item(&store, resident.ckid.as_str()).await.unwrap();
    assert_eq!(item["listing"], AttributeValue::S("resident".into()));
    assert_eq!(item["os_key"], AttributeValue::S("linux".into()));
    assert_eq!(item["type"], AttributeValue::S("m5.xlarge".into()));
    assert_eq!(item["happiness"], AttributeValue::N("1".into()));
    assert!(
        !item.contains_key("last_fed_at"),
        "absent values are not written as NULL"
    );
}

#[tokio::test]
async fn get_of_a_missing_resident_is_not_found() {
    let store = fresh_store().await;
    let missing = ResidentId::parse("01JD000000000000000000NONE").unwrap();
    assert!(matches!(
        store.get(&missing).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn listing_is_newest_first_and_paginates_without_gaps_or_duplicates() {
    let store = fresh_store().await;
    let mut admitted = Vec::new();
    for i in 0..25 {
        let os = if i % 3 == 0 { "Windows" } else { "linux" };
        admitted.push(
            store
                .admit(&new_resident(&format!("r{i}"), os), None)
                .await
                .unwrap()
                .resident,
        );
    }
    let newest_first: Vec<String> = admitted.iter().rev().map(|r| r.ckid.to_string()).collect();

    let (ids, pages) = list_all(&store, None, 10).await;
    assert_eq!(ids, newest_first);
    assert_eq!(pages, 3);

    // An exact multiple of the page size ends with `next_cursor: null`, not an empty page.
    let (ids, pages) = list_all(&store, None, 5).await;
    assert_eq!(ids.len(), 25);
    assert_eq!(pages, 5);

    let windows: Vec<String> = admitted
        .iter()
        .rev()
        .filter(|r| r.os == "Windows")
        .map(|r| r.ckid.to_string())
        .collect();
    let (ids, pages) = list_all(&store, Some("WINDOWS"), 4).await;
    assert_eq!(ids, windows);
    assert_eq!(pages, 3);
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
}

#[tokio::test]
async fn bad_cursors_are_typed_errors() {
    let store = fresh_store().await;
    for i in 0..3 {
        store
            .admit(&new_resident(&format!("r{i}"), "linux"), None)
            .await
            .unwrap();
    }
    let first = store
        .list(&ListQuery {
            limit: PageSize::parse(1).unwrap(),
            ..Default::default()
        })
        .await
        .unwrap();
    let cursor = first.next_cursor.unwrap();

    let linux = Some(OperatingSystem::parse("linux").unwrap());
    let foreign = ListQuery {
        limit: PageSize::default(),
        cursor: Some(cursor.clone()),
        os: linux,
    };
    assert!(matches!(
        store.list(&foreign).await,
        Err(StoreError::InvalidCursor(_))
    ));

    for bad in [
        format!("x{cursor}"),
        cursor[..cursor.len() / 2].to_owned(),
        "garbage".into(),
    ] {
        let query = ListQuery {
            cursor: Some(bad),
            ..Default::default()
        };
        let err = store.list(&query).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidCursor(_)), "{err:?}");
    }
}

#[tokio::test]
async fn feeding_raises_happiness_to_ten_and_counts_every_feed() {
    let store = fresh_store().await;
    let resident = store
        .admit(&new_resident("hungry", "linux"), None)
        .await
        .unwrap()
        .resident;
    let fed = store.feed(&resident.ckid, &token()).await.unwrap();
    assert!(!fed.replayed);
    let fed = fed.resident;
    assert_eq!((fed.happiness, fed.feed_count), (2, 1));
    assert!(fed.last_fed_at.is_some());
    assert_eq!(store.get(&resident.ckid).await.unwrap(), fed);

    let missing = ResidentId::parse("nobody").unwrap();
    assert!(matches!(
        store.feed(&missing, &token()).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        raw_item(&store, "nobody").await.is_none(),
        "feeding a missing resident created it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_feeds_are_exact() {
    let store = Arc::new(fresh_store().await);
    let ckid = store
        .admit(&new_resident("popular", "linux"), None)
        .await
        .unwrap()
        .resident
        .ckid;
    let feeds: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            let ckid = ckid.clone();
            tokio::spawn(async move { store.feed(&ckid, &token()).await })
        })
        .collect();
    let mut counts = HashSet::new();
    for feed in feeds {
        let fed = feed.await.unwrap().unwrap();
        assert!(fed.resident.happiness <= 10);
        assert!(!fed.replayed);
        // Each feeding answers with its own result: no two see the same count.
        assert!(
            counts.insert(fed.resident.feed_count),
            "a count answered twice"
        );
    }
    let after = store.get(&ckid).await.unwrap();
    assert_eq!(after.happiness, 10);
    assert_eq!(after.feed_count, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_admissions_with_one_key_make_one_resident() {
    let store = Arc::new(fresh_store().await);
    let new = new_resident("once only", "linux");
    let key = IdempotencyKey::parse("form-token-1").unwrap();
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let (store, new, key) = (store.clone(), new.clone(), key.clone());
            tokio::spawn(async move { store.admit(&new, Some(&key)).await })
        })
        .collect();
    let mut answers = Vec::new();
    for attempt in attempts {
        answers.push(attempt.await.unwrap().unwrap());
    }
    assert_eq!(answers.iter().filter(|a| !a.replayed).count(), 1);
    let first = &answers[0].resident;
    assert!(
        answers.iter().all(|a| &a.resident == first),
        "answers differ"
    );

    let residents: Vec<_> = all_items(&store)
        .await
        .into_iter()
        .filter(|item| item.contains_key("listing"))
        .collect();
    assert_eq!(residents.len(), 1);
    assert_eq!(
        residents[0]["ckid"],
        AttributeValue::S(first.ckid.to_string())
    );

    // The same key with other content is a conflict and writes nothing.
    let other = new_resident("someone else", "linux");
    assert!(matches!(
        store.admit(&other, Some(&key)).await,
        Err(StoreError::IdempotencyConflict)
    ));
    assert_eq!(
        all_items(&store).await.len(),
        1,
        "one item: the resident, which remembers its key"
    );
}

#[tokio::test]
async fn replay_answers_the_first_result_even_after_feeding() {
    let store = fresh_store().await;
    let new = new_resident("retry me", "linux");
    let key = IdempotencyKey::parse("k").unwrap();
    let first = store.admit(&new, Some(&key)).await.unwrap();
    store.feed(&first.resident.ckid, &token()).await.unwrap();
    let again = store.admit(&new, Some(&key)).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.resident, first.resident);
}

#[tokio::test]
async fn an_expired_key_is_free_again() {
    let store = fresh_store().await;
    let new = new_resident("later", "linux");
    let key = IdempotencyKey::parse("old-key").unwrap();
    let first = store.admit(&new, Some(&key)).await.unwrap().resident;
    assert_eq!(first.ckid, ResidentId::for_key(&key, 0));
    // Age the key past its 24 h.
    store
        .client()
        .update_item()
        .table_name(store.table().as_str())
        .key("ckid", AttributeValue::S(first.ckid.to_string()))
        .update_expression("SET key_until = :past")
        .expression_attribute_values(":past", AttributeValue::N("1000".into()))
        .send()
        .await
        .unwrap();
    let second = store.admit(&new, Some(&key)).await.unwrap();
    assert!(!second.replayed);
    assert_ne!(second.resident.ckid, first.ckid);
    // And the key now means the second admission.
    let third = store.admit(&new, Some(&key)).await.unwrap();
    assert!(third.replayed);
    assert_eq!(third.resident, second.resident);
}

#[tokio::test]
async fn a_key_is_remembered_for_24_hours_on_the_resident_it_admitted() {
    let store = fresh_store().await;
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    let key = IdempotencyKey::parse("ttl").unwrap();
    let admitted = store
        .admit(&new_resident("ttl", "linux"), Some(&key))
        .await
        .unwrap()
        .resident;
    let item = raw_item(&store, admitted.ckid.as_str()).await.unwrap();
    let AttributeValue::N(until) = &item["key_until"] else {
        panic!("key_until is not a number")
    };
    let until: i64 = until.parse().unwrap();
    assert!((before + 86_400..=before + 86_400 + 60).contains(&until));
    // One item per admission: no record beside the resident, and no TTL on it.
    assert_eq!(all_items(&store).await.len(), 1);
    assert!(!item.contains_key("expires_at"));
}

#[tokio::test]
async fn legacy_items_read_and_list_after_migration() {
    let store = fresh_store().await;
    let legacy: HashMap<String, AttributeValue> = [
        ("ckid", AttributeValue::S("ck1".into())),
        ("name", AttributeValue::S("foo foo cuddly poops".into())),
        ("type", AttributeValue::S("m2.xlarge".into())),
        ("service", AttributeValue::S("10".into())),
        ("happiness", AttributeValue::N("1".into())),
        ("petname", AttributeValue::S("sven".into())),
        ("os", AttributeValue::S("Linux".into())),
        (
            "image",
            AttributeValue::S("https://example.com/ck1.png".into()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    store
        .client()
        .put_item()
        .table_name(store.table().as_str())
        .set_item(Some(legacy))
        .send()
        .await
        .unwrap();
    store
        .admit(
            &new_resident("modern", "linux"),
            Some(&IdempotencyKey::parse("x").unwrap()),
        )
        .await
        .unwrap();
    let ck1 = ResidentId::parse("ck1").unwrap();

    let read = store.get(&ck1).await.unwrap();
    assert_eq!((read.service, read.happiness, read.feed_count), (10, 1, 0));
    assert_eq!(read.registered_at, None);
    assert_eq!(
        list_all(&store, None, 10).await.0.len(),
        1,
        "unmigrated items are not listed yet"
    );

    let report = store.migrate_legacy().await.unwrap();
    assert_eq!((report.migrated, report.skipped), (1, 0));
    let (ids, _) = list_all(&store, None, 10).await;
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"ck1".to_owned()));
    assert_eq!(list_all(&store, Some("linux"), 10).await.0.len(), 2);
    let item = raw_item(&store, "ck1").await.unwrap();
    assert_eq!(item["service"], AttributeValue::N("10".into()));

    let migrated = store.get(&ck1).await.unwrap();
    assert!(migrated.registered_at.is_some());
    let again = store.migrate_legacy().await.unwrap();
    assert_eq!(again.migrated, 0);
    assert_eq!(
        store.get(&ck1).await.unwrap(),
        migrated,
        "a second migration changed the item"
    );

    let fed = store.feed(&ck1, &token()).await.unwrap().resident;
    assert_eq!((fed.happiness, fed.feed_count), (2, 1));
}

#[tokio::test]
async fn create_table_and_seed_are_idempotent() {
    let store = fresh_store().await;
    assert_eq!(
        create_table(store.client(), store.table()).await.unwrap(),
        Created::AlreadyExisted
    );
    assert_eq!(store::seed::seed(&store).await.unwrap(), 12);
    assert_eq!(store::seed::seed(&store).await.unwrap(), 0);
    let (ids, _) = list_all(&store, None, 100).await;
    assert_eq!(ids.len(), 12);
    assert_eq!(ids[0], store::seed::demo_residents()[11].ckid.to_string());
}

#[tokio::test]
async fn readiness_follows_the_table() {
    let store = fresh_store().await;
    store.ready().await.unwrap();
    let missing = DynamoStore::new(store.client().clone(), test_support::unique_table_name());
    assert!(matches!(
        missing.ready().await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable_and_says_nothing_of_the_sdk() {
    let store = fresh_store().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = store
        .client()
        .config()
        .to_builder()
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .build();
    let down = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        store.table().clone(),
    );
    let err = down
        .get(&ResidentId::parse("ck1").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert_eq!(err.to_string(), "the residents database is unavailable");
    let new = new_resident("lost?", "linux");
    let err = down
        .admit(&new, Some(&IdempotencyKey::parse("k").unwrap()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(all_items(&store).await.is_empty(), "nothing was written");
}

#[tokio::test]
async fn the_store_recovers_when_dynamodb_comes_back() {
    let mut local = test_support::PrivateDynamoDbLocal::start();
    let store = local.fresh_store().await;
    store.ready().await.unwrap();
    local.stop();
    assert!(matches!(
        store.ready().await,
        Err(StoreError::Unavailable(_))
    ));
    local.restart();
    // In-memory data went with the process; the same client works once the table is back.
    create_table(store.client(), store.table()).await.unwrap();
    store.ready().await.unwrap();
    let admitted = store
        .admit(&new_resident("back", "linux"), None)
        .await
        .unwrap();
    assert_eq!(
        store.get(&admitted.resident.ckid).await.unwrap(),
        admitted.resident
    );
}

#[tokio::test]
async fn a_feeding_repeated_with_its_token_is_replayed_not_applied_again() {
    let store = fresh_store().await;
    let ckid = store
        .admit(&new_resident("once", "linux"), None)
        .await
        .unwrap()
        .resident
        .ckid;
    let key = IdempotencyKey::parse("feed-once").unwrap();
    let first = store.feed(&ckid, &key).await.unwrap();
    let again = store.feed(&ckid, &key).await.unwrap();
    assert!(!first.replayed);
    assert!(again.replayed);
    assert_eq!(again.resident, first.resident);
    assert_eq!(store.get(&ckid).await.unwrap().feed_count, 1);
    // Remembered while fewer than 16 other feedings came after it.
    for _ in 0..15 {
        store.feed(&ckid, &token()).await.unwrap();
    }
    assert!(store.feed(&ckid, &key).await.unwrap().replayed);
    assert_eq!(store.get(&ckid).await.unwrap().feed_count, 16);
}

#[tokio::test]
async fn a_resident_at_ten_is_fed_and_counted_and_stays_at_ten() {
    let store = fresh_store().await;
    let mut new = new_resident("content", "linux");
    new.happiness = domain::Happiness::parse(9).unwrap();
    let ckid = store.admit(&new, None).await.unwrap().resident.ckid;
    for count in 1..=3 {
        let fed = store.feed(&ckid, &token()).await.unwrap().resident;
        assert_eq!((fed.happiness, fed.feed_count), (10, count));
    }
    // The remembered tokens stay a fixed number, however often it is fed.
    let item = raw_item(&store, ckid.as_str()).await.unwrap();
    let AttributeValue::L(marks) = &item["recent_feeds"] else {
        panic!("recent_feeds is not a list: {item:?}");
    };
    assert_eq!(marks.len(), 16);
}

fn token() -> IdempotencyKey {
    IdempotencyKey::random()
}
