"""The domain's validation errors in a Django form's shape: the one translation every page
form uses (the rules themselves live in the domain; a form only shows where they broke)."""

from __future__ import annotations

from django import forms

from hubcourse.errors import ValidationError, sentence

__all__ = ["add_domain_errors", "as_field_error", "sentence"]


def add_domain_errors(
    form: forms.BaseForm, error: ValidationError, *, key: str | None = None
) -> None:
    """Show each broken rule next to its field (``key`` overrides the rule's own), or above
    the form when the form has no such field (``key=""`` puts them all above). A field whose own check (required, a choice)
    already refused keeps that one message."""
    for problem in error.problems:
        name = problem.key if key is None else key
        if name and name in form.fields:
            if name not in form.errors:
                form.add_error(name, sentence(problem))
        else:
            form.add_error(None, sentence(problem))


def as_field_error(error: ValidationError, suffix: str = "") -> forms.ValidationError:
    """For a form's ``clean_<field>``: the rule's sentence, with the page's own hint after it."""
    return forms.ValidationError(sentence(error) + (f" {suffix}" if suffix else ""))
