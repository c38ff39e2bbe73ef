"""Docker Hub's web pages in the sandbox: the links hubcourse gives people lead somewhere."""

from __future__ import annotations

import requests

from sandbox.seed import GOOD_DOCKERFILE
from tests.sandbox.conftest import Hub
from tests.sandbox.test_autobuild import linked_repo, push


def page(hub: Hub, path: str) -> requests.Response:
    response = requests.get(f"{hub.url}{path}", timeout=5, allow_redirects=False)
    if response.status_code < 300:
        assert response.headers["Content-Type"].startswith("text/html")
    return response


def test_a_repository_page_shows_privacy_tags_and_the_latest_builds(hub: Hub) -> None:
    _, full_name = linked_repo(hub, "webpage")
    good = push(hub, full_name, {"DockerfileVolume": GOOD_DOCKERFILE, "n": "1"})
    hub.world.wait_idle(timeout=10)
    bad = push(hub, full_name, {"DockerfileVolume": None})
    hub.world.wait_idle(timeout=10)
    tag = hub.world.dockerhub["repos"][f"{hub.org}/webpage"]["tags"]["latest"]

    response = page(hub, f"/r/{hub.org}/webpage")

    assert response.status_code == 200
    html = response.text
    assert f"<h1>{hub.org}/webpage</h1>" in html
    assert "Public" in html and "Private" not in html
    assert tag["digest"] in html
    # Newest build first: the failed one, then the one that pushed the tag.
    assert html.index(bad[:7]) < html.index(good[:7])
    assert 'class="state-Failed">Failed' in html
    assert 'class="state-Success">Success' in html


def test_a_private_repository_without_tags_says_so(hub: Hub) -> None:
    assert hub.create_repo("secret", hub.org_token(), is_private=True).status_code == 201

    html = page(hub, f"/r/{hub.org.upper()}/secret/").text

    assert "Private" in html
    assert "No tags yet" in html
    assert "No automated builds" in html


def test_official_images_have_their_own_page_and_library_links_lead_there(hub: Hub) -> None:
    official = page(hub, "/_/python")
    moved = page(hub, "/r/library/python")

    assert official.status_code == 200
    assert "Docker Official Image" in official.text
    assert "<td>3.12-slim</td>" in official.text
    assert moved.status_code == 301
    assert moved.headers["Location"].endswith("/_/python")


def test_unknown_repositories_and_images_are_a_404_page(hub: Hub) -> None:
    repository = page(hub, f"/r/{hub.org}/nothing-here")
    image = page(hub, "/_/pyhton")

    assert (repository.status_code, image.status_code) == (404, 404)
    assert f"no repository <code>{hub.org}/nothing-here</code>" in repository.text
    assert "no official image <code>pyhton</code>" in image.text
    assert repository.headers["Content-Type"].startswith("text/html")


def test_the_pages_load_nothing_from_elsewhere_and_spend_no_api_budget(hub: Hub) -> None:
    requests.patch(f"{hub.url}/_sandbox/config", json={"rate_limit": 1}, timeout=5)
    assert hub.create_repo("plain", hub.org_token()).status_code == 201

    responses = [page(hub, f"/r/{hub.org}/plain") for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    html = responses[0].text
    assert "<script" not in html and "://" not in html
    assert "X-RateLimit-Limit" not in responses[0].headers
