"""Object storage through Airflow's ``ObjectStoragePath``: one URL scheme for S3, GCS, Azure and local files, with
the credentials of the Airflow connection the URL names (``s3://<conn_id>@bucket/path``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

__all__ = ["ObjectStoragePath", "object_storage_path"]


def object_storage_path(url: str) -> ObjectStoragePath:
    """The storage location ``url`` names.

    :param url: ``<scheme>://[<conn_id>@]<bucket or path>``.
    :raises ValueError: naming the URL when no installed filesystem serves its scheme (a provider is missing).
    """
    from airflow.sdk import ObjectStoragePath

    try:
        path = ObjectStoragePath(url)
        path.fs  # noqa: B018 (the filesystem is made on first use: a missing package shows here, not mid-copy)
        return path
    except (ImportError, ValueError) as exc:  # fsspec: an unknown protocol, or its package not installed
        raise ValueError(f"{url!r} names no storage this Airflow can open ({exc}): install the provider of its scheme "
                         "(apache-airflow-providers-amazon for s3://, -google for gs://, -microsoft-azure for "
                         "abfs://)") from exc
