from io import StringIO

from django.core.management import call_command


def test_no_migrations_are_missing(db):
    out = StringIO()
    call_command("makemigrations", "django_liveness", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_0002_turns_each_stored_result_into_an_attempt_and_cleans_its_payload(transactional_db):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("django_liveness", "0001_initial")], [("django_liveness", "0002_attempts")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    subject = old.get_model("django_liveness", "Subject").objects.create(external_id="ada")
    # What 0.2.0 stored: the preview's raw session body.
    payload = {
        "id": "p-1",
        "status": "ResultAvailable",
        "authToken": "should-not-be-here",
        "result": {"response": {"latencyInMilliseconds": 1200}, "sessionImageId": "img-1", "digest": "D1"},
    }
    session = old.get_model("django_liveness", "LivenessSession").objects.create(
        subject=subject,
        kind="liveness_with_verify",
        operation_mode="Passive",
        provider_session_id="p-1",
        status="completed",
        liveness_decision="realface",
        is_identical=True,
        match_confidence=0.92,
        outcome="passed",
        result_digest="D1",
        result_payload=payload,
    )

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    migrated = new.get_model("django_liveness", "LivenessSession").objects.get(pk=session.pk)
    assert migrated.provider_latency_ms == 1200
    assert "authToken" not in migrated.result_payload and migrated.result_payload["id"] == "p-1"
    attempt = new.get_model("django_liveness", "LivenessAttempt").objects.get(session=migrated)
    assert (attempt.attempt_id, attempt.status, attempt.liveness_decision) == (1, "succeeded", "realface")
    assert (attempt.is_identical, attempt.match_confidence, attempt.digest, attempt.session_image_id) == (True, 0.92, "D1", "img-1")
    call_command("migrate", "django_liveness", verbosity=0)  # leave the database at the latest state
