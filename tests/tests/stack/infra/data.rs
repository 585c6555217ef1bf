//! infra/data.yaml: the residents table is the code's table, retained, recoverable and
//! encrypted.

use std::collections::{BTreeMap, BTreeSet};

use stack_tests::cfn::{Template, Value, items, text};
use store::table::DEFINITION;

#[test]
fn residents_table_matches_the_code_definition() {
    let data = Template::load("data.yaml");
    let tables = data.of_type("AWS::DynamoDB::Table");
    assert_eq!(
        tables.len(),
        1,
        "data.yaml must define exactly one DynamoDB table"
    );
    let table = tables[0];

    let key_schema = items(table.prop("KeySchema"));
    let keys: Vec<(&str, &str)> = key_schema
        .iter()
        .map(|k| (text(k.get("AttributeName")), text(k.get("KeyType"))))
        .collect();
    assert_eq!(
        keys,
        [(DEFINITION.partition_key, "HASH")],
        "{table}: the key schema must be the code's partition key alone (no sort key)"
    );

    let attributes: BTreeMap<&str, &str> = items(table.prop("AttributeDefinitions"))
        .iter()
        .map(|a| (text(a.get("AttributeName")), text(a.get("AttributeType"))))
        .collect();
    assert_eq!(
        attributes.get(DEFINITION.partition_key).copied(),
        Some("S"),
        "{table}: the partition key {} must be declared as type S",
        DEFINITION.partition_key
    );
    let expected_attributes: BTreeMap<&str, &str> = DEFINITION
        .key_attributes
        .iter()
        .map(|name| (*name, "S"))
        .collect();
    assert_eq!(
        attributes, expected_attributes,
        "{table}: AttributeDefinitions must be exactly the code's key attributes, all S"
    );

    let indexes: BTreeMap<&str, &Value> = items(table.prop("GlobalSecondaryIndexes"))
        .into_iter()
        .map(|index| (text(index.get("IndexName")), index))
        .collect();
    let expected_names: BTreeSet<&str> = DEFINITION.indexes.iter().map(|i| i.name).collect();
    assert_eq!(
        indexes.keys().copied().collect::<BTreeSet<_>>(),
        expected_names,
        "{table}: the GSIs must be exactly the code's indexes"
    );
    for expected in DEFINITION.indexes {
        let index = indexes[expected.name];
        let keys: Vec<(&str, &str)> = items(index.get("KeySchema"))
            .iter()
            .map(|k| (text(k.get("AttributeName")), text(k.get("KeyType"))))
            .collect();
        assert_eq!(
            keys,
            [
                (expected.partition_key, "HASH"),
                (expected.sort_key, "RANGE")
            ],
            "{table}: index {} must be keyed like the code's",
            expected.name
        );
        assert_eq!(
            text(
                index
                    .get("Projection")
                    .and_then(|p| p.get("ProjectionType"))
            ),
            "ALL",
            "{table}: index {} must project ALL attributes",
            expected.name
        );
    }

    let ttl = table.prop("TimeToLiveSpecification");
    assert_eq!(
        text(ttl.and_then(|t| t.get("AttributeName"))),
        DEFINITION.ttl_attribute,
        "{table}: TTL must read the code's ttl attribute"
    );
    assert_eq!(
        ttl.and_then(|t| t.get("Enabled")).and_then(Value::as_bool),
        Some(true),
        "{table}: TTL must be enabled"
    );
    assert_eq!(
        text(table.prop("BillingMode")),
        DEFINITION.billing_mode,
        "{table}: billing mode must be the code's"
    );
}

#[test]
fn residents_table_is_retained_recoverable_and_encrypted() {
    let data = Template::load("data.yaml");
    let table = data.of_type("AWS::DynamoDB::Table")[0];
    for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
        assert_eq!(
            text(table.body.get(policy)),
            "Retain",
            "{table}: {policy} must be Retain"
        );
    }
    let flag = |path: &[&str]| table.at(path).and_then(Value::as_bool);
    assert_eq!(
        flag(&[
            "PointInTimeRecoverySpecification",
            "PointInTimeRecoveryEnabled"
        ]),
        Some(true),
        "{table}: point-in-time recovery must be on"
    );
    assert_eq!(
        flag(&["SSESpecification", "SSEEnabled"]),
        Some(true),
        "{table}: KMS encryption must be on"
    );
    assert_eq!(
        flag(&["DeletionProtectionEnabled"]),
        Some(true),
        "{table}: deletion protection must be on"
    );
}
