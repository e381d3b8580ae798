"""Reference images on real object storage (Azure Blob Storage in Azurite) and on the file system.

Every test runs on both storages. Azurite is the npm package pinned in package.json (`npm ci`,
which `make test-azurite` and .ci/run do); without it the Azurite half is skipped, except under
CI=true, where it fails.
"""

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from django_liveness import services
from django_liveness.images import sample_face_image
from django_liveness.models import LivenessEvent, ReferenceImage
from django_liveness.testing import ConsentFactory, SubjectFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent
AZURITE = ROOT / "node_modules" / ".bin" / "azurite-blob"
# Azurite's well-known development account (public, documented by Microsoft; not a secret).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
API = "/api/liveness"


def stored_form(upload):
    """What django-liveness keeps of an upload: the image without its metadata (image_cleaning.py)."""
    from django_liveness.images import validate_reference_image

    return validate_reference_image(upload).data


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def azurite():
    """A blob endpoint served by Azurite on a free loopback port, in memory, for the whole run."""
    binary = str(AZURITE) if AZURITE.exists() else shutil.which("azurite-blob")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Azurite is not installed (run `npm ci`; .ci/run does)")
        pytest.skip("Azurite is not installed (`make test-azurite` installs and runs it)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence", "--silent",
         "--disableTelemetry", "--skipApiVersionCheck"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("Azurite did not start")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/{ACCOUNT}"
    process.terminate()
    process.wait(timeout=10)


class BlobContainer:
    """Looks at the container directly, as an attacker or an auditor would, not through Django."""

    def __init__(self, endpoint, name):
        from azure.storage.blob import BlobServiceClient

        self.endpoint, self.name = endpoint, name
        self.connection_string = (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};BlobEndpoint={endpoint};"
        )
        self.client = BlobServiceClient.from_connection_string(self.connection_string).get_container_client(name)

    def names(self):
        return sorted(blob.name for blob in self.client.list_blobs())

    def anonymous_get(self, name):
        """GET the blob's plain URL with no key and no signature."""
        try:
            with urlopen(f"{self.endpoint}/{self.name}/{name}", timeout=5) as response:
                return response.status, response.read()
        except HTTPError as error:
            return error.code, error.read()


@pytest.fixture(params=["file_system", pytest.param("azure_blob", marks=pytest.mark.azurite)])
def storage_kind(request, settings, tmp_path):
    """LIVENESS['REFERENCE_IMAGE_STORAGE'] pointed at a private storage of each kind."""
    if request.param == "azure_blob":
        container = BlobContainer(request.getfixturevalue("azurite"), f"liveness-{uuid.uuid4().hex[:12]}")
        container.client.create_container()  # private: no public access level
        backend = {
            "BACKEND": "storages.backends.azure_storage.AzureStorage",
            "OPTIONS": {
                "connection_string": container.connection_string,
                "azure_container": container.name,
                "expiration_secs": 60,
            },
        }
    else:
        container = None
        backend = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "private")}}
    settings.STORAGES = {**settings.STORAGES, "liveness": backend}
    settings.LIVENESS = {**settings.LIVENESS, "REFERENCE_IMAGE_STORAGE": "liveness"}
    return request.param, container


@pytest.fixture
def owner(db):
    user = UserFactory()
    ConsentFactory(subject=SubjectFactory(user=user))
    return user


def stored_names(kind, container):
    if container is not None:
        return container.names()
    storage = storages["liveness"]
    root = Path(storage.location)
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()) if root.exists() else []


def upload(user, data, name="jane-doe-passport.jpg"):
    client = APIClient()
    client.force_authenticate(user)
    subject = user.liveness_subject
    return client.post(f"{API}/subjects/{subject.pk}/reference-images/", {"image": SimpleUploadedFile(name, data)}, format="multipart")


def test_upload_through_the_api_is_stored_privately_under_a_random_name(storage_kind, owner, client):
    kind, container = storage_kind
    data = stored_form(sample_face_image())
    response = upload(owner, data)
    assert response.status_code == 201, response.content
    assert "url" not in response.content.decode().lower()  # the API never hands out a storage URL
    image = ReferenceImage.objects.get()
    assert "jane" not in image.file.name and image.file.name.startswith("liveness/reference-images/")
    assert stored_names(kind, container) == [image.file.name]
    with image.file.open("rb") as stored:
        assert stored.read() == data
    if container is not None:
        status, body = container.anonymous_get(image.file.name)
        assert status in (403, 404) and data not in body
    else:
        # Nothing in the project serves the storage's folder.
        assert client.get(f"/media/{image.file.name}").status_code == 404
        assert client.get(f"/{image.file.name}").status_code == 404


def test_the_admin_streams_it_to_permitted_staff_and_erasure_removes_it(
    storage_kind, owner, admin_client, client, django_capture_on_commit_callbacks
):
    kind, container = storage_kind
    data = stored_form(sample_face_image())
    assert upload(owner, data).status_code == 201
    image = ReferenceImage.objects.get()
    url = f"/admin/django_liveness/referenceimage/{image.pk}/file/"

    staff_without_permission = UserFactory(is_staff=True)
    client.force_login(staff_without_permission)
    assert client.get(url).status_code == 403

    response = admin_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert {"private", "no-store"} <= {part.strip() for part in response["Cache-Control"].split(",")}
    assert LivenessEvent.objects.filter(kind="image_viewed", data__reference_image=str(image.pk)).count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        services.erase_subject(image.subject, actor=UserFactory())
    assert stored_names(kind, container) == []
    assert not ReferenceImage.objects.exists()


def test_the_admin_answers_404_for_a_file_gone_from_storage(storage_kind, owner, admin_client):
    assert upload(owner, sample_face_image()).status_code == 201
    image = ReferenceImage.objects.get()
    image.file.storage.delete(image.file.name)  # removed behind the application's back
    response = admin_client.get(f"/admin/django_liveness/referenceimage/{image.pk}/file/")
    assert response.status_code == 404
    assert not LivenessEvent.objects.filter(kind="image_viewed").exists()


def test_a_failed_storage_write_leaves_no_row(storage_kind, owner, settings, tmp_path):
    kind, container = storage_kind
    broken = dict(settings.STORAGES["liveness"])
    if container is not None:
        broken["OPTIONS"] = {**broken["OPTIONS"], "azure_container": "no-such-container"}
    else:
        blocker = tmp_path / "a-file-not-a-folder"
        blocker.write_text("")
        broken["OPTIONS"] = {"location": str(blocker)}
    settings.STORAGES = {**settings.STORAGES, "liveness": broken}

    response = upload(owner, sample_face_image())
    assert response.status_code == 503
    if container is not None:  # the storage refused this write: another try may work
        assert response.json()["code"] == "storage_unavailable"
        assert response["Retry-After"]
    else:  # a folder that cannot be made: a configuration error, which no retry cures
        assert response.json()["code"] == "storage_misconfigured"
        assert "configuration error" in response.json()["detail"] and "Retry-After" not in response
    assert not ReferenceImage.objects.exists()
    assert not LivenessEvent.objects.filter(kind="image_uploaded").exists()


def test_a_failed_database_write_leaves_no_orphan_file(storage_kind, owner, monkeypatch):
    kind, container = storage_kind

    def database_down(self, *args, **kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(ReferenceImage, "save", database_down)
    with pytest.raises(RuntimeError):
        services.add_reference_image(owner.liveness_subject, sample_face_image())
    assert stored_names(kind, container) == []

