#!/usr/bin/env python3
"""Validates compose.yaml against the Compose specification's JSON schema (shipped in the
docker-compose package on PyPI), and checks what the README promises of the stack."""

import glob
import json
import os
import subprocess
import sys
import tempfile
import zipfile

import jsonschema
import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def compose_schema():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--dest", tmp, "docker-compose==1.29.2"],
            check=True,
        )
        wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
        with zipfile.ZipFile(wheel) as archive:
            return json.loads(archive.read("compose/config/compose_spec.json"))


def main():
    with open(os.path.join(ROOT, "compose.yaml")) as f:
        compose = yaml.safe_load(f)
    try:
        jsonschema.validate(compose, compose_schema())
    except jsonschema.ValidationError as error:
        sys.exit(f"compose.yaml is invalid at {list(error.absolute_path)}: {error.message}")
    services = compose["services"]
    backend = services["backend"]
    assert "postgres" in services, "a postgres service"
    assert "8000:8000" in backend["ports"], "the backend listens on localhost:8000"
    env = backend["environment"]
    assert env["CODEX_DATABASE_URL"].startswith("postgres://"), "the backend uses postgres"
    for name in ["CODEX_OIDC_ISSUER", "CODEX_OIDC_CLIENT_ID", "CODEX_OIDC_CLIENT_SECRET",
                 "CODEX_OIDC_REDIRECT_URI", "CODEX_OIDC_JWKS_CACHE_TTL",
                 "CODEX_OIDC_JWKS_CACHE_REFRESH"]:
        assert f"${{{name}:-" in env[name], f"{name} is passed through from .env"
    assert os.path.exists(os.path.join(ROOT, backend["build"]["dockerfile"])), "the Dockerfile"
    # The development provider: one issuer string for the backend and the browser.
    dev = services["dev-oidc"]
    assert dev["profiles"] == ["dev-oidc"] and "8080:8080" in dev["ports"], "dev-oidc on :8080"
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    for promise in ["127.0.0.1 dev-oidc", "CODEX_OIDC_ISSUER=http://dev-oidc:8080/default",
                    "CODEX_OIDC_ALLOW_INSECURE_HTTP=true", "--profile dev-oidc up"]:
        assert promise in readme, f"the README tells users {promise!r}"
    print("compose.yaml: valid")


if __name__ == "__main__":
    main()
