from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("repositories", "0003_desired_recorded_state"),
    ]

    operations = [
        migrations.AddField(
            model_name="studentrepository",
            name="old_teams",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
