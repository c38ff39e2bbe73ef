from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms

from accounts.models import Enrolment, JoinLink
from hubcourse.errors import ValidationError
from hubcourse.form_errors import add_domain_errors
from onboarding import joining
from onboarding.joining import DOCKER_SIGNUP_URL

__all__ = ["DOCKER_SIGNUP_URL"]


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

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        try:
            values = joining.link_values_check(
                self.enrolment,
                docker_id=cleaned.get("docker_id") or "",
                typed_repo=cleaned.get("github_repo") or "",
                picked_repo=cleaned.get("github_repo_choice") or "",
                own_repositories=self.own_repositories,
                docker_id_exists=self._exists,
            )
        except ValidationError as error:
            add_domain_errors(self, error)
            return cleaned
        cleaned["docker_id"] = values.docker_id
        cleaned["repository"] = values.github_repo
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
