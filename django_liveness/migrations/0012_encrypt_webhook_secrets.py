# Webhook signing secrets and open sessions' auth tokens encrypted at rest (django_liveness/encryption.py);
# the auth tokens of ended sessions, useless by then, cleared.

from django.db import migrations
from django.db.models import Value

import django_liveness.encryption

FINAL_STATUSES = ["completed", "expired", "canceled", "failed"]


def encrypt_existing(apps, schema_editor):
    # The field reads a value from before encryption as it is, and writes it encrypted.
    Session = apps.get_model("django_liveness", "LivenessSession")
    Endpoint = apps.get_model("django_liveness", "WebhookEndpoint")
    Session.objects.filter(status__in=FINAL_STATUSES).exclude(auth_token="").update(auth_token="")
    for pk, token in Session.objects.exclude(auth_token="").values_list("pk", "auth_token"):
        Session.objects.filter(pk=pk).update(auth_token=token)
    for pk, secret, previous in Endpoint.objects.values_list("pk", "secret", "previous_secret"):
        Endpoint.objects.filter(pk=pk).update(secret=secret, previous_secret=previous)


def decrypt_existing(apps, schema_editor):
    # Value() is written as it is, past the field's encryption.
    Session = apps.get_model("django_liveness", "LivenessSession")
    Endpoint = apps.get_model("django_liveness", "WebhookEndpoint")
    for pk, token in Session.objects.exclude(auth_token="").values_list("pk", "auth_token"):
        Session.objects.filter(pk=pk).update(auth_token=Value(token))
    for pk, secret, previous in Endpoint.objects.values_list("pk", "secret", "previous_secret"):
        Endpoint.objects.filter(pk=pk).update(secret=Value(secret), previous_secret=Value(previous))


class Migration(migrations.Migration):

    dependencies = [
        ("django_liveness", "0011_capture_binding"),
    ]

    operations = [
        migrations.AlterField(
            model_name="livenesssession",
            name="auth_token",
            field=django_liveness.encryption.EncryptedTextField(blank=True, editable=False, lost_is_blank=True),
        ),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="previous_secret",
            field=django_liveness.encryption.EncryptedTextField(blank=True, editable=False),
        ),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=django_liveness.encryption.EncryptedTextField(editable=False),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
    ]
