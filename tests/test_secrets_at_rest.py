"""Secrets at rest: webhook signing secrets and open sessions' auth tokens are encrypted in the
database with a key derived from SECRET_KEY (its fallbacks honoured), and an auth token is gone
once its session ends."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from django_liveness import services, webhooks
from django_liveness.db.encryption import PREFIX, SecretUndecryptable, decrypt, encrypt, is_current
from django_liveness.exceptions import SessionNotFound
from django_liveness.models import LivenessSession, WebhookEndpoint

from .api_support import API, client_for, start

pytestmark = pytest.mark.django_db

OLD_KEY, NEW_KEY = "the-old-secret-key-" + "x" * 40, "the-new-secret-key-" + "y" * 40


def raw(table, column, pk):
    """What the database holds, read past the model field."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk.hex if connection.vendor == "sqlite" else pk])
        return cursor.fetchone()[0]


def raw_secrets(endpoint):
    return raw("django_liveness_webhookendpoint", "secret", endpoint.pk), raw(
        "django_liveness_webhookendpoint", "previous_secret", endpoint.pk
    )


def raw_token(session):
    return raw("django_liveness_livenesssession", "auth_token", session.pk)


@pytest.fixture
def loopback_hooks(settings):
    settings.LIVENESS = {**settings.LIVENESS, "WEBHOOKS": {"ALLOWED_PRIVATE_HOSTS": ["127.0.0.1"]}}


@pytest.fixture
def endpoint(loopback_hooks):
    return webhooks.create_endpoint("https://127.0.0.1:9/hooks", events=["session.created"])


def test_a_webhook_secret_is_stored_encrypted_and_read_as_it_was_made(endpoint):
    created, secret = endpoint
    stored, previous = raw_secrets(created)
    assert stored.startswith(PREFIX) and secret not in stored and secret.removeprefix("whsec_") not in stored
    assert previous == ""
    assert WebhookEndpoint.objects.get().secret == secret


def test_the_rotated_out_secret_is_encrypted_too_and_both_still_sign(endpoint):
    created, first = endpoint
    second = webhooks.rotate_secret(created)
    stored, previous = raw_secrets(created)
    assert stored.startswith(PREFIX) and previous.startswith(PREFIX)
    assert first not in previous and second not in stored
    assert WebhookEndpoint.objects.get().signing_secrets() == [second, first]


def test_an_open_sessions_auth_token_is_stored_encrypted_and_reaches_its_starter(owner, subject, locmem):
    response = start(client_for(owner), subject, verify=False)
    token = response.json()["auth_token"]
    session = LivenessSession.objects.get()
    assert token and raw_token(session).startswith(PREFIX) and token not in raw_token(session)
    assert session.auth_token == token
    assert client_for(owner).get(f"{API}/sessions/{session.pk}/").json()["auth_token"] == token


def test_rotating_secret_key_keeps_every_secret_and_liveness_reencrypt_moves_them_to_the_new_key(loopback_hooks, settings, subject, locmem):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    created, secret = webhooks.create_endpoint("https://127.0.0.1:9/other", events=["session.created"])
    session = services.start_session(subject, verify=False)
    token = session.auth_token

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]  # the rotation, as Django documents it
    assert WebhookEndpoint.objects.get(pk=created.pk).secret == secret  # decrypted with the fallback
    assert LivenessSession.objects.get(pk=session.pk).auth_token == token
    assert not is_current(raw_secrets(created)[0]) and not is_current(raw_token(session))

    out = StringIO()
    call_command("liveness_reencrypt", stdout=out)
    assert "the secrets of 1 webhook endpoint(s) and the auth tokens of 1 open session(s)" in out.getvalue()
    assert is_current(raw_secrets(created)[0]) and is_current(raw_token(session))

    settings.SECRET_KEY_FALLBACKS = []  # the old key is gone: nothing is lost
    assert WebhookEndpoint.objects.get(pk=created.pk).secret == secret
    assert LivenessSession.objects.get(pk=session.pk).auth_token == token


def test_a_secret_whose_key_is_gone_says_how_to_recover(settings, loopback_hooks, subject, locmem):
    settings.SECRET_KEY = OLD_KEY
    created, _secret = webhooks.create_endpoint("https://127.0.0.1:9/other", events=["session.created"])
    session = services.start_session(subject, verify=False)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, []
    with pytest.raises(SecretUndecryptable, match="SECRET_KEY_FALLBACKS.*liveness_reencrypt"):
        WebhookEndpoint.objects.get(pk=created.pk)
    # A lost auth token only ends that capture: the session still loads, without a token.
    assert LivenessSession.objects.get(pk=session.pk).auth_token == ""


def test_encryption_differs_every_time_and_plaintext_from_before_reads_as_it_is():
    assert encrypt("whsec_abc") != encrypt("whsec_abc")
    assert decrypt(encrypt("whsec_abc")) == "whsec_abc"
    assert decrypt("whsec_written_before_0.3") == "whsec_written_before_0.3"


# --- an ended session's auth token is gone ----------------------------------------------------------


def complete(session, locmem):
    locmem.complete(session)
    return services.refresh_session(session)


def expire(session, locmem):
    with time_machine.travel(timezone.now() + timedelta(seconds=601)):
        return services.refresh_session(session)


def cancel(session, locmem):
    return services.cancel_session(session)


def fail(session, locmem):
    locmem.fail_next(SessionNotFound("gone", status=404))
    return services.refresh_session(session)


@pytest.mark.parametrize("end", [complete, expire, cancel, fail])
def test_an_ended_sessions_auth_token_is_cleared_in_the_database(subject, locmem, end):
    session = services.start_session(subject, verify=False)
    assert raw_token(session).startswith(PREFIX)
    ended = end(session, locmem)
    ended.refresh_from_db()
    assert ended.is_final and ended.auth_token == "" and raw_token(ended) == ""


def test_an_idempotent_replay_after_the_end_has_no_token(owner, subject, locmem):
    client, body = client_for(owner), {"subject": str(subject.pk), "verify": False}
    first = client.post(f"{API}/sessions/", body, format="json", headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and first.json()["auth_token"]
    services.cancel_session(LivenessSession.objects.get())
    replay = client.post(f"{API}/sessions/", body, format="json", headers={"Idempotency-Key": "k-1"})
    assert replay.json()["id"] == first.json()["id"] and "auth_token" not in replay.json()


# --- the migration --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_0012_encrypts_existing_secrets_and_tokens_and_clears_ended_sessions_tokens():
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("django_liveness", "0011_capture_binding")], [("django_liveness", "0012_encrypt_webhook_secrets")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    subject = old.get_model("django_liveness", "Subject").objects.create(external_id="ada")
    Session = old.get_model("django_liveness", "LivenessSession")
    open_session = Session.objects.create(subject=subject, kind="liveness", operation_mode="Passive", status="started", auth_token="tok-open")
    ended = Session.objects.create(subject=subject, kind="liveness", operation_mode="Passive", status="expired", auth_token="tok-ended")
    endpoint = old.get_model("django_liveness", "WebhookEndpoint").objects.create(
        url="https://example.com/h", events=["session.created"], secret="whsec_current", previous_secret="whsec_before"
    )

    MigrationExecutor(connection).migrate(after)
    assert raw_token(open_session).startswith(PREFIX) and decrypt(raw_token(open_session)) == "tok-open"
    assert raw_token(ended) == ""
    secret, previous = raw_secrets(endpoint)
    assert (decrypt(secret), decrypt(previous)) == ("whsec_current", "whsec_before") and "whsec_" not in secret + previous

    MigrationExecutor(connection).migrate(before)  # and back: plaintext again
    assert raw_token(open_session) == "tok-open" and raw_secrets(endpoint) == ("whsec_current", "whsec_before")
    call_command("migrate", "django_liveness", verbosity=0)  # leave the database at the latest state
