"""Presigned GET URLs for the model-fetch init containers: the pods get a URL for their one
object, valid for a limited time, never an object-store key.

Each ModelServe's URL is signed for a window: windows are half the URL's lifetime long and
offset per ModelServe (by its uid, so renewals of many ModelServes do not all fall at the same
moment). A URL signed at the start of its window is valid for at least half its lifetime at any
moment of that window, and it is the same URL whenever it is computed in that window (the
signature covers the window's start, not the clock), so an operator restart or a reconcile
changes nothing until the window ends.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from minio import Minio

from modelserve_operator.childmeta import FetchUrl, Owner


@dataclass(frozen=True)
class Window:
    index: int
    start: float
    end: float
    """When the next URL is due (the URL signed at `start` is valid until start + lifetime)."""

    @property
    def slot(self) -> int:
        """Consecutive windows alternate between the two fetch slots."""
        return self.index % 2


def signing_window(now: float, lifetime: float, uid: str) -> Window:
    """The window of `now` for the ModelServe of `uid` (epoch seconds)."""
    length = lifetime / 2
    offset = int(hashlib.sha256(uid.encode()).hexdigest()[:8], 16) % int(length)
    index = int((now - offset) // length)
    start = index * length + offset
    return Window(index=index, start=start, end=start + length)


class FetchUrlSigner:
    """Signs GET URLs with the operator's (read-only) key. Signing is local: the client is
    given the region, so it never asks the server for the bucket's location."""

    def __init__(self, client: Minio, lifetime: timedelta, digest: str) -> None:
        self.client = client
        self.lifetime = lifetime
        self.digest = digest
        """Of the endpoint and key the URLs are signed with (see ManifestConfig.signer_digest)."""

    @staticmethod
    def with_key(
        endpoint: str,
        access_key: str,
        secret_key: str,
        secure: bool,
        region: str,
        lifetime: timedelta,
    ) -> FetchUrlSigner:
        client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region
        )
        fields = "\0".join([endpoint, access_key, secret_key, str(secure), region])
        return FetchUrlSigner(client, lifetime, hashlib.sha256(fields.encode()).hexdigest())

    def window(self, owner: Owner, now: float) -> Window:
        return signing_window(now, self.lifetime.total_seconds(), owner.uid)

    def url_for(self, owner: Owner, window: Window) -> FetchUrl | None:
        """The URL of the owner's model for a window; None when the model is not in the
        object store (a PVC)."""
        s3 = owner.spec.model.source.s3
        if s3 is None:
            return None
        start = datetime.fromtimestamp(window.start, UTC)
        url = self.client.presigned_get_object(
            s3.bucket, s3.key, expires=self.lifetime, request_date=start
        )
        return FetchUrl(url=url, signed=start, expires=start + self.lifetime)
