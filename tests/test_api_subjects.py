"""REST API: subjects (create, find, read, change, delete), as owners and as apps."""

import pytest

from django_liveness.models import ReferenceImage, Subject
from django_liveness.testing import ReferenceImageFactory, SubjectFactory, UserFactory

from .api_support import API, client_for, grant

pytestmark = pytest.mark.django_db


def test_ordinary_user_gets_their_own_subject_whatever_user_they_send(owner):
    other = UserFactory()
    client = client_for(owner)
    first = client.post(f"{API}/subjects/", {"display_name": "Ada", "user": other.pk, "external_id": "x"}, format="json")
    assert first.status_code == 201
    assert first.json()["user"] == owner.pk and first.json()["display_name"] == "Ada"
    assert first.json()["external_id"] != "x"
    again = client.post(f"{API}/subjects/", {}, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Subject.objects.count() == 1


@pytest.mark.parametrize("body", [{"user": {}}, {"user": "me"}, {"user": 1.5}, {"user": True}, {"external_id": 7}, {"external_id": ""}])
def test_an_ordinary_users_ignored_fields_still_follow_the_schema(owner, subject, body):
    """`user` and `external_id` are not theirs to set, yet a value the schema forbids is a 400, not a 200."""
    client = client_for(owner)
    for method, path in (("post", "subjects/"), ("patch", f"subjects/{subject.pk}/"), ("put", f"subjects/{subject.pk}/")):
        response = getattr(client, method)(f"{API}/{path}", {**body, "display_name": "Changed"}, format="json")
        assert response.status_code == 400, (method, body, response.content)
        assert set(response.json()["fields"]) == set(body)
    subject.refresh_from_db()
    assert subject.display_name != "Changed" and Subject.objects.count() == 1


def test_an_ordinary_users_ignored_fields_as_multipart_follow_the_schema(owner):
    response = client_for(owner).post(f"{API}/subjects/", {"user": "{}", "display_name": "Ada"})
    assert response.status_code == 400 and response.json()["fields"] == {"user": ["A valid integer is required."]}
    assert not Subject.objects.exists()


def test_app_creates_subjects_for_anyone_by_external_id(app_user):
    client = client_for(app_user)
    created = client.post(f"{API}/subjects/", {"external_id": "crm-7", "display_name": "Bo"}, format="json")
    assert created.status_code == 201 and created.json()["external_id"] == "crm-7"
    repeated = client.post(f"{API}/subjects/", {"external_id": "crm-7"}, format="json")
    assert repeated.status_code == 200 and repeated.json()["id"] == created.json()["id"]


def test_subject_list_shows_only_what_the_user_may_see(owner, subject, app_user):
    SubjectFactory()
    assert [s["id"] for s in client_for(owner).get(f"{API}/subjects/").json()["results"]] == [str(subject.pk)]
    assert client_for(app_user).get(f"{API}/subjects/").json()["count"] == 2


def test_other_users_subject_is_404(subject):
    stranger = client_for(UserFactory())
    assert stranger.get(f"{API}/subjects/{subject.pk}/").status_code == 404
    assert stranger.patch(f"{API}/subjects/{subject.pk}/", {"display_name": "x"}, format="json").status_code == 404
    assert stranger.delete(f"{API}/subjects/{subject.pk}/").status_code == 404


def test_owner_may_rename_but_not_reassign_or_verify_their_subject(owner, subject):
    response = client_for(owner).patch(
        f"{API}/subjects/{subject.pk}/",
        {"display_name": "New", "user": UserFactory().pk, "verified_at": "2020-01-01T00:00:00Z", "external_id": "hijack"},
        format="json",
    )
    assert response.status_code == 200
    subject.refresh_from_db()
    assert (subject.display_name, subject.user, subject.verified_at) == ("New", owner, None)
    assert subject.external_id != "hijack"


def test_deleting_a_subject_removes_its_images_from_storage(owner, subject, django_capture_on_commit_callbacks):
    image = ReferenceImageFactory(subject=subject)
    name, storage = image.file.name, image.file.storage
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(owner).delete(f"{API}/subjects/{subject.pk}/").status_code == 204
    assert not Subject.objects.exists()
    assert not storage.exists(name)


def test_subject_and_image_lists_query_count_does_not_grow(app_user, django_assert_max_num_queries):
    subject = SubjectFactory()
    client = client_for(app_user)
    urls = [f"{API}/subjects/", f"{API}/subjects/{subject.pk}/reference-images/"]

    def add_rows(count):
        for _ in range(count):
            SubjectFactory()
            ReferenceImageFactory(subject=subject, is_active=False)

    add_rows(2)
    counts = []
    for url in urls:
        with django_assert_max_num_queries(6) as few:
            assert client.get(url).status_code == 200
        counts.append(len(few.captured_queries))
    add_rows(25)
    for url, count in zip(urls, counts):
        with django_assert_max_num_queries(count):
            assert client.get(url).status_code == 200


def test_unknown_subject_and_malformed_ids_are_404(owner):
    client = client_for(owner)
    unknown = client.post(f"{API}/sessions/", {"subject": "9f0e5e3c-0000-0000-0000-000000000000"}, format="json")
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert client.get(f"{API}/subjects/12345/").status_code == 404
    assert client.get(f"{API}/subjects/12345/reference-images/").json()["code"] == "not_found"


@pytest.mark.parametrize("method", ["patch", "put"])
def test_changing_external_id_to_one_in_use_is_400_unique(app_user, method):
    SubjectFactory(external_id="crm-1")
    subject = SubjectFactory(external_id="crm-2", display_name="Before")
    response = getattr(client_for(app_user), method)(
        f"{API}/subjects/{subject.pk}/", {"external_id": "crm-1", "display_name": "x"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "unique" and "external_id" in response.json()["fields"]
    subject.refresh_from_db()
    assert (subject.external_id, subject.display_name) == ("crm-2", "Before")  # nothing applied


def test_linking_a_user_who_already_has_a_subject_is_400_unique(app_user, subject, owner):
    other = SubjectFactory()
    response = client_for(app_user).patch(f"{API}/subjects/{other.pk}/", {"user": owner.pk}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "unique"
    other.refresh_from_db()
    assert other.user is None


def test_app_that_may_not_view_gets_409_for_an_existing_subject():
    creator = grant(UserFactory(), "add_subject")
    existing = SubjectFactory(external_id="crm-9", user=UserFactory())
    client = client_for(creator)
    for body in ({"external_id": "crm-9"}, {"user": existing.user.pk}):
        response = client.post(f"{API}/subjects/", body, format="json")
        assert response.status_code == 409
        assert response.json() == {"detail": response.json()["detail"], "code": "subject_exists"}
    assert Subject.objects.count() == 1


def test_app_posting_a_user_who_has_a_subject_gets_that_subject(app_user, owner, subject):
    response = client_for(app_user).post(f"{API}/subjects/", {"user": owner.pk}, format="json")
    assert response.status_code == 200 and response.json()["id"] == str(subject.pk)
    assert Subject.objects.count() == 1


def test_staff_posting_their_own_user_gets_their_one_subject(app_user):
    staff = grant(UserFactory(is_staff=True), "add_subject", "view_subject")
    client = client_for(staff)
    first = client.post(f"{API}/subjects/", {"user": staff.pk}, format="json")
    again = client.post(f"{API}/subjects/", {"user": staff.pk}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and first.json()["user"] == staff.pk
    assert Subject.objects.filter(user=staff).count() == 1


def test_app_posting_a_new_external_id_for_a_user_with_a_subject_is_400(app_user, owner, subject):
    response = client_for(app_user).post(f"{API}/subjects/", {"user": owner.pk, "external_id": "new-1"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "unique" and "user" in response.json()["fields"]
    assert Subject.objects.count() == 1


def test_app_updates_and_deletes_subjects_with_the_permissions(app_user, subject, owner):
    client = client_for(app_user)
    changes = {"display_name": "Renamed", "external_id": "crm-5"}
    response = client.patch(f"{API}/subjects/{subject.pk}/", changes, format="json")
    assert response.status_code == 200
    subject.refresh_from_db()
    assert (subject.display_name, subject.external_id, subject.user) == ("Renamed", "crm-5", owner)
    assert client.delete(f"{API}/subjects/{subject.pk}/").status_code == 403
    assert client_for(grant(app_user, "delete_subject")).delete(f"{API}/subjects/{subject.pk}/").status_code == 204
    assert not Subject.objects.exists()


def test_an_external_id_linked_to_another_user_is_400_not_a_silent_mismatch(app_user):
    linked = SubjectFactory(external_id="crm-9", user=UserFactory())
    someone_else = UserFactory()
    response = client_for(app_user).post(f"{API}/subjects/", {"external_id": "crm-9", "user": someone_else.pk}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "unique"
    linked.refresh_from_db()
    assert linked.user_id != someone_else.pk


def test_other_user_cannot_delete_images_erase_or_consent(subject):
    image = ReferenceImageFactory(subject=subject)
    stranger = client_for(UserFactory())
    consent = {"policy_version": "1", "text": "yes", "purpose": "x"}
    assert stranger.delete(f"{API}/subjects/{subject.pk}/reference-images/{image.pk}/").status_code == 404
    assert stranger.post(f"{API}/subjects/{subject.pk}/erase/").status_code == 404
    assert stranger.post(f"{API}/subjects/{subject.pk}/consent/", consent, format="json").status_code == 404
    assert stranger.delete(f"{API}/subjects/{subject.pk}/consent/").status_code == 404
    subject.refresh_from_db()
    assert ReferenceImage.objects.count() == 1 and subject.erased_at is None
    assert subject.consents.filter(withdrawn_at__isnull=True).count() == 1


def test_a_form_sends_null_as_the_text_null(app_user, owner, subject):
    """Multipart and urlencoded bodies cannot carry null: "null" is null for the nullable `user`."""
    response = client_for(app_user).patch(f"{API}/subjects/{subject.pk}/", {"user": "null"}, format="multipart")
    assert response.status_code == 200 and response.json()["user"] is None
    subject.refresh_from_db()
    assert subject.user is None
    assert client_for(app_user).patch(f"{API}/subjects/{subject.pk}/", {"user": "null"}, format="json").status_code == 400
    mine = client_for(owner).post(f"{API}/subjects/", {"user": "null", "display_name": "Ada"}, format="multipart")
    assert mine.status_code == 201 and mine.json()["user"] == owner.pk


def test_a_forms_empty_text_is_the_empty_string_as_in_json(app_user, subject):
    """DRF reads a form's "" as "not sent" for an optional field; the schema says external_id has a character."""
    for format in ("multipart", "json"):
        response = client_for(app_user).patch(f"{API}/subjects/{subject.pk}/", {"external_id": ""}, format=format)
        assert response.status_code == 400 and response.json()["code"] == "blank", format


def test_the_schema_says_request_strings_hold_no_nul(app_user, subject):
    from .openapi_docs import served_schema

    consent = served_schema()["components"]["schemas"]["ConsentGrantRequest"]["properties"]
    assert consent["text"]["pattern"] == "^[^\\x00]*$"
    body = {"policy_version": "1", "text": "I agree\x00", "purpose": "x"}
    response = client_for(app_user).post(f"{API}/subjects/{subject.pk}/consent/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "null_characters_not_allowed"
