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
monitoring and services stacks (the trace gateway with them) are deleted too. Last, the
operator's command itself (infra/deploy/deploy.py, `cargo xtask deploy` / `destroy`)
deploys a third environment whole, with images taken as given, and destroys it, leaving
only the retained table and key it lists; its refusals (missing images, a refused stack,
destroy without --yes) are checked too.

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
import io
import ipaddress
import json
import logging
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import boto3
import yaml
from botocore.config import Config

INFRA = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(INFRA / "deploy"))
import deploy as deploy_tool  # noqa: E402 - infra/deploy/deploy.py, the operator's command
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


# ---------------------------------------------------------------------------- the deploy command


def oci_index(*platforms: str) -> dict:
    """An image index as `docker buildx build --platform ... --push` makes it (with the
    attestation entry buildx adds as unknown/unknown)."""
    entries = [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + f"{i:x}" * 64, "size": 1000 + i,
                "platform": {"os": p.split("/")[0], "architecture": p.split("/")[1]}}
               for i, p in enumerate(platforms, start=1)]
    entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "e" * 64,
                    "size": 800, "platform": {"os": "unknown", "architecture": "unknown"}})
    return {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}


def push_images(aws, tag: str, platforms: tuple[str, ...], services: list[str]) -> None:
    """What `docker buildx ... --push` leaves in ECR, put there directly (no Docker here)."""
    for service in services:
        index = oci_index(*platforms)
        aws["ecr"].put_image(repositoryName=f"cuddlekube/{service}", imageTag=tag,
                             imageManifest=json.dumps(index), imageManifestMediaType=index["mediaType"])
    note(f"put in moto's ECR as image indexes ({', '.join(platforms)}): "
         f"{', '.join(f'cuddlekube/{s}:{tag}' for s in services)}")


def write_params(folder: Path, env: str, filled: dict[str, str], overrides: dict[str, dict[str, str]]) -> None:
    """params/prod copied for `env` as the README says (EnvironmentName, VpcCidr), the REPLACE
    values filled with the rehearsal's prerequisites."""
    (folder / env).mkdir(parents=True, exist_ok=True)
    for part in deploy_tool.PARTS:
        values = parameters(f"params/{{env}}/{part}.json", env, filled, overrides.get(part, {}))
        (folder / env / f"{part}.json").write_text(json.dumps(
            [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()], indent=2))


def free_moto_vpc(aws, name: str) -> None:
    """moto's stack deletion leaves the VPC's gateway endpoints, NAT gateways, internet
    gateway and route tables (AWS deletes them with the stack), and then cannot delete the
    VPC; they are deleted first, here only. (Why this environment uses EgressMode=nat: moto
    cannot delete a VPC that had interface endpoints at all.)"""
    ec2 = aws["ec2"]
    vpcs = [r["PhysicalResourceId"] for r in
            aws["cloudformation"].list_stack_resources(StackName=name)["StackResourceSummaries"]
            if r["ResourceType"] == "AWS::EC2::VPC"]
    for vpc in vpcs:
        where = [{"Name": "vpc-id", "Values": [vpc]}]
        endpoints = [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints(Filters=where)["VpcEndpoints"]]
        if endpoints:
            ec2.delete_vpc_endpoints(VpcEndpointIds=endpoints)
        nats = [n["NatGatewayId"] for n in ec2.describe_nat_gateways(Filters=where)["NatGateways"]
                if n["State"] != "deleted"]
        for nat in nats:
            ec2.delete_nat_gateway(NatGatewayId=nat)
        gateways = ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])["InternetGateways"]
        for gateway in gateways:
            ec2.detach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"], VpcId=vpc)
            ec2.delete_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"])
        tables = [t for t in ec2.describe_route_tables(Filters=where)["RouteTables"]
                  if not any(a.get("Main") for a in t.get("Associations", []))]
        for table in tables:
            for association in table.get("Associations", []):
                ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
            ec2.delete_route_table(RouteTableId=table["RouteTableId"])
        note(f"workaround ({name}): deleted {len(endpoints)} gateway endpoints, {len(nats)} NAT gateways, "
             f"{len(gateways)} internet gateway and {len(tables)} route tables of {vpc} first "
             "(moto's stack deletion leaves them, then cannot delete the VPC)")


def before_delete(aws, name: str) -> None:
    detach_managed_policies(aws, name)
    if name.endswith("-network"):
        free_moto_vpc(aws, name)


def run_command(argv: list[str], hooks) -> tuple[int, str]:
    """deploy.py's CLI as an operator runs it; its output is echoed and returned."""
    print(f"$ cargo xtask {' '.join(argv)}", flush=True)
    captured = io.StringIO()

    class Tee(io.TextIOBase):
        def __init__(self, stream):
            self.stream = stream

        def write(self, text):
            captured.write(text)
            return self.stream.write(text)

        def flush(self):
            self.stream.flush()

    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = Tee(out), Tee(err)
    try:
        status = deploy_tool.main(argv, hooks=hooks)
    finally:
        sys.stdout, sys.stderr = out, err
    print(f"(exit {status})", flush=True)
    return status, captured.getvalue()


def check_platform_rule() -> None:
    """Unit-style: the platform check against the manifests it can meet."""
    index = json.dumps(oci_index("linux/arm64"))
    check = deploy_tool.check_image_platforms(deploy_tool.manifest_platforms(index, None), ["X86_64"], "website:t")
    report(not check.ok and "linux/amd64" in check.detail,
           "deploy: an arm64-only image for X86_64 tasks is MISSING", check.detail)
    single = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                         "config": {}, "layers": []})
    check = deploy_tool.check_image_platforms(deploy_tool.manifest_platforms(single, None), ["X86_64"], "website:t")
    report(not check.ok and "single-platform" in check.detail,
           "deploy: a single manifest is MISSING (its platform cannot be told)", check.detail)
    both = json.dumps(oci_index("linux/amd64", "linux/arm64"))
    check = deploy_tool.check_image_platforms(deploy_tool.manifest_platforms(both, None), ["X86_64", "ARM64"], "t")
    report(check.ok, "deploy: an amd64+arm64 index serves --arch both", check.detail)


def check_failure_message() -> None:
    """Unit-style: what a failed stack prints, from events in CloudFormation's shape (moto
    never fails a resource: it refuses the request or completes it)."""
    events = [
        {"LogicalResourceId": "cuddlekube-demo-services", "ResourceType": "AWS::CloudFormation::Stack",
         "ResourceStatus": "CREATE_IN_PROGRESS"},
        {"LogicalResourceId": "LoadBalancer", "ResourceType": "AWS::ElasticLoadBalancingV2::LoadBalancer",
         "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "Access Denied for bucket: alb-logs"},
        {"LogicalResourceId": "WebsiteService", "ResourceType": "AWS::ECS::Service",
         "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "Resource creation cancelled"},
        {"LogicalResourceId": "cuddlekube-demo-services", "ResourceType": "AWS::CloudFormation::Stack",
         "ResourceStatus": "ROLLBACK_COMPLETE"},
    ]
    text = deploy_tool.failure_message("cuddlekube-demo-services", "ROLLBACK_COMPLETE",
                                       deploy_tool.first_failure(events), "demo", "deploy")
    report(text.startswith("cuddlekube-demo-services failed at LoadBalancer "
                           "(AWS::ElasticLoadBalancingV2::LoadBalancer): Access Denied for bucket")
           and "aws cloudformation delete-stack --stack-name cuddlekube-demo-services" in text,
           "deploy: a failed create names the stack, the first failed resource, its reason and the delete to run")
    for line in text.splitlines():
        note(line)
    text = deploy_tool.failure_message("cuddlekube-demo-services", "UPDATE_ROLLBACK_COMPLETE",
                                       deploy_tool.first_failure(events[1:2]), "demo", "deploy")
    report("cargo xtask deploy --env demo" in text and "delete-stack" not in text,
           "deploy: a failed update says deploy again (UPDATE_ROLLBACK_COMPLETE)")


def check_estimate() -> None:
    """The estimate for params/prod reproduces the README Cost table's totals (read from the
    README, so a change to either side fails here)."""
    readme = (INFRA / "README.md").read_text()
    row = re.search(r"\*\*Total\*\*[^|]*\|[^|]*\|\s*\*\*≈ \$([\d,]+)\*\*\s*\|\s*\*\*≈ \$([\d,]+)\*\*", readme)
    if not row:
        report(False, "deploy: the estimate matches infra/README.md's Cost totals", "no **Total** row found")
        return
    idle_table, paused_table = (float(v.replace(",", "")) for v in row.groups())
    idle, paused, _ = deploy_tool.estimate(deploy_tool.load_params(INFRA / "params", "prod"))
    report(abs(idle - idle_table) <= 5 and abs(paused - paused_table) <= 5,
           "deploy: the estimate for params/prod matches infra/README.md's Cost totals (within $5)",
           f"idle ${idle:.0f} vs ${idle_table:.0f}, paused ${paused:.0f} vs ${paused_table:.0f}")


def environment_leftovers(aws, env: str, keys_before: set[str]) -> dict[str, list[str]]:
    """What of `env` still exists, by kind. KMS keys are told by being new since
    `keys_before` (moto's DescribeKey fails on a key CloudFormation made: its policy is
    stored as an object)."""
    stacks = [s["StackName"] for s in aws["cloudformation"].list_stacks()["StackSummaries"]
              if s["StackName"].startswith(f"cuddlekube-{env}-") and s["StackStatus"] != "DELETE_COMPLETE"]
    tables = [t for t in aws["dynamodb"].list_tables()["TableNames"] if t.startswith(f"cuddlekube-{env}-")]
    keys = sorted({k["KeyId"] for k in aws["kms"].list_keys()["Keys"]} - keys_before)
    groups = [g["logGroupName"] for g in deploy_tool.leftover_log_groups(aws, env)]
    try:
        services = aws["ecs"].list_services(cluster=f"cuddlekube-{env}")["serviceArns"]
    except aws["ecs"].exceptions.ClusterNotFoundException:
        services = []
    vpcs = [v["VpcId"] for v in aws["ec2"].describe_vpcs(
        Filters=[{"Name": "tag:Name", "Values": [f"cuddlekube-{env}"]}])["Vpcs"]]
    return {"stacks": stacks, "tables": tables, "keys": keys, "log groups": groups, "VPCs": vpcs,
            "ECS services": [s.rsplit("/", 1)[-1] for s in services]}


def rehearse_deploy_command(aws: deploy_tool.Aws, endpoint: str, filled: dict[str, str], env: str) -> None:
    """`cargo xtask deploy --env <env>` and `destroy` end to end, as infra/deploy/deploy.py
    runs them against AWS, with moto's template adaptations given as its transform hook.
    `aws` is deploy.py's own client holder, pointed at moto."""
    print(f"=== the deploy command: a whole environment {env} (infra/deploy/deploy.py)", flush=True)
    check_platform_rule()
    check_failure_message()
    check_estimate()
    os.environ.update(AWS_ACCESS_KEY_ID="rehearsal", AWS_SECRET_ACCESS_KEY="rehearsal", AWS_REGION=REGION)
    hooks = deploy_tool.Hooks(
        transform=lambda file, text, params, e: json.dumps(
            moto_copy(file, yaml.load(text, Loader=CfnLoader), params, e)),
        before_delete=lambda name: before_delete(aws, name),
        poll_seconds=0.2, stack_timeout_seconds=120)
    tag = "rehearsal-deploy"
    with tempfile.TemporaryDirectory() as folder:
        params_dir = Path(folder)
        # AlbDeletionProtection=false: moto's update of the load balancer (what destroy does
        # first when it is true) drops it from the stack, whose outputs then fail to read.
        write_params(params_dir, env, filled, {"network": {"VpcCidr": "10.42.0.0/16", "EgressMode": "nat"},
                                               "services": {"AlbDeletionProtection": "false"}})
        note("workaround: AlbDeletionProtection=false for this environment (moto loses a load balancer "
             "that an update changes); destroy's switch-off update is not rehearsed")
        common = ["--env", env, "--params-dir", str(params_dir), "--endpoint", endpoint]
        keys_before = {k["KeyId"] for k in aws["kms"].list_keys()["Keys"]}
        push_images(aws, "v0.49.0", ("linux/amd64", "linux/arm64"), ["aws-otel-collector"])

        print(f"--- {env}: the images are not pushed yet", flush=True)
        status, out = run_command(["deploy", *common, "--images-tag", tag, "--no-smoke"], hooks)
        report(status == 2 and out.count("MISSING") == 3 and "no image tagged" in out
               and not environment_leftovers(aws, env, keys_before)["stacks"],
               f"deploy {env}: exit 2 naming the three missing images, nothing created")

        push_images(aws, tag, ("linux/amd64", "linux/arm64"), list(deploy_tool.APP_IMAGES))
        print(f"--- {env}: a stack CloudFormation refuses (the data template given a new required parameter, "
              "test copy only)", flush=True)

        def broken(file, text, params, e):
            template = moto_copy(file, yaml.load(text, Loader=CfnLoader), params, e)
            if file == "data.yaml":
                # As if a commit added a parameter without a default that the environment's
                # file lacks; refused before any resource (the retained table) is made.
                template["Parameters"]["RehearsalNewSetting"] = {"Type": "String"}
            return json.dumps(template)

        status, out = run_command(["deploy", *common, "--images-tag", tag, "--no-smoke"],
                                  deploy_tool.Hooks(transform=broken, before_delete=hooks.before_delete,
                                                    poll_seconds=0.2, stack_timeout_seconds=120))
        report(status == 1 and f"cuddlekube-{env}-data refused by CloudFormation" in out
               and "RehearsalNewSetting" in out and f"cargo xtask deploy --env {env}" in out,
               f"deploy {env}: a refused stack names itself, CloudFormation's reason and what to run next (exit 1)")
        # AWS creates no stack for a refused request; moto keeps one CREATE_IN_PROGRESS.
        if deploy_tool.describe_stack(aws, f"cuddlekube-{env}-data"):
            aws["cloudformation"].delete_stack(StackName=f"cuddlekube-{env}-data")
            note(f"workaround: deleted the refused cuddlekube-{env}-data moto kept (AWS creates none)")

        status, out = run_command(["deploy", *common, "--images-tag", tag, "--no-smoke"], hooks)
        report(status == 0 and "smoke test skipped" in out and "a month at rest" in out,
               f"deploy {env}: every stack created, the estimate printed (exit 0)")
        for part in deploy_tool.PARTS:
            stack = deploy_tool.describe_stack(aws, f"cuddlekube-{env}-{part}") or {"StackStatus": "missing"}
            report(stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"),
                   f"cuddlekube-{env}-{part}: {stack['StackStatus']}")
        check_task_definitions(aws, env, (INFRA / "collector" / "sidecar.yaml").read_text(),
                               (INFRA / "collector" / "gateway.yaml").read_text())

        status, out = run_command(["deploy", *common, "--images-tag", tag, "--no-smoke"], hooks)
        unchanged = out.count(": unchanged")
        report(status == 0 and unchanged >= 1, f"deploy {env} again: exit 0, unchanged stacks said so",
               f"{unchanged} of {len(deploy_tool.PARTS)} unchanged")
        note("moto: a stack whose parameters include defaults is updated again rather than refused with "
             "\"No updates are to be performed\" (AWS says that for all four)")

        status, _ = run_command(["destroy", "--env", env, "--endpoint", endpoint], hooks)
        report(status == 2, f"destroy {env}: refused without --yes or a typed confirmation")

        network = aws["cloudformation"].list_stack_resources(StackName=f"cuddlekube-{env}-network")
        stack_vpcs = [r["PhysicalResourceId"] for r in network["StackResourceSummaries"]
                      if r["ResourceType"] == "AWS::EC2::VPC"]
        status, out = run_command(["destroy", "--env", env, "--endpoint", endpoint, "--yes"], hooks)
        left = environment_leftovers(aws, env, keys_before)
        report(status == 0 and "AlbDeletionProtection is already false" in out,
               f"destroy {env}: done (exit 0), the load balancer's deletion protection checked first")
        report(not left["stacks"] and stack_vpcs and not set(stack_vpcs) & set(left["VPCs"]),
               f"destroy {env}: no stack left, the network stack's VPC gone", f"stacks {left['stacks']}, VPC {stack_vpcs}")
        orphans = sorted(set(left["VPCs"]) - set(stack_vpcs))
        if orphans:
            note(f"moto ({env}): updating the network stack made a new VPC and left the old "
                 f"({', '.join(orphans)}); AWS updates in place")
        kept = [line for line in out.splitlines() if line.startswith("  ") and "a month" in line]
        listed_tables = [t for t in left["tables"] if any(t in line for line in kept)]
        report(left["tables"] == [f"cuddlekube-{env}-residents"] and listed_tables == left["tables"],
               f"destroy {env}: the residents table is kept and listed", f"{left['tables']}")
        report(len(left["keys"]) == 1 and any(left["keys"][0] in line for line in kept),
               f"destroy {env}: its KMS key is kept and listed", f"{left['keys']}")
        report(all(any(g in line for line in kept) for g in left["log groups"]),
               f"destroy {env}: every log group left is listed", f"{left['log groups']}")
        if left["ECS services"]:
            note(f"moto ({env}): ECS services are not deleted with their stack ({len(left['ECS services'])} left: "
                 f"{', '.join(left['ECS services'])}); AWS deletes them")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="moto_server URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--environment", default="prod")
    parser.add_argument("--second-environment", default="staging")
    parser.add_argument("--deploy-environment", default="demo",
                        help="deployed and destroyed whole by infra/deploy/deploy.py ('' to skip)")
    args = parser.parse_args()

    config = Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=60)
    session = boto3.session.Session(aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal",
                                    region_name=REGION)
    aws = {svc: session.client(svc, endpoint_url=args.endpoint, config=config)
           for svc in ("cloudformation", "s3", "sns", "acm", "ec2", "ecs", "logs", "sts", "iam",
                       "servicediscovery", "ecr", "dynamodb", "kms")}

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
    if args.deploy_environment:
        try:
            rehearse_deploy_command(deploy_tool.Aws(session=session, endpoint=args.endpoint), args.endpoint,
                                    filled, args.deploy_environment)
        except Exception as err:  # noqa: BLE001 - a crash of the phase is a failed check, the rest still reports
            report(False, f"the deploy command rehearsal ({args.deploy_environment})", f"{type(err).__name__}: {err}")

    elapsed = time.monotonic() - started
    if failures:
        print(f"REHEARSAL FAILED: {len(failures)} check(s) failed in {elapsed:.1f} s: {failures}")
        return 1
    by_tool = f"{args.deploy_environment} deployed and destroyed by infra/deploy/deploy.py, " \
        if args.deploy_environment else ""
    print(f"REHEARSAL PASSED: {len(environments)} environments, every stack CREATE_COMPLETE, {by_tool}"
          f"every import exported, in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
