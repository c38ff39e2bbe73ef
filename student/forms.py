from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms

from accounts import identifiers
from accounts.models import Enrolment, JoinLink
from hubcourse.errors import ExternalServiceError, ValidationError

DOCKER_SIGNUP_URL = "https://app.docker.com/signup"


class JoinForm(forms.Form):
    identifier = forms.CharField(
        label="Your student number or school email, as your instructor knows it",
        max_length=254,
        required=False,
    )


class LinkForm(forms.Form):
    """The student's Docker ID (checked to exist) and GitHub repository (picked or typed)."""

    docker_id = forms.CharField(
        label="Docker ID",
        max_length=30,
        help_text="Your Docker Hub username: 4 to 30 lower-case letters and digits.",
    )
    github_repo_choice = forms.ChoiceField(
        label="Your GitHub repository", required=False, choices=()
    )
    github_repo = forms.CharField(
        label="GitHub repository",
        max_length=200,
        required=False,
        help_text="owner/name, or the repository's address, e.g. "
        "https://github.com/you/docker-course",
    )

    def __init__(
        self,
        *args: Any,
        enrolment: Enrolment,
        own_repositories: list[str],
        docker_id_exists: Callable[[str], bool],
        docker_id_locked: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.enrolment = enrolment
        self._exists = docker_id_exists
        self.own_repositories = own_repositories
        if own_repositories:
            choice = self.fields["github_repo_choice"]
            assert isinstance(choice, forms.ChoiceField)
            choice.choices = [
                ("", "— pick one, or type it below —"),
                *[(name, name) for name in own_repositories],
            ]
            self.fields["github_repo"].label = "…or type another repository"
        else:
            del self.fields["github_repo_choice"]
        if docker_id_locked:
            self.fields["docker_id"].disabled = True
            self.fields[
                "docker_id"
            ].help_text = (
                "Docker Hub has already invited this Docker ID. To change it, ask your instructor."
            )

    def clean_docker_id(self) -> str:
        if self.fields["docker_id"].disabled:
            return self.enrolment.docker_id
        try:
            value = identifiers.docker_id(self.cleaned_data["docker_id"]).value
        except ValidationError as error:
            raise forms.ValidationError(f"{error}. Copy it from your Docker Hub profile.") from None
        if not value:
            raise forms.ValidationError("Give your Docker ID.")
        taken = (
            Enrolment.objects.filter(course=self.enrolment.course, docker_id__iexact=value)
            .exclude(pk=self.enrolment.pk)
            .exists()
        )
        if taken:
            raise forms.ValidationError(
                "Another student on this course already gave this Docker ID. If it is yours, "
                "tell your instructor."
            )
        if value == self.enrolment.docker_id and self.enrolment.docker_id_verified_at:
            return value  # checked before; no need to ask Docker Hub again
        try:
            exists = self._exists(value)
        except ExternalServiceError as error:
            raise forms.ValidationError(
                f"hubcourse could not check this Docker ID just now: {error}. Try again in a minute."
            ) from error
        if not exists:
            raise forms.ValidationError(
                f"Docker Hub has no Docker ID {value!r}. Step 1 of the handout is to sign up for "
                f"a free Docker ID at {DOCKER_SIGNUP_URL}; then enter it here. If you have one, "
                "check its spelling on your Docker Hub profile."
            )
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        picked = cleaned.get("github_repo_choice") or ""
        typed = (cleaned.get("github_repo") or "").strip()
        if typed:
            try:
                cleaned["repository"] = identifiers.github_repo(typed).value
            except ValidationError as error:
                self.add_error("github_repo", f"{error}.")
                return cleaned
        elif picked:
            if picked not in self.own_repositories:
                self.add_error("github_repo_choice", "Pick a repository from the list.")
                return cleaned
            cleaned["repository"] = picked
        else:
            cleaned["repository"] = ""
        return cleaned


class JoinLinkForm(forms.Form):
    enabled = forms.BooleanField(label="The link works (students can join with it)", required=False)
    policy = forms.ChoiceField(
        label="A student who is not on the roster", choices=JoinLink.Policy.choices
    )


class ApproveForm(forms.Form):
    enrolment = forms.TypedChoiceField(
        label="Link to",
        coerce=int,
        required=False,
        empty_value=None,
        choices=(),
    )

    def __init__(self, *args: Any, free_entries: list[Enrolment], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["enrolment"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            ("", "a new roster entry"),
            *[(e.pk, f"{e.identifier}{f' ({e.name})' if e.name else ''}") for e in free_entries],
        ]


class UnlinkForm(forms.Form):
    forget_links = forms.BooleanField(
        label="Also clear the Docker ID and GitHub repository that account entered",
        required=False,
    )
