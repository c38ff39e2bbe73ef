from __future__ import annotations

from typing import Any

from django import forms

from accounts import bulk_invites
from accounts.membership import ACTIONS
from accounts.models import BulkInvite
from accounts.roster_parsing import INVITE_LIMITS, INVITE_MAX_BYTES, Entry
from hubcourse.errors import ValidationError
from hubcourse.form_errors import add_domain_errors, as_field_error
from onboarding import offboarding
from onboarding.models import Offboarding


class BulkInviteForm(forms.Form):
    invitees = forms.CharField(
        label="Docker IDs or email addresses",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text=(
            "One per line (commas and semicolons also separate them; spaces do not). "
            "Name <email> is read as the email."
        ),
    )
    csv_file = forms.FileField(
        label="Or a CSV file",
        required=False,
        help_text=(
            f"Files {INVITE_LIMITS}. One Docker ID or email per row. A header row naming the "
            "column (docker id, email, username) is used when present; otherwise the first "
            "column is read."
        ),
    )
    team = forms.CharField(
        label="Team",
        required=False,
        max_length=255,
        help_text="Invitees join this team when they accept. Leave empty for no team.",
    )
    role = forms.ChoiceField(label="Role", choices=BulkInvite.Role.choices, initial="member")

    def __init__(self, *args: Any, teams: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.teams = teams or []
        self.fields["team"].widget.attrs["list"] = "known-teams"
        self.rows: list[Entry] = []

    def clean_team(self) -> str:
        """A team typed in another case is the team Docker Hub lists, as it spells it."""
        team = str(self.cleaned_data.get("team") or "").strip()
        return next((t for t in self.teams if t.lower() == team.lower()), team)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("csv_file")
        try:
            self.rows = bulk_invites.invitees_read(
                text=data.get("invitees") or "",
                upload=upload.read(INVITE_MAX_BYTES + 1) if upload else None,
                upload_size=upload.size if upload else None,
            )
        except ValidationError as error:
            add_domain_errors(self, error, key="")  # about the list as a whole
        return data


class InviteActionForm(forms.Form):
    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS])
    invite = forms.MultipleChoiceField(required=False)

    def __init__(self, *args: Any, invite_ids: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["invite"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(i, i) for i in invite_ids]

    def clean_invite(self) -> list[str]:
        chosen: list[str] = self.cleaned_data.get("invite") or []
        if not chosen:
            raise forms.ValidationError("Tick at least one invite first.")
        return chosen


class OffboardingForm(forms.Form):
    repository_action = forms.ChoiceField(
        label="The students' Docker Hub repositories",
        choices=Offboarding.RepositoryAction.choices,
        widget=forms.RadioSelect,
        initial=Offboarding.RepositoryAction.ARCHIVE,
    )
    confirmation = forms.CharField(
        label="Type the course name to confirm", max_length=200, strip=True
    )

    def __init__(self, *args: Any, course_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.course_name = course_name
        self.fields["confirmation"].widget.attrs.update(
            {"autocomplete": "off", "spellcheck": "false"}
        )

    def clean_confirmation(self) -> str:
        value: str = self.cleaned_data["confirmation"]
        try:
            offboarding.confirmation_check(course_name=self.course_name, confirmation=value)
        except ValidationError as error:
            raise as_field_error(error) from None
        return value


class GitHubAppRegisterForm(forms.Form):
    name = forms.CharField(
        label="App name",
        max_length=34,  # GitHub's limit for an app's name
        initial="hubcourse",
        help_text="Unique on GitHub; students see it when they install the app.",
    )
    organisation = forms.CharField(
        label="GitHub organisation (optional)",
        required=False,
        max_length=39,
        help_text="Leave empty to register the app on your own GitHub account.",
    )

    def clean_organisation(self) -> str:
        value = str(self.cleaned_data.get("organisation") or "").strip()
        if value and not all(c.isalnum() or c == "-" for c in value):
            raise forms.ValidationError("A GitHub organisation name has letters, digits and -.")
        return value


class GitHubAppCredentialsForm(forms.Form):
    app_id = forms.IntegerField(label="App ID", min_value=1)
    slug = forms.SlugField(label="Slug", help_text="From the app's public page: /apps/<slug>.")
    client_id = forms.CharField(label="Client ID", max_length=100)
    client_secret = forms.CharField(
        label="Client secret", widget=forms.PasswordInput(render_value=False)
    )
    private_key = forms.CharField(
        label="Private key (PEM)",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "autocomplete": "off"}),
    )
    webhook_secret = forms.CharField(
        label="Webhook secret", widget=forms.PasswordInput(render_value=False)
    )
