from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0012_pages3_organisation_as_docker_hub_spells_it"),
    ]

    operations = [
        migrations.AddField(
            model_name="course",
            name="old_teams",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
