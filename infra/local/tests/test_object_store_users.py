"""Each platform service gets only the object-store credential it uses (pure: the services'
environments), and the scoped users' policies hold on the stack's real MinIO (each test makes
users of its own with the same policies and removes them)."""

from __future__ import annotations

import contextlib
import io
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from minio import Minio, MinioAdmin
from minio.error import MinioAdminException, S3Error

from inference_common.settings import MODELS_BUCKET, QUANT_BUCKET
from inference_localstack import object_store_users, platform_services
from inference_localstack.components import Component
from inference_localstack.config import StackConfig
from inference_localstack.object_store_users import ScopedUser
from inference_localstack.pki import Secrets

CREDS = Secrets(
    tokens={},
    postgres_password="pg",
    postgres_app_password="pg-app",
    minio_user="root-user",
    minio_password="root-password",
    jwt_secret="jwt",
    admin_password="admin",
    server_uuid_key="key",
    minio_operator_password="operator-password",
    minio_api_password="api-password",
)


Make = Callable[..., Minio]


@pytest.mark.parametrize(
    ("component", "access_key", "secret_key"),
    [
        (platform_services.operator, "inference-operator", "operator-password"),
        (platform_services.api, "inference-api", "api-password"),
        (platform_services.gateway, None, None),
    ],
)
def test_each_service_gets_only_its_own_object_store_user(
    tmp_path: Path,
    component: Callable[[StackConfig, Secrets, str], Component],
    access_key: str | None,
    secret_key: str | None,
) -> None:
    env = component(StackConfig(state_dir=tmp_path), CREDS, "postgresql://db").env
    assert env.get("S3_ACCESS_KEY") == access_key
    assert env.get("S3_SECRET_KEY") == secret_key
    assert "root-user" not in env.values()
    assert not any("root-password" in value for value in env.values())


@pytest.fixture
def admin(stack_env: dict[str, str]) -> MinioAdmin:
    return object_store_users.admin_client(
        stack_env["S3_ENDPOINT"], stack_env["S3_ACCESS_KEY"], stack_env["S3_SECRET_KEY"]
    )


@pytest.fixture
def scoped_client(admin: MinioAdmin, stack_env: dict[str, str]) -> Iterator[Make]:
    """A MinIO client of a new user made like the stack's (`object_store_users.*_user`)."""
    made: list[ScopedUser] = []

    def make(kind: Callable[[str, str], ScopedUser], region: str | None = None) -> Minio:
        template = kind(secrets.token_urlsafe(24), MODELS_BUCKET)
        name = f"opts{secrets.token_hex(4)}"
        user = ScopedUser(name, template.secret_key, f"{name}-policy", template.policy)
        object_store_users.ensure_user(admin, user)
        object_store_users.ensure_user(admin, user)  # `make up` runs it every time
        made.append(user)
        return Minio(
            stack_env["S3_ENDPOINT"],
            access_key=user.access_key,
            secret_key=user.secret_key,
            secure=False,
            region=region,
        )

    yield make
    for user in made:
        with contextlib.suppress(MinioAdminException):
            admin.user_remove(user.access_key)
        with contextlib.suppress(MinioAdminException):
            admin.policy_remove(user.policy_name)


def denied(attempt: Callable[[], object]) -> bool:
    try:
        attempt()
    except S3Error as exc:
        return exc.code == "AccessDenied"
    return False


def test_the_apis_user_reads_and_writes_the_models_bucket_only(
    s3: Minio, scoped_client: Make
) -> None:
    api = scoped_client(object_store_users.api_user)  # no region: it asks, as the API does
    key = f"tests/scoped-{secrets.token_hex(4)}.gguf"
    data = secrets.token_bytes(6 << 20)
    assert api.bucket_exists(MODELS_BUCKET)
    api.put_object(MODELS_BUCKET, key, io.BytesIO(data), len(data), part_size=5 << 20)
    response = api.get_object(MODELS_BUCKET, key)
    try:
        assert response.read() == data
    finally:
        response.close()
        response.release_conn()
    api.remove_object(MODELS_BUCKET, key)
    with pytest.raises(S3Error) as gone:
        s3.stat_object(MODELS_BUCKET, key)
    assert gone.value.code == "NoSuchKey"

    assert denied(lambda: api.put_object(QUANT_BUCKET, key, io.BytesIO(b"x"), 1))
    assert QUANT_BUCKET not in {bucket.name for bucket in api.list_buckets()}
    assert denied(lambda: api.make_bucket(f"opts-{secrets.token_hex(4)}"))
    assert denied(lambda: api.remove_bucket(MODELS_BUCKET))


def test_the_operators_user_only_reads_objects(s3: Minio, scoped_client: Make) -> None:
    operator = scoped_client(object_store_users.operator_user, region="us-east-1")
    key = f"tests/scoped-{secrets.token_hex(4)}.gguf"
    s3.put_object(MODELS_BUCKET, key, io.BytesIO(b"GGUF"), 4)
    try:
        response = operator.get_object(MODELS_BUCKET, key)
        try:
            assert response.read() == b"GGUF"
        finally:
            response.close()
            response.release_conn()
        assert denied(lambda: operator.put_object(MODELS_BUCKET, key, io.BytesIO(b"x"), 1))
        assert denied(lambda: operator.remove_object(MODELS_BUCKET, key))
        assert denied(lambda: list(operator.list_objects(MODELS_BUCKET)))
        assert denied(lambda: operator.get_object(QUANT_BUCKET, key))
        assert s3.stat_object(MODELS_BUCKET, key).size == 4
    finally:
        s3.remove_object(MODELS_BUCKET, key)
