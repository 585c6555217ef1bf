//! The demo residents `cuddlekube-admin seed` adds: a dozen retirees with fixed ids, so
//! seeding twice adds nothing the second time.

use domain::{Resident, ResidentId, Timestamp};

use crate::{DynamoStore, StoreError};

struct Demo {
    name: &'static str,
    petname: &'static str,
    server_type: &'static str,
    os: &'static str,
    service: u16,
    happiness: u8,
}

const DEMO: [Demo; 12] = [
    Demo {
        name: "foo foo cuddly poops",
        petname: "sven",
        server_type: "m2.xlarge",
        os: "linux",
        service: 10,
        happiness: 7,
    },
    Demo {
        name: "Old Faithful",
        petname: "bessie",
        server_type: "m4.large",
        os: "linux",
        service: 9,
        happiness: 8,
    },
    Demo {
        name: "The Build Box Under Dave's Desk",
        petname: "rumble",
        server_type: "c4.2xlarge",
        os: "linux",
        service: 8,
        happiness: 6,
    },
    Demo {
        name: "Exchange 2010",
        petname: "inbox",
        server_type: "r4.xlarge",
        os: "windows",
        service: 12,
        happiness: 3,
    },
    Demo {
        name: "Tiny Tim",
        petname: "timmy",
        server_type: "t2.micro",
        os: "linux",
        service: 6,
        happiness: 9,
    },
    Demo {
        name: "Cron Job Carol",
        petname: "carol",
        server_type: "t3.small",
        os: "freebsd",
        service: 5,
        happiness: 7,
    },
    Demo {
        name: "Big Iron",
        petname: "moose",
        server_type: "x1.32xlarge",
        os: "linux",
        service: 7,
        happiness: 5,
    },
    Demo {
        name: "The Render Farm",
        petname: "pixel",
        server_type: "p3.8xlarge",
        os: "linux",
        service: 4,
        happiness: 8,
    },
    Demo {
        name: "Ledger",
        petname: "penny",
        server_type: "i3.2xlarge",
        os: "windows",
        service: 11,
        happiness: 4,
    },
    Demo {
        name: "Hadoop Hal",
        petname: "hal",
        server_type: "d2.4xlarge",
        os: "linux",
        service: 9,
        happiness: 6,
    },
    Demo {
        name: "Speedy",
        petname: "zoom",
        server_type: "z1d.large",
        os: "linux",
        service: 3,
        happiness: 10,
    },
    Demo {
        name: "Mystery Box",
        petname: "",
        server_type: "c5.large",
        os: "openbsd",
        service: 2,
        happiness: 5,
    },
];

/// The demo residents, registered one day apart from 2019-06-01.
pub fn demo_residents() -> Vec<Resident> {
    let first = time::macros::datetime!(2019-06-01 12:00 UTC);
    DEMO.iter()
        .enumerate()
        .map(|(i, demo)| {
            let at = Timestamp::from(first + time::Duration::days(i as i64));
            // Fixed random part so the id is the same on every run.
            let ulid =
                ulid::Ulid::from_parts((at.unix_seconds() as u64) * 1000, 0xC0DD_1E00 + i as u128);
            Resident {
                ckid: ResidentId::parse(&ulid.to_string())
                    .unwrap_or_else(|_| ResidentId::generate(at)),
                name: demo.name.to_owned(),
                server_type: demo.server_type.to_owned(),
                service: demo.service,
                happiness: demo.happiness,
                petname: demo.petname.to_owned(),
                os: demo.os.to_owned(),
                image: None,
                registered_at: Some(at),
                feed_count: 0,
                last_fed_at: None,
            }
        })
        .collect()
}

/// Writes many residents fast (BatchWriteItem, 25 a request, `parallel` requests at
/// once), for load tests and benchmarks on a fresh table. Unlike [`seed`] these puts are
/// not conditional: a resident already under one of the ckids is overwritten.
pub async fn bulk_insert(
    store: &DynamoStore,
    residents: &[Resident],
    parallel: usize,
) -> Result<(), StoreError> {
    let batches: Vec<&[Resident]> = residents.chunks(25).collect();
    for wave in batches.chunks(parallel.max(1)) {
        let mut writes = tokio::task::JoinSet::new();
        for batch in wave {
            let (store, batch) = (store.clone(), batch.to_vec());
            writes.spawn(async move { store.put_batch(&batch).await });
        }
        while let Some(written) = writes.join_next().await {
            written.map_err(StoreError::internal)??;
        }
    }
    Ok(())
}

/// Adds the demo residents that are missing; returns how many it added.
pub async fn seed(store: &DynamoStore) -> Result<usize, StoreError> {
    let mut added = 0;
    for resident in demo_residents() {
        if store.insert(&resident).await? {
            added += 1;
        }
    }
    Ok(added)
}
