#!/usr/bin/env python3
"""Deploy or destroy one Cuddle Kube environment: the four per-environment stacks of
infra/README.md ("Deploy (in this order)"), with every prerequisite checked first.

    cargo xtask deploy --env staging [--images-tag TAG] [--arch x86_64|arm64|both] [--no-smoke]
    cargo xtask destroy --env staging [--yes]
    python infra/deploy/deploy.py estimate --env prod

`deploy` checks what must exist before anything changes (credentials, Region, parameter
files, the registry stack and its template bucket, Transaction Search, the ECR
repositories, the collector image in the chosen egress mode, the app images), builds and
pushes the images unless `--images-tag` names ones already pushed, creates or updates
network → data → services → monitoring with their parameter files, printing each stack
event as it comes, then walks the site as a visitor and prints its URL, the trace to look
at and the monthly estimate. `destroy` deletes them in reverse order and lists what it
keeps on purpose (the retained table and its key, log groups that outlive their stacks),
with what each costs a month.

The same functions run against AWS and against moto: infra/rehearsal/rehearse.py calls
them with an `endpoint` and `Hooks` (moto's template adaptations, its delete order);
this file never changes a template itself.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

INFRA = Path(__file__).resolve().parent.parent
ROOT = INFRA.parent
# CloudFormation refuses a TemplateBody over this many bytes; larger templates go via S3.
INLINE_TEMPLATE_LIMIT = 51_200
REGISTRY_STACK = "cuddlekube-registry"
TRACING_STACK = "cuddlekube-tracing"
# The README's order; destroy walks it backwards (later stacks import earlier exports).
PARTS = ["network", "data", "services", "monitoring"]
# Service (Dockerfile target and repository suffix) -> its image parameter in services.json.
APP_IMAGES = {"website": "WebsiteImage", "register": "RegisterImage", "server-listing": "ServerListingImage"}
COLLECTOR_REPOSITORY = "aws-otel-collector"
PLATFORMS = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}
ARCH_CHOICES = {"x86_64": ["X86_64"], "arm64": ["ARM64"], "both": ["X86_64", "ARM64"]}
# Media types of a manifest that lists platforms (and of the single ones we read too).
INDEX_TYPES = {"application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json"}
MANIFEST_TYPES = {"application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json"}


# ---------------------------------------------------------------------------- AWS


class Aws:
    """One boto3 session and its clients; `endpoint` points every client at moto."""

    def __init__(self, region: str | None = None, endpoint: str | None = None,
                 session: boto3.session.Session | None = None) -> None:
        # The AWS CLI reads AWS_REGION; boto3 only AWS_DEFAULT_REGION and the profile.
        self.session = session or boto3.session.Session(region_name=region or os.environ.get("AWS_REGION"))
        self.endpoint = endpoint
        self.config = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=60)
        self._clients: dict[str, object] = {}

    @property
    def region(self) -> str | None:
        return self.session.region_name

    def __getitem__(self, service: str):
        if service not in self._clients:
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint, config=self.config)
        return self._clients[service]


@dataclass
class Hooks:
    """What a caller other than an operator changes: the rehearsal's moto adaptations."""

    # (template file, its text, the stack's parameters, env) -> the body to send.
    transform: Callable[[str, str, dict[str, str], str], str] | None = None
    # Called with a stack's name just before it is deleted.
    before_delete: Callable[[str], None] | None = None
    # Seconds between polls of a stack's events (CloudFormation's own pace is seconds).
    poll_seconds: float = 5.0
    # Give up waiting for one stack after this long (a services create takes ~15 min).
    stack_timeout_seconds: float = 3600.0


class DeployFailed(Exception):
    """A step failed; the message says what, where and what to run next."""


class MissingPrerequisites(DeployFailed):
    """A prerequisite is missing and nothing was changed (exit 2)."""


def stack_name(env: str, part: str) -> str:
    return f"cuddlekube-{env}-{part}"


def describe_stack(aws: Aws, name: str) -> dict | None:
    try:
        return aws["cloudformation"].describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as err:
        if "does not exist" in str(err):
            return None
        raise


def outputs(stack: dict | None) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}


# ---------------------------------------------------------------------------- parameters


def load_params(params_dir: Path, env: str) -> dict[str, dict[str, str]]:
    """part -> {key: value} from params_dir/<env>/<part>.json, for the files that exist."""
    found = {}
    for part in PARTS:
        path = params_dir / env / f"{part}.json"
        if path.is_file():
            found[part] = {p["ParameterKey"]: p["ParameterValue"] for p in json.loads(path.read_text())}
    return found


def collector_configs() -> dict[str, str]:
    """The services stack's CollectorConfig and GatewayConfig: the files, byte for byte (as
    the README's `jq --rawfile` merge)."""
    return {"CollectorConfig": (INFRA / "collector" / "sidecar.yaml").read_text(),
            "GatewayConfig": (INFRA / "collector" / "gateway.yaml").read_text()}


# ---------------------------------------------------------------------------- prerequisites


@dataclass
class Check:
    ok: bool
    what: str
    detail: str  # ok: what was found; MISSING: exactly what to do


@dataclass
class Plan:
    """What the checks found and the deploy needs."""

    env: str
    params: dict[str, dict[str, str]]
    architectures: list[str]  # CpuArchitecture values the images must offer
    images_tag: str | None
    account: str = ""
    bucket: str = ""
    repositories: dict[str, str] = field(default_factory=dict)  # service -> repositoryUri


def print_checks(checks: list[Check]) -> bool:
    for check in checks:
        print(f"  {'ok     ' if check.ok else 'MISSING'}  {check.what}: {check.detail}", flush=True)
    return all(c.ok for c in checks)


def shown(path: Path) -> str:
    """A path as the operator would type it: relative to the checkout when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def check_params(params_dir: Path, env: str, params: dict[str, dict[str, str]]) -> list[Check]:
    checks = []
    missing = [p for p in PARTS if p not in params]
    if missing:
        checks.append(Check(False, f"parameter files {shown(params_dir / env)}/",
                            f"no {', '.join(p + '.json' for p in missing)}: copy infra/params/prod to "
                            f"infra/params/{env}, set EnvironmentName={env} and a VpcCidr of its own in network.json, "
                            "and fill every REPLACE value (README \"Before the first deploy\")"))
        return checks
    # The image parameters are set by the deploy from the registry and the tag.
    set_by_deploy = set(APP_IMAGES.values())
    for part in PARTS:
        values = params[part]
        problems = []
        if values.get("EnvironmentName") != env:
            problems.append(f"EnvironmentName is {values.get('EnvironmentName')!r}, should be {env!r}")
        unfilled = sorted(k for k, v in values.items() if v.startswith("REPLACE") and k not in set_by_deploy)
        if unfilled:
            problems.append(f"still REPLACE: {', '.join(unfilled)} (README \"Before the first deploy\")")
        checks.append(Check(not problems, f"{shown(params_dir / env / part)}.json",
                            "; ".join(problems) or f"{len(values)} values"))
    return checks


def check_prerequisites(aws: Aws, plan: Plan, params_dir: Path) -> list[Check]:
    """Every prerequisite, each ok or MISSING with what to do. Nothing is changed."""
    checks = [Check(bool(aws.region), "Region",
                    aws.region or "none: pass --region or set AWS_REGION (or a region in the profile)")]
    if aws.region:
        try:
            identity = aws["sts"].get_caller_identity()
            plan.account = identity["Account"]
            checks.append(Check(True, "credentials", f"account {plan.account} as {identity['Arn']}"))
        except (ClientError, BotoCoreError, NoCredentialsError) as err:
            checks.append(Check(False, "credentials",
                                f"{err}: `aws sso login` (or `aws configure`), or set AWS_PROFILE"))
    else:
        checks.append(Check(False, "credentials", "not checked without a Region"))
    checks += check_params(params_dir, plan.env, plan.params)
    if not all(c.ok for c in checks[:2]):
        checks.append(Check(False, "the account's resources", "not checked without credentials and a Region"))
        return checks

    services = plan.params.get("services", {})
    prefix = services.get("RepositoryPrefix", "cuddlekube")
    checks.append(check_registry(aws, plan))
    checks.append(check_transaction_search(aws))
    checks.append(check_repositories(aws, plan, prefix))
    if "network" in plan.params and services:
        checks.append(check_collector(aws, plan, prefix))
    if plan.images_tag:
        checks += [check_app_image(aws, plan, prefix, service) for service in APP_IMAGES]
    else:
        checks.append(Check(shutil.which("docker") is not None, "docker (to build and push the images)",
                            "found" if shutil.which("docker") else
                            "not on PATH: install Docker with buildx, or pass --images-tag TAG for images already pushed"))
    return checks


def check_registry(aws: Aws, plan: Plan) -> Check:
    stack = describe_stack(aws, REGISTRY_STACK)
    how = ("deploy it once per account and Region: infra/README.md \"Deploy\", step 1 "
           f"(aws cloudformation deploy --stack-name {REGISTRY_STACK} --template-file infra/registry.yaml ...)")
    if stack is None or stack["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"):
        status = stack["StackStatus"] if stack else "does not exist"
        return Check(False, f"registry stack {REGISTRY_STACK}", f"{status}: {how}")
    bucket = outputs(stack).get("TemplateBucketName", "")
    try:
        aws["s3"].head_bucket(Bucket=bucket)
    except (ClientError, BotoCoreError) as err:
        return Check(False, "template bucket", f"{bucket or 'no TemplateBucketName output'}: {err}; redeploy {REGISTRY_STACK}")
    plan.bucket = bucket
    return Check(True, "registry stack and template bucket", f"{stack['StackStatus']}, s3://{bucket}")


def check_transaction_search(aws: Aws) -> Check:
    stack = describe_stack(aws, TRACING_STACK)
    if stack and stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        return Check(True, "Transaction Search", f"stack {TRACING_STACK} {stack['StackStatus']}")
    try:
        found = aws["xray"].get_trace_segment_destination()
        if found.get("Destination") == "CloudWatchLogs" and found.get("Status") == "ACTIVE":
            return Check(True, "Transaction Search", "X-Ray sends segments to CloudWatchLogs (ACTIVE)")
        state = f"X-Ray destination {found.get('Destination')} ({found.get('Status')})"
    except (ClientError, BotoCoreError) as err:
        state = f"cannot read X-Ray's destination ({err})"
    return Check(False, "Transaction Search",
                 f"{state}: deploy {TRACING_STACK} once (infra/README.md \"Deploy\", step 2); "
                 "without it X-Ray's OTLP endpoint refuses every span")


def repository_name(prefix: str, service: str) -> str:
    return f"{prefix}/{service}"


def check_repositories(aws: Aws, plan: Plan, prefix: str) -> Check:
    wanted = [repository_name(prefix, s) for s in [*APP_IMAGES, COLLECTOR_REPOSITORY]]
    found = {}
    for name in wanted:
        try:
            repo = aws["ecr"].describe_repositories(repositoryNames=[name])["repositories"][0]
            found[name] = repo["repositoryUri"]
        except ClientError:
            pass
    missing = [n for n in wanted if n not in found]
    plan.repositories = {s: found.get(repository_name(prefix, s), "") for s in [*APP_IMAGES, COLLECTOR_REPOSITORY]}
    if missing:
        return Check(False, "ECR repositories", f"no {', '.join(missing)}: they come with {REGISTRY_STACK} "
                     f"(its RepositoryPrefix must be services.json's, {prefix!r})")
    return Check(True, "ECR repositories", ", ".join(wanted))


def check_collector(aws: Aws, plan: Plan, prefix: str) -> Check:
    services, network = plan.params["services"], plan.params["network"]
    image, version = services.get("CollectorImage", ""), services.get("CollectorVersion", "")
    mode = network.get("EgressMode", "endpoints")
    host = f"{plan.account}.dkr.ecr.{aws.region}.amazonaws.com/"
    if not image:
        repo = repository_name(prefix, COLLECTOR_REPOSITORY)
        mirror = f"{plan.repositories.get(COLLECTOR_REPOSITORY) or host + repo}:{version}"
        if image_tag_exists(aws, repo, version):
            return Check(True, f"collector image ({mode} mode)", f"the account's mirror {mirror}")
        return Check(False, f"collector image ({mode} mode)",
                     f"the mirror {mirror} does not hold {version}: copy it once with `docker buildx imagetools "
                     f"create --tag {mirror} public.ecr.aws/aws-observability/aws-otel-collector:{version}` "
                     "(infra/README.md \"Deploy\", step 4)")
    if image.startswith(host):
        repo, _, tag = image[len(host):].partition(":")
        if image_tag_exists(aws, repo, tag or "latest"):
            return Check(True, f"collector image ({mode} mode)", image)
        return Check(False, f"collector image ({mode} mode)", f"{image} is not in this account's ECR: push it first")
    if mode == "endpoints":
        return Check(False, f"collector image ({mode} mode)",
                     f"{image} is unreachable in endpoints mode (no route to the internet): leave CollectorImage "
                     "empty (the account's mirror) or set EgressMode=nat in network.json")
    return Check(True, f"collector image ({mode} mode)", f"{image}, pulled through the NAT gateways (not checked here)")


def image_tag_exists(aws: Aws, repository: str, tag: str) -> bool:
    try:
        return bool(aws["ecr"].describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"])
    except ClientError:
        return False


def manifest_platforms(manifest: str, media_type: str | None) -> set[str] | None:
    """The platforms (`linux/amd64`) an image index or manifest list offers; None for a
    single manifest, whose platform lives in its config blob, not in the manifest."""
    parsed = json.loads(manifest)
    media_type = media_type or parsed.get("mediaType")
    if media_type not in INDEX_TYPES and "manifests" not in parsed:
        return None
    platforms = set()
    for entry in parsed.get("manifests", []):
        platform = entry.get("platform") or {}
        # buildx lists its attestations as platform unknown/unknown.
        if platform.get("os") and platform.get("os") != "unknown":
            platforms.add(f"{platform['os']}/{platform['architecture']}")
    return platforms


def check_image_platforms(platforms: set[str] | None, wanted: list[str], uri: str) -> Check:
    """Decided: a single manifest is MISSING, not assumed right — a wrong one would only show
    as tasks that never start ("exec format error") and a rolled-back deployment."""
    want = {PLATFORMS[a] for a in wanted}
    if platforms is None:
        return Check(False, uri, f"a single-platform manifest: cannot tell whether it is {', '.join(sorted(want))}. "
                     f"Push an image index: `docker buildx build --platform {','.join(sorted(want))} --push ...` "
                     "(what deploy does without --images-tag)")
    lacking = sorted(want - platforms)
    if lacking:
        return Check(False, uri, f"offers {', '.join(sorted(platforms)) or 'no platform'}, not {', '.join(lacking)} "
                     "(CpuArchitecture / --arch): rebuild with that --platform")
    return Check(True, uri, f"offers {', '.join(sorted(platforms))}")


def check_app_image(aws: Aws, plan: Plan, prefix: str, service: str) -> Check:
    repo = repository_name(prefix, service)
    uri = f"{plan.repositories.get(service) or repo}:{plan.images_tag}"
    try:
        found = aws["ecr"].batch_get_image(repositoryName=repo, imageIds=[{"imageTag": plan.images_tag}],
                                           acceptedMediaTypes=sorted(INDEX_TYPES | MANIFEST_TYPES))
    except ClientError as err:
        return Check(False, uri, str(err))
    if not found["images"]:
        return Check(False, uri, f"no image tagged {plan.images_tag}: push it, or leave out --images-tag to build it")
    image = found["images"][0]
    return check_image_platforms(manifest_platforms(image["imageManifest"], image.get("imageManifestMediaType")),
                                 plan.architectures, uri)


# ---------------------------------------------------------------------------- images


def git_tag() -> str:
    return subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()


def workspace_version() -> str:
    """Cargo.toml's [workspace.package] version: the images' version label and /health's."""
    with open(ROOT / "Cargo.toml", "rb") as manifest:
        return tomllib.load(manifest)["workspace"]["package"]["version"]


def run_shown(command: list[str], stdin: str | None = None) -> None:
    print(f"  $ {' '.join(command)}", flush=True)
    subprocess.run(command, cwd=ROOT, check=True, input=stdin, text=True)


def build_and_push(aws: Aws, plan: Plan) -> str:
    """docker buildx, one image index per service with every platform asked for. Not run
    in CI (no registry, no Docker there): the rehearsal passes --images-tag."""
    tag = git_tag()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    if dirty.strip():
        print(f"  note: the work tree has uncommitted changes; the images are tagged {tag} all the same")
    token = aws["ecr"].get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    registry = token["proxyEndpoint"].removeprefix("https://")
    run_shown(["docker", "login", "--username", user, "--password-stdin", registry], stdin=password)
    platforms = ",".join(PLATFORMS[a] for a in plan.architectures)
    for service in APP_IMAGES:
        run_shown(["docker", "buildx", "build", "--platform", platforms, "-f", "docker/Dockerfile",
                   "--target", service, "--build-arg", f"GIT_COMMIT={tag}",
                   "--build-arg", f"VERSION={workspace_version()}",
                   "--push", "-t", f"{plan.repositories[service]}:{tag}", "."])
    return tag


# ---------------------------------------------------------------------------- stacks


def newest_event_id(aws: Aws, name: str) -> str | None:
    try:
        events = aws["cloudformation"].describe_stack_events(StackName=name)["StackEvents"]
    except ClientError:
        return None
    return events[0]["EventId"] if events else None


def events_since(aws: Aws, stack_id: str, seen: str | None) -> list[dict]:
    """The stack's events newer than `seen`, oldest first (CloudFormation lists newest first)."""
    found, token = [], None
    while True:
        page = aws["cloudformation"].describe_stack_events(StackName=stack_id, **({"NextToken": token} if token else {}))
        for event in page["StackEvents"]:
            if event["EventId"] == seen:
                return list(reversed(found))
            found.append(event)
        token = page.get("NextToken")
        if not token:
            return list(reversed(found))


def print_event(event: dict, started: float) -> None:
    reason = event.get("ResourceStatusReason") or ""
    print(f"  [{time.monotonic() - started:5.0f} s] {event['LogicalResourceId']:<32} {event['ResourceType']:<40} "
          f"{event['ResourceStatus']}{'  ' + reason if reason else ''}", flush=True)


def first_failure(events: list[dict]) -> dict | None:
    """The first *_FAILED event of a resource (the stack's own say only "resources failed")."""
    failed = [e for e in events if e["ResourceStatus"].endswith("_FAILED")]
    own = [e for e in failed if e["ResourceType"] != "AWS::CloudFormation::Stack"]
    return (own or failed or [None])[0]


def next_step(name: str, status: str, env: str, command: str) -> str:
    """What to run after a stack ended in `status` (a failure)."""
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"):
        return (f"a stack whose first create failed cannot be updated: delete it, then deploy again:\n"
                f"    aws cloudformation delete-stack --stack-name {name}\n"
                f"    aws cloudformation wait stack-delete-complete --stack-name {name}\n"
                f"    cargo xtask {command} --env {env}")
    if status == "UPDATE_ROLLBACK_FAILED":
        return (f"the rollback itself failed: fix the resource named above, then\n"
                f"    aws cloudformation continue-update-rollback --stack-name {name}")
    if status == "DELETE_FAILED":
        return (f"fix what the reason names (or delete that resource by hand), then run again:\n"
                f"    cargo xtask {command} --env {env}")
    return f"the stack is back at its previous version ({status}); fix the cause, then run again:\n    cargo xtask {command} --env {env}"


def failure_message(name: str, status: str, event: dict | None, env: str, command: str) -> str:
    where = (f"{name} failed at {event['LogicalResourceId']} ({event['ResourceType']}): "
             f"{event.get('ResourceStatusReason') or 'no reason given'}") if event else f"{name} ended {status}"
    return f"{where}\n  stack status {status}; next: {next_step(name, status, env, command)}"


def watch(aws: Aws, stack_id: str, name: str, seen: str | None, hooks: Hooks, env: str, command: str) -> dict:
    """Prints each new event until the stack settles; raises DeployFailed on a failure."""
    started = time.monotonic()
    shown: list[dict] = []
    while True:
        new = events_since(aws, stack_id, shown[-1]["EventId"] if shown else seen)
        for event in new:
            print_event(event, started)
        shown += new
        stack = aws["cloudformation"].describe_stacks(StackName=stack_id)["Stacks"][0]
        status = stack["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            break
        if time.monotonic() - started > hooks.stack_timeout_seconds:
            raise DeployFailed(f"{name} still {status} after {hooks.stack_timeout_seconds:.0f} s; "
                               f"watch it with `aws cloudformation describe-stack-events --stack-name {name}`")
        time.sleep(hooks.poll_seconds)
    if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE"):
        print(f"  {name}: {status} in {time.monotonic() - started:.0f} s", flush=True)
        return stack
    raise DeployFailed(failure_message(name, status, first_failure(shown), env, command))


def template_source(aws: Aws, plan: Plan, file: str, body: str) -> dict[str, str]:
    """TemplateBody, or TemplateURL through the registry's bucket when the file is over the
    inline limit (as `aws cloudformation deploy --s3-bucket`)."""
    size = (INFRA / file).stat().st_size
    if size <= INLINE_TEMPLATE_LIMIT:
        return {"TemplateBody": body}
    key = f"deploy/{plan.env}/{file}"
    aws["s3"].put_object(Bucket=plan.bucket, Key=key, Body=body.encode())
    print(f"  {file}: {size} bytes > {INLINE_TEMPLATE_LIMIT}, sent through s3://{plan.bucket}/{key}", flush=True)
    return {"TemplateURL": f"https://{plan.bucket}.s3.amazonaws.com/{key}"}


def deploy_stack(aws: Aws, plan: Plan, part: str, params: dict[str, str], hooks: Hooks) -> dict:
    """Creates or updates one stack and waits for it; returns the settled stack."""
    cfn, name, file = aws["cloudformation"], stack_name(plan.env, part), f"{part}.yaml"
    text = (INFRA / file).read_text()
    body = hooks.transform(file, text, params, plan.env) if hooks.transform else text
    request = {
        "StackName": name,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        "Capabilities": ["CAPABILITY_IAM"],
        "Tags": [{"Key": "Project", "Value": "cuddlekube"}, {"Key": "Environment", "Value": plan.env}],
        **template_source(aws, plan, file, body),
    }
    existing = describe_stack(aws, name)
    if existing and existing["StackStatus"] in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED"):
        raise DeployFailed(f"{name} is {existing['StackStatus']} from an earlier failed create\n"
                           f"  next: {next_step(name, existing['StackStatus'], plan.env, 'deploy')}")
    if existing and existing["StackStatus"].endswith("_IN_PROGRESS"):
        raise DeployFailed(f"{name} is busy ({existing['StackStatus']}): wait for it "
                           f"(`aws cloudformation describe-stacks --stack-name {name}`), then run again")
    seen = newest_event_id(aws, name) if existing else None
    print(f"--- {name}: {'update' if existing else 'create'}", flush=True)
    try:
        if existing:
            stack_id = cfn.update_stack(**request)["StackId"]
        else:
            stack_id = cfn.create_stack(**request)["StackId"]
    except ClientError as err:
        message = err.response.get("Error", {}).get("Message", str(err))
        if "No updates are to be performed" in message:
            print(f"  {name}: unchanged (no updates to perform)", flush=True)
            return existing
        raise DeployFailed(f"{name} refused by CloudFormation: {message}\n"
                           f"  next: fix the value or template it names (parameters in "
                           f"params/{plan.env}/{part}.json), then `cargo xtask deploy --env {plan.env}`") from err
    return watch(aws, stack_id, name, seen, hooks, plan.env, "deploy")


def stack_parameters(plan: Plan, part: str, images_tag: str) -> dict[str, str]:
    params = dict(plan.params[part])
    if part == "services":
        params.update(collector_configs())
        for service, key in APP_IMAGES.items():
            params[key] = f"{plan.repositories[service]}:{images_tag}"
        if len(plan.architectures) == 1:
            params["CpuArchitecture"] = plan.architectures[0]
    return params


# ---------------------------------------------------------------------------- smoke test


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003 - urllib's signature
        return None


def smoke_test(site: str, region: str | None, timeout: float = 15.0) -> str:
    """A visitor's walk: home, residents, the register form, an admission, its thanks page.
    Returns the X-Amzn-Trace-Id of the admission. Raises DeployFailed on a wrong answer."""
    opener = urllib.request.build_opener(NoRedirect)

    def fetch(method: str, path: str, data: dict[str, str] | None = None) -> tuple[int, dict, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(site.rstrip("/") + path, data=body, method=method, headers={
            "User-Agent": "cuddlekube-deploy-smoke/1", **({
                "Content-Type": "application/x-www-form-urlencoded",
                # The site refuses cross-site posts; a browser on the site sends its origin.
                "Origin": site.rstrip("/")} if body is not None else {})})
        try:
            with opener.open(request, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read().decode(errors="replace")
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read().decode(errors="replace")
        except (urllib.error.URLError, OSError) as err:
            # Typically TLS: the certificate is for the site's name, not the load balancer's.
            raise DeployFailed(f"smoke test: {method} {site}{path}: {getattr(err, 'reason', err)}\n  next: point the "
                               "certificate's name at the load balancer (Route 53 alias), then run the deploy again "
                               "with --site-url https://<that name> (unchanged stacks stay as they are), or "
                               "--no-smoke") from err

    def expect(step: str, got: int, want: int) -> None:
        print(f"  {step}: {got}", flush=True)
        if got != want:
            raise DeployFailed(f"smoke test: {step} answered {got}, not {want}; look at the website's log group "
                               "and the services stack's ECS events")

    for path in ("/", "/residents"):
        status, _, _ = fetch("GET", path)
        expect(f"GET {path}", status, 200)
    status, _, page = fetch("GET", "/register")
    expect("GET /register", status, 200)
    token = re.search(r'name="idempotency_token" value="([^"]+)"', page)
    if not token:
        raise DeployFailed("smoke test: /register has no idempotency_token field")
    form = {"idempotency_token": token.group(1), "name": "Smoke Test", "type": "t3.micro", "os": "linux",
            "service": "3", "petname": "smoke"}
    status, headers, _ = fetch("POST", "/register", form)
    expect("POST /register", status, 303)
    location = headers.get("Location", "")
    trace = headers.get("X-Amzn-Trace-Id", "(no X-Amzn-Trace-Id header)")
    if "ckid=" not in location:
        raise DeployFailed(f"smoke test: the admission redirected to {location!r}, not to its thanks page")
    status, _, _ = fetch("GET", urllib.parse.urlparse(location)._replace(scheme="", netloc="").geturl())
    expect(f"GET {location}", status, 200)
    print(f"  the admission's trace: {trace}\n  look at it in CloudWatch ({region}): Application Signals → "
          "Transaction Search (search by trace ID), or X-Ray → Trace Map", flush=True)
    return trace


# ---------------------------------------------------------------------------- cost


# Unit prices of infra/README.md's Cost table (us-east-1 list prices), per hour unless said.
HOURS = 730
FARGATE = {"X86_64": (0.04048, 0.004445), "ARM64": (0.03238, 0.00356)}  # per vCPU-h, per GB-h
ENDPOINT_AZ_HOUR = 0.01
INTERFACE_ENDPOINTS, AZS = 4, 2
NAT_HOUR, IPV4_HOUR = 0.045, 0.005
ALB_HOUR = 0.0225
WAF_MONTH = 5 + 5 * 1.0  # web ACL + 5 rules
LOG_STORAGE_GB_MONTH = 0.03
DYNAMODB_STORAGE_GB_MONTH, PITR_GB_MONTH, KMS_KEY_MONTH = 0.25, 0.20, 1.0
CONTAINER_INSIGHTS_PER_TASK = 55 * 0.07  # ≈ 55 metrics a task at ≈ $0.07 a metric-month
# Rows of the table that do not follow from a parameter: (idle, paused).
FIXED = {"CloudWatch Logs (access lines, app, flow logs)": (1.0, 0.5),
         "EMF metrics (≈ 70 custom metrics)": (22.0, 0.0),
         "Container Insights service counts": (0.0, 3.0),
         "alarms, composites, dashboard": (19.0, 19.0),
         "DynamoDB: the table's KMS key, PITR, storage": (1.0, 1.0),
         "S3 (access logs, templates), ECR storage": (0.5, 0.5)}


def fargate_month(count: int, cpu_units: str, memory_mb: str, architecture: str) -> float:
    vcpu_h, gb_h = FARGATE[architecture]
    return count * (int(cpu_units) / 1024 * vcpu_h + int(memory_mb) / 1024 * gb_h) * HOURS


def estimate(params: dict[str, dict[str, str]]) -> tuple[float, float, list[tuple[str, float, float]]]:
    """(idle, paused, rows) a month for an environment at rest, from its parameters and the
    Cost table's unit prices. Idle means MinTasks per service and GatewayDesiredCount; the
    values that grow with traffic (LCUs, WAF requests, spans, DynamoDB units) are left out."""
    services, network = params["services"], params["network"]
    arch = services.get("CpuArchitecture", "X86_64")
    tasks = 3 * int(services.get("MinTasks", "2"))
    gateways = int(services.get("GatewayDesiredCount", "2"))
    rows = [("Fargate: 3 services × MinTasks", fargate_month(tasks, services["TaskCpu"], services["TaskMemory"], arch), 0.0)]
    gateway_tasks = fargate_month(gateways, services["GatewayTaskCpu"], services["GatewayTaskMemory"], arch)
    # Hosted zone $0.50; Cloud Map $0.10 an instance; every sidecar asks DNS every 5 s
    # (≈ 0.5 million a month at $0.40 per million); 13 EMF metrics at $0.30; 10 alarms at $0.10.
    gateway_fixed = 0.5 + 1.0
    gateway_running = gateways * 0.10 + tasks * 0.5 * 0.40 + 13 * 0.30
    rows.append(("trace gateway: tasks, DNS, Cloud Map, metrics, alarms",
                 gateway_tasks + gateway_fixed + gateway_running, gateway_fixed))
    if network.get("EgressMode", "endpoints") == "nat":
        nat = AZS * (NAT_HOUR + IPV4_HOUR) * HOURS
        rows.append(("NAT gateways and their addresses (nat mode)", nat, nat))
    else:
        endpoints = INTERFACE_ENDPOINTS * AZS * ENDPOINT_AZ_HOUR * HOURS
        rows.append(("interface endpoints", endpoints, endpoints))
    rows.append(("load balancer", ALB_HOUR * HOURS, ALB_HOUR * HOURS))
    rows.append(("the load balancer's public IPv4", AZS * IPV4_HOUR * HOURS, AZS * IPV4_HOUR * HOURS))
    if services.get("EnableWaf", "true") == "true":
        rows.append(("WAF web ACL and rules", WAF_MONTH, WAF_MONTH))
    rows.append(("Container Insights per task", CONTAINER_INSIGHTS_PER_TASK * tasks, 0.0))
    rows += [(what, idle, paused) for what, (idle, paused) in FIXED.items()]
    if services.get("Paused", "false") == "true":
        rows = [(what, paused, paused) for what, _, paused in rows]
    return sum(r[1] for r in rows), sum(r[2] for r in rows), rows


def print_estimate(params: dict[str, dict[str, str]]) -> None:
    idle, paused, _ = estimate(params)
    services = params["services"]
    print(f"  ≈ ${idle:,.0f} a month at rest (≈ ${paused:,.0f} paused), list prices of infra/README.md \"Cost\": "
          f"{services.get('CpuArchitecture')}, {params['network'].get('EgressMode')} mode, "
          f"{services.get('MinTasks')} tasks a service, WAF {'on' if services.get('EnableWaf') == 'true' else 'off'}; "
          "traffic adds to it", flush=True)


# ---------------------------------------------------------------------------- deploy


def deploy(aws: Aws, env: str, params_dir: Path = INFRA / "params", images_tag: str | None = None,
           arch: str | None = None, smoke: bool = True, hooks: Hooks | None = None,
           site_url: str | None = None) -> dict[str, str]:
    """The whole deploy; returns the services stack's outputs. Raises DeployFailed."""
    hooks = hooks or Hooks()
    params = load_params(params_dir, env)
    architecture = params.get("services", {}).get("CpuArchitecture", "X86_64")
    plan = Plan(env=env, params=params, images_tag=images_tag,
                architectures=ARCH_CHOICES[arch] if arch else [architecture])
    print(f"=== deploy {env}: prerequisites (nothing is changed until all are ok)", flush=True)
    if not print_checks(check_prerequisites(aws, plan, params_dir)):
        raise MissingPrerequisites(f"deploy {env}: a prerequisite is missing (above); nothing was changed")
    if images_tag:
        print(f"=== images: taken as given, tag {images_tag}", flush=True)
    else:
        print(f"=== images: build and push for {', '.join(PLATFORMS[a] for a in plan.architectures)}", flush=True)
        images_tag = build_and_push(aws, plan)

    print(f"=== stacks: {' → '.join(stack_name(env, p) for p in PARTS)}", flush=True)
    settled = {part: deploy_stack(aws, plan, part, stack_parameters(plan, part, images_tag), hooks) for part in PARTS}
    site = outputs(settled["services"])
    print(f"=== {env} is up", flush=True)
    if smoke:
        url = site_url or site["SiteUrl"]
        print(f"=== smoke test through the load balancer: {url}", flush=True)
        smoke_test(url, aws.region)
    else:
        print("=== smoke test skipped (--no-smoke)", flush=True)
    print(f"  site: {site.get('SiteUrl')} (point the certificate's name at {site.get('LoadBalancerDnsName')})")
    print_estimate(params)
    return site


# ---------------------------------------------------------------------------- destroy


@dataclass
class Kept:
    what: str
    monthly_usd: float
    delete_with: str


def switch_off_deletion_protection(aws: Aws, name: str, hooks: Hooks, env: str) -> None:
    """The load balancer is deletion-protected (AlbDeletionProtection): the stack is updated
    with it off first, every other value and the template as deployed."""
    stack = describe_stack(aws, name)
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    if values.get("AlbDeletionProtection", "false") == "false":
        print(f"--- {name}: AlbDeletionProtection is already false", flush=True)
        return
    seen = newest_event_id(aws, name)
    print(f"--- {name}: update AlbDeletionProtection=false", flush=True)
    # Every other value as deployed, given back explicitly: the same as UsePreviousValue for
    # a template without NoEcho parameters (services.yaml has none), and moto cannot resolve
    # UsePreviousValue for a parameter that was left at its default.
    values["AlbDeletionProtection"] = "false"
    aws["cloudformation"].update_stack(
        StackName=name, UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()])
    watch(aws, stack["StackId"], name, seen, hooks, env, "destroy")


def delete_stack(aws: Aws, env: str, part: str, hooks: Hooks) -> None:
    name = stack_name(env, part)
    stack = describe_stack(aws, name)
    if stack is None:
        print(f"--- {name}: not there", flush=True)
        return
    if part == "services":
        switch_off_deletion_protection(aws, name, hooks, env)
    if hooks.before_delete:
        hooks.before_delete(name)
    seen = newest_event_id(aws, name)
    print(f"--- {name}: delete", flush=True)
    try:
        aws["cloudformation"].delete_stack(StackName=name)
    except ClientError as err:
        raise DeployFailed(f"{name} delete refused by CloudFormation: {err.response.get('Error', {}).get('Message', err)}"
                           f"\n  next: {next_step(name, 'DELETE_FAILED', env, 'destroy')}") from err
    watch(aws, stack["StackId"], name, seen, hooks, env, "destroy")


def retained_data(aws: Aws, env: str) -> list[tuple[str, str]]:
    """(type, physical id) of the data stack's resources with DeletionPolicy Retain, read
    before it goes (the table and its key)."""
    name = stack_name(env, "data")
    if describe_stack(aws, name) is None:
        return []
    resources = aws["cloudformation"].list_stack_resources(StackName=name)["StackResourceSummaries"]
    return [(r["ResourceType"], r["PhysicalResourceId"]) for r in resources
            if r["ResourceType"] in ("AWS::DynamoDB::Table", "AWS::KMS::Key")]


def what_is_kept(aws: Aws, env: str, data: list[tuple[str, str]]) -> list[Kept]:
    kept = []
    for kind, physical in data:
        if kind == "AWS::DynamoDB::Table":
            try:
                table = aws["dynamodb"].describe_table(TableName=physical)["Table"]
            except ClientError:
                continue
            gb = table.get("TableSizeBytes", 0) / 1e9
            pitr = aws["dynamodb"].describe_continuous_backups(TableName=physical)["ContinuousBackupsDescription"]
            pitr_on = pitr.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus") == "ENABLED"
            kept.append(Kept(f"DynamoDB table {physical} ({table.get('ItemCount', 0)} items, "
                             f"{table.get('TableSizeBytes', 0):,} bytes, PITR {'on' if pitr_on else 'off'})",
                             gb * (DYNAMODB_STORAGE_GB_MONTH + (PITR_GB_MONTH if pitr_on else 0)),
                             f"aws dynamodb update-table --table-name {physical} --no-deletion-protection-enabled && "
                             f"aws dynamodb delete-table --table-name {physical}"))
        elif kind == "AWS::KMS::Key":
            # Its alias went with the stack (only the key is retained): name it by its ID.
            kept.append(Kept(f"KMS key {physical} (the table's and its backups' key)",
                             KMS_KEY_MONTH, f"aws kms schedule-key-deletion --key-id {physical} --pending-window-in-days 30"
                             " (after the table; backups encrypted with it become unreadable)"))
    for group in leftover_log_groups(aws, env):
        kept.append(Kept(f"log group {group['logGroupName']} ({group.get('storedBytes', 0):,} bytes)",
                         group.get("storedBytes", 0) / 1e9 * LOG_STORAGE_GB_MONTH,
                         f"aws logs delete-log-group --log-group-name {group['logGroupName']}"))
    return kept


def leftover_log_groups(aws: Aws, env: str) -> list[dict]:
    """The environment's log groups still there after its stacks went: every one the
    templates create goes with its stack (DeletionPolicy Delete), but ECS creates Container
    Insights' performance log group itself, outside any stack."""
    found = []
    for prefix in (f"/cuddlekube/{env}/", f"/aws/ecs/containerinsights/cuddlekube-{env}/",
                   f"aws-waf-logs-cuddlekube-{env}"):
        pages = aws["logs"].get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix)
        found += [g for page in pages for g in page["logGroups"]]
    return found


def destroy(aws: Aws, env: str, hooks: Hooks | None = None) -> list[Kept]:
    """Every stack of `env` in reverse order; returns what stays on purpose."""
    hooks = hooks or Hooks()
    print(f"=== destroy {env}: {' → '.join(stack_name(env, p) for p in reversed(PARTS))}", flush=True)
    identity = aws["sts"].get_caller_identity()
    print(f"  account {identity['Account']}, Region {aws.region}", flush=True)
    data = retained_data(aws, env)
    for part in reversed(PARTS):
        delete_stack(aws, env, part, hooks)
    kept = what_is_kept(aws, env, data)
    print(f"=== {env} is gone; kept on purpose ({len(kept)}), ≈ ${sum(k.monthly_usd for k in kept):,.2f} a month:",
          flush=True)
    for item in kept:
        print(f"  {item.what}: ≈ ${item.monthly_usd:,.2f} a month\n      delete for real: {item.delete_with}", flush=True)
    return kept


def confirmed(env: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        print(f"destroy {env}: refused without --yes (no terminal to confirm on)", file=sys.stderr)
        return False
    answer = input(f"This deletes every stack of {env!r} (the table and its key stay). Type {env} to go on: ")
    return answer.strip() == env


# ---------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None, hooks: Hooks | None = None) -> int:
    """The CLI; returns the exit status: 0 done, 1 a step failed, 2 a prerequisite missing or
    destroy not confirmed. `hooks` is for the rehearsal."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("deploy", "destroy", "estimate"):
        sub = commands.add_parser(name)
        sub.add_argument("--env", required=True, help="environment name: stacks cuddlekube-<env>-*")
        sub.add_argument("--params-dir", type=Path, default=INFRA / "params",
                         help="folder with <env>/<part>.json (default infra/params)")
        if name != "estimate":
            sub.add_argument("--region", help="default: AWS_REGION or the profile's")
            sub.add_argument("--endpoint", help="one endpoint for every AWS API (moto)")
    deploy_args = commands.choices["deploy"]
    deploy_args.add_argument("--images-tag", help="images already in the registry under this tag (no build)")
    deploy_args.add_argument("--arch", choices=sorted(ARCH_CHOICES),
                             help="platforms to build/require (default: services.json's CpuArchitecture)")
    deploy_args.add_argument("--no-smoke", action="store_true", help="skip the visitor's walk through the ALB")
    deploy_args.add_argument("--site-url", help="walk this URL (the certificate's name) rather than the services "
                             "stack's SiteUrl, whose load balancer name the certificate does not cover")
    commands.choices["destroy"].add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)

    if args.command == "estimate":
        params = load_params(args.params_dir, args.env)
        idle, paused, rows = estimate(params)
        for what, at_rest, when_paused in rows:
            print(f"  {what:<55} ${at_rest:8.2f}  ${when_paused:8.2f}")
        print_estimate(params)
        return 0
    aws = Aws(region=args.region, endpoint=args.endpoint)
    try:
        if args.command == "deploy":
            deploy(aws, args.env, args.params_dir, args.images_tag, args.arch, smoke=not args.no_smoke,
                   hooks=hooks, site_url=args.site_url)
        else:
            if not confirmed(args.env, args.yes):
                return 2
            destroy(aws, args.env, hooks)
    except MissingPrerequisites as err:
        print(f"\n{err}", file=sys.stderr)
        return 2
    except DeployFailed as err:
        print(f"\nFAILED: {err}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as err:
        print(f"\nFAILED: `{' '.join(err.cmd)}` exited {err.returncode}; fix it and run again", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
