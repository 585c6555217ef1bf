#!/usr/bin/env python3
"""Deploy rehearsal: every infra/ stack created, in the README's order, in moto's
CloudFormation server, with the example parameter files (infra/params/).

What it proves: each template is accepted and reaches CREATE_COMPLETE with the parameters
an operator starts from; every Fn::ImportValue names an export that an earlier stack made;
every collector sidecar receives infra/collector/sidecar.yaml and the trace gateway
infra/collector/gateway.yaml byte for byte, with the environment each file reads; the
trace gateway's ECS service exists in each environment and goes with its stack;
templates too large to send inline go through the registry's template bucket, as
`deploy --s3-bucket` does; a second environment beside the first creates and deletes
without touching the first one's metrics log group or trace gateway; then the first one's
monitoring and services stacks (the trace gateway with them) are deleted too.

What it cannot prove: moto accepts, but does not model, WAFv2, Cloud Map (the gateway's
private DNS namespace and service), autoscaling, CloudWatch alarms, metric filters,
EventBridge targets and X-Ray settings, and its ECS service keeps no network
configuration, load balancers or service registries; nothing is deployed to a real
account. Where moto lacks a feature, the template is adapted in this script's in-memory
copy only (printed as "workaround"), never in infra/.

    python infra/rehearsal/rehearse.py --endpoint http://127.0.0.1:5000

`cargo xtask infra` starts moto_server on a free port and runs this against it.
"""

from __future__ import annotations

import argparse
import copy
import ipaddress
import json
import logging
import re
import sys
import time
from pathlib import Path

import boto3
import yaml
from botocore.config import Config

INFRA = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
# CloudFormation refuses a TemplateBody over this many bytes; larger templates go via S3.
INLINE_TEMPLATE_LIMIT = 51_200

# The README's order. (template, stack name pattern, parameter file pattern)
STACKS = [
    ("registry.yaml", "cuddlekube-registry", "params/registry.json"),
    ("tracing.yaml", "cuddlekube-tracing", "params/tracing.json"),
    ("network.yaml", "cuddlekube-{env}-network", "params/{env}/network.json"),
    ("data.yaml", "cuddlekube-{env}-data", "params/{env}/data.json"),
    ("services.yaml", "cuddlekube-{env}-services", "params/{env}/services.json"),
    ("monitoring.yaml", "cuddlekube-{env}-monitoring", "params/{env}/monitoring.json"),
]
PER_ENVIRONMENT = {"network.yaml", "data.yaml", "services.yaml", "monitoring.yaml"}

# GetAtts moto's models lack, replaced in the test copy by a value of the right shape.
MISSING_GETATTS = {
    ("LoadBalancer", "LoadBalancerFullName"): "app/cuddlekube-{env}/0123456789abcdef",
    ("WebsiteTargetGroup", "TargetGroupFullName"): "targetgroup/cuddlekube-{env}/0123456789abcdef",
    ("LoadBalancer", "CanonicalHostedZoneID"): "Z35SXDOTRQ7X7K",
}

failures: list[str] = []
# The emulated account, for placeholder ARNs (read from moto at start, never written down).
ACCOUNT = "unknown"


def report(ok: bool, what: str, detail: str = "") -> None:
    print(f"{'PASS' if ok else 'FAIL'}  {what}{'  ' + detail if detail else ''}", flush=True)
    if not ok:
        failures.append(what)


def note(text: str) -> None:
    print(f"      {text}", flush=True)


# ---------------------------------------------------------------------------- templates


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags turned into their long forms."""


def _construct_tag(loader: CfnLoader, suffix: str, node: yaml.Node):
    key = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if key == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(file: str) -> dict:
    return yaml.load((INFRA / file).read_text(), Loader=CfnLoader)


def walk(value, visit):
    """Rebuilds `value` bottom-up; `visit(node)` may return a replacement or None."""
    if isinstance(value, dict):
        value = {k: walk(v, visit) for k, v in value.items()}
    elif isinstance(value, list):
        value = [walk(v, visit) for v in value]
    replaced = visit(value)
    return value if replaced is None else replaced


def imports_of(template: dict, params: dict[str, str]) -> set[str]:
    found: set[str] = set()

    def visit(node):
        if isinstance(node, dict) and "Fn::ImportValue" in node:
            name = node["Fn::ImportValue"]
            name = name.get("Fn::Sub", name) if isinstance(name, dict) else name
            found.add(re.sub(r"\$\{(\w+)\}", lambda m: params[m.group(1)], name))
        return None

    walk(template, visit)
    return found


def unmodelled_types(template: dict) -> dict[str, str]:
    """Logical ID -> type, for resources moto's CloudFormation accepts but does not create."""
    logging.getLogger("moto").setLevel(logging.ERROR)  # it logs each type it lacks
    from moto.cloudformation.parsing import resource_class_from_type

    return {rid: r["Type"] for rid, r in template.get("Resources", {}).items()
            if resource_class_from_type(r["Type"]) is None}


def moto_copy(file: str, template: dict, params: dict[str, str], env: str | None) -> dict:
    """The template as moto can take it. Every change is printed."""
    template = copy.deepcopy(template)
    used: list[str] = []
    unmodelled = unmodelled_types(template)
    if unmodelled:
        kinds = sorted(set(unmodelled.values()))
        note(f"not modelled by moto ({file}, {len(unmodelled)} resources): {', '.join(kinds)}")

    if file == "network.yaml":
        subnets = list(ipaddress.ip_network(params["VpcCidr"]).subnets(new_prefix=20))

        def cidr(node):
            if isinstance(node, dict) and "Fn::Select" in node:
                index, source = node["Fn::Select"]
                if isinstance(source, dict) and "Fn::Cidr" in source:
                    used.append("Fn::Cidr (crashes moto) -> literal /20 subnets of VpcCidr")
                    return str(subnets[int(index)])
            return None

        template = walk(template, cidr)

    def getatt(node):
        if isinstance(node, dict) and "Fn::GetAtt" in node:
            target = tuple(node["Fn::GetAtt"])
            if target in MISSING_GETATTS:
                used.append(f"GetAtt {'.'.join(target)} (not in moto) -> a literal of its shape")
                return MISSING_GETATTS[target].format(env=env)
        if isinstance(node, dict) and "Fn::Sub" in node and isinstance(node["Fn::Sub"], str):
            text = node["Fn::Sub"]
            for (resource, attribute), literal in MISSING_GETATTS.items():
                token = "${%s.%s}" % (resource, attribute)
                if token in text:
                    used.append(f"GetAtt {resource}.{attribute} in Sub (not in moto) -> literal")
                    text = text.replace(token, literal.format(env=env))
            node["Fn::Sub"] = text
        return None

    template = walk(template, getatt)

    def unmodelled_getatt(node):
        if isinstance(node, dict) and "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            if resource in unmodelled:
                used.append(f"GetAtt of unmodelled {unmodelled[resource]} -> a placeholder ARN")
                return f"arn:aws:rehearsal:{REGION}:{ACCOUNT}:{resource}/{attribute}"
        return None

    template = walk(template, unmodelled_getatt)
    for change in sorted(set(used)):
        note(f"workaround ({file}, test copy only): {change}")
    return template


# ---------------------------------------------------------------------------- parameters


def prerequisites(aws: dict) -> dict[str, str]:
    """What README "Before the first deploy" has an operator make, made in moto."""
    global ACCOUNT
    account = ACCOUNT = aws["sts"].get_caller_identity()["Account"]
    certificate = aws["acm"].request_certificate(DomainName="cuddlekube.example")["CertificateArn"]
    topic = aws["sns"].create_topic(Name="cuddlekube-on-call")["TopicArn"]
    bucket = f"{account}-{REGION}-alb-logs"
    aws["s3"].create_bucket(Bucket=bucket)
    lists = aws["ec2"].describe_managed_prefix_lists()["PrefixLists"]
    by_name = {p["PrefixListName"]: p["PrefixListId"] for p in lists}
    registry = f"{account}.dkr.ecr.{REGION}.amazonaws.com"
    return {
        "CertificateArn": certificate,
        "AccessLogsBucketName": bucket,
        "AlarmTopicArn": topic,
        "BudgetEmail": "on-call@cuddlekube.example",
        "DynamoDbPrefixListId": by_name[f"com.amazonaws.{REGION}.dynamodb"],
        "S3PrefixListId": by_name[f"com.amazonaws.{REGION}.s3"],
        "WebsiteImage": f"{registry}/cuddlekube/website:rehearsal",
        "RegisterImage": f"{registry}/cuddlekube/register:rehearsal",
        "ServerListingImage": f"{registry}/cuddlekube/server-listing:rehearsal",
    }


def parameters(file: str, env: str, filled: dict[str, str], overrides: dict[str, str]) -> dict[str, str]:
    path = INFRA / file.format(env="prod")
    values = {p["ParameterKey"]: p["ParameterValue"] for p in json.loads(path.read_text())}
    for key, value in values.items():
        if value.startswith("REPLACE"):
            if key not in filled:
                raise SystemExit(f"{path.name}: {key} starts with REPLACE and the rehearsal has no value for it")
            values[key] = filled[key]
    if "EnvironmentName" in values:
        values["EnvironmentName"] = env
    values.update(overrides)
    return values


# ---------------------------------------------------------------------------- stacks


def wait(cfn, name: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return stack
        time.sleep(0.2)


def exports(cfn) -> dict[str, str]:
    out, token = {}, None
    while True:
        page = cfn.list_exports(**({"NextToken": token} if token else {}))
        out.update({e["Name"]: e["Value"] for e in page["Exports"]})
        token = page.get("NextToken")
        if not token:
            return out


def create(aws, file: str, name: str, params: dict[str, str], env: str | None, bucket: str | None) -> dict:
    cfn = aws["cloudformation"]
    source = load_template(file)
    body = json.dumps(moto_copy(file, source, params, env))

    wanted = imports_of(source, params)
    have = exports(cfn)
    missing = sorted(wanted - have.keys())
    report(not missing, f"{name}: every import has an export",
           f"{len(wanted)} imports" + (f"; missing {missing}" if missing else ""))

    declared = set(source.get("Parameters", {}))
    unknown = sorted(set(params) - declared)
    report(not unknown, f"{name}: parameter file matches the template", f"unknown {unknown}" if unknown else "")
    # CloudFormation refuses a value over its parameter's MaxLength; moto does not check.
    for key, value in params.items():
        limit = source.get("Parameters", {}).get(key, {}).get("MaxLength")
        if limit is not None:
            report(len(value) <= int(limit), f"{name}: {key} fits its MaxLength",
                   f"{len(value)} of {limit} characters")

    request = {
        "StackName": name,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        "Capabilities": ["CAPABILITY_IAM"],
        "Tags": [{"Key": "Project", "Value": "cuddlekube"}] + (
            [{"Key": "Environment", "Value": env}] if env else []),
    }
    size = (INFRA / file).stat().st_size
    if size > INLINE_TEMPLATE_LIMIT:
        if not bucket:
            report(False, f"{name}: {file} is {size} bytes, over the inline limit, and no template bucket exists")
            return {}
        key = f"rehearsal/{file}"
        aws["s3"].put_object(Bucket=bucket, Key=key, Body=body.encode())
        request["TemplateURL"] = f"https://{bucket}.s3.amazonaws.com/{key}"
        note(f"{file}: {size} bytes > {INLINE_TEMPLATE_LIMIT}, sent through the template bucket (deploy --s3-bucket)")
    else:
        request["TemplateBody"] = body

    started = time.monotonic()
    try:
        cfn.create_stack(**request)
        stack = wait(cfn, name)
    except Exception as err:  # noqa: BLE001 - a refused template is a result, not a crash
        report(False, f"{name}: create", f"{type(err).__name__}: {err}")
        return {}
    status = stack["StackStatus"]
    resources = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    made = sum(1 for r in stack.get("Outputs", []) if r.get("ExportName"))
    report(status == "CREATE_COMPLETE", f"{name}: {status}",
           f"{len(resources)} resources, {made} exports, {time.monotonic() - started:.1f} s")
    if status != "CREATE_COMPLETE":
        for event in cfn.describe_stack_events(StackName=name)["StackEvents"][:10]:
            note(f"{event['LogicalResourceId']}: {event['ResourceStatus']} {event.get('ResourceStatusReason', '')}")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def task_definition(aws, family: str) -> dict | None:
    try:
        return aws["ecs"].describe_task_definition(taskDefinition=family)["taskDefinition"]
    except Exception as err:  # noqa: BLE001
        report(False, f"{family}: task definition registered", str(err))
        return None


def environment(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("environment", [])}


def env_reads(config: str) -> set[str]:
    """The ${env:NAME} variables a collector config reads (in its values; comments may
    mention others)."""
    found: set[str] = set()

    def visit(node):
        if isinstance(node, str):
            found.update(re.findall(r"\$\{env:([A-Z0-9_]+)\}", node))
        return None

    walk(yaml.safe_load(config), visit)
    return found


def check_task_definitions(aws, env: str, sidecar: str, gateway: str) -> None:
    """The sidecars' config is sidecar.yaml, the gateway's gateway.yaml, each with exactly the
    environment its file reads; the apps point at their sidecar, the sidecars at the
    gateway's name; the gateway's ECS service exists."""
    hostname = f"gateway.cuddlekube-{env}.traces"
    for service in ("website", "register", "server-listing"):
        family = f"cuddlekube-{env}-{service}"
        definition = task_definition(aws, family)
        if definition is None:
            continue
        containers = {c["name"]: c for c in definition["containerDefinitions"]}
        collector = environment(containers["otel-collector"])
        app = environment(containers[service])
        report(collector.get("AOT_CONFIG_CONTENT") == sidecar,
               f"{family}: sidecar gets infra/collector/sidecar.yaml byte for byte",
               f"{len(collector.get('AOT_CONFIG_CONTENT', ''))} of {len(sidecar)} bytes")
        report(set(collector) - {"AOT_CONFIG_CONTENT"} == env_reads(sidecar)
               and collector.get("GATEWAY_HOSTNAME") == hostname,
               f"{family}: sidecar has the variables sidecar.yaml reads, GATEWAY_HOSTNAME={hostname}",
               f"{sorted(collector)}")
        report(app.get("OTEL_EXPORTER_OTLP_ENDPOINT") == "http://127.0.0.1:4318"
               and app.get("OTEL_SERVICE_NAME") == service
               and app.get("OTEL_RESOURCE_ATTRIBUTES", "").startswith(f"deployment.environment.name={env}"),
               f"{family}: app exports OTLP to the sidecar as {service} in {env}")

    family = f"cuddlekube-{env}-trace-gateway"
    definition = task_definition(aws, family)
    if definition is not None:
        containers = {c["name"]: c for c in definition["containerDefinitions"]}
        gateway_env = environment(containers.get("trace-gateway", {}))
        report(gateway_env.get("AOT_CONFIG_CONTENT") == gateway,
               f"{family}: gateway gets infra/collector/gateway.yaml byte for byte",
               f"{len(gateway_env.get('AOT_CONFIG_CONTENT', ''))} of {len(gateway)} bytes")
        report(set(gateway_env) - {"AOT_CONFIG_CONTENT"} == env_reads(gateway)
               and gateway_env.get("DEPLOYMENT_ENVIRONMENT") == env,
               f"{family}: gateway has the variables gateway.yaml reads, DEPLOYMENT_ENVIRONMENT={env}",
               f"{sorted(gateway_env)}")
    report(gateway_service(aws, env) is not None, f"cuddlekube-{env}: ECS service trace-gateway exists")


def gateway_service(aws, env: str) -> dict | None:
    """The trace gateway's ECS service in the environment's cluster, if it is there."""
    try:
        found = aws["ecs"].describe_services(cluster=f"cuddlekube-{env}", services=["trace-gateway"])["services"]
    except aws["ecs"].exceptions.ClusterNotFoundException:
        return None
    return next((s for s in found if s.get("status") == "ACTIVE"), None)


def note_what_moto_drops(aws, env: str) -> None:
    """What the gateway's wiring looks like in moto: printed, so nobody reads more into a
    PASS than moto models."""
    service = gateway_service(aws, env)
    if service is not None:
        note(f"moto ({env}): trace-gateway desiredCount={service.get('desiredCount')}, "
             f"serviceRegistries={service.get('serviceRegistries', [])}, "
             f"networkConfiguration={service.get('networkConfiguration')} (moto's CloudFormation "
             "passes only the cluster, task definition and count to ECS)")
    namespaces = [n["Name"] for n in aws["servicediscovery"].list_namespaces()["Namespaces"]]
    note(f"moto ({env}): Cloud Map namespaces {namespaces} (moto's CloudFormation creates none)")


def detach_managed_policies(aws, name: str) -> None:
    """moto deletes a stack's roles before the managed policy attached to them (AWS deletes
    the policy first, since it refers to the roles), and then refuses; detach them first."""
    iam = aws["iam"]
    for resource in aws["cloudformation"].list_stack_resources(StackName=name)["StackResourceSummaries"]:
        if resource["ResourceType"] != "AWS::IAM::ManagedPolicy":
            continue
        arn = resource["PhysicalResourceId"]
        for role in iam.list_entities_for_policy(PolicyArn=arn).get("PolicyRoles", []):
            iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
        note(f"workaround ({name}): detached {resource['LogicalResourceId']} before deleting (moto's delete order)")


def delete(aws, name: str) -> bool:
    cfn = aws["cloudformation"]
    detach_managed_policies(aws, name)
    cfn.delete_stack(StackName=name)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            stacks = cfn.describe_stacks(StackName=name)["Stacks"]
        except cfn.exceptions.ClientError as err:
            if "does not exist" in str(err):
                return True
            raise
        if not stacks or stacks[0]["StackStatus"] == "DELETE_COMPLETE":
            return True
        if stacks[0]["StackStatus"].endswith("_FAILED"):
            return False
        time.sleep(0.2)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="moto_server URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--environment", default="prod")
    parser.add_argument("--second-environment", default="staging")
    args = parser.parse_args()

    config = Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=60)
    session = boto3.session.Session(aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal",
                                    region_name=REGION)
    aws = {svc: session.client(svc, endpoint_url=args.endpoint, config=config)
           for svc in ("cloudformation", "s3", "sns", "acm", "ec2", "ecs", "logs", "sts", "iam",
                       "servicediscovery")}

    started = time.monotonic()
    filled = prerequisites(aws)
    sidecar_config = (INFRA / "collector" / "sidecar.yaml").read_text()
    gateway_config = (INFRA / "collector" / "gateway.yaml").read_text()
    # The README's deploy merges the files in with `jq --rawfile`, which keeps every byte.
    services_extra = {"CollectorConfig": sidecar_config, "GatewayConfig": gateway_config}

    bucket = None
    environments = [args.environment] + ([args.second_environment] if args.second_environment else [])
    cidrs = {args.environment: None, args.second_environment: "10.41.0.0/16"}
    for env in environments:
        print(f"=== environment {env}", flush=True)
        for file, stack_pattern, params_pattern in STACKS:
            if file not in PER_ENVIRONMENT and env != args.environment:
                continue
            overrides = dict(services_extra) if file == "services.yaml" else {}
            if env != args.environment:
                if file == "network.yaml":
                    overrides["VpcCidr"] = cidrs[env]
                if file == "services.yaml":
                    overrides["AlbDeletionProtection"] = "false"
                    # The second environment sleeps at night, so both sides of SleepsAtNight
                    # are created (README "Scale to zero and back").
                    overrides.update(PauseSchedule="cron(0 22 * * ? *)",
                                     WakeSchedule="cron(0 7 ? * MON-FRI *)",
                                     ScheduleTimezone="Europe/Berlin")
            params = parameters(params_pattern, env, filled, overrides)
            outputs = create(aws, file, stack_pattern.format(env=env), params,
                             env if file in PER_ENVIRONMENT else None, bucket)
            if file == "registry.yaml":
                bucket = outputs.get("TemplateBucketName")
        check_task_definitions(aws, env, sidecar_config, gateway_config)
        note_what_moto_drops(aws, env)

    def metrics_group_exists(env: str) -> bool:
        prefix = f"/cuddlekube/{env}/metrics"
        groups = aws["logs"].describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]
        return any(g["logGroupName"] == prefix for g in groups)

    def tear_down(env: str) -> None:
        """The stacks that hold per-environment names (metrics log group, alarms, dashboard,
        the services and their trace gateway). The network and data stacks stay: moto
        cannot delete a VPC that had interface endpoints, and the data stack retains its
        table by design. (The README switches the ALB's deletion protection off first;
        moto does not enforce it.)"""
        print(f"=== tear down {env}'s monitoring and services (README order)", flush=True)
        for file in ("monitoring.yaml", "services.yaml"):
            name = dict((f, p) for f, p, _ in STACKS)[file].format(env=env)
            report(delete(aws, name), f"{name}: DELETE_COMPLETE (with the trace gateway)"
                   if file == "services.yaml" else f"{name}: DELETE_COMPLETE")
        report(not metrics_group_exists(env), f"/cuddlekube/{env}/metrics went with its stack")
        if gateway_service(aws, env) is None:
            report(True, f"cuddlekube-{env}: trace-gateway went with its stack")
        else:
            # moto's ECS service has no CloudFormation delete: every service outlives its
            # stack there, the website's too, so the gateway's cannot be checked.
            left = aws["ecs"].list_services(cluster=f"cuddlekube-{env}")["serviceArns"]
            note(f"moto ({env}): ECS services are not deleted with their stack "
                 f"({len(left)} left: {', '.join(a.rsplit('/', 1)[-1] for a in left)}); "
                 "the gateway's removal is not checked")

    if args.second_environment:
        tear_down(args.second_environment)
        report(metrics_group_exists(args.environment),
               f"/cuddlekube/{args.environment}/metrics survives {args.second_environment}'s teardown")
        report(gateway_service(aws, args.environment) is not None,
               f"cuddlekube-{args.environment}: trace-gateway survives {args.second_environment}'s teardown")
    tear_down(args.environment)

    elapsed = time.monotonic() - started
    if failures:
        print(f"REHEARSAL FAILED: {len(failures)} check(s) failed in {elapsed:.1f} s: {failures}")
        return 1
    print(f"REHEARSAL PASSED: {len(environments)} environments, every stack CREATE_COMPLETE, "
          f"every import exported, in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
