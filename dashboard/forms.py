from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from accounts import identifiers
from accounts import roster_parsing as roster
from accounts.course_rules import COURSE_SETTINGS, SAMPLE_DOCKER_IDS, course_validate, fill_template
from accounts.models import Course, CourseRole, User
from accounts.organisations import organisations_for
from builds.backends import BACKENDS, NEW_COURSE_BACKEND, retirement_note, retires_on
from builds.backends import choices as build_backend_choices
from hubcourse.errors import ValidationError
from hubcourse.form_errors import add_domain_errors, as_field_error
from hubcourse.text import counted
from onboarding.courses import BULK_ACTIONS, bulk_selection_check, roster_input_check


class _Form(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")  # labels read as words, without a colon
        super().__init__(*args, **kwargs)


def _backend_choices() -> list[tuple[str, str]]:
    """The registered backends, a retiring one offered with its date in view."""
    labelled = []
    for name, label in build_backend_choices():
        day = retires_on(name)
        labelled.append(
            (name, f"{label} (Docker retires them on {day.day} {day:%B %Y})" if day else label)
        )
    return labelled


class _OrganisationField(forms.ChoiceField):
    """The organisations offered; a name outside them is refused by the course rules, in
    their words (not registered, not granted), rather than by the choice list's."""

    def validate(self, value: Any) -> None:
        forms.Field.validate(self, value)


class CourseForm(forms.ModelForm[Course]):
    """Course settings. Tokens are write-only: the form never shows a stored value back."""

    label_suffix = ""

    # The registered build backends (builds.backends), read each time a form is made.
    build_backend = forms.ChoiceField(
        choices=_backend_choices,
        label="How images are built",
        help_text=(
            "Docker Hub automated builds: Docker Hub links a GitHub repository only through the "
            "GitHub account linked to the Docker ID that sets it up, and only if that account "
            "administers the repository. Repositories of your own GitHub account or "
            "organisation are linked by hubcourse; students who own their repository link it "
            "themselves, which needs “One team per student” below (each student's team then "
            "administers their own repository). GitHub Actions: students install hubcourse's "
            "GitHub App on their repository."
        ),
    )

    dockerhub_token = forms.CharField(
        label="Docker Hub access token",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=(
            "The organisation's access token (with the organisation's name as the identifier "
            "above), or an Owner's personal access token: automated builds need the latter. "
            "Leave empty to keep the stored token."
        ),
    )
    clear_dockerhub_token = forms.BooleanField(
        label="Forget the stored Docker Hub token (use the site's)", required=False
    )
    github_token = forms.CharField(
        label="GitHub token",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=(
            "A token with the repo and admin:repo_hook scopes (and workflow for GitHub "
            "Actions). Leave empty to keep the stored token."
        ),
    )
    clear_github_token = forms.BooleanField(
        label="Forget the stored GitHub token (use the site's)", required=False
    )

    class Meta:
        model = Course
        fields = list(COURSE_SETTINGS)
        labels = {
            "name": "Course name",
            "slug": "Short name",
            "organisation": "Docker Hub organisation",
            "team": "Students' team",
            "instructors_team": "Instructors' team",
            "access_policy": "Who sees each repository",
            "repo_name_template": "Repository name",
            "student_team_template": "Student team name (one team per student)",
            "repo_private": "Private repositories",
            "build_backend": "How images are built",
            "build_branch": "Build from branch",
            "build_dockerfile": "Dockerfile location",
            "build_context": "Build context",
            "build_tag": "Image tag",
            "dockerhub_username": "Docker Hub identifier",
            "owner_github_login": "GitHub account linked to the Owner",
        }
        help_texts = {
            "slug": "Used in links and in repository names as {course}; letters, digits and dashes.",
            "repo_name_template": (
                "{docker_id} is the student's Docker ID, {course} the short name above. "
                "Fixed once a student's repository exists (Docker Hub cannot rename one)."
            ),
            "dockerhub_username": (
                "The organisation's name for an organisation access token, or the Owner's "
                "username for a personal token. Empty: the site's configured identity."
            ),
            "owner_github_login": (
                "Automated builds only: the GitHub account linked to the Owner's Docker ID "
                "(on Docker Hub, signed in as the Owner: Account settings, Linked accounts). "
                "Docker Hub's API does not say which account that is; hubcourse links builds "
                "itself only from repositories this account administers (or an organisation's). "
                "Empty: the GitHub token's account is assumed."
            ),
            "build_dockerfile": "Path of the Dockerfile in the student's repository.",
            "student_team_template": (
                "Used only with one team per student (see “Who sees each repository”); "
                "{docker_id} and {course} as for the repository name."
            ),
            "build_context": "The folder of the student's repository the build sees; / is all of it.",
            "build_tag": "The tag every build pushes: what follows “:” in docker pull.",
        }

    def __init__(self, *args: Any, user: User | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.user = user
        self._organisation_field()
        self.fields["slug"].required = False
        # The course rules check the short name's spelling, with the API's words.
        self.fields["slug"].validators = []
        if self.instance.pk:
            # The short name is in every repository name and link: fixed once created.
            self.fields["slug"].disabled = True
            self.fields["slug"].help_text = "Fixed once the course exists."
        else:
            self.initial["build_backend"] = NEW_COURSE_BACKEND
            # A team of the course's own unless one is named (accounts.course_rules).
            self.fields["team"].required = False
            self.initial["team"] = ""
            self.fields["team"].widget.attrs["placeholder"] = "short-name-students"
            self.fields["team"].help_text = (
                "Empty: a team of this course's own, named after the short name "
                "(docker-101-students). A team another course uses is refused when either "
                "course gives its team read access to every student repository."
            )
        for name in ("dockerhub_token", "github_token"):
            set_at = getattr(self.instance, f"{name}_set_at", None)
            if self.instance.pk and set_at:
                self.fields[name].help_text = (
                    f"A token is stored (set on {set_at:%d %b %Y}). "
                    + str(self.fields[name].help_text).replace(
                        "Leave empty to keep the stored token.", "Enter a new one to replace it."
                    )
                )

    def _organisation_field(self) -> None:
        """A choice among the organisations registered and granted to the user (the course's
        own stays listed); fixed once the course has students."""
        names = [o.name for o in organisations_for(self.user)] if self.user else []
        current = self.instance.organisation if self.instance.pk else ""
        if current and current.lower() not in {n.lower() for n in names}:
            names.insert(0, current)
        field = _OrganisationField(
            label="Docker Hub organisation",
            choices=[(n, n) for n in names],
            help_text=(
                "The organisations a site administrator registered and granted you."
                if names
                else "No organisation is granted to you yet: ask a site administrator to "
                "register one and grant it to you."
            ),
        )
        if not self.instance.pk:
            site = str(settings.DOCKERHUB_ORG).lower()
            self.initial["organisation"] = next(
                (n for n in names if n.lower() == site), names[0] if names else ""
            )
        elif students := self.instance.enrolments.count():
            field.disabled = True
            field.help_text = (
                f"Fixed: the course has {counted(students, 'student')}, whose invitations, teams "
                "and repositories are in this organisation."
            )
        self.fields["organisation"] = field

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            data.update(
                course_validate(
                    data, course=self.instance if self.instance.pk else None, actor=self.user
                )
            )
        except ValidationError as error:
            add_domain_errors(self, error)
        return data

    def retirement_notes(self) -> list[tuple[str, str, bool]]:
        """(backend, what its retirement means, whether it is the one chosen) for every
        retiring backend: the page shows the chosen one's (and the script follows a change)."""
        chosen = str(self["build_backend"].value() or "")
        return [
            (name, note, name == chosen) for name in BACKENDS if (note := retirement_note(name))
        ]

    def previews(self) -> list[tuple[str, str]]:
        """(Docker ID, repository) for the sample students, from the saved or posted values."""
        template = self.data.get("repo_name_template") or self.instance.repo_name_template
        slug = self.data.get("slug") or self.instance.slug or "course"
        org = (self.data.get("organisation") or self.instance.organisation).lower()
        result = []
        for docker_id in SAMPLE_DOCKER_IDS:
            try:
                name = fill_template(str(template), course=str(slug), docker_id=docker_id)
            except (KeyError, ValueError, IndexError):
                name = "(the template cannot be filled in)"
            result.append((docker_id, f"{org}/{name}"))
        return result


class RosterForm(_Form):
    file = forms.FileField(
        label="Roster file (CSV)",
        required=False,
        help_text=(
            f"Files {roster.LIMITS}: our columns, a GitHub Classroom roster, or a Canvas or "
            "Moodle gradebook export."
        ),
    )
    text = forms.CharField(
        label="Or paste lines",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="One student per line: identifier or email, name, Docker ID, GitHub repository.",
    )
    classroom_repo_template = forms.CharField(
        label="GitHub Classroom repository (optional)",
        required=False,
        help_text=(
            "For a GitHub Classroom roster: each student's assignment repository, like "
            "my-classroom/docker-lab-{github_username}."
        ),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        try:
            data["classroom_repo_template"] = roster_input_check(
                text=data.get("text", ""),
                upload_size=upload.size if upload is not None else None,
                classroom_repo_template=data.get("classroom_repo_template", ""),
            )
        except ValidationError as error:
            add_domain_errors(self, error)
        return data


class CorrectionForm(_Form):
    docker_id = forms.CharField(label="Docker ID", required=False, max_length=30)
    github_repo = forms.CharField(label="GitHub repository", required=False, max_length=200)
    reason = forms.CharField(label="Why (kept in the audit log)", required=False, max_length=300)

    def clean_docker_id(self) -> str:
        try:
            return identifiers.docker_id(self.cleaned_data.get("docker_id", "")).value
        except ValidationError as error:
            raise as_field_error(error) from None

    def clean_github_repo(self) -> str:
        try:
            return identifiers.github_repo(self.cleaned_data.get("github_repo", "")).value
        except ValidationError as error:
            raise as_field_error(error) from None


class RoleForm(_Form):
    """The service checks both (``onboarding.courses.role_grant``); the view shows its refusal."""

    email = forms.CharField(label="Email address")
    role = forms.ChoiceField(choices=CourseRole.Role.choices, initial=CourseRole.Role.TA)


class BulkForm(_Form):
    action = forms.ChoiceField(choices=list(BULK_ACTIONS.items()))
    scope = forms.ChoiceField(
        choices=[("selected", "Selected students"), ("filtered", "All students matching")],
        initial="selected",
    )
    ids = forms.TypedMultipleChoiceField(coerce=int, required=False, choices=[])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any integer is accepted here; the service keeps only this course's students.
        posted = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        ids = self.fields["ids"]
        assert isinstance(ids, forms.TypedMultipleChoiceField)
        ids.choices = [(v, v) for v in posted if str(v).isdigit()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            bulk_selection_check(ids=data.get("ids"), everyone=data.get("scope") == "filtered")
        except ValidationError as error:
            add_domain_errors(self, error, key="")
        return data
