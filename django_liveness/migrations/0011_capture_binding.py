from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_liveness', '0010_client_platform'),
    ]

    operations = [
        migrations.AddField(
            model_name='livenesssession',
            name='capture_browser_hash',
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
    ]
