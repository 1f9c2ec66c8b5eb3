"""The object store's scoped users: each platform service gets a MinIO user whose policy allows
what it does and nothing else, so the root user stays with the stack itself.

- the operator only signs GET URLs for the init containers (`s3:GetObject` on the models
  bucket's objects: it can neither write, delete nor list);
- the API uploads and deletes models (read and write on the models bucket's objects, check
  and create that one bucket);
- the gateway holds no object-store credential at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minio import MinioAdmin
from minio.credentials.providers import StaticProvider

OPERATOR_USER = "inference-operator"
API_USER = "inference-api"
POLICY_VERSION = "2012-10-17"


@dataclass(frozen=True)
class ScopedUser:
    access_key: str
    secret_key: str
    policy_name: str
    policy: dict[str, Any]


def _statement(actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def model_reader_policy(bucket: str) -> dict[str, Any]:
    """Read one object at a time, by its key: no listing, no writing."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [_statement(["s3:GetObject"], [f"arn:aws:s3:::{bucket}/*"])],
    }


def model_writer_policy(bucket: str) -> dict[str, Any]:
    """What the API's registry does: (multipart) uploads, reads and deletes in one bucket."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            _statement(
                ["s3:GetBucketLocation", "s3:ListBucket", "s3:CreateBucket"],
                [f"arn:aws:s3:::{bucket}"],
            ),
            _statement(
                [
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                [f"arn:aws:s3:::{bucket}/*"],
            ),
        ],
    }


def operator_user(password: str, bucket: str) -> ScopedUser:
    return ScopedUser(OPERATOR_USER, password, f"{OPERATOR_USER}-read", model_reader_policy(bucket))


def api_user(password: str, bucket: str) -> ScopedUser:
    return ScopedUser(API_USER, password, f"{API_USER}-write", model_writer_policy(bucket))


def admin_client(endpoint: str, root_user: str, root_password: str) -> MinioAdmin:
    return MinioAdmin(
        endpoint=endpoint, credentials=StaticProvider(root_user, root_password), secure=False
    )


def ensure_user(admin: MinioAdmin, user: ScopedUser) -> None:
    """Creates or updates the policy and the user, and gives the user exactly that policy
    (idempotent: `make up` runs it every time)."""
    admin.policy_add(user.policy_name, policy=user.policy)
    admin.user_add(user.access_key, user.secret_key)
    admin.policy_set(user.policy_name, user=user.access_key)
