"""Delete every stored GitHub sign-in token (issue 14).

Students used to sign in with the ``repo`` scope, which gives write access to every repository
they have. hubcourse now reaches a student's repository only through the GitHub App's
installation token (or anonymously for a public one) and signs students in without that scope,
so no token with it may be kept: the next sign-in stores a new token without scopes.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


def delete_tokens(apps: Any, schema_editor: Any) -> None:
    SocialToken = apps.get_model("socialaccount", "SocialToken")
    SocialToken.objects.filter(account__provider="github").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_githubappregistration"),
        ("socialaccount", "0006_alter_socialaccount_extra_data"),
    ]

    operations = [migrations.RunPython(delete_tokens, migrations.RunPython.noop)]
