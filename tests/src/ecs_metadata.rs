//! A stand-in for the ECS task metadata endpoint v4 that a Fargate task's containers
//! reach through `ECS_CONTAINER_METADATA_URI_V4`: `GET /` describes the asking container
//! (the collector sidecar), `GET /task` the task (its ARN, whose last part is the task
//! ID, family, revision, cluster, zone, launch type and containers). The shapes are
//! AWS's documented example responses, trimmed to what readers of them use.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;

const ACCOUNT: &str = "123456789012";
const CLUSTER: &str = "cuddlekube-test";
const SIDECAR_DOCKER_ID: &str = "1a2b3c4d5e6f-otel-collector";

/// Listens on a free loopback port until dropped.
#[derive(Debug)]
pub struct EcsTaskMetadata {
    pub port: u16,
    task_id: String,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Task {
    region: String,
    task_id: String,
}

impl EcsTaskMetadata {
    /// A task `task_id` (32 hex digits, as ECS makes them) of family
    /// `cuddlekube-test-website` in `region`.
    pub async fn start(region: &str, task_id: &str) -> Self {
        let task = Arc::new(Task {
            region: region.to_owned(),
            task_id: task_id.to_owned(),
        });
        let app = Router::new()
            .route("/", get(container))
            .route("/task", get(task_metadata))
            .with_state(task);
        let (port, server) = crate::serve_on_loopback(app).await;
        Self {
            port,
            task_id: task_id.to_owned(),
            server,
        }
    }

    /// `ECS_CONTAINER_METADATA_URI_V4` for the sidecar.
    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn task_id(&self) -> &str {
        &self.task_id
    }
}

impl Drop for EcsTaskMetadata {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn container_json(task: &Task, name: &str, docker_id: &str) -> Value {
    json!({
        "DockerId": docker_id,
        "Name": name,
        "DockerName": name,
        "Image": format!("{ACCOUNT}.dkr.ecr.{}.amazonaws.com/cuddlekube/{name}:test", task.region),
        "ImageID": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "Labels": {
            "com.amazonaws.ecs.cluster": format!("arn:aws:ecs:{}:{ACCOUNT}:cluster/{CLUSTER}", task.region),
            "com.amazonaws.ecs.container-name": name,
            "com.amazonaws.ecs.task-arn": task_arn(task),
            "com.amazonaws.ecs.task-definition-family": "cuddlekube-test-website",
            "com.amazonaws.ecs.task-definition-version": "7"
        },
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "Limits": { "CPU": 0 },
        "CreatedAt": "2026-01-02T03:04:05.000000000Z",
        "StartedAt": "2026-01-02T03:04:06.000000000Z",
        "Type": "NORMAL",
        "LogDriver": "awslogs",
        "LogOptions": {
            "awslogs-group": "/cuddlekube/test/website",
            "awslogs-region": task.region,
            "awslogs-stream": format!("{name}/{name}/{}", task.task_id)
        },
        "ContainerARN": format!("arn:aws:ecs:{}:{ACCOUNT}:container/{CLUSTER}/{}/{docker_id}", task.region, task.task_id),
        "Networks": [{
            "NetworkMode": "awsvpc",
            "IPv4Addresses": ["10.0.2.106"],
            "IPv4SubnetCIDRBlock": "10.0.2.0/24",
            "PrivateDNSName": "ip-10-0-2-106.ec2.internal",
            "SubnetGatewayIpv4Address": "10.0.2.1/24"
        }]
    })
}

fn task_arn(task: &Task) -> String {
    format!(
        "arn:aws:ecs:{}:{ACCOUNT}:task/{CLUSTER}/{}",
        task.region, task.task_id
    )
}

async fn container(State(task): State<Arc<Task>>) -> axum::Json<Value> {
    axum::Json(container_json(&task, "otel-collector", SIDECAR_DOCKER_ID))
}

async fn task_metadata(State(task): State<Arc<Task>>) -> axum::Json<Value> {
    axum::Json(json!({
        "Cluster": format!("arn:aws:ecs:{}:{ACCOUNT}:cluster/{CLUSTER}", task.region),
        "TaskARN": task_arn(&task),
        "Family": "cuddlekube-test-website",
        "Revision": "7",
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "Limits": { "CPU": 0.25, "Memory": 512 },
        "PullStartedAt": "2026-01-02T03:03:50.000000000Z",
        "PullStoppedAt": "2026-01-02T03:04:00.000000000Z",
        "AvailabilityZone": format!("{}a", task.region),
        "LaunchType": "FARGATE",
        "Containers": [
            container_json(&task, "website", "9f8e7d6c5b4a-website"),
            container_json(&task, "otel-collector", SIDECAR_DOCKER_ID),
        ],
        "ClockDrift": {
            "ClockErrorBound": 0.5,
            "ReferenceTimestamp": "2026-01-02T03:04:00Z",
            "ClockSynchronizationStatus": "SYNCHRONIZED"
        },
        "EphemeralStorageMetrics": { "Utilized": 261, "Reserved": 20496 }
    }))
}
